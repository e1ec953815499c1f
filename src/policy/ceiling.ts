/**
 * Ceilings (McpDelegation): which namespaces accept McpNamespacePolicies, and the most such a policy
 * may grant there. Pure. A namespaced policy is enforced only when it fits entirely within the
 * ceiling of one delegation covering its namespace (fail closed: otherwise it grants nothing).
 *
 * Messages go to the tenant (the policy's status): they say which field exceeds which bound "for
 * this namespace", and never name a delegation or another namespace.
 */

import type { McpDelegationSpec } from '../api/v1alpha1/tenancy.js';
import { compileGlob, isGlob, type Matcher } from './glob.js';
import type { NamespaceMatcher } from './matcher.js';
import { isAlwaysAllowedTool, isScaleTool, KNOWN_TOOLS } from './tools.js';

/** One Ready delegation, compiled. */
export interface CompiledCeiling {
  readonly name: string;
  /** Concrete known tools namespaced policies may grant. */
  readonly tools: ReadonlySet<string>;
  readonly maxReplicas?: number;
  readonly maxStep?: number;
  readonly confirmAbove?: number;
  readonly requireKubernetesRBAC: boolean;
  /** Whether the delegation covers a namespace (existing or not). */
  readonly covers: (namespace: string) => boolean;
  /** Existing namespaces covered now. */
  readonly matched: number;
}

/** What a namespaced policy grants, as the ceiling reads it (the spec after validation). */
export interface TenantGrant {
  /** Concrete known tools the policy's patterns match. */
  readonly tools: readonly string[];
  readonly replicas?: { readonly min: number; readonly max: number; readonly maxStep?: number };
  readonly confirmAbove?: number;
  readonly requireKubernetesRBAC: boolean;
}

export function compileCeiling(
  name: string,
  spec: McpDelegationSpec,
  matcher: NamespaceMatcher,
): CompiledCeiling {
  const toolMatchers = spec.ceiling.tools.map(compileGlob);
  const tools = new Set(KNOWN_TOOLS.filter((tool) => toolMatchers.some((m) => m(tool))));
  const patterns = spec.namespaces.names ?? [];
  const all = patterns.some((p) => /^\*+$/.test(p));
  const exact = new Set(patterns.filter((p) => !isGlob(p)));
  const globs: Matcher[] = patterns.filter(isGlob).map(compileGlob);
  const selected = spec.namespaces.selector ? matcher.selector(spec.namespaces.selector) : undefined;
  const covers = (ns: string): boolean =>
    all || exact.has(ns) || globs.some((g) => g(ns)) || (selected?.has(ns) ?? false);
  const covered = new Set<string>();
  if (selected) for (const ns of selected) covered.add(ns);
  for (const ns of exact) if (matcher.exists(ns)) covered.add(ns);
  for (const p of patterns.filter(isGlob)) for (const ns of matcher.glob(p)) covered.add(ns);
  const c = spec.ceiling;
  return {
    name,
    tools,
    ...(c.maxReplicas === undefined ? {} : { maxReplicas: c.maxReplicas }),
    ...(c.maxStep === undefined ? {} : { maxStep: c.maxStep }),
    ...(c.confirmAbove === undefined ? {} : { confirmAbove: c.confirmAbove }),
    requireKubernetesRBAC: c.requireKubernetesRBAC === true,
    covers,
    matched: all ? matcher.size() : covered.size,
  };
}

/** Why `grant` exceeds `ceiling`, one sentence each; empty when it fits. */
export function ceilingExcesses(grant: TenantGrant, ceiling: CompiledCeiling): string[] {
  const out: string[] = [];
  const beyond = grant.tools.filter((t) => !isAlwaysAllowedTool(t) && !ceiling.tools.has(t));
  if (beyond.length > 0) {
    out.push(`tools ${beyond.join(', ')} may not be granted in this namespace`);
  }
  if (!grant.tools.some(isScaleTool)) {
    if (ceiling.requireKubernetesRBAC && !grant.requireKubernetesRBAC)
      out.push('requireKubernetesRBAC must be true in this namespace');
    return out;
  }
  const max = grant.replicas?.max;
  if (ceiling.maxReplicas === undefined || max === undefined || max > ceiling.maxReplicas) {
    out.push(
      ceiling.maxReplicas === undefined
        ? 'scale tools may not be granted in this namespace'
        : `replicas.max ${max ?? '(unset)'} is above ${ceiling.maxReplicas}, the most allowed in this namespace`,
    );
  }
  if (ceiling.maxStep !== undefined) {
    const step = grant.replicas?.maxStep;
    if (step === undefined || step > ceiling.maxStep)
      out.push(
        `replicas.maxStep must be set to at most ${ceiling.maxStep} in this namespace${step === undefined ? '' : ` (it is ${step})`}`,
      );
  }
  if (ceiling.confirmAbove !== undefined) {
    const above = grant.confirmAbove;
    if (above === undefined || above > ceiling.confirmAbove)
      out.push(
        `confirm.above must be set to at most ${ceiling.confirmAbove} in this namespace${above === undefined ? '' : ` (it is ${above})`}`,
      );
  }
  if (ceiling.requireKubernetesRBAC && !grant.requireKubernetesRBAC)
    out.push('requireKubernetesRBAC must be true in this namespace');
  return out;
}

export type CeilingVerdict =
  | { readonly kind: 'fits'; readonly ceiling: CompiledCeiling }
  | { readonly kind: 'notDelegated' }
  | { readonly kind: 'exceeds'; readonly excesses: readonly string[] };

/**
 * Whether `grant` may be enforced in `namespace`: it must fit within one covering ceiling. With
 * several covering ceilings that it exceeds all of, the excesses of the least exceeded are shown.
 */
export function judgeCeiling(
  grant: TenantGrant,
  namespace: string,
  ceilings: readonly CompiledCeiling[],
): CeilingVerdict {
  let best: string[] | undefined;
  for (const ceiling of ceilings) {
    if (!ceiling.covers(namespace)) continue;
    const excesses = ceilingExcesses(grant, ceiling);
    if (excesses.length === 0) return { kind: 'fits', ceiling };
    if (best === undefined || excesses.length < best.length) best = excesses;
  }
  return best === undefined ? { kind: 'notDelegated' } : { kind: 'exceeds', excesses: best };
}
