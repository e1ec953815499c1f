/**
 * One decision per call. `decideCall` judges a call once, with every argument it has (tool,
 * namespace, replicas), and says everything the steps after it need: which policies allow it, the
 * limits of exactly those policies, and whether every one of them requires Kubernetes RBAC as a
 * second key. Rate limits, cool-down, step, confirmation, the RBAC review, the audit record and the
 * answer all read this one object, so no two of them can disagree about which policies allowed the
 * call. Pure: no I/O, no clock.
 */

import type { CompiledGrant, PolicyIndex } from './compile.js';
import { evaluate } from './evaluate.js';
import type { GrantLimits, LimitedGrant } from './limits.js';
import { isScaleTool } from './tools.js';
import type { Caller, Decision, DecisionRequest } from './types.js';

export interface CallDecision extends Decision {
  /** The request as judged (replicas only for scale tools). */
  readonly request: DecisionRequest;
  /**
   * The allowing policies with their limits, in the order of `policies`; undefined when the call is
   * refused or none of them sets a limit (the fast path).
   */
  readonly limited?: readonly LimitedGrant[];
  /** True when the call is allowed and every policy that allows it sets requireKubernetesRBAC. */
  readonly rbacKeyed: boolean;
}

const hasLimitsCache = new WeakMap<PolicyIndex, boolean>();
const hasRbacCache = new WeakMap<PolicyIndex, boolean>();

function indexHas(
  cache: WeakMap<PolicyIndex, boolean>,
  index: PolicyIndex,
  test: (limits: GrantLimits) => boolean,
): boolean {
  let has = cache.get(index);
  if (has === undefined) {
    has = false;
    for (const grant of index.grants.values()) {
      if (grant.limits !== undefined && test(grant.limits)) {
        has = true;
        break;
      }
    }
    cache.set(index, has);
  }
  return has;
}

/** Whether any Ready policy of the index sets a limit (computed once per index). */
export function indexHasLimits(index: PolicyIndex): boolean {
  return indexHas(hasLimitsCache, index, () => true);
}

/** Whether any Ready policy of the index sets requireKubernetesRBAC (computed once per index). */
export function indexHasRbac(index: PolicyIndex): boolean {
  return indexHas(hasRbacCache, index, (l) => l.requireKubernetesRBAC === true);
}

/** True when policies are named and every one of them requires Kubernetes RBAC as a second key. */
export function onlyRbacKeyed(index: PolicyIndex, policies: readonly string[]): boolean {
  if (policies.length === 0 || !indexHasRbac(index)) return false;
  for (const policy of policies) {
    if (index.grants.get(policy)?.limits?.requireKubernetesRBAC !== true) return false;
  }
  return true;
}

/** The named policies with their limits; undefined when none of them sets a limit (fast path). */
export function limitedGrants(index: PolicyIndex, policies: readonly string[]): LimitedGrant[] | undefined {
  if (!indexHasLimits(index)) return undefined;
  let any = false;
  const out: LimitedGrant[] = [];
  for (const policy of policies) {
    const limits = index.grants.get(policy)?.limits;
    if (limits !== undefined) any = true;
    out.push(limits === undefined ? { policy } : { policy, limits });
  }
  return any ? out : undefined;
}

/**
 * Judges one call, once. `replicas` counts only for scale tools (other tools take none). A call
 * without a namespace for a namespaced tool (a list across namespaces) is allowed by every grant of
 * the tool; {@link toolGrants} gives those grants, which decide the rows the list may return.
 */
export function decideCall(index: PolicyIndex, req: DecisionRequest): CallDecision {
  const request: DecisionRequest =
    req.replicas !== undefined && !isScaleTool(req.tool)
      ? {
          caller: req.caller,
          tool: req.tool,
          ...(req.namespace === undefined ? {} : { namespace: req.namespace }),
        }
      : req;
  const decision = evaluate(index, request);
  if (!decision.allowed) return { ...decision, request, rbacKeyed: false };
  const limited = limitedGrants(index, decision.policies);
  return {
    ...decision,
    request,
    ...(limited === undefined ? {} : { limited }),
    rbacKeyed: onlyRbacKeyed(index, decision.policies),
  };
}

/** The caller's Ready grants of `tool` (any namespace), each policy once, sorted by policy name. */
export function toolGrants(index: PolicyIndex, caller: Caller, tool: string): CompiledGrant[] {
  const seen = new Set<CompiledGrant>();
  for (const g of index.grantsByUser.get(caller.username) ?? []) if (g.tools.has(tool)) seen.add(g);
  for (const group of caller.groups)
    for (const g of index.grantsByGroup.get(group) ?? []) if (g.tools.has(tool)) seen.add(g);
  return [...seen].sort((a, b) => (a.policy < b.policy ? -1 : a.policy > b.policy ? 1 : 0));
}
