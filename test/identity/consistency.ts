import { linkKey, type ExternalIdentity, type Users } from '../../src/identity/users.js';
import type { Store } from '../../src/store/index.js';

type IdentityRef = Pick<ExternalIdentity, 'provider' | 'issuer' | 'subject'>;
const same = (a: IdentityRef, b: IdentityRef) =>
  a.provider === b.provider && a.issuer === b.issuer && a.subject === b.subject;
const label = (i: IdentityRef) => `${i.provider}/${i.subject}`;
/** The user a link row points to: its value is the user id, then (since issue 19.1) a space and a claim. */
const owner = async (store: Store, identity: IdentityRef) =>
  (await store.get(linkKey(identity)))?.split(' ')[0] ?? null;

/**
 * The invariant between user records and link rows, as a list of what breaks it (empty when it
 * holds): every identity a user lists has a link row pointing back to that user, every link row
 * points to a user that lists the identity, and every user keeps at least one sign-in method.
 */
export async function inconsistencies(
  store: Store,
  users: Users,
  userIds: Iterable<string>,
  identities: IdentityRef[],
): Promise<string[]> {
  const problems: string[] = [];
  for (const id of new Set(userIds)) {
    const user = await users.get(id);
    if (!user) continue;
    if (user.identities.length === 0) problems.push(`user ${id} has no sign-in method`);
    for (const identity of user.identities) {
      const target = await owner(store, identity);
      if (target !== id) {
        problems.push(`user ${id} lists ${label(identity)}, whose link row points to ${target ?? 'nobody'}`);
      }
    }
  }
  for (const identity of identities) {
    const target = await owner(store, identity);
    if (!target) continue;
    const user = await users.get(target);
    const row = `the link row of ${label(identity)} points to ${target}`;
    if (!user) problems.push(`${row}, who does not exist`);
    else if (!user.identities.some((i) => same(i, identity))) problems.push(`${row}, who does not list it`);
  }
  return problems;
}
