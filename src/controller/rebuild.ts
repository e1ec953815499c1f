/**
 * What an index rebuild reads from the watch caches and what it changes: the compile input built
 * from the cached objects, and the status keys whose compiled state differs from the last index.
 * Pure: the controller (controller.ts) owns the caches, the queue and the memo.
 */

import type { V1Namespace } from '@kubernetes/client-node';
import type { Wire } from '../kube/types.js';
import type { CompileInput, PolicyIndex } from '../policy/index.js';
import type { NamespaceInfo } from '../policy/types.js';
import { DELEGATION_STATUS_PREFIX, NS_STATUS_PREFIX, STATUS_PREFIX } from './keys.js';
import { stateEqual } from './status.js';

/** What a rebuild reads of a cached McpPolicy, McpNamespacePolicy or McpDelegation. */
interface CachedPolicy {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly generation?: number };
  readonly spec?: unknown;
}

/** The cached objects of the four watches. */
export interface CachedObjects {
  readonly policies: readonly CachedPolicy[];
  readonly namespacePolicies: readonly CachedPolicy[];
  readonly delegations: readonly CachedPolicy[];
  readonly namespaces: readonly Wire<V1Namespace>[];
}

function named(list: readonly CachedPolicy[]) {
  return list.flatMap((p) => {
    const name = p.metadata?.name;
    return name ? [{ name, generation: p.metadata?.generation ?? 0, spec: p.spec }] : [];
  });
}

/** The compile input of the cached objects (without the operator namespace and the memo). */
export function compileInputOf(cached: CachedObjects): CompileInput {
  const namespacePolicies = cached.namespacePolicies.flatMap((p) => {
    const name = p.metadata?.name;
    const namespace = p.metadata?.namespace;
    return name && namespace
      ? [{ namespace, name, generation: p.metadata?.generation ?? 0, spec: p.spec }]
      : [];
  });
  const namespaces: NamespaceInfo[] = cached.namespaces.flatMap((ns) => {
    const name = ns.metadata?.name;
    return name ? [{ name, labels: ns.metadata?.labels ?? {} }] : [];
  });
  return {
    policies: named(cached.policies),
    namespacePolicies,
    delegations: named(cached.delegations),
    namespaces,
  };
}

/** The status keys of every object whose compiled state differs from `previous` (all without one). */
export function changedStatusKeys(previous: PolicyIndex | undefined, index: PolicyIndex): string[] {
  const changed: string[] = [];
  for (const [id, state] of index.states) {
    if (!previous || !stateEqual(previous.states.get(id), state))
      changed.push(id.includes('/') ? `${NS_STATUS_PREFIX}${id}` : `${STATUS_PREFIX}${id}`);
  }
  for (const [name, state] of index.delegations) {
    if (!previous || !stateEqual(previous.delegations.get(name), state))
      changed.push(`${DELEGATION_STATUS_PREFIX}${name}`);
  }
  return changed;
}

/** A namespace's labels as one comparable string (to skip updates that change no label). */
export function labelsKey(labels: Readonly<Record<string, string>> | undefined): string {
  if (!labels) return '';
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
