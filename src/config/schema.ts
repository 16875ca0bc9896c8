import { z } from 'zod';
import { clientsSchema } from './clients.js';
import { backchannelLogoutSchema, keysSchema, sessionSchema, tokensSchema } from './tokens.js';
import { providersSchema } from './providers.js';
import { passwordGrantSchema } from './password.js';
import { metricsSchema, rateLimitsSchema } from './operations.js';
import { registrationSchema } from './registration.js';
import { isLoopbackHost, secureUrlProblem } from './urls.js';
import { tokenVaultSchema, vaultProblems } from './vault.js';

const secureUrl = z.string().superRefine((value, ctx) => {
  const problem = secureUrlProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const issuer = secureUrl.superRefine((value, ctx) => {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (!url) return;
  if (url.search || url.hash || value.includes('#') || value.includes('?')) {
    ctx.addIssue({ code: 'custom', message: 'must not have a query or fragment (OIDC Discovery §3)' });
  }
  if (value.endsWith('/')) ctx.addIssue({ code: 'custom', message: 'must not end with a slash' });
});

const port = z.coerce.number().int().min(0).max(65535);

const redisUrl = z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL');
const redisNode = z.strictObject({ host: z.string().min(1), port });

/** Sentinel: the sentinels find the master named `name`, and follow it through a failover. */
const sentinelTarget = z.strictObject({
  sentinels: z.array(redisNode).min(1),
  name: z.string().min(1).default('mymaster'),
  password: z.string().optional(),
  sentinel_password: z.string().optional(),
  db: z.coerce.number().int().min(0).max(15).optional(),
  tls: z.boolean().optional(),
});

/** Cluster: a few seed nodes; the client learns the others and which node holds which slot. */
const clusterTarget = z.strictObject({
  cluster: z.array(z.union([redisNode, redisUrl])).min(1),
  password: z.string().optional(),
  tls: z.boolean().optional(),
});

export const storeSchema = z.strictObject({
  redis: z.union([redisUrl, sentinelTarget, clusterTarget]).optional(),
  prefix: z.string().default('lb:'),
  command_timeout_ms: z.coerce.number().int().min(10).max(60_000).default(2000),
  /** Writes that matter (refresh rotation, grants, links) wait for this many replicas (Redis WAIT). */
  wait_replicas: z.coerce.number().int().min(0).max(16).default(0),
  wait_timeout_ms: z.coerce.number().int().min(1).max(60_000).default(500),
});

export const configSchema = z
  .strictObject({
    issuer,
    listen: z
      .strictObject({
        host: z.string().min(1).default('127.0.0.1'),
        port: port.default(4000),
        /** On SIGTERM/SIGINT, /readyz answers 503 this long before the listener closes (balancers notice). */
        drain_ms: z.coerce.number().int().min(0).max(60_000).default(0),
      })
      .default({ host: '127.0.0.1', port: 4000, drain_ms: 0 }),
    store: storeSchema.optional(),
    trust_proxy: z.boolean().default(false),
    metrics: metricsSchema.optional(),
    rate_limits: rateLimitsSchema,
    log: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .default({ level: 'info' }),
    providers: providersSchema,
    clients: clientsSchema.default([]),
    subjects: z
      .strictObject({
        /** The secret of pairwise subjects (OIDC Core §8.1): changing it changes every pairwise sub. */
        pairwise_salt: z.string().min(32, 'must be at least 32 characters (use a long random value)').optional(),
      })
      .prefault({}),
    tokens: tokensSchema,
    keys: keysSchema,
    session: sessionSchema,
    password_grant: passwordGrantSchema,
    /** Encryption keys of the upstream token vault (providers with `store_tokens: true`). */
    token_vault: tokenVaultSchema.optional(),
    account: z
      .strictObject({
        /** Unlinking needs a login at most this old (seconds). */
        reauth_max_age_s: z.coerce.number().int().min(30).max(86_400).default(600),
      })
      .prefault({}),
    backchannel_logout: backchannelLogoutSchema,
    /** Dynamic client registration (RFC 7591/7592) and Client ID Metadata Documents; off by default. */
    registration: registrationSchema,
    /** The built-in demo app at /demo, for development: signs in as this client. */
    demo: z.strictObject({ client_id: z.string().min(1) }).optional(),
  })
  .superRefine((config, ctx) => {
    const pairwise = config.clients.find((c) => c.subject_type === 'pairwise');
    if (pairwise && !config.subjects.pairwise_salt) {
      ctx.addIssue({
        code: 'custom',
        path: ['subjects', 'pairwise_salt'],
        message: `is required: client "${pairwise.client_id}" has subject_type pairwise`,
      });
    }
    for (const problem of vaultProblems(config)) ctx.addIssue({ code: 'custom', ...problem });
    const local = config.password_grant.local;
    if (local && config.providers.some((p) => p.id === local.id)) {
      ctx.addIssue({
        code: 'custom',
        path: ['password_grant', 'local', 'id'],
        message: `"${local.id}" is also a provider id; ids must be unique`,
      });
    }
    if (!config.demo) return;
    const url = URL.canParse(config.issuer) ? new URL(config.issuer) : undefined;
    if (url && !isLoopbackHost(url.hostname)) {
      ctx.addIssue({
        code: 'custom',
        path: ['demo'],
        message: 'the demo app is for development: it needs a loopback issuer',
      });
    }
    const client = config.clients.find((c) => c.client_id === config.demo!.client_id);
    if (!client) {
      ctx.addIssue({
        code: 'custom',
        path: ['demo', 'client_id'],
        message: `no client "${config.demo.client_id}" in clients`,
      });
    } else if (!client.redirect_uris.includes(`${config.issuer}/demo/callback`)) {
      ctx.addIssue({
        code: 'custom',
        path: ['demo', 'client_id'],
        message: `the client must register the redirect URI ${config.issuer}/demo/callback`,
      });
    }
  });

export type Config = z.infer<typeof configSchema>;

export { isLoopbackHost };
