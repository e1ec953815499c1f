/**
 * The agent-safety checks the GuardedClient runs on top of a policy decision: rate limits before a
 * tool call, and step, cool-down and confirmation before a scale. The decisions themselves are pure
 * (src/policy/limits.ts); this module gathers their inputs and turns refusals into ToolErrors.
 *
 * Fast path: an index in which no policy sets any limit is recognised once per index (a WeakMap), so
 * a call costs one map look-up more than before, nothing else.
 */

import type { CompiledGrant, PolicyIndex } from '../../policy/compile.js';
import type { GrantLimits, LimitedGrant, ScaleVerdict } from '../../policy/limits.js';
import { ToolError } from '../errors.js';
import type { RateLimitCandidate, RateLimiter } from './ratelimit.js';

const hasLimitsCache = new WeakMap<PolicyIndex, boolean>();

/** Whether any Ready policy of the index sets a limit (computed once per index). */
export function indexHasLimits(index: PolicyIndex): boolean {
  let has = hasLimitsCache.get(index);
  if (has === undefined) {
    has = false;
    for (const grant of index.grants.values()) {
      if (grant.limits !== undefined) {
        has = true;
        break;
      }
    }
    hasLimitsCache.set(index, has);
  }
  return has;
}

const hasRbacCache = new WeakMap<PolicyIndex, boolean>();

/** Whether any Ready policy of the index sets requireKubernetesRBAC (computed once per index). */
export function indexHasRbac(index: PolicyIndex): boolean {
  let has = hasRbacCache.get(index);
  if (has === undefined) {
    has = false;
    for (const grant of index.grants.values()) {
      if (grant.limits?.requireKubernetesRBAC === true) {
        has = true;
        break;
      }
    }
    hasRbacCache.set(index, has);
  }
  return has;
}

/** True when policies allow the call and every one of them requires Kubernetes RBAC as a second key. */
export function onlyRbacKeyed(index: PolicyIndex, policies: readonly string[]): boolean {
  if (policies.length === 0) return false;
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
    const limits: GrantLimits | undefined = index.grants.get(policy)?.limits;
    if (limits !== undefined) any = true;
    out.push(limits === undefined ? { policy } : { policy, limits });
  }
  return any ? out : undefined;
}

/** The caller's grants of `tool` (any namespace), for calls that span namespaces. */
export function grantsOfTool(
  index: PolicyIndex,
  caller: { username: string; groups: readonly string[] },
  tool: string,
): CompiledGrant[] {
  const seen = new Set<CompiledGrant>();
  for (const g of index.grantsByUser.get(caller.username) ?? []) if (g.tools.has(tool)) seen.add(g);
  for (const group of caller.groups)
    for (const g of index.grantsByGroup.get(group) ?? []) if (g.tools.has(tool)) seen.add(g);
  return [...seen];
}

/**
 * Counts one tool call against the rate limits of the policies that allow it. Grants add up: a
 * policy without a rate limit lets the call through uncounted. Throws RateLimited.
 */
export function admitRate(
  limiter: RateLimiter | undefined,
  caller: string,
  tool: string,
  grants: readonly LimitedGrant[],
  now: number,
): void {
  if (grants.length === 0) return;
  const candidates: RateLimitCandidate[] = [];
  for (const g of grants) {
    const cpm = g.limits?.callsPerMinute;
    if (cpm === undefined) return; // an unlimited grant allows the call
    candidates.push({ policy: g.policy, callsPerMinute: cpm });
  }
  if (limiter === undefined) return;
  const answer = limiter.admit(caller, candidates, now);
  if (answer.allowed) return;
  throw rateLimited(
    `You have used up your calls per minute for ${tool}`,
    `McpPolicy ${answer.policies.join(', ')} allows ${candidates
      .map((c) => c.callsPerMinute)
      .join(' or ')} calls per minute per caller`,
    answer.retryAfterSeconds,
  );
}

export function rateLimited(message: string, reason: string, retryAfterSeconds: number): ToolError {
  return new ToolError('RateLimited', message, {
    reason,
    retryAfterSeconds,
    suggestions: [
      `Retry in ${retryAfterSeconds} seconds`,
      'Batch your reads: one list with a labelSelector or a larger limit instead of many calls',
    ],
  });
}

/** The ToolError of a refused scale verdict. */
export function scaleRefusal(verdict: Extract<ScaleVerdict, { kind: 'deny' }>, what: string): ToolError {
  if (verdict.code === 'RateLimited') {
    return new ToolError('RateLimited', `${what} is in its cool-down; nothing was changed`, {
      reason: verdict.reason,
      suggestions: verdict.suggestions,
      retryAfterSeconds: verdict.retryAfterSeconds ?? 1,
    });
  }
  return new ToolError('OutOfBounds', `That is too large a step for ${what}; nothing was changed`, {
    reason: verdict.reason,
    suggestions: verdict.suggestions,
  });
}
