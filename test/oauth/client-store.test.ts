import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientsSchema } from '../../src/config/clients.js';
import { setClock } from '../../src/lib/clock.js';
import { CLIENT_CACHE_MS, ClientRegistry, secretMatches } from '../../src/oauth/clients.js';
import {
  ClientIdTaken,
  ClientMetadataError,
  clientKeys,
  ClientStore,
  NoSuchClient,
  TOUCH_INTERVAL_S,
} from '../../src/oauth/client-store.js';
import { MemoryStore, type Store } from '../../src/store/index.js';
import { openRedisStore, redisServerAvailable, startRedisServer, type RedisServer } from '../support/redis-server.js';

const YAML = clientsSchema.parse([
  { client_id: 'yaml-app', client_secret: 'yaml-secret-0123456789', redirect_uris: ['https://app.example/cb'] },
]);

const registryOn = (store: Store) => {
  const registry = new ClientRegistry(YAML);
  return { registry, clients: new ClientStore(store, registry) };
};

function suite(name: string, open: () => Promise<Store>) {
  describe(`store clients (${name})`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      setClock();
      await store.close();
    });

    it('creates a confidential client: the secret is shown once and only its hash is stored', async () => {
      const { clients, registry } = registryOn(store);
      const written = await clients.create(
        {
          client_id: 'cli-web',
          redirect_uris: ['https://web.example/cb'],
          token_endpoint_auth_method: 'client_secret_basic',
        },
        { origin: 'cli', generateSecret: true },
      );
      const secret = written.client_secret!;
      expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const raw = (await store.get(clientKeys.record('cli-web')))!;
      expect(raw).not.toContain(secret);
      expect(JSON.parse(raw)).toMatchObject({ origin: 'cli', client: { client_id: 'cli-web' } });
      const found = (await registry.find('cli-web'))!;
      expect(found.stored).toMatchObject({ origin: 'cli', generation: expect.any(String) });
      expect(secretMatches(found, secret)).toBe(true);
      expect(secretMatches(found, `${secret}x`)).toBe(false);
      expect(found.auth_methods).toEqual(['client_secret_basic']);
    });

    it('a pairwise client once the salt is gone: a metadata error, not a crash, and rotate-secret writes nothing', async () => {
      const salted = new ClientRegistry(YAML, { pairwiseSalt: 'salt-0123456789abcdef-0123456789' });
      const saltedClients = new ClientStore(store, salted);
      await saltedClients.create(
        {
          client_id: 'pairwise-app',
          redirect_uris: ['https://pw.example/cb'],
          subject_type: 'pairwise',
          token_endpoint_auth_method: 'client_secret_basic',
        },
        { origin: 'cli', generateSecret: true },
      );
      const before = await store.get(clientKeys.record('pairwise-app'));
      const { clients, registry } = registryOn(store);
      await expect(clients.get('pairwise-app')).rejects.toBeInstanceOf(ClientMetadataError);
      await expect(clients.rotateSecret('pairwise-app')).rejects.toMatchObject({
        message: expect.stringContaining('subject_type'),
      });
      expect(await store.get(clientKeys.record('pairwise-app'))).toBe(before);
      expect(await registry.find('pairwise-app')).toBeUndefined();
      // Listed apart, not a failed page.
      const page = await clients.list({ limit: 1000 });
      expect(page.unservable).toEqual(['pairwise-app']);
      expect(page.clients.map((c) => c.client.client_id)).not.toContain('pairwise-app');
      expect(await saltedClients.remove('pairwise-app')).toBe(true);
    });

    it('refuses an id that exists, in the store (atomically) or in the configuration file', async () => {
      const { clients } = registryOn(store);
      const input = { client_id: 'twice', redirect_uris: ['https://t.example/cb'] };
      const results = await Promise.allSettled([
        clients.create(input, { origin: 'cli' }),
        clients.create(input, { origin: 'registration' }),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(refused.reason).toBeInstanceOf(ClientIdTaken);
      await expect(
        clients.create({ client_id: 'yaml-app', redirect_uris: ['https://x.example/cb'] }, { origin: 'cli' }),
      ).rejects.toThrow(/configuration file/);
      expect(await store.get(clientKeys.record('yaml-app'))).toBeNull();
    });

    it('refuses invalid metadata with the field named (the YAML schema, RFC 7591 §3.2.2), storing nothing', async () => {
      const { clients } = registryOn(store);
      const cases: [unknown, string, string][] = [
        [
          { client_id: 'bad1', redirect_uris: ['https://x.example/cb#frag'] },
          'redirect_uris.0',
          'invalid_redirect_uri',
        ],
        [
          { client_id: 'bad2', redirect_uris: ['https://x.example/cb'], grant_types: ['implicit'] },
          'grant_types.0',
          'invalid_client_metadata',
        ],
        [
          { client_id: 'bad3', redirect_uris: ['https://x.example/cb'], colour: 'blue' },
          'client',
          'invalid_client_metadata',
        ],
        [{ client_id: 'bad 4' }, 'client_id', 'invalid_client_metadata'],
        [{ client_id: 'bad5', grant_types: ['client_credentials'] }, 'grant_types', 'invalid_client_metadata'],
        [
          {
            client_id: 'bad6',
            redirect_uris: ['https://x.example/cb'],
            grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
          },
          'grant_types',
          'invalid_client_metadata',
        ],
        [
          { client_id: 'bad7', redirect_uris: ['https://x.example/cb'], subject_type: 'pairwise' },
          'subject_type',
          'invalid_client_metadata',
        ],
      ];
      for (const [input, field, code] of cases) {
        const err = await clients.create(input, { origin: 'registration' }).catch((e: unknown) => e);
        expect(err, JSON.stringify(input)).toBeInstanceOf(ClientMetadataError);
        expect((err as ClientMetadataError).error).toBe(code);
        expect((err as ClientMetadataError).error_description).toContain(field === 'client' ? '' : `${field}:`);
      }
      for (const id of ['bad1', 'bad2', 'bad3', 'bad5', 'bad6', 'bad7']) {
        expect(await store.get(clientKeys.record(id))).toBeNull();
      }
    });

    it('updates as a whole, keeps the secret unless told otherwise, rotates it on demand', async () => {
      const { clients, registry } = registryOn(store);
      const { client_secret: first } = await clients.create(
        { client_id: 'upd', redirect_uris: ['https://u.example/cb'] },
        { origin: 'cli', generateSecret: true },
      );
      const before = (await clients.get('upd'))!;
      await clients.update('upd', { redirect_uris: ['https://u.example/cb2'], client_name: 'Updated' });
      const after = (await registry.find('upd'))!;
      expect(after.redirect_uris).toEqual(['https://u.example/cb2']);
      expect(after.client_name).toBe('Updated');
      expect(secretMatches(after, first!)).toBe(true);
      expect(after.stored!.generation).toBe(before.facts.generation);
      await expect(clients.update('upd', { redirect_uris: [] })).rejects.toThrow(/redirect_uris: needs at least one/);
      await expect(
        clients.update('upd', { client_id: 'other', redirect_uris: ['https://u.example/cb'] }),
      ).rejects.toThrow(/client_id: cannot be changed/);
      const { client_secret: second } = await clients.rotateSecret('upd');
      const rotated = (await registry.find('upd'))!;
      expect(secretMatches(rotated, first!)).toBe(false);
      expect(secretMatches(rotated, second!)).toBe(true);
      // Public now: the secret goes; a public client has none to rotate.
      await clients.update('upd', { redirect_uris: ['https://u.example/cb'], token_endpoint_auth_method: 'none' });
      expect((await clients.get('upd'))!.has_secret).toBe(false);
      await expect(clients.rotateSecret('upd')).rejects.toThrow(/has no secret/);
      await expect(clients.update('yaml-app', { redirect_uris: ['https://u.example/cb'] })).rejects.toBeInstanceOf(
        NoSuchClient,
      );
      await expect(clients.update('nobody', { redirect_uris: ['https://u.example/cb'] })).rejects.toBeInstanceOf(
        NoSuchClient,
      );
    });

    it('keeps a registration access token as a hash, checks it in constant time, rotates it on update', async () => {
      const { clients } = registryOn(store);
      const made = await clients.create(
        { client_id: 'reg-1', redirect_uris: ['https://r.example/cb'] },
        { origin: 'registration', registrationAccessToken: true, registration: { client_id_issued_at: 1 } },
      );
      const token = made.registration_access_token!;
      expect(await store.get(clientKeys.record('reg-1'))).not.toContain(token);
      expect(made.client.facts.registration).toEqual({ client_id_issued_at: 1 });
      expect(await clients.registrationTokenMatches('reg-1', token)).toBe(true);
      expect(await clients.registrationTokenMatches('reg-1', `${token}x`)).toBe(false);
      expect(await clients.registrationTokenMatches('nobody', token)).toBe(false);
      const updated = await clients.update(
        'reg-1',
        { redirect_uris: ['https://r.example/cb'] },
        { rotateRegistrationAccessToken: true },
      );
      expect(await clients.registrationTokenMatches('reg-1', token)).toBe(false);
      expect(await clients.registrationTokenMatches('reg-1', updated.registration_access_token!)).toBe(true);
    });

    it('lists in pages, and forgets index members whose client expired', async () => {
      const { clients } = registryOn(store);
      for (const id of ['list-a', 'list-b', 'list-c']) {
        await clients.create({ client_id: id, redirect_uris: ['https://l.example/cb'] }, { origin: 'cli' });
      }
      await store.del(clientKeys.record('list-b'));
      const all = await clients.list({ limit: 1000 });
      const ids = all.clients.map((c) => c.metadata.client_id);
      expect(ids).toContain('list-a');
      expect(ids).not.toContain('list-b');
      expect(await store.smembers(clientKeys.index)).not.toContain('list-b');
      const first = await clients.list({ limit: 1, after: 'list-' });
      expect(first.clients.map((c) => c.metadata.client_id)).toEqual(['list-a']);
      const second = await clients.list({ limit: 1, after: first.next! });
      expect(second.clients.map((c) => c.metadata.client_id)).toEqual(['list-c']);
    });

    it('touches at most once per interval, renewing the unused expiry', async () => {
      const { clients, registry } = registryOn(store);
      await clients.create(
        { client_id: 'idle', redirect_uris: ['https://i.example/cb'] },
        { origin: 'registration', unusedTtlS: 600 },
      );
      expect(await store.ttl(clientKeys.record('idle'))).toBeGreaterThan(590);
      const client = (await registry.find('idle'))!;
      const trips = store.roundTrips;
      registry.used(client);
      registry.used(client);
      registry.used(client);
      await new Promise((r) => setTimeout(r, 50));
      expect(store.roundTrips - trips).toBe(1);
      const lastUse = Number(await store.get(clientKeys.used('idle')));
      expect(lastUse).toBeGreaterThan(0);
      expect((await clients.get('idle'))!.facts.last_used_at).toBe(lastUse);
      // An hour later: written again (one round trip), and the expiry renewed.
      const reads = store.roundTrips;
      const now = Date.now();
      setClock(() => now + (TOUCH_INTERVAL_S + 1) * 1000);
      registry.used(client);
      await new Promise((r) => setTimeout(r, 50));
      setClock();
      expect(store.roundTrips - reads).toBe(1);
      expect(Number(await store.get(clientKeys.used('idle')))).toBeGreaterThan(lastUse + TOUCH_INTERVAL_S);
    });

    it('caches a store client briefly, never an unknown id; a removal is seen within the cache time', async () => {
      const a = registryOn(store);
      const b = registryOn(store);
      expect(await b.registry.find('late')).toBeUndefined();
      await a.clients.create({ client_id: 'late', redirect_uris: ['https://late.example/cb'] }, { origin: 'cli' });
      // Created on "instance A": found at once on "instance B", which had just missed it.
      expect(await b.registry.find('late')).toBeDefined();
      const trips = store.roundTrips;
      await b.registry.find('late');
      expect(store.roundTrips).toBe(trips);
      expect(await a.clients.remove('late')).toBe(true);
      expect(await a.registry.find('late')).toBeUndefined();
      expect(await b.registry.find('late')).toBeDefined();
      const now = Date.now();
      setClock(() => now + CLIENT_CACHE_MS + 1);
      expect(await b.registry.find('late')).toBeUndefined();
      setClock();
      expect(await a.clients.remove('late')).toBe(false);
      await expect(a.clients.remove('yaml-app')).rejects.toThrow(/configuration file/);
    });

    it('a client created again with the same id has another generation', async () => {
      const { clients } = registryOn(store);
      const first = await clients.create(
        { client_id: 'again', redirect_uris: ['https://a.example/cb'] },
        { origin: 'cli' },
      );
      await clients.remove('again');
      const second = await clients.create(
        { client_id: 'again', redirect_uris: ['https://a.example/cb'] },
        { origin: 'cli' },
      );
      expect(second.client.facts.generation).not.toBe(first.client.facts.generation);
    });

    it('reports ids that the configuration file shadows', async () => {
      const { clients } = registryOn(store);
      await store.put(clientKeys.record('yaml-app'), '{}');
      await store.sadd(clientKeys.index, ['yaml-app']);
      expect(await clients.shadowed()).toEqual(['yaml-app']);
      const { registry } = registryOn(store);
      expect((await registry.find('yaml-app'))!.stored).toBeUndefined();
      await store.del(clientKeys.record('yaml-app'));
    });
  });
}

suite('memory', async () => new MemoryStore({ prefix: 'cs:' }));

describe.skipIf(!redisServerAvailable())('on Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  suite('redis', () => openRedisStore(redis.url, { prefix: 'cs:' }));
});
