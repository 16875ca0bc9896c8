import { z } from 'zod';

/**
 * `registration:`, dynamic client registration (RFC 7591, RFC 7592) and Client ID Metadata
 * Documents (the OAuth draft the MCP authorization spec adopted). Off unless asked for.
 */

/** An initial access token (RFC 7591 §3), kept in config only as the SHA-256 of the token. */
const initialAccessToken = z.strictObject({
  /** Who holds it: logged with each registration it allows, never the token itself. */
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 characters of A-Z, a-z, 0-9, ".", "_" and "-"'),
  /** Hex SHA-256 of the token: `printf %s "$TOKEN" | sha256sum`. */
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'must be the 64 hex digits of the SHA-256 of the token')
    .transform((hex) => hex.toLowerCase()),
});

export const metadataDocumentLimitsSchema = z
  .strictObject({
    /** A document larger than this is refused (the draft suggests 5 KB). */
    max_bytes: z.coerce.number().int().min(512).max(65_536).default(5120),
    /** The whole fetch (DNS, connect, TLS, body) must end within this. */
    timeout_ms: z.coerce.number().int().min(100).max(10_000).default(3000),
    /** A fetched document is kept at least this long, whatever its Cache-Control says. */
    min_cache_s: z.coerce.number().int().min(0).max(86_400).default(60),
    /** ... and at most this long (also when it has no Cache-Control). */
    max_cache_s: z.coerce.number().int().min(1).max(604_800).default(86_400),
  })
  .prefault({});

export const registrationSchema = z
  .strictObject({
    /** Serves RFC 7591 `/register` (advertised as registration_endpoint); needs `open` or `initial_access_tokens`. */
    enabled: z.boolean().default(false),
    /** Anyone may register, under the strict open policy (README "Dynamic client registration"). */
    open: z.boolean().default(false),
    /** Registrations presenting one of these (as a Bearer token) may register confidential clients too. */
    initial_access_tokens: z.array(initialAccessToken).default([]),
    /** An openly registered client that has not been used (no authorization) within this long is removed. */
    unused_client_ttl_s: z.coerce.number().int().min(60).max(31_536_000).default(86_400),
    /** Lets an https URL be a client_id: the broker fetches the client's metadata document there. */
    client_id_metadata_documents: z.boolean().default(false),
    metadata_documents: metadataDocumentLimitsSchema,
  })
  .prefault({})
  .superRefine((registration, ctx) => {
    if (registration.enabled && !registration.open && registration.initial_access_tokens.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['enabled'],
        message: 'needs open: true or at least one initial access token, else nobody may register',
      });
    }
    const names = new Set<string>();
    registration.initial_access_tokens.forEach((token, i) => {
      if (names.has(token.name)) {
        ctx.addIssue({ code: 'custom', path: ['initial_access_tokens', i, 'name'], message: 'is used twice' });
      }
      names.add(token.name);
    });
    const limits = registration.metadata_documents;
    if (limits.min_cache_s > limits.max_cache_s) {
      ctx.addIssue({
        code: 'custom',
        path: ['metadata_documents', 'min_cache_s'],
        message: 'must not be above max_cache_s',
      });
    }
  });

export type RegistrationConfig = z.output<typeof registrationSchema>;
export type MetadataDocumentLimits = z.output<typeof metadataDocumentLimitsSchema>;
