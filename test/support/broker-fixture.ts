import { afterAll, beforeAll } from 'vitest';
import { MemoryStore, type Store } from '../../src/store/index.js';
import { startApp, type RunningApp } from './app.js';
import { openRedisStore, redisServerAvailable, startRedisServer, type RedisServer } from './redis-server.js';

export const SECRETS = {
  web: 'web-secret-0123456789abcdef',
  other: 'other-secret-0123456789abcdef',
  machine: 'machine-secret-0123456789abcdef',
  legacy: 'legacy-secret-0123456789abcdef',
};

/** The clients every OAuth integration test uses: one per kind the issue names. */
export const CLIENTS = [
  {
    client_id: 'web',
    client_name: 'Web App',
    client_secret: SECRETS.web,
    redirect_uris: ['http://127.0.0.1:5000/cb', 'https://app.example/cb'],
    post_logout_redirect_uris: ['http://127.0.0.1:5000/'],
    first_party: true,
  },
  {
    client_id: 'other',
    client_secret: SECRETS.other,
    token_endpoint_auth_method: 'client_secret_post',
    redirect_uris: ['http://127.0.0.1:5002/cb'],
    first_party: true,
  },
  {
    client_id: 'spa',
    redirect_uris: ['http://127.0.0.1/cb'],
    scope: 'openid profile email offline_access',
  },
  {
    client_id: 'machine',
    client_secret: SECRETS.machine,
    grant_types: ['client_credentials'],
    scope: 'api:read api:write',
    resources: ['https://api.example/'],
  },
  {
    client_id: 'legacy',
    client_secret: SECRETS.legacy,
    redirect_uris: ['http://127.0.0.1:5003/cb'],
    response_types: ['code', 'id_token', 'id_token token'],
    first_party: true,
  },
];

export const BASE_CONFIG = { clients: CLIENTS, providers: [{ id: 'dev', use: 'dev' }] };

export type StoreKind = 'memory' | 'redis';

export const STORE_KINDS: StoreKind[] = redisServerAvailable() ? ['memory', 'redis'] : ['memory'];

/**
 * One broker per test file and store kind, on an ephemeral port, with its own redis-server
 * for the Redis kind. `current()` is valid inside tests.
 */
export function useBroker(kind: StoreKind, raw: Record<string, unknown> = {}): () => RunningApp {
  let running: RunningApp | undefined;
  let redis: RedisServer | undefined;
  beforeAll(async () => {
    let store: Store;
    if (kind === 'redis') {
      redis = await startRedisServer();
      store = await openRedisStore(redis.url);
    } else {
      store = new MemoryStore({ prefix: 'lb:' });
    }
    running = await startApp({ ...BASE_CONFIG, ...raw }, { store });
  });
  afterAll(async () => {
    await running?.close();
    await redis?.stop();
  });
  return () => {
    if (!running) throw new Error('broker not started');
    return running;
  };
}
