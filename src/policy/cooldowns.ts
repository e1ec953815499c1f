/** Start-up checks of cool-downs over a compiled index. Pure. */

import type { PolicyIndex } from './compile.js';

/**
 * The Ready policies that set cooldownSeconds when `leaseNamespace` (where scales are recorded as
 * Leases, the operator's own namespace) does not exist: their scales will be refused until it does.
 * Empty when the namespace exists or no policy sets a cool-down. Sorted.
 */
export function cooldownsWithoutNamespace(index: PolicyIndex, leaseNamespace: string): string[] {
  if (index.namespaces.has(leaseNamespace)) return [];
  const out: string[] = [];
  for (const grant of index.grants.values())
    if (grant.limits?.cooldownSeconds !== undefined) out.push(grant.policy);
  return out.sort();
}
