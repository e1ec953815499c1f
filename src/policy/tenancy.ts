/**
 * Compiles the tenancy kinds: McpDelegations into ceilings, and McpNamespacePolicies into grants
 * that cover only their own namespace and exist only while they fit a covering ceiling. Pure; called
 * by compile.ts, which merges these grants into the one index.
 */

import { formatIssues } from '../api/v1alpha1/issues.js';
import { McpDelegationSpecSchema, McpNamespacePolicySpecSchema } from '../api/v1alpha1/tenancy.js';
import { type CompiledCeiling, compileCeiling, judgeCeiling } from './ceiling.js';
import type { CompiledGrant } from './compiled.js';
import { compileGlob } from './glob.js';
import { describeLimits, limitsOf } from './limits.js';
import type { NamespaceMatcher } from './matcher.js';
import { KNOWN_TOOLS } from './tools.js';
import type { PolicyState } from './types.js';

/** An McpNamespacePolicy as the controller (or `kubemcp check`) hands it over. */
export interface NamespacedPolicyObject {
  readonly namespace: string;
  readonly name: string;
  readonly generation?: number;
  readonly spec: unknown;
}

/** An McpDelegation as the controller hands it over. */
export interface DelegationObject {
  readonly name: string;
  readonly generation?: number;
  readonly spec: unknown;
}

/** The id of an McpNamespacePolicy in the index: `namespace/name`. */
export function namespacedPolicyId(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function s(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function invalidState(name: string, generation: number, message: string, namespace?: string): PolicyState {
  return {
    name,
    ...(namespace === undefined ? {} : { namespace }),
    generation,
    ready: false,
    reason: 'Invalid',
    message,
    matchedNamespaces: 0,
  };
}

/** Compiles delegations into ceilings (Ready ones only) and their states, by name. */
export function compileDelegations(
  delegations: readonly DelegationObject[],
  matcher: NamespaceMatcher,
): { ceilings: CompiledCeiling[]; states: Map<string, PolicyState> } {
  const ceilings: CompiledCeiling[] = [];
  const states = new Map<string, PolicyState>();
  for (const d of delegations) {
    if (states.has(d.name)) throw new Error(`compile: delegation ${JSON.stringify(d.name)} given twice`);
    const generation = d.generation ?? 0;
    const parsed = McpDelegationSpecSchema.safeParse(d.spec, { reportInput: true });
    if (!parsed.success) {
      states.set(d.name, invalidState(d.name, generation, formatIssues(parsed.error.issues)));
      continue;
    }
    const ceiling = compileCeiling(d.name, parsed.data, matcher);
    if (ceiling.tools.size === 0) {
      states.set(d.name, invalidState(d.name, generation, 'spec.ceiling.tools matches no known tool'));
      continue;
    }
    ceilings.push(ceiling);
    const bounds = ceiling.maxReplicas === undefined ? '' : `, replicas.max at most ${ceiling.maxReplicas}`;
    states.set(d.name, {
      name: d.name,
      generation,
      ready: true,
      reason: 'Accepted',
      message: `Delegates to ${s(ceiling.matched, 'existing namespace')}: ${[...ceiling.tools].sort().join(', ')}${bounds}.`,
      matchedNamespaces: ceiling.matched,
    });
  }
  return { ceilings, states };
}

export interface NamespacedResult {
  readonly state: PolicyState;
  /** Present when the policy is Ready: its grant, covering only its namespace. */
  readonly grant?: CompiledGrant;
  /** The spec's subjects, for the subject maps (Ready policies only). */
  readonly subjects?: readonly {
    readonly kind: string;
    readonly name: string;
    readonly namespace?: string;
  }[];
}

/** Tool sets by pattern list, shared by the policies of one compile (10,000 policies, a few sets). */
export type SharedTools = Map<string, { toolList: readonly string[]; tools: ReadonlySet<string> }>;

function toolsOf(patterns: readonly string[], shared: SharedTools) {
  const key = patterns.join('\n');
  let hit = shared.get(key);
  if (!hit) {
    const matchers = patterns.map(compileGlob);
    const toolList = KNOWN_TOOLS.filter((tool) => matchers.some((m) => m(tool))).sort();
    hit = { toolList, tools: new Set(toolList) };
    shared.set(key, hit);
  }
  return hit;
}

/** Compiles one McpNamespacePolicy against the ceilings. */
export function compileNamespacedPolicy(
  policy: NamespacedPolicyObject,
  ceilings: readonly CompiledCeiling[],
  matcher: NamespaceMatcher,
  toolProblems: (spec: { readonly tools: readonly string[] }) => string[],
  shared: SharedTools = new Map(),
): NamespacedResult {
  const { namespace, name } = policy;
  const generation = policy.generation ?? 0;
  const parsed = McpNamespacePolicySpecSchema.safeParse(policy.spec, { reportInput: true });
  if (!parsed.success)
    return { state: invalidState(name, generation, formatIssues(parsed.error.issues), namespace) };
  const spec = parsed.data;
  const problems = toolProblems(spec);
  if (problems.length > 0) return { state: invalidState(name, generation, problems.join('; '), namespace) };

  const { toolList, tools } = toolsOf(spec.tools, shared);
  const verdict = judgeCeiling(
    {
      tools: toolList,
      ...(spec.replicas === undefined ? {} : { replicas: spec.replicas }),
      ...(spec.confirm?.above === undefined ? {} : { confirmAbove: spec.confirm.above }),
      requireKubernetesRBAC: spec.requireKubernetesRBAC === true,
    },
    namespace,
    ceilings,
  );
  const refused = (reason: 'NotDelegated' | 'ExceedsCeiling', message: string): NamespacedResult => ({
    state: { name, namespace, generation, ready: false, reason, message, matchedNamespaces: 0 },
  });
  if (verdict.kind === 'notDelegated')
    return refused(
      'NotDelegated',
      `Grants nothing: namespace ${namespace} does not accept McpNamespacePolicies (no McpDelegation covers it); ask a cluster admin to delegate it.`,
    );
  if (verdict.kind === 'exceeds')
    return refused(
      'ExceedsCeiling',
      `Grants nothing: the policy exceeds what namespace ${namespace} may grant: ${verdict.excesses.join('; ')}.`,
    );

  const limits = limitsOf(spec);
  const exists = matcher.exists(namespace);
  const grant: CompiledGrant = {
    policy: namespacedPolicyId(namespace, name),
    policyNamespace: namespace,
    tools,
    toolList,
    allNamespaces: false,
    exactNamespaces: new Set([namespace]),
    namespaceGlobs: [],
    coveredNamespaces: exists ? new Set([namespace]) : new Set(),
    namespacePatterns: [namespace],
    ...(spec.replicas ? { replicas: { min: spec.replicas.min, max: spec.replicas.max } } : {}),
    ...(limits === undefined ? {} : { limits }),
  };
  let message = `Grants ${s(spec.subjects.length, 'subject')} ${s(toolList.length, 'tool')} (${toolList.join(', ')}) in namespace ${namespace}`;
  if (grant.replicas) message += `, replicas ${grant.replicas.min} to ${grant.replicas.max}`;
  const described = describeLimits(limits);
  if (described !== undefined) message += `; limits: ${described}`;
  return {
    state: {
      name,
      namespace,
      generation,
      ready: true,
      reason: 'Accepted',
      message: `${message}.`,
      matchedNamespaces: exists ? 1 : 0,
    },
    grant,
    subjects: spec.subjects,
  };
}
