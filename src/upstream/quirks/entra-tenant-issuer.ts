import type { Quirk } from './types.js';

const TENANT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Entra ID v2.0 multi-tenant: discovery for `common` gives the issuer template
 * `https://login.microsoftonline.com/{tenantid}/v2.0`, while each token carries its tenant.
 * The expected issuer is the template with the token's `tid`, compared exactly, and `tid` must
 * be on the allowlist (`allowed_tenants`), else any tenant in the world could sign in.
 * A single-tenant deployment (`tenant` a GUID) is allowed just that tenant.
 */
export const entraTenantIssuer: Quirk = {
  name: 'entra-tenant-issuer',
  check(entry) {
    const tenant = entry.tenant ?? 'common';
    if (TENANT_ID.test(tenant) || entry.allowed_tenants) return [];
    return [`tenant "${tenant}" admits many tenants: list the ones allowed in allowed_tenants`];
  },
  checkClaims(claims, entry) {
    const tid = claims.tid;
    if (typeof tid !== 'string' || !TENANT_ID.test(tid)) return 'the ID token has no tenant id (tid)';
    const tenant = entry.tenant ?? 'common';
    const allowed = entry.allowed_tenants ?? (TENANT_ID.test(tenant) ? [tenant] : []);
    if (!allowed.includes(tid)) return `tenant ${tid} is not allowed`;
    const expected = `https://login.microsoftonline.com/${tid}/v2.0`;
    if (claims.iss !== expected) return 'the ID token issuer does not match its tenant';
    if (typeof claims.oid !== 'string' || !claims.oid) return 'the ID token has no object id (oid)';
    return undefined;
  },
};
