/**
 * Compiles the tenancy kinds: McpDelegations into ceilings, and McpNamespacePolicies into grants
 * that cover only their own namespace and exist only while they fit a covering ceiling. Pure; called
 * by compile.ts, which merges these grants into the one index.
 */

import { formatIssues } from '../api/v1alpha1/issues.js';
import { McpDelegationSpecSchema, McpNamespacePolicySpecSchema } from '../api/v1alpha1/tenancy.js';
import { type CompiledCeiling, compileCeiling, judgeCeiling } from './ceiling.js';
import type { CompiledGrant } from './compiled.js';
import type { Matcher } from './glob.js';
import { compileGlob } from './glob.js';
import { describeLimits, type GrantLimits, limitsOf } from './limits.js';
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

const NO_GLOBS: readonly Matcher[] = Object.freeze([]);

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

/**
 * What the policies of one compile share: tool sets by pattern list, namespace sets by namespace,
 * limits by value (10,000 policies in 1,000 namespaces: a few tool sets, 1,000 namespace sets).
 */
export interface SharedTools {
  readonly tools: Map<string, { toolList: readonly string[]; tools: ReadonlySet<string> }>;
  readonly namespaces: Map<
    string,
    { exact: ReadonlySet<string>; covered: ReadonlySet<string>; patterns: readonly string[] }
  >;
  readonly limits: Map<string, GrantLimits>;
}

export function newShared(): SharedTools {
  return { tools: new Map(), namespaces: new Map(), limits: new Map() };
}

function namespaceSets(namespace: string, exists: boolean, shared: SharedTools) {
  let hit = shared.namespaces.get(namespace);
  if (!hit) {
    const exact = new Set([namespace]);
    hit = { exact, covered: exists ? exact : new Set<string>(), patterns: Object.freeze([namespace]) };
    shared.namespaces.set(namespace, hit);
  }
  return hit;
}

function sharedLimits(limits: GrantLimits | undefined, shared: SharedTools): GrantLimits | undefined {
  if (limits === undefined) return undefined;
  const key = JSON.stringify(limits);
  const hit = shared.limits.get(key);
  if (hit) return hit;
  shared.limits.set(key, limits);
  return limits;
}

function toolsOf(patterns: readonly string[], shared: SharedTools) {
  const key = patterns.join('\n');
  let hit = shared.tools.get(key);
  if (!hit) {
    const matchers = patterns.map(compileGlob);
    const toolList = KNOWN_TOOLS.filter((tool) => matchers.some((m) => m(tool))).sort();
    hit = { toolList, tools: new Set(toolList) };
    shared.tools.set(key, hit);
  }
  return hit;
}

/** Compiles one McpNamespacePolicy against the ceilings. */
export function compileNamespacedPolicy(
  policy: NamespacedPolicyObject,
  ceilings: readonly CompiledCeiling[],
  matcher: NamespaceMatcher,
  toolProblems: (spec: { readonly tools: readonly string[] }) => string[],
  shared: SharedTools = newShared(),
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

  const limits = sharedLimits(limitsOf(spec), shared);
  const exists = matcher.exists(namespace);
  const sets = namespaceSets(namespace, exists, shared);
  const grant: CompiledGrant = {
    policy: namespacedPolicyId(namespace, name),
    policyNamespace: namespace,
    tools,
    toolList,
    allNamespaces: false,
    exactNamespaces: sets.exact,
    namespaceGlobs: NO_GLOBS,
    coveredNamespaces: sets.covered,
    namespacePatterns: sets.patterns,
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
