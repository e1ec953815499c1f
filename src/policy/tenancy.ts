/**
 * Compiles the tenancy kinds: McpDelegations into ceilings, and McpNamespacePolicies into grants
 * that cover only their own namespace and exist only while they fit a covering ceiling. Pure; called
 * by compile.ts, which merges these grants into the one index.
 */

import { formatIssues } from '../api/v1alpha1/issues.js';
import { McpDelegationSpecSchema, McpNamespacePolicySpecSchema } from '../api/v1alpha1/tenancy.js';
import { type CompiledCeiling, compileCeiling, judgeCeiling } from './ceiling.js';
import type { CompiledGrant, CompiledPolicy } from './compiled.js';
import type { Matcher } from './glob.js';
import { compileGlob } from './glob.js';
import { describeLimits, type GrantLimits, limitsOf } from './limits.js';
import type { NamespaceMatcher } from './matcher.js';
import { KNOWN_TOOLS } from './tools.js';
import type { PolicyState, ReplicaBounds } from './types.js';

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

/** A namespaced policy compiled: its grant covers only its own namespace. */
export type NamespacedResult = CompiledPolicy;

/**
 * What the policies of one compile share: tool sets by pattern list, namespace sets by namespace,
 * limits and replica bounds by value, and the parts of status messages by text (10,000 policies in
 * 1,000 namespaces: a few tool sets, 1,000 namespace sets, a few message parts). A namespaced
 * policy's own memory is then its state, its grant, its id and its subject entries.
 */
export interface SharedTools {
  readonly tools: Map<string, { toolList: readonly string[]; tools: ReadonlySet<string> }>;
  readonly namespaces: Map<
    string,
    { exact: ReadonlySet<string>; covered: ReadonlySet<string>; patterns: readonly string[] }
  >;
  readonly limits: Map<string, GrantLimits>;
  readonly replicas: Map<string, ReplicaBounds>;
  readonly texts: Map<string, string>;
}

export function newShared(): SharedTools {
  return {
    tools: new Map(),
    namespaces: new Map(),
    limits: new Map(),
    replicas: new Map(),
    texts: new Map(),
  };
}

/** One copy of each distinct text (a built string is a tree of pieces; the first one is kept). */
function sharedText(text: string, shared: SharedTools): string {
  const hit = shared.texts.get(text);
  if (hit !== undefined) return hit;
  shared.texts.set(text, text);
  return text;
}

function sharedReplicas(
  replicas: { readonly min: number; readonly max: number } | undefined,
  shared: SharedTools,
): ReplicaBounds | undefined {
  if (replicas === undefined) return undefined;
  const key = `${replicas.min}:${replicas.max}`;
  let hit = shared.replicas.get(key);
  if (!hit) {
    hit = { min: replicas.min, max: replicas.max };
    shared.replicas.set(key, hit);
  }
  return hit;
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

/**
 * "Grants 1 subject 3 tools (…) in namespace team-a, replicas 1 to 6; limits: ….": the text before
 * and after the namespace is shared, so each policy's message costs two links, not its own copy.
 */
function acceptedMessage(
  subjects: number,
  toolList: readonly string[],
  namespace: string,
  replicas: ReplicaBounds | undefined,
  limits: GrantLimits | undefined,
  shared: SharedTools,
): string {
  const head = `Grants ${s(subjects, 'subject')} ${s(toolList.length, 'tool')} (${toolList.join(', ')}) in namespace `;
  let tail = replicas === undefined ? '' : `, replicas ${replicas.min} to ${replicas.max}`;
  const described = describeLimits(limits);
  if (described !== undefined) tail += `; limits: ${described}`;
  return sharedText(head, shared) + namespace + sharedText(`${tail}.`, shared);
}

/** Compiles one McpNamespacePolicy against the ceilings; `id` is its id in the index. */
export function compileNamespacedPolicy(
  policy: NamespacedPolicyObject,
  ceilings: readonly CompiledCeiling[],
  matcher: NamespaceMatcher,
  toolProblems: (spec: { readonly tools: readonly string[] }) => string[],
  shared: SharedTools = newShared(),
  id: string = namespacedPolicyId(policy.namespace, policy.name),
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
  const replicas = sharedReplicas(spec.replicas, shared);
  const exists = matcher.exists(namespace);
  const sets = namespaceSets(namespace, exists, shared);
  const grant: CompiledGrant = {
    policy: id,
    policyNamespace: namespace,
    tools,
    toolList,
    allNamespaces: false,
    exactNamespaces: sets.exact,
    namespaceGlobs: NO_GLOBS,
    coveredNamespaces: sets.covered,
    namespacePatterns: sets.patterns,
    ...(replicas === undefined ? {} : { replicas }),
    ...(limits === undefined ? {} : { limits }),
  };
  return {
    state: {
      name,
      namespace,
      generation,
      ready: true,
      reason: 'Accepted',
      message: acceptedMessage(spec.subjects.length, toolList, namespace, replicas, limits, shared),
      matchedNamespaces: exists ? 1 : 0,
    },
    grant,
    subjects: spec.subjects,
  };
}
