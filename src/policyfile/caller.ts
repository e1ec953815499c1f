/**
 * A caller as a token of that identity authenticates: its user name, its explicit groups, and the
 * groups the API server adds on its own (system:authenticated; for a ServiceAccount also
 * system:serviceaccounts and system:serviceaccounts:NAMESPACE). `kubemcp check --as` and the cases of
 * `kubemcp test` both build callers here.
 */

import type { Caller } from '../policy/types.js';

export const SERVICE_ACCOUNT_PREFIX = 'system:serviceaccount:';

/** Throws an Error naming the problem when `username` looks like a ServiceAccount but is not one. */
export function callerFor(username: string, groups: readonly string[]): Caller {
  const all = new Set(groups);
  if (username.startsWith(SERVICE_ACCOUNT_PREFIX)) {
    const parts = username.slice(SERVICE_ACCOUNT_PREFIX.length).split(':');
    if (parts.length !== 2 || !parts[0] || !parts[1]) {
      throw new Error(`${username}: a ServiceAccount is system:serviceaccount:NAMESPACE:NAME`);
    }
    all.add('system:serviceaccounts');
    all.add(`system:serviceaccounts:${parts[0]}`);
  }
  all.add('system:authenticated');
  return { username, groups: [...all] };
}
