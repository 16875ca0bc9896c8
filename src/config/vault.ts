import { z } from 'zod';

/** A vault key: 32 random bytes, base64url (`openssl rand -base64 32 | tr '+/' '-_' | tr -d '='`). */
const vaultKey = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be 1-32 characters of A-Z, a-z, 0-9, "-" and "_"'),
  secret: z.string().refine((value) => /^[A-Za-z0-9_-]{43}=?$/.test(value), {
    message: 'must be 32 random bytes, base64url (43 characters)',
  }),
});

/**
 * The upstream token vault: the keys that encrypt the tokens kept for providers with
 * `store_tokens: true`. The first key encrypts; every key decrypts, so a new key goes first and
 * the old one stays listed until the stored tokens were rewritten or forgotten.
 */
export const tokenVaultSchema = z.strictObject({
  keys: z
    .array(vaultKey)
    .min(1)
    .superRefine((keys, ctx) => {
      const seen = new Set<string>();
      keys.forEach((key, index) => {
        if (seen.has(key.id))
          ctx.addIssue({ code: 'custom', path: [index, 'id'], message: `"${key.id}" is used twice` });
        seen.add(key.id);
      });
    }),
});

export type TokenVaultConfig = z.output<typeof tokenVaultSchema>;

/** The grant of RFC 8693 §2.1. */
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** What the vault needs of the whole configuration: keys when tokens are stored, providers that store them. */
export function vaultProblems(config: {
  token_vault?: TokenVaultConfig | undefined;
  providers: { id: string; store_tokens: boolean }[];
  clients: { upstream_tokens: string[]; native_providers: string[] }[];
}): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  config.providers.forEach((provider, index) => {
    if (provider.store_tokens && !config.token_vault) {
      const message = 'needs token_vault.keys: upstream tokens are never stored in clear';
      problems.push({ path: ['providers', index, 'store_tokens'], message });
    }
  });
  const storing = new Set(config.providers.filter((p) => p.store_tokens).map((p) => p.id));
  config.clients.forEach((client, index) => {
    client.upstream_tokens.forEach((id, at) => {
      if (!storing.has(id)) {
        const message = `"${id}" is no provider with store_tokens: true`;
        problems.push({ path: ['clients', index, 'upstream_tokens', at], message });
      }
    });
  });
  const known = new Set(config.providers.map((p) => p.id));
  config.clients.forEach((client, index) => {
    client.native_providers.forEach((id, at) => {
      if (!known.has(id)) {
        problems.push({ path: ['clients', index, 'native_providers', at], message: `"${id}" is no provider` });
      }
    });
  });
  return problems;
}
