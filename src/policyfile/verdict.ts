/**
 * The answer the server would give a call, decided offline with the server's own functions:
 * `decideCall` (grants, namespaces, replica bounds) and, for a scale that passes them, `decideScale`
 * (maxStep and confirm, with the current replica count the case gives). What cannot be known offline
 * is left out and said so: cool-downs and rate limits (they depend on earlier calls), the
 * requireKubernetesRBAC second key (it depends on the cluster's RBAC).
 */

import { decideCall, decideScale, describePolicies, type PolicyIndex } from '../policy/index.js';
import type { LimitedGrant } from '../policy/limits.js';
import { isScaleTool } from '../policy/tools.js';
import type { DecisionRequest } from '../policy/types.js';
import type { OfflineDenialCode } from './test-schema.js';

export interface OfflineVerdict {
  readonly allowed: boolean;
  readonly code?: OfflineDenialCode;
  /** The policies that allow the call, or that were considered when it is refused. */
  readonly policies: readonly string[];
  readonly reason: string;
  /** What the server checks at call time that this verdict does not (cool-down, rate limit, RBAC). */
  readonly notes: readonly string[];
}

/** Thrown when a case lacks what its policies' limits need (the current replica count). */
export class MissingFactError extends Error {}

function stepLimited(limited: readonly LimitedGrant[]): string[] {
  return limited
    .filter((g) => g.limits?.maxStep !== undefined || g.limits?.confirm?.stepAbove !== undefined)
    .map((g) => g.policy);
}

function callTimeNotes(limited: readonly LimitedGrant[] | undefined, rbacKeyed: boolean): string[] {
  const notes: string[] = [];
  for (const g of limited ?? []) {
    if (g.limits?.cooldownSeconds !== undefined)
      notes.push(
        `${describePolicies([g.policy])}: a cool-down of ${g.limits.cooldownSeconds} s applies at call time`,
      );
    if (g.limits?.callsPerMinute !== undefined)
      notes.push(
        `${describePolicies([g.policy])}: ${g.limits.callsPerMinute} calls per minute apply at call time`,
      );
  }
  if (rbacKeyed) notes.push("the caller's own Kubernetes RBAC must also allow it (checked at call time)");
  return notes;
}

/** Decides one call as the server would; `currentReplicas` is the count before a scale. */
export function offlineVerdict(
  index: PolicyIndex,
  req: DecisionRequest,
  currentReplicas?: number,
): OfflineVerdict {
  const d = decideCall(index, req);
  if (!d.allowed) {
    return {
      allowed: false,
      code: d.code ?? 'PolicyDenied',
      policies: d.policies,
      reason: d.reason,
      notes: [],
    };
  }
  const notes = callTimeNotes(d.limited, d.rbacKeyed);
  const to = d.request.replicas;
  if (d.limited === undefined || to === undefined || !isScaleTool(req.tool) || currentReplicas === to) {
    return { allowed: true, policies: d.policies, reason: d.reason, notes };
  }
  if (currentReplicas === undefined) {
    const needs = stepLimited(d.limited);
    if (needs.length > 0)
      throw new MissingFactError(
        `${describePolicies(needs)} ${needs.length === 1 ? 'limits' : 'limit'} the change per call: give currentReplicas`,
      );
  }
  const verdict = decideScale(d.limited, { from: currentReplicas ?? to, to, now: 0 });
  if (verdict.kind === 'allow') return { allowed: true, policies: verdict.policies, reason: d.reason, notes };
  if (verdict.kind === 'confirm') {
    return {
      allowed: false,
      code: 'ConfirmationRequired',
      policies: verdict.policies,
      reason: `A human must confirm: ${verdict.reasons.join('; ')}.`,
      notes,
    };
  }
  // Without a last-scale time no cool-down refuses, so a refusal here is a step (OutOfBounds).
  return { allowed: false, code: 'OutOfBounds', policies: verdict.policies, reason: verdict.reason, notes };
}
