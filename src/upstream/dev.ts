import { ConfigError } from '../config/load.js';
import type { ProviderEntry } from '../config/providers.js';
import { isLoopbackHost } from '../config/urls.js';
import type { CallbackConnector } from './connector.js';
import { devLoginPage } from './dev-page.js';
import { UpstreamFailure } from './errors.js';
import { entryPath, type DefinitionOptions } from './resolve.js';
import type { UpstreamIdentity } from './types.js';

/**
 * The development provider (`use: dev`), a connector with no provider behind it: its
 * "authorization URL" is our own form at /upstream/:id/login, which posts same-origin to the
 * callback, and finish reads the posted form. Any values are accepted, so it is refused unless
 * the broker's issuer is a loopback URL.
 */
export function devConnector(entry: ProviderEntry, index: number, options: DefinitionOptions): CallbackConnector {
  const { brokerIssuer } = options;
  if (!isLoopbackHost(new URL(brokerIssuer).hostname)) {
    const problem = `${entryPath(index)}.use: dev is for development only: the broker issuer must be a loopback URL`;
    throw new ConfigError(options.configFile ?? 'configuration', [problem]);
  }
  const id = entry.id;
  const label = entry.name ?? 'Development login';
  const issuer = `${brokerIssuer}/upstream/${id}`;
  return {
    id,
    label,
    ...(entry.color ? { color: entry.color } : {}),
    answer: 'form',
    loginPage: (input) => devLoginPage({ ...input, label }),
    async authorizationUrl({ state }) {
      return {
        url: `${brokerIssuer}/upstream/${encodeURIComponent(id)}/login?state=${encodeURIComponent(state)}`,
        secrets: {},
      };
    },
    async finish({ params }) {
      return { identity: devIdentity(id, issuer, params) };
    },
  };
}

/** The identity the form describes: subject = username, issuer = {broker issuer}/upstream/{id}. */
export function devIdentity(provider: string, issuer: string, form: URLSearchParams): UpstreamIdentity {
  const username = field(form, 'username', 100);
  if (!username) throw new UpstreamFailure('access_denied', 'a username is required');
  const name = field(form, 'name', 200);
  const email = field(form, 'email', 254);
  if (email && !/^[^@\s]+@[^@\s]+$/.test(email)) {
    throw new UpstreamFailure('access_denied', 'the email is not an address');
  }
  const identity: UpstreamIdentity = {
    provider,
    issuer,
    subject: username,
    email_verified: Boolean(email) && form.get('email_verified') === 'true',
    preferred_username: username,
    raw: { username, ...(name ? { name } : {}), ...(email ? { email } : {}) },
  };
  if (name) identity.name = name;
  if (email) identity.email = email;
  return identity;
}

function field(form: URLSearchParams, name: string, max: number): string | undefined {
  const values = form.getAll(name);
  if (values.length > 1) throw new UpstreamFailure('access_denied', `${name} is repeated`);
  const value = values[0]?.trim();
  if (!value) return undefined;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (value.length > max || /[\x00-\x1f\x7f]/.test(value)) {
    throw new UpstreamFailure('access_denied', `${name} is not acceptable`);
  }
  return value;
}
