/**
 * The shape of a compiled policy index (what compile.ts builds and the engine reads), apart from
 * the compiler so that the modules compile.ts uses (warnings.ts) can name it without a cycle.
 */

import type { Matcher } from './glob.js';
import type { GrantLimits } from './limits.js';
import type { PolicyState, ReplicaBounds } from './types.js';

/** One Ready policy, compiled. Shared by every subject of the policy. */
export interface CompiledGrant {
  /** The policy's id: `name` for an McpPolicy, `namespace/name` for an McpNamespacePolicy. */
  readonly policy: string;
  /** Set for an McpNamespacePolicy: its namespace (the only one it covers). */
  readonly policyNamespace?: string;
  /** Concrete known tools the policy's patterns match. */
  readonly tools: ReadonlySet<string>;
  /** The same, sorted. */
  readonly toolList: readonly string[];
  /** True when a namespace pattern is "*" (every namespace, known or not). */
  readonly allNamespaces: boolean;
  /** Namespace names without wildcards, as written. */
  readonly exactNamespaces: ReadonlySet<string>;
  /** Namespace globs, precompiled. */
  readonly namespaceGlobs: readonly Matcher[];
  /** Existing namespaces covered now (through names, globs or the selector); empty when allNamespaces. */
  readonly coveredNamespaces: ReadonlySet<string>;
  readonly namespacePatterns: readonly string[];
  readonly namespaceSelector?: string;
  readonly replicas?: ReplicaBounds;
  /** Agent-safety limits (limits.ts); absent when the policy sets none. */
  readonly limits?: GrantLimits;
}

/** One compiled policy, cluster-scoped or namespaced: its status, and its grant and subjects when Ready. */
export interface CompiledPolicy {
  readonly state: PolicyState;
  /** Present when the policy is Ready (a namespaced policy's covers only its namespace). */
  readonly grant?: CompiledGrant;
  /** The spec's subjects, for the subject maps (Ready policies only). */
  readonly subjects?: readonly {
    readonly kind: string;
    readonly name: string;
    readonly namespace?: string;
  }[];
}

export interface PolicyIndex {
  /**
   * The compiled state of every policy given to compile, Ready or not, by id: an McpPolicy by its
   * name, an McpNamespacePolicy by `namespace/name` (no cluster-scoped name contains "/").
   */
  readonly states: ReadonlyMap<string, PolicyState>;
  /** The compiled state of every McpDelegation, by name. */
  readonly delegations: ReadonlyMap<string, PolicyState>;
  /** Ready policies by id. */
  readonly grants: ReadonlyMap<string, CompiledGrant>;
  /** Grants by user name. A ServiceAccount subject is the user `system:serviceaccount:<ns>:<name>`. */
  readonly grantsByUser: ReadonlyMap<string, readonly CompiledGrant[]>;
  /** Grants by group name. */
  readonly grantsByGroup: ReadonlyMap<string, readonly CompiledGrant[]>;
  /** Names of the namespaces the index was compiled with. */
  readonly namespaces: ReadonlySet<string>;
}
