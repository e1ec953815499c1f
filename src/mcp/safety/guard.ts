/**
 * The agent-safety checks the GuardedClient runs on top of a call's one policy decision: rate limits
 * before a tool call, and step, cool-down and confirmation before a scale. The decisions themselves
 * are pure (src/policy/limits.ts, src/policy/decide.ts); this module gathers their inputs and turns
 * refusals into ToolErrors.
 */

import type { CompiledGrant } from '../../policy/compile.js';
import type { LimitedGrant, ScaleVerdict } from '../../policy/limits.js';
import { ToolError } from '../errors.js';
import type { RateLimitCandidate, RateLimiter } from './ratelimit.js';

/** A refused call: the answer, and the policies whose limits refused it (for the audit). */
export interface RateRefusal {
  readonly error: ToolError;
  readonly policies: readonly string[];
}

/**
 * Counts one tool call against the rate limits of the policies that allow it. Grants add up: a
 * policy without a rate limit lets the call through uncounted. Returns the refusal when every
 * allowing policy is out of calls.
 */
export function admitRate(
  limiter: RateLimiter | undefined,
  caller: string,
  tool: string,
  grants: readonly LimitedGrant[],
  now: number,
): RateRefusal | undefined {
  if (grants.length === 0) return undefined;
  const candidates: RateLimitCandidate[] = [];
  for (const g of grants) {
    const cpm = g.limits?.callsPerMinute;
    if (cpm === undefined) return undefined; // an unlimited grant allows the call
    candidates.push({ policy: g.policy, callsPerMinute: cpm });
  }
  if (limiter === undefined) return undefined;
  const answer = limiter.admit(caller, candidates, now);
  if (answer.allowed) return undefined;
  return {
    error: rateRefusal(tool, candidates, answer.policies, answer.retryAfterSeconds),
    policies: answer.policies,
  };
}

/**
 * The grants that may serve the rows of a list across namespaces, after rate limits: a grant
 * without a rate limit serves its namespaces uncounted; each rate-limited grant serves its
 * namespaces only when it has a call left, and is then charged one call. So the rows returned and
 * the budgets charged come from the same grants. Refused when no grant is left.
 */
export function admitRows(
  limiter: RateLimiter | undefined,
  caller: string,
  tool: string,
  grants: readonly CompiledGrant[],
  now: number,
): { readonly kept: readonly CompiledGrant[] } | { readonly refusal: RateRefusal } {
  if (limiter === undefined || !grants.some((g) => g.limits?.callsPerMinute !== undefined)) {
    return { kept: grants };
  }
  const kept: CompiledGrant[] = [];
  const spent: RateLimitCandidate[] = [];
  let wait = Number.POSITIVE_INFINITY;
  for (const g of grants) {
    const cpm = g.limits?.callsPerMinute;
    if (cpm === undefined) {
      kept.push(g);
      continue;
    }
    const candidate = { policy: g.policy, callsPerMinute: cpm };
    const answer = limiter.admit(caller, [candidate], now);
    if (answer.allowed) kept.push(g);
    else {
      spent.push(candidate);
      wait = Math.min(wait, answer.retryAfterSeconds);
    }
  }
  if (kept.length > 0) return { kept };
  const policies = spent.map((c) => c.policy);
  return { refusal: { error: rateRefusal(tool, spent, policies, wait), policies } };
}

function rateRefusal(
  tool: string,
  candidates: readonly RateLimitCandidate[],
  policies: readonly string[],
  retryAfterSeconds: number,
): ToolError {
  return rateLimited(
    `You have used up your calls per minute for ${tool}`,
    `McpPolicy ${policies.join(', ')} allows ${candidates
      .map((c) => c.callsPerMinute)
      .join(' or ')} calls per minute per caller`,
    retryAfterSeconds,
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
