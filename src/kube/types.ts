import type { V1Deployment, V1Namespace, V1Pod, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import type { Span } from '../telemetry/index.js';

/**
 * A client-node model as the API server sends it: plain JSON, timestamps as RFC 3339 strings (the
 * client-node classes turn them into Dates; our client does not). Type-only: nothing is loaded.
 */
export type Wire<T> = T extends Date
  ? string
  : T extends readonly (infer U)[]
    ? Wire<U>[]
    : T extends object
      ? { [K in keyof T]: Wire<T[K]> }
      : T;

/**
 * The cluster as the MCP layer sees it, WITHOUT policy. Only the guarded client in src/mcp may hold
 * one: tools never touch a ClusterBackend directly, so no tool can skip the policy check.
 */

/** The cached kinds, as the API server sends them (then trimmed). */
export type Namespace = Wire<V1Namespace>;
export type Pod = Wire<V1Pod>;
export type Deployment = Wire<V1Deployment>;
export type StatefulSet = Wire<V1StatefulSet>;
export type Service = Wire<V1Service>;

export interface KindMap {
  namespace: Namespace;
  pod: Pod;
  deployment: Deployment;
  statefulset: StatefulSet;
  service: Service;
}
export type CachedKind = keyof KindMap;
export type ScalableKind = 'deployment' | 'statefulset';

/** How fresh a cached list is. */
export interface CacheHealth {
  /** False once the watch broke and has not yet been re-established. */
  readonly connected: boolean;
  /** Whether the initial list has completed at least once. */
  readonly synced: boolean;
  /** When the watch was last known good (ms since epoch); undefined before the first sync. */
  readonly lastGoodAt?: number;
}

export interface ListSnapshot<K extends CachedKind> {
  /** Cached objects, trimmed (no managedFields). Never mutate them. */
  readonly items: readonly KindMap[K][];
  readonly health: CacheHealth;
}

/** The namespaced kinds (everything cached but Namespaces). */
export type NamespacedKind = Exclude<CachedKind, 'namespace'>;

/**
 * Cached objects of one kind grouped by namespace, both in ascending order: what a paginated list
 * needs without copying or sorting every object per call. Shared: never mutate.
 */
export interface SortedSnapshot<K extends NamespacedKind> {
  /** Namespaces holding at least one cached object, ascending. */
  readonly namespaces: readonly string[];
  /** The objects of one namespace, ascending by name (empty when there are none). */
  inNamespace(namespace: string): readonly KindMap[K][];
  readonly health: CacheHealth;
}

export interface ScaleInfo {
  readonly replicas: number;
  /** Ready replicas of the workload, when known. */
  readonly readyReplicas?: number;
  readonly resourceVersion: string;
  readonly uid?: string;
}

export type BackendErrorCode = 'NotFound' | 'Conflict' | 'Unavailable' | 'Invalid' | 'Forbidden';

/** A failure talking to the API server, with a stable code. Messages never contain tokens. */
export class BackendError extends Error {
  /** A write was sent but its answer never came: it may or may not have been applied. */
  readonly outcomeUnknown: boolean;
  constructor(
    readonly code: BackendErrorCode,
    message: string,
    options?: { cause?: unknown; outcomeUnknown?: boolean },
  ) {
    super(message, options);
    this.name = 'BackendError';
    this.outcomeUnknown = options?.outcomeUnknown ?? false;
  }
}

/** Options of a /scale write. */
export interface WriteScaleOptions {
  /** Send the write with `dryRun=All`: validated and admitted by the API server, never persisted. */
  readonly dryRun?: boolean;
  /** The span the write is part of (tracing). */
  readonly trace?: Span;
}

export interface ScaleEvent {
  readonly kind: ScalableKind;
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
  readonly caller: string;
  readonly policy: string;
  readonly from: number;
  readonly to: number;
}

export interface ClusterBackend {
  list<K extends CachedKind>(kind: K): ListSnapshot<K>;
  /**
   * Optional fast path of list() for paginated lists: the same objects, grouped and sorted. When a
   * backend has it, list tools cost O(namespaces + page) instead of O(n log n) per call.
   */
  listSorted?<K extends NamespacedKind>(kind: K): SortedSnapshot<K>;
  get<K extends CachedKind>(kind: K, namespace: string, name: string): KindMap[K] | undefined;
  /**
   * Reads the /scale subresource. Throws BackendError. `trace`, here and below: the span the API
   * request is part of (tracing); backends without API requests ignore it.
   */
  readScale(kind: ScalableKind, namespace: string, name: string, trace?: Span): Promise<ScaleInfo>;
  /** Writes the /scale subresource with optimistic concurrency on resourceVersion. Throws BackendError (Conflict on a stale resourceVersion). */
  writeScale(
    kind: ScalableKind,
    namespace: string,
    name: string,
    replicas: number,
    resourceVersion: string,
    options?: WriteScaleOptions,
  ): Promise<ScaleInfo>;
  /** Best effort: records a Kubernetes Event on the scaled object. Never throws. */
  recordScaleEvent(event: ScaleEvent, trace?: Span): Promise<void>;
  /**
   * The scale of a workload with the time KubeMCP last scaled it (cool-downs), from the cluster.
   * Throws BackendError. A backend without it cannot enforce a cool-down: such calls are refused.
   */
  readScaleHistory?(kind: ScalableKind, namespace: string, name: string, trace?: Span): Promise<ScaleHistory>;
  /** Records a scale about to be made under a cool-down; throws BackendError Conflict when another replica was first. */
  claimScale?(claim: ScaleClaim, at: number, cooldownSeconds: number, trace?: Span): Promise<void>;
  /**
   * A SubjectAccessReview for an MCP caller (requireKubernetesRBAC). Throws BackendError. A backend
   * without it cannot check the caller's RBAC: such calls are refused (fail closed).
   */
  reviewAccess?(question: AccessQuestion, trace?: Span): Promise<AccessAnswer>;
}

// SubjectAccessReviews (access.ts) and cool-down records (scalehistory.ts): their types live here,
// where the backend names them, so that neither file and this one import each other.

/** The user and the action a SubjectAccessReview asks about. */
export interface AccessQuestion {
  readonly user: string;
  readonly groups: readonly string[];
  readonly uid?: string;
  readonly extra?: Readonly<Record<string, readonly string[]>>;
  readonly verb: string;
  /** API group: "" for the core group. */
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  /** Omit for a cluster-wide question (every namespace, or a cluster-scoped resource). */
  readonly namespace?: string;
}

export interface AccessAnswer {
  readonly allowed: boolean;
  /** The authorizer's reason or evaluation error, when it gave one. */
  readonly reason?: string;
}

/** Where the record of an object's last scale lives, as read (to claim it with optimistic concurrency). */
export interface ScaleClaim {
  readonly namespace: string;
  readonly leaseName: string;
  /** The Lease's resourceVersion when read; undefined when there was no Lease yet. */
  readonly leaseVersion?: string;
  /** "deployment web/api", for people reading the Lease. */
  readonly object: string;
}

/** The state of a workload a cool-down needs. */
export interface ScaleHistory extends ScaleInfo {
  /** When KubeMCP last scaled it (ms since epoch); undefined when never. */
  readonly lastScaledAt?: number;
  readonly claim: ScaleClaim;
}
