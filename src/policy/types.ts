/**
 * Public types of the pure policy engine. Nothing here knows Kubernetes clients, MCP or I/O:
 * plain data in, plain data out.
 */

import type { GrantLimits } from './limits.js';

/** An authenticated caller, as a TokenReview (or `kubemcp check --as`) reports it. */
export interface Caller {
  /** e.g. `alice` or `system:serviceaccount:agents:copilot`. */
  readonly username: string;
  readonly groups: readonly string[];
  /** From the TokenReview, for SubjectAccessReviews on the caller's behalf (requireKubernetesRBAC). */
  readonly uid?: string;
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/** A namespace and its labels, as the controller's Namespace informer sees it. */
export interface NamespaceInfo {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** One question: may `caller` use `tool` in `namespace` (scaling to `replicas`)? */
export interface DecisionRequest {
  readonly caller: Caller;
  readonly tool: string;
  /** Omit for tools that are not namespaced (list_namespaces, get_permissions). */
  readonly namespace?: string;
  /** Target replica count, for scale_* tools. */
  readonly replicas?: number;
}

/** Stable codes shared with the MCP error contract (docs/contract.md). */
export type DenialCode = 'PolicyDenied' | 'OutOfBounds';

export interface ReplicaBounds {
  readonly min: number;
  readonly max: number;
}

export interface Decision {
  readonly allowed: boolean;
  /** When denied: PolicyDenied (no grant covers tool+namespace) or OutOfBounds (a grant covers it, replicas do not fit). */
  readonly code?: DenialCode;
  /** Names of the policies that allowed the call (allowed) or that were considered and matched caller+tool (denied). */
  readonly policies: readonly string[];
  /** One sentence a person understands. Never names namespaces the caller may not see. */
  readonly reason: string;
  /** Short actionable hints, e.g. "replicas must be between 1 and 10". */
  readonly suggestions: readonly string[];
}

/**
 * A valid but risky grant. OperatorNamespace: the policy covers the operator's own namespace.
 * EveryoneSubject: a subject group every (authenticated, service-account or unauthenticated) caller
 * is in. NamespaceServiceAccounts: a subject group of every ServiceAccount of one namespace.
 * ScaleToZero: a scale grant whose replicas.min is 0 (the default).
 */
export interface PolicyWarning {
  readonly code: 'OperatorNamespace' | 'EveryoneSubject' | 'NamespaceServiceAccounts' | 'ScaleToZero';
  readonly message: string;
}

/** The compiled state of one McpPolicy, which the controller writes back as status. */
export interface PolicyState {
  /** The policy's name (an McpNamespacePolicy's is the bare name; see `namespace`). */
  readonly name: string;
  /** Set for an McpNamespacePolicy: the namespace it lives (and grants) in. */
  readonly namespace?: string;
  /** metadata.generation of the object this state was compiled from. */
  readonly generation: number;
  readonly ready: boolean;
  /** NotDelegated and ExceedsCeiling: an McpNamespacePolicy that is valid but not allowed where it is. */
  readonly reason: 'Accepted' | 'Invalid' | 'NotDelegated' | 'ExceedsCeiling';
  /** Why it is invalid, or a summary of what it grants (and e.g. "selector matches no namespace"). */
  readonly message: string;
  /** Number of existing namespaces the policy covers now. */
  readonly matchedNamespaces: number;
  /** Risky grants of a Ready policy (status: a Warnings condition); absent or empty when none. */
  readonly warnings?: readonly PolicyWarning[];
}

/** One grant of one Ready policy to one caller, as `get_permissions` and `kubemcp check` show it. */
export interface Grant {
  /** The policy: `name` for an McpPolicy, `namespace/name` for an McpNamespacePolicy. */
  readonly policy: string;
  /** Set for an McpNamespacePolicy: its namespace (the only one it grants in). */
  readonly policyNamespace?: string;
  /** Concrete known tool names the policy's patterns match. */
  readonly tools: readonly string[];
  /** True when the policy covers every namespace ("*"). */
  readonly allNamespaces: boolean;
  /** Existing namespaces covered now, sorted (empty when allNamespaces). */
  readonly namespaces: readonly string[];
  /** The namespace patterns and selector as written, so a caller knows future namespaces too. */
  readonly namespacePatterns: readonly string[];
  readonly namespaceSelector?: string;
  readonly replicas?: ReplicaBounds;
  /** Agent-safety limits of the policy (step, cool-down, confirmation, rate, RBAC key); absent when none. */
  readonly limits?: GrantLimits;
}

export interface Permissions {
  readonly caller: Caller;
  /** Union of tool names over all grants, sorted. */
  readonly tools: readonly string[];
  readonly grants: readonly Grant[];
}
