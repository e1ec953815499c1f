/**
 * Agent-safety limits of a policy (maxStep, cooldownSeconds, confirm, rateLimit,
 * requireKubernetesRBAC) and the pure decisions over them. No I/O: the caller reads the cluster
 * (current replicas, when KubeMCP last scaled the object) and passes plain numbers in.
 *
 * Grants add up (union), as everywhere in the policy engine: a scale is allowed when at least one of
 * the policies that allow the call (tool, namespace, bounds) also lets it through its own limits. A
 * policy that sets no limit therefore lets every call through that it grants.
 */

import type { McpPolicySpec } from '../api/v1alpha1/schema.js';

export interface ConfirmRules {
  readonly scaleToZero?: boolean;
  readonly above?: number;
  readonly stepAbove?: number;
}

/** The limits of one policy; a compiled grant carries them only when at least one is set. */
export interface GrantLimits {
  readonly maxStep?: number;
  readonly cooldownSeconds?: number;
  readonly callsPerMinute?: number;
  readonly confirm?: ConfirmRules;
  readonly requireKubernetesRBAC?: boolean;
}

/** The limits a spec sets, or undefined when it sets none (the fast path). */
export function limitsOf(
  spec: Pick<
    McpPolicySpec,
    'replicas' | 'cooldownSeconds' | 'rateLimit' | 'confirm' | 'requireKubernetesRBAC'
  >,
): GrantLimits | undefined {
  const limits: GrantLimits = {
    ...(spec.replicas?.maxStep === undefined ? {} : { maxStep: spec.replicas.maxStep }),
    ...(spec.cooldownSeconds === undefined ? {} : { cooldownSeconds: spec.cooldownSeconds }),
    ...(spec.rateLimit === undefined ? {} : { callsPerMinute: spec.rateLimit.callsPerMinute }),
    ...(spec.confirm === undefined ? {} : { confirm: { ...spec.confirm } }),
    ...(spec.requireKubernetesRBAC === true ? { requireKubernetesRBAC: true } : {}),
  };
  return Object.keys(limits).length === 0 ? undefined : limits;
}

/** Whether a scale needs a live read of when the object was last scaled. */
export function needsCooldown(limits: readonly (GrantLimits | undefined)[]): boolean {
  return limits.some((l) => l?.cooldownSeconds !== undefined);
}

/** Why a scale from `from` to `to` needs a human to confirm under `rules`; empty when it does not. */
export function confirmReasons(rules: ConfirmRules | undefined, from: number, to: number): string[] {
  if (rules === undefined) return [];
  const reasons: string[] = [];
  if (rules.scaleToZero === true && to === 0) reasons.push('it scales to zero');
  if (rules.above !== undefined && to > rules.above)
    reasons.push(`it sets more than ${rules.above} replicas`);
  if (rules.stepAbove !== undefined && Math.abs(to - from) > rules.stepAbove)
    reasons.push(`it changes the count by more than ${rules.stepAbove}`);
  return reasons;
}

/** What a scale looks like to the limits. */
export interface ScaleFacts {
  readonly from: number;
  readonly to: number;
  /** ms since epoch. */
  readonly now: number;
  /** When KubeMCP last scaled the object (ms since epoch); undefined when never or not read. */
  readonly lastScaledAt?: number;
}

/** One candidate policy: its name and limits (undefined: none). */
export interface LimitedGrant {
  readonly policy: string;
  readonly limits?: GrantLimits;
}

export type ScaleVerdict =
  | { readonly kind: 'allow'; readonly policies: readonly string[] }
  | {
      readonly kind: 'confirm';
      readonly policies: readonly string[];
      /** Why a human must confirm, e.g. "it sets more than 10 replicas (policy web)". */
      readonly reasons: readonly string[];
    }
  | {
      readonly kind: 'deny';
      readonly code: 'OutOfBounds' | 'RateLimited';
      readonly policies: readonly string[];
      readonly reason: string;
      readonly suggestions: readonly string[];
      /** For RateLimited (cool-down): seconds until a retry can pass. */
      readonly retryAfterSeconds?: number;
    };

/**
 * Decides a scale that the grant/bounds check already allowed, by the limits of the policies that
 * allowed it. Per policy, in order: maxStep (a permanent refusal), cooldownSeconds (a temporary
 * one), confirm. Allowed outright when one policy lets it through without confirmation; else it needs
 * a confirmation when one policy lets it through with one; else refused, preferring the refusal that
 * waiting can cure (the shortest cool-down).
 */
export function decideScale(grants: readonly LimitedGrant[], facts: ScaleFacts): ScaleVerdict {
  const step = Math.abs(facts.to - facts.from);
  const allow: string[] = [];
  const confirm: { policy: string; reasons: string[] }[] = [];
  let largestStep: number | undefined;
  const stepPolicies: string[] = [];
  let cooldownWait: number | undefined;
  const cooldownPolicies: string[] = [];

  for (const { policy, limits } of grants) {
    if (limits?.maxStep !== undefined && step > limits.maxStep) {
      largestStep = Math.max(largestStep ?? 0, limits.maxStep);
      stepPolicies.push(policy);
      continue;
    }
    if (limits?.cooldownSeconds !== undefined && facts.lastScaledAt !== undefined) {
      const readyAt = facts.lastScaledAt + limits.cooldownSeconds * 1000;
      if (facts.now < readyAt) {
        const wait = Math.max(1, Math.ceil((readyAt - facts.now) / 1000));
        cooldownWait = Math.min(cooldownWait ?? wait, wait);
        cooldownPolicies.push(policy);
        continue;
      }
    }
    const reasons = confirmReasons(limits?.confirm, facts.from, facts.to);
    if (reasons.length === 0) allow.push(policy);
    else confirm.push({ policy, reasons });
  }

  if (allow.length > 0) return { kind: 'allow', policies: allow };
  if (confirm.length > 0) {
    return {
      kind: 'confirm',
      policies: confirm.map((c) => c.policy),
      reasons: confirm.flatMap((c) => c.reasons.map((r) => `${r} (policy ${c.policy})`)),
    };
  }
  if (cooldownWait !== undefined) {
    return {
      kind: 'deny',
      code: 'RateLimited',
      policies: cooldownPolicies,
      retryAfterSeconds: cooldownWait,
      reason: `This object was scaled through KubeMCP less than its cool-down ago (McpPolicy ${cooldownPolicies.join(', ')}); another scale may follow in ${cooldownWait} s.`,
      suggestions: [
        `Retry in ${cooldownWait} seconds`,
        'Check the effect of the last scale (list the workload and its pods) before changing it again',
      ],
    };
  }
  const max = largestStep ?? 0;
  const toward = facts.to > facts.from ? facts.from + max : facts.from - max;
  return {
    kind: 'deny',
    code: 'OutOfBounds',
    policies: stepPolicies,
    reason: `Changing the replica count by ${step} (from ${facts.from} to ${facts.to}) is more than your McpPolicies allow in one call (at most ${max}).`,
    suggestions: [
      `Change the count by at most ${max} per call: scale to ${toward} first`,
      'Check the effect of each step before the next one',
    ],
  };
}

/** A short sentence of a grant's limits for tool descriptions and `kubemcp check`, e.g. "at most 3 replicas per call; confirm above 10". */
export function describeLimits(limits: GrantLimits | undefined): string | undefined {
  if (limits === undefined) return undefined;
  const parts: string[] = [];
  if (limits.maxStep !== undefined)
    parts.push(`at most ${limits.maxStep} replica${limits.maxStep === 1 ? '' : 's'} of change per call`);
  if (limits.cooldownSeconds !== undefined)
    parts.push(`at least ${limits.cooldownSeconds} s between two scales of one object`);
  const c = limits.confirm;
  if (c !== undefined) {
    const when: string[] = [];
    if (c.scaleToZero === true) when.push('scaling to zero');
    if (c.above !== undefined) when.push(`above ${c.above}`);
    if (c.stepAbove !== undefined) when.push(`a change of more than ${c.stepAbove}`);
    parts.push(`a human must confirm ${when.join(', ')}`);
  }
  if (limits.callsPerMinute !== undefined) parts.push(`${limits.callsPerMinute} calls per minute`);
  if (limits.requireKubernetesRBAC === true) parts.push('your own Kubernetes RBAC must also allow it');
  return parts.length === 0 ? undefined : parts.join('; ');
}
