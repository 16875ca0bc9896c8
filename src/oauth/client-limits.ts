import type { Limit } from '../http/rate-limit.js';

/**
 * The limits of the client-authenticated endpoints (token, introspection, revocation): failed
 * client authentications per client IP and client id, and per client IP alone; token requests
 * per authenticated client. The password grant's own lockout is apart (grants/password-lockout.ts).
 */
export interface ClientLimits {
  /** Before the secret is checked: refuses a caller known to be over a failure limit (no round trip). */
  check(ip: string, clientId: string | undefined): void;
  /** A failed client authentication: counted, and refused with 429 when it goes over a limit. */
  failed(ip: string, clientId: string | undefined): Promise<void>;
  /** A token request of an authenticated client. */
  tokenRequest(clientId: string): Promise<void>;
}

export const NO_CLIENT_LIMITS: ClientLimits = {
  check() {},
  async failed() {},
  async tokenRequest() {},
};

export function clientLimits(limits: { failures?: Limit; failuresPerIp?: Limit; tokens?: Limit }): ClientLimits {
  const pair = (ip: string, clientId: string | undefined) => `${ip}\0${clientId ?? ''}`;
  return {
    check(ip, clientId) {
      limits.failuresPerIp?.check(ip);
      limits.failures?.check(pair(ip, clientId));
    },
    async failed(ip, clientId) {
      const context = { ip, client: clientId?.slice(0, 100) };
      const counted = await Promise.allSettled([
        limits.failuresPerIp?.take(ip, context),
        limits.failures?.take(pair(ip, clientId), context),
      ]);
      const refused = counted.find((c): c is PromiseRejectedResult => c.status === 'rejected');
      if (refused) throw refused.reason;
    },
    async tokenRequest(clientId) {
      await limits.tokens?.take(clientId, { client: clientId });
    },
  };
}
