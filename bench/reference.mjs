// The reference: node-oidc-provider 8 in its own process, configured as close to the broker as
// it goes: the same signing algorithm and key size (RS256 2048, plus P-256 for the ES256 row),
// every stored row in Redis through a small adapter (below), PKCE required, refresh tokens
// rotated on every use, and an interaction that approves at once (login + consent) instead of
// the development pages, which are off.
// Usage: node bench/reference.mjs PORT REDIS_URL
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import { Redis } from 'ioredis';
import Provider, { errors } from 'oidc-provider';
import { REFERENCE_CLIENTS } from './lib/clients.mjs';

const [portArg, redisUrl] = process.argv.slice(2);
const port = Number(portArg);
if (!port || !redisUrl) {
  process.stderr.write('usage: reference.mjs PORT REDIS_URL\n');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const redis = new Redis(redisUrl, { keyPrefix: 'op:', enableOfflineQueue: true, maxRetriesPerRequest: 1 });
redis.on('error', (err) => process.stderr.write(`reference redis: ${err.message}\n`));

// The models whose rows belong to a grant (revoked together), as oidc-provider defines them.
const GRANT_INDEX_TTL_S = 1_209_600;
const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);

/**
 * oidc-provider's adapter contract on Redis: one hash per row (`p` = the JSON payload, `c` =
 * when it was consumed), expiry by Redis TTL, a set per grant for revokeByGrantId, and lookup
 * keys for session uid and user code. Each method is one round trip (a MULTI where it writes
 * several keys).
 */
class RedisAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const multi = redis.multi();
    multi.del(key);
    multi.hset(key, 'p', JSON.stringify(payload));
    if (expiresIn) multi.expire(key, expiresIn);
    if (GRANTABLE.has(this.model) && payload.grantId) {
      const grantKey = `grant:${payload.grantId}`;
      multi.sadd(grantKey, key);
      // The index lives as long as the longest-lived row of a grant can (the refresh token).
      multi.expire(grantKey, GRANT_INDEX_TTL_S);
    }
    if (payload.uid && this.model === 'Session') multi.set(`uid:${payload.uid}`, id, 'EX', expiresIn);
    if (payload.userCode) multi.set(`userCode:${payload.userCode}`, id, 'EX', expiresIn);
    await multi.exec();
  }

  async find(id) {
    const row = await redis.hgetall(this.key(id));
    if (!row?.p) return undefined;
    const payload = JSON.parse(row.p);
    if (row.c) payload.consumed = Number(row.c);
    return payload;
  }

  async findByUid(uid) {
    const id = await redis.get(`uid:${uid}`);
    return id ? this.find(id) : undefined;
  }

  async findByUserCode(userCode) {
    const id = await redis.get(`userCode:${userCode}`);
    return id ? this.find(id) : undefined;
  }

  async consume(id) {
    await redis.hset(this.key(id), 'c', Math.floor(Date.now() / 1000));
  }

  async destroy(id) {
    await redis.del(this.key(id));
  }

  async revokeByGrantId(grantId) {
    const grantKey = `grant:${grantId}`;
    const keys = await redis.smembers(grantKey);
    await redis.del(...keys, grantKey);
  }
}

// Keys generated at start, as the broker does on first start: RS256 2048 signs ID tokens and
// the RS256 access tokens, P-256 the ES256 ones.
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });

const provider = new Provider(issuer, {
  adapter: RedisAdapter,
  clients: REFERENCE_CLIENTS,
  jwks: {
    keys: [
      { ...rsa, kid: 'rs-1', alg: 'RS256', use: 'sig' },
      { ...ec, kid: 'es-1', alg: 'ES256', use: 'sig' },
    ],
  },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access', 'api:read', 'api:write'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => undefined,
      useGrantedResource: async () => false,
      // Machine tokens for https://api.example/...: RFC 9068-style JWTs, like the broker's.
      getResourceServerInfo: async (_ctx, resource) => {
        if (!resource.startsWith('https://api.example/')) throw new errors.InvalidTarget();
        const alg = resource.endsWith('/es256') ? 'ES256' : 'RS256';
        return {
          scope: 'api:read api:write',
          audience: resource,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg } },
        };
      },
    },
  },
  // Like the broker's first-party clients: a refresh token without asking offline_access.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: () => true,
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    ClientCredentials: 600,
    IdToken: 600,
    Grant: 1_209_600,
    Interaction: 600,
    RefreshToken: 1_209_600,
    Session: 43_200,
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      claims: async () => ({ sub, email: `${sub}@ref.example`, email_verified: true, name: `User ${sub}` }),
    };
  },
});
provider.proxy = false;

/** The auto-approving interaction: the account is login_hint (or a new one), every scope asked is granted. */
async function approve(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { params, session } = details;
  const accountId =
    session?.accountId ??
    (typeof params.login_hint === 'string' && params.login_hint
      ? params.login_hint
      : `u-${randomBytes(6).toString('hex')}`);
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  grant.addOIDCScope(String(params.scope));
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url?.startsWith('/interaction/')) {
    approve(req, res).catch((err) => {
      if (!res.headersSent) {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end(`interaction failed: ${err.message}`);
      } else res.destroy();
    });
    return;
  }
  callback(req, res);
});
server.keepAliveTimeout = 30_000;
server.listen(port, '127.0.0.1');
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
