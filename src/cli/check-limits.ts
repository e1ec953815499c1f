/**
 * What `kubemcp check` says about the agent-safety limits of an allowed call: they are enforced at
 * call time (they depend on the object's current count, its last scale, the caller's recent calls and
 * its RBAC), so check names them instead of deciding them. Exit status 0 then means "the policies
 * allow it, subject to these limits".
 */

import { describeLimits, type PolicyIndex } from '../policy/index.js';
import type { Decision } from '../policy/types.js';

export function limitNotes(index: PolicyIndex, decision: Decision): string[] {
  if (!decision.allowed) return [];
  const notes: string[] = [];
  let unlimited = false;
  for (const policy of decision.policies) {
    const text = describeLimits(index.grants.get(policy)?.limits);
    if (text === undefined) unlimited = true;
    else notes.push(`McpPolicy ${policy} limits the call at call time: ${text}`);
  }
  // Grants add up: one policy without limits lets the call through without them.
  return unlimited ? [] : notes;
}
