import Router from '@koa/router';
import type { Context } from 'koa';
import { createHash } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import type { RegistrationConfig } from '../../config/registration.js';
import { BrokerError } from '../../http/broker-error.js';
import { readJson } from '../../http/json-body.js';
import type { Limit } from '../../http/rate-limit.js';
import { constantTimeEqual } from '../../lib/constant-time.js';
import { nowS } from '../../lib/clock.js';
import { randomId } from '../../lib/random-id.js';
import type { ClientStore, Written } from '../client-store.js';
import { secretMatches } from '../clients.js';
import type { OAuthContext } from '../context.js';
import { randomToken } from '../crypto.js';
import { invalidRequest, invalidToken, missingToken } from '../errors.js';
import { clientMetadata, registeredClient } from './metadata.js';
import type { RegistrationAccess } from './policy.js';

/** The Bearer token of the Authorization header (RFC 6750 §2.1), or undefined when there is none. */
function bearerToken(ctx: Context): string | undefined {
  const header = ctx.get('authorization');
  if (!header) return undefined;
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  if (!match) throw invalidToken('the Authorization header must be a Bearer token');
  return match[1];
}

/** Fields only the server sets; a client may not send them with an update (RFC 7592 §2.2). */
const SERVER_FIELDS = [
  'registration_access_token',
  'registration_client_uri',
  'client_secret_expires_at',
  'client_id_issued_at',
];

/**
 * RFC 7591 registration at `POST /register` and RFC 7592 management at the registration client
 * URI `/register/<client_id>` (GET read, PUT full replacement, DELETE), over the store clients
 * of client-store.ts. docs/security.md S-REG-01 to S-REG-03.
 */
export class RegistrationEndpoint {
  readonly #iats: { name: string; hash: Buffer }[];
  readonly #config: RegistrationConfig;

  constructor(
    private readonly oauth: OAuthContext,
    private readonly clients: ClientStore,
    private readonly limit?: Limit,
  ) {
    this.#config = oauth.config.registration;
    this.#iats = this.#config.initial_access_tokens.map((t) => ({ name: t.name, hash: Buffer.from(t.sha256, 'hex') }));
  }

  routes(): Router {
    const router = new Router();
    router.post('/register', (ctx) => this.register(ctx));
    router.get('/register/:client_id', (ctx) => this.read(ctx, ctx.params.client_id!));
    router.put('/register/:client_id', (ctx) => this.update(ctx, ctx.params.client_id!));
    router.delete('/register/:client_id', (ctx) => this.remove(ctx, ctx.params.client_id!));
    return router;
  }

  /**
   * Who is registering: the holder of an initial access token (RFC 7591 §3, compared as SHA-256
   * hashes in constant time, each one tried), or anyone when registration is open. A token that
   * matches none is refused even when registration is open: it was meant to be one.
   */
  #access(ctx: Context): { access: Exclude<RegistrationAccess, 'document'>; tokenName?: string } {
    const token = bearerToken(ctx);
    if (token === undefined) {
      if (this.#config.open) return { access: 'open' };
      throw missingToken();
    }
    const presented = createHash('sha256').update(token, 'utf8').digest();
    let found: string | undefined;
    for (const iat of this.#iats) if (constantTimeEqual(presented, iat.hash)) found ??= iat.name;
    if (found === undefined) throw invalidToken('the initial access token is not valid');
    return { access: 'trusted', tokenName: found };
  }

  /** RFC 7591 §3.1: registers a client; §3.2.1: 201 with its metadata, id, secret and registration token. */
  async register(ctx: Context): Promise<void> {
    await this.limit?.take(registrantKey(ctx.ip), { ip: ctx.ip });
    const { access, tokenName } = this.#access(ctx);
    const body = await readJson(ctx);
    const clientId = randomId(16);
    const { metadata } = registeredClient(body, {
      access,
      clientId,
      mintSecret: () => randomToken(),
      pairwiseSalt: this.oauth.config.subjects.pairwise_salt !== undefined,
    });
    const issuedAt = nowS();
    const written = await this.clients.create(
      { ...metadata, client_id: clientId },
      {
        origin: 'registration',
        generateSecret: true,
        registrationAccessToken: true,
        // An open registration expires unless used (S-REG-03); its first use ends the expiry.
        ...(access === 'open' ? { unusedTtlS: this.#config.unused_client_ttl_s, untilFirstUse: true } : {}),
        registration: {
          client_id_issued_at: issuedAt,
          access,
          ...(tokenName ? { initial_access_token: tokenName } : {}),
        },
      },
    );
    this.oauth.log.info({ client: clientId, access, initial_access_token: tokenName, ip: ctx.ip }, 'client registered');
    this.#answer(ctx, 201, written);
  }

  /**
   * RFC 7592 §2: the registration access token of this client, or 401 invalid_token (also for a
   * client that does not exist, or has no such token: a client of the CLI or the config file).
   */
  async #authorized(ctx: Context, clientId: string): Promise<void> {
    const token = bearerToken(ctx);
    if (token === undefined) throw missingToken();
    if (!(await this.clients.registrationTokenMatches(clientId, token))) {
      throw invalidToken('the registration access token is not valid for this client');
    }
  }

  /** RFC 7592 §2.1: the client's current metadata. */
  async read(ctx: Context, clientId: string): Promise<void> {
    await this.#authorized(ctx, clientId);
    const view = await this.clients.get(clientId);
    if (!view) throw invalidToken('the registration access token is not valid for this client');
    this.#answer(ctx, 200, { client: view });
  }

  /**
   * RFC 7592 §2.2: replaces the client's metadata as a whole, under the policy it was registered
   * with; the registration access token rotates, the secret stays (a client that becomes
   * confidential gets one).
   */
  async update(ctx: Context, clientId: string): Promise<void> {
    await this.#authorized(ctx, clientId);
    const body = await readJson(ctx);
    const view = await this.clients.get(clientId);
    if (!view) throw invalidToken('the registration access token is not valid for this client');
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new BrokerError(
        'invalid_client_metadata',
        'the body must be a JSON object of client metadata (RFC 7591 §2)',
      );
    }
    const fields = body as Record<string, unknown>;
    if (fields.client_id !== clientId) {
      throw invalidRequest('client_id: must be sent, and be this client’s id (RFC 7592 §2.2)');
    }
    const sent = SERVER_FIELDS.filter((field) => field in fields);
    if (sent.length > 0) throw invalidRequest(`${sent.join(', ')}: must not be sent with an update (RFC 7592 §2.2)`);
    if (fields.client_secret !== undefined) {
      if (typeof fields.client_secret !== 'string' || !secretMatches(view.client, fields.client_secret)) {
        throw invalidRequest('client_secret: must be the client’s current secret; it cannot be chosen (RFC 7592 §2.2)');
      }
    }
    const registered = view.facts.registration ?? {};
    const access = registered.access === 'trusted' ? 'trusted' : 'open';
    const { metadata } = registeredClient(body, {
      access,
      clientId,
      // Only for validation: the store keeps the current secret, or makes one.
      mintSecret: () => randomToken(),
      pairwiseSalt: this.oauth.config.subjects.pairwise_salt !== undefined,
    });
    const written = await this.clients.update(
      clientId,
      { ...metadata, client_id: clientId },
      { generateSecret: true, rotateRegistrationAccessToken: true },
    );
    this.oauth.log.info({ client: clientId }, 'registered client updated');
    this.#answer(ctx, 200, written);
  }

  /** RFC 7592 §2.3: removes the client; its grants and tokens die with it. 204. */
  async remove(ctx: Context, clientId: string): Promise<void> {
    await this.#authorized(ctx, clientId);
    await this.clients.remove(clientId);
    this.oauth.log.info({ client: clientId }, 'registered client deleted');
    ctx.status = 204;
  }

  /** RFC 7591 §3.2.1 / RFC 7592 §3: metadata, the secret and token when just made, never cached. */
  #answer(ctx: Context, status: number, written: Pick<Written, 'client'> & Partial<Written>): void {
    const { client } = written;
    const metadata = clientMetadata({ ...client.client, client_secret: undefined });
    const issuedAt = client.facts.registration?.client_id_issued_at;
    ctx.status = status;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      ...metadata,
      ...(written.client_secret ? { client_secret: written.client_secret } : {}),
      ...(typeof issuedAt === 'number' ? { client_id_issued_at: issuedAt } : {}),
      ...(client.has_secret ? { client_secret_expires_at: 0 } : {}),
      ...(written.registration_access_token ? { registration_access_token: written.registration_access_token } : {}),
      registration_client_uri: `${this.oauth.config.issuer}/register/${encodeURIComponent(client.client.client_id)}`,
    };
  }
}

/**
 * What the per-IP registration limit counts: an IPv4 address, or the /64 of an IPv6 one (a single
 * host commonly holds a whole /64, and would otherwise count as many registrants).
 */
export function registrantKey(ip: string): string {
  if (!ipaddr.isValid(ip)) return ip;
  const address = ipaddr.process(ip);
  if (address.kind() === 'ipv4') return address.toString();
  const prefix = (address as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16));
  return `${prefix.join(':')}::/64`;
}
