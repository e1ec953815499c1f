/**
 * compile: McpPolicy specs + Namespace labels → an immutable PolicyIndex. Pure.
 *
 * The index is keyed by subject, so that a decision looks only at the caller's own grants (the same
 * cost at 10 and at 10,000 policies). Tool patterns are expanded to the concrete known tools they
 * match; namespace globs are precompiled; which existing namespaces a policy covers (through names,
 * globs and its selector) is computed here once, not per decision.
 */

import { formatIssues } from '../api/v1alpha1/issues.js';
import { type McpPolicySpec, McpPolicySpecSchema } from '../api/v1alpha1/schema.js';
import type { CompiledGrant, PolicyIndex } from './compiled.js';
import { compileGlob, isGlob } from './glob.js';
import { describeLimits, type GrantLimits, limitsOf } from './limits.js';
import { NamespaceMatcher } from './matcher.js';
import type { Compiled, CompileMemo } from './memo.js';
import { formatSelector } from './selector.js';
import {
  compileDelegations,
  compileNamespacedPolicy,
  type DelegationObject,
  type NamespacedPolicyObject,
  namespacedPolicyId,
  newShared,
  type SharedTools,
} from './tenancy.js';
import { KNOWN_TOOLS } from './tools.js';
import type { NamespaceInfo, PolicyState } from './types.js';
import { policyWarnings } from './warnings.js';

/** An McpPolicy as the controller (or `kubemcp check`) hands it over; `spec` is validated here. */
export interface PolicyObject {
  readonly name: string;
  readonly generation?: number;
  readonly spec: unknown;
}

export interface CompileInput {
  readonly policies: readonly PolicyObject[];
  /** McpNamespacePolicies; omitted: none. */
  readonly namespacePolicies?: readonly NamespacedPolicyObject[];
  /** McpDelegations (ceilings); omitted: none, so no McpNamespacePolicy grants anything. */
  readonly delegations?: readonly DelegationObject[];
  readonly namespaces: readonly NamespaceInfo[];
  /** The namespace the operator runs in: grants covering it get a warning (see warnings.ts). */
  readonly operatorNamespace?: string;
  /**
   * Results of earlier compiles to reuse (memo.ts); omitted: everything is compiled. With a memo, a
   * spec object must not be changed in place: a changed spec is a new object (as a watch cache has it).
   */
  readonly memo?: CompileMemo;
}

export type { CompiledGrant, PolicyIndex } from './compiled.js';
export type { DelegationObject, NamespacedPolicyObject } from './tenancy.js';

/** The user name the API server gives a ServiceAccount's tokens. */
export function serviceAccountUsername(namespace: string, name: string): string {
  // One flat string (a template literal builds a tree of three links): the index keeps one per subject.
  return ['system:serviceaccount:', namespace, ':', name].join('');
}

const KNOWN_TOOL_LIST = KNOWN_TOOLS.join(', ');

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Checks the CRD cannot make: every tool pattern matches a tool the server knows. */
export function toolProblems(spec: { readonly tools: readonly string[] }): string[] {
  const problems: string[] = [];
  spec.tools.forEach((pattern, i) => {
    const match = compileGlob(pattern);
    if (!KNOWN_TOOLS.some((tool) => match(tool))) {
      problems.push(
        `spec.tools[${i}]: ${JSON.stringify(pattern)} matches no known tool; known tools are: ${KNOWN_TOOL_LIST}`,
      );
    }
  });
  return problems;
}

function compileGrant(name: string, spec: McpPolicySpec, matcher: NamespaceMatcher): CompiledGrant {
  const toolMatchers = spec.tools.map(compileGlob);
  const toolList = KNOWN_TOOLS.filter((tool) => toolMatchers.some((m) => m(tool))).sort();
  const patterns = spec.namespaces.names ?? [];
  const allNamespaces = patterns.some((p) => /^\*+$/.test(p));
  const exact = new Set(patterns.filter((p) => !isGlob(p)));
  const globs = patterns.filter(isGlob);
  const selector = spec.namespaces.selector;

  let covered: ReadonlySet<string> = new Set();
  if (!allNamespaces) {
    const sources: ReadonlySet<string>[] = globs.map((g) => matcher.glob(g));
    sources.push(new Set([...exact].filter((n) => matcher.exists(n))));
    if (selector) sources.push(matcher.selector(selector));
    const nonEmpty = sources.filter((s) => s.size > 0);
    // Share the memoized set when one source covers everything: 10,000 policies with one selector cost one set.
    covered = nonEmpty.length === 1 && nonEmpty[0] ? nonEmpty[0] : new Set(nonEmpty.flatMap((s) => [...s]));
  }
  return {
    policy: name,
    tools: new Set(toolList),
    toolList,
    allNamespaces,
    exactNamespaces: exact,
    namespaceGlobs: globs.map(compileGlob),
    coveredNamespaces: covered,
    namespacePatterns: patterns,
    ...(selector ? { namespaceSelector: formatSelector(selector) } : {}),
    ...(spec.replicas ? { replicas: { min: spec.replicas.min, max: spec.replicas.max } } : {}),
    ...withLimits(limitsOf(spec)),
  };
}

function withLimits(limits: GrantLimits | undefined): { limits?: GrantLimits } {
  return limits === undefined ? {} : { limits };
}

function acceptedMessage(
  spec: McpPolicySpec,
  grant: CompiledGrant,
  matched: number,
  selectorMatches: number,
): string {
  const where = grant.allNamespaces ? 'every namespace' : `${plural(matched, 'existing namespace')}`;
  let message = `Grants ${plural(spec.subjects.length, 'subject')} ${plural(grant.toolList.length, 'tool')} (${grant.toolList.join(', ')}) in ${where}`;
  if (grant.replicas) message += `, replicas ${grant.replicas.min} to ${grant.replicas.max}`;
  const limits = describeLimits(grant.limits);
  if (limits !== undefined) message += `; limits: ${limits}`;
  message += '.';
  if (spec.namespaces.selector && selectorMatches === 0) {
    message += ' The namespace selector matches no namespace yet.';
  }
  return message;
}

interface SubjectLike {
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}

export function compareNames(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Grants by user name and by group: what a decision looks up. */
class SubjectIndex {
  readonly byUser = new Map<string, CompiledGrant[]>();
  readonly byGroup = new Map<string, CompiledGrant[]>();

  register(grant: CompiledGrant, subjects: readonly SubjectLike[]): void {
    for (const subject of subjects) {
      if (subject.kind === 'Group') SubjectIndex.add(this.byGroup, subject.name, grant);
      else {
        const user =
          subject.kind === 'ServiceAccount'
            ? serviceAccountUsername(subject.namespace ?? '', subject.name)
            : subject.name;
        SubjectIndex.add(this.byUser, user, grant);
      }
    }
  }

  private static add(map: Map<string, CompiledGrant[]>, key: string, grant: CompiledGrant): void {
    const list = map.get(key);
    if (!list) map.set(key, [grant]);
    else if (list[list.length - 1] !== grant) list.push(grant);
  }
}

/** An McpPolicy: validated as the API server and the controller would, then compiled to a grant. */
function compileClusterPolicy(
  policy: PolicyObject,
  matcher: NamespaceMatcher,
  namespaceCount: number,
): Compiled {
  const generation = policy.generation ?? 0;
  const invalid = (message: string): Compiled => ({
    state: { name: policy.name, generation, ready: false, reason: 'Invalid', message, matchedNamespaces: 0 },
  });
  const parsed = McpPolicySpecSchema.safeParse(policy.spec, { reportInput: true });
  if (!parsed.success) return invalid(formatIssues(parsed.error.issues));
  const spec = parsed.data;
  const problems = toolProblems(spec);
  if (problems.length > 0) return invalid(problems.join('; '));
  const grant = compileGrant(policy.name, spec, matcher);
  const matched = grant.allNamespaces ? namespaceCount : grant.coveredNamespaces.size;
  const selectorMatches = spec.namespaces.selector ? matcher.selector(spec.namespaces.selector).size : 0;
  return {
    state: {
      name: policy.name,
      generation,
      ready: true,
      reason: 'Accepted',
      message: acceptedMessage(spec, grant, matched, selectorMatches),
      matchedNamespaces: matched,
    },
    grant,
    subjects: spec.subjects,
  };
}

/** The namespace names, each once (a name given twice is a caller bug). */
function namespaceSet(namespaces: CompileInput['namespaces']): Set<string> {
  const names = new Set<string>();
  for (const ns of namespaces) {
    if (names.has(ns.name)) throw new Error(`compile: namespace ${JSON.stringify(ns.name)} given twice`);
    names.add(ns.name);
  }
  return names;
}

/**
 * Builds the index. The result does not depend on the order of policies or namespaces. Throws only
 * on caller bugs: a policy or namespace name given twice.
 */
export function compile(input: CompileInput): PolicyIndex {
  const namespaceNames = namespaceSet(input.namespaces);
  const matcher = new NamespaceMatcher([...input.namespaces].sort(compareNames), namespaceNames);
  const states = new Map<string, PolicyState>();
  const grants = new Map<string, CompiledGrant>();
  const subjects = new SubjectIndex();
  const { memo } = input;
  memo?.begin({
    namespaces: input.namespaces,
    delegations: input.delegations ?? [],
    ...(input.operatorNamespace === undefined ? {} : { operatorNamespace: input.operatorNamespace }),
  });
  // A Ready policy's warnings join its state.
  const withWarnings = (c: Compiled): Compiled => {
    if (c.grant === undefined || c.subjects === undefined) return c;
    const warnings = policyWarnings({
      grant: c.grant,
      subjects: c.subjects,
      ...(input.operatorNamespace === undefined ? {} : { operatorNamespace: input.operatorNamespace }),
    });
    return warnings.length > 0 ? { ...c, state: { ...c.state, warnings } } : c;
  };
  // The policy's result, reused from the memo when its spec and generation are unchanged; its grant
  // goes into the index under `id`.
  const accept = (id: string, spec: unknown, generation: number, make: () => Compiled): void => {
    let c = memo?.get(spec, id, generation);
    if (c === undefined) {
      c = withWarnings(make());
      memo?.set(spec, id, generation, c);
    }
    states.set(id, c.state);
    if (c.grant === undefined || c.subjects === undefined) return;
    grants.set(id, c.grant);
    subjects.register(c.grant, c.subjects);
  };

  for (const policy of [...input.policies].sort(compareNames)) {
    if (states.has(policy.name))
      throw new Error(`compile: policy ${JSON.stringify(policy.name)} given twice`);
    accept(policy.name, policy.spec, policy.generation ?? 0, () =>
      compileClusterPolicy(policy, matcher, namespaceNames.size),
    );
  }

  const { ceilings, states: delegations } = compileDelegations(
    [...(input.delegations ?? [])].sort(compareNames),
    matcher,
  );
  const namespaced = [...(input.namespacePolicies ?? [])].map((p) => ({
    id: namespacedPolicyId(p.namespace, p.name),
    p,
  }));
  namespaced.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const sharedTools: SharedTools = memo?.shared ?? newShared();
  for (const { id, p } of namespaced) {
    if (states.has(id)) throw new Error(`compile: namespaced policy ${JSON.stringify(id)} given twice`);
    accept(id, p.spec, p.generation ?? 0, () =>
      compileNamespacedPolicy(p, ceilings, matcher, toolProblems, sharedTools, id),
    );
  }

  return {
    states,
    delegations,
    grants,
    grantsByUser: subjects.byUser,
    grantsByGroup: subjects.byGroup,
    namespaces: namespaceNames,
  };
}
