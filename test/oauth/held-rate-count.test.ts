import { describe, expect, it } from 'vitest';
import { redisServerAvailable } from '../support/redis-server.js';
import { webAuthorizeUrl } from '../support/app-client.js';
import { useBroker } from '../support/broker-fixture.js';
import { UserAgent, location } from '../support/user-agent.js';

/**
 * A browser without a session has no session read for its authorize count to ride with: the
 * count waits for the route's one commit (RedisStore.consumeWindow, held), and is decided right
 * after it, before the answer goes out.
 */
describe.runIf(redisServerAvailable())('an authorize count held for the route (Redis)', () => {
  const broker = useBroker('redis', { rate_limits: { authorize: { limit: 2, window_s: 60 } } });

  const authorizeUrl = () => webAuthorizeUrl(broker().url);

  it('rides with the commit; over the limit the answer is 429 with no redirect, and later ones cost nothing', async () => {
    const { store } = broker();
    const trips = () => ({ store: store.stats.roundTrips, limiter: store.stats.limiterRoundTrips });
    for (let i = 0; i < 2; i++) {
      const before = trips();
      const res = await new UserAgent().get(authorizeUrl());
      expect(res.status).toBe(303);
      expect(location(res).pathname).toMatch(/\/upstream\/dev\/login$/);
      expect({ store: trips().store - before.store, limiter: trips().limiter - before.limiter }).toEqual({
        store: 1,
        limiter: 0,
      });
    }
    const refused = await new UserAgent().get(authorizeUrl());
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(refused.headers.get('location')).toBeNull();
    // Known over the limit in this process: refused before the route, without a round trip.
    const before = trips();
    expect((await new UserAgent().get(authorizeUrl())).status).toBe(429);
    expect(trips()).toEqual(before);
  });
});

describe.runIf(redisServerAvailable())('a held count whose route makes no store step (Redis)', () => {
  const broker = useBroker('redis', { rate_limits: { authorize: { limit: 1, window_s: 60 } } });

  it('is sent alone when the route ends, and still refuses over the limit', async () => {
    const { url, store } = broker();
    const bad = webAuthorizeUrl(url, { scope: 'openid', response_type: 'token id_token' });
    const before = { store: store.stats.roundTrips, limiter: store.stats.limiterRoundTrips };
    // An error answered without a store step: the count goes alone, once.
    const first = await new UserAgent().get(bad);
    expect(first.status).toBeLessThan(429);
    expect(store.stats.limiterRoundTrips - before.limiter).toBe(1);
    expect(store.stats.roundTrips - before.store).toBe(0);
    const second = await new UserAgent().get(bad);
    expect(second.status).toBe(429);
    expect(second.headers.get('location')).toBeNull();
  });
});
