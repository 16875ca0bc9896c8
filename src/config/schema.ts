import { z } from 'zod';
import { providersSchema } from './providers.js';
import { isLoopbackHost, secureUrlProblem } from './urls.js';

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

export const storeSchema = z.strictObject({
  redis: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional(),
  prefix: z.string().default('lb:'),
  command_timeout_ms: z.coerce.number().int().min(10).max(60_000).default(2000),
});

export const configSchema = z.strictObject({
  issuer,
  listen: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: port.default(4000),
    })
    .default({ host: '127.0.0.1', port: 4000 }),
  store: storeSchema.optional(),
  trust_proxy: z.boolean().default(false),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .default({ level: 'info' }),
  providers: providersSchema,
  clients: z.array(z.unknown()).default([]),
});

export type Config = z.infer<typeof configSchema>;

export { isLoopbackHost };
