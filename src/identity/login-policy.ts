import { DEFAULT_POLICY, type LoginPolicy } from './users.js';

/** The part of a provider entry that decides how its logins map to users. */
export interface PolicyEntry {
  id: string;
  sync: LoginPolicy['sync'];
  link_by_email: boolean;
}

/** Each provider entry's login policy (`sync`, `link_by_email`), by provider id. */
export function loginPolicies(entries: readonly PolicyEntry[]): (providerId: string) => LoginPolicy {
  const policies = new Map(entries.map((e) => [e.id, { sync: e.sync, linkByEmail: e.link_by_email }]));
  return (providerId) => policies.get(providerId) ?? DEFAULT_POLICY;
}
