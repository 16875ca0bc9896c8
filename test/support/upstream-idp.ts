import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type Configuration } from 'oidc-provider';

/** The client secret the broker uses at the test upstream, unless a test names its own. */
export const UPSTREAM_IDP_SECRET = 'upstream-secret-0123456789abcdef';

export interface UpstreamIdpOptions {
  /** Where the upstream sends the browser back: read when the first request arrives, so the broker may start later. */
  redirectUri: () => string;
  clientSecret?: string;
  /** Merged into the broker's client at the upstream (grant_types, token_endpoint_auth_method...). */
  brokerClient?: Record<string, unknown>;
  /** More clients at the upstream besides the broker. */
  otherClients?: Configuration['clients'];
  /** The `name` claim of an account; the email is always `<sub>@corp.example`, verified. */
  name?: (sub: string) => string;
  /** Further oidc-provider settings (features are merged with the development interactions). */
  settings?: Omit<Configuration, 'clients' | 'findAccount' | 'claims'>;
  /** Slows the upstream's token endpoint. */
  tokenDelayMs?: number;
}

export interface UpstreamIdp {
  issuer: string;
  /** The oidc-provider instance, made at the first request. */
  provider(): Provider;
  /** Successful token requests so far (grant.success). */
  readonly tokenRequests: number;
  close(): Promise<void>;
}

/**
 * An upstream OpenID provider (oidc-provider 8 with its development login pages) on a free
 * loopback port, that signs anyone in with PKCE required.
 */
export async function startUpstreamIdp(options: UpstreamIdpOptions): Promise<UpstreamIdp> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const name = options.name ?? ((sub: string) => `Corp ${sub}`);
  let tokenRequests = 0;
  let provider: Provider | undefined;
  const make = () => {
    const { features, ...settings } = options.settings ?? {};
    const made = new Provider(issuer, {
      pkce: { required: () => true },
      ...settings,
      clients: [
        {
          client_id: 'broker',
          client_secret: options.clientSecret ?? UPSTREAM_IDP_SECRET,
          redirect_uris: [options.redirectUri()],
          ...options.brokerClient,
        },
        ...(options.otherClients ?? []),
      ],
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
      features: { devInteractions: { enabled: true }, ...(features ?? {}) },
      async findAccount(_ctx, sub) {
        return {
          accountId: sub,
          claims: async () => ({ sub, email: `${sub}@corp.example`, email_verified: true, name: name(sub) }),
        };
      },
    });
    made.on('grant.success', () => tokenRequests++);
    return made;
  };
  const provide = () => {
    provider ??= make();
    return provider;
  };
  server.on('request', (req, res) => {
    const delay = req.url?.startsWith('/token') ? (options.tokenDelayMs ?? 0) : 0;
    const handle = () => provide().callback()(req, res);
    if (delay > 0) setTimeout(handle, delay);
    else handle();
  });
  return {
    issuer,
    provider: provide,
    get tokenRequests() {
      return tokenRequests;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
