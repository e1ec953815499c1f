import type { CacheHealth, ClusterBackend, KindMap, Namespace, ScalableKind } from '../../kube/types.js';
import {
  type CallDecision,
  grantedTools,
  namespaceFilter,
  type PolicyIndex,
  permissions,
} from '../../policy/index.js';
import type { Caller, Permissions } from '../../policy/types.js';
import { attr, NOOP_SPAN, type Span } from '../../telemetry/index.js';
import { type CursorKey, type Page, paginate, paginateSorted } from '../cursor.js';
import { ToolError } from '../errors.js';
import { staleness } from '../format.js';
import type { LabelSelector } from '../labels.js';
import type { AccessReviewer } from '../safety/access.js';
import type { Confirmer } from '../safety/confirm.js';
import type { RateLimiter } from '../safety/ratelimit.js';
import { type CallArguments, CallGate } from './gate.js';
import { KIND_LABEL, LIST_TOOL, NAMESPACED_TOOLS, RESOURCE, SCALE_TOOL, type ServedKind } from './kinds.js';
import type { DecisionRecord } from './record.js';
import { runScale, type ScaleOutcome } from './scale.js';

/**
 * THE enforcement point. A GuardedClient is built per request from (caller, policy index snapshot,
 * backend); tool handlers and resource handlers only ever get a GuardedClient, never the backend, and
 * every method asks the policy engine before it reads or writes anything. Nothing here knows MCP.
 *
 * One decision per call: `admit` judges a tool call once, with all its arguments (decideCall), and
 * the rate limit, the RBAC second key, the scale steps, the answer and the audit record all read
 * that decision. A handler's own check finds the same decision rather than judging again.
 */

export interface GuardedOptions {
  /** Clock (ms since epoch); injectable for tests. */
  readonly now?: () => number;
  /** How many times a scale is attempted when the API server answers Conflict. Default 3. */
  readonly maxScaleAttempts?: number;
  /** Agent safety (McpPolicy limits): shared rate limiter, and how to ask a human. */
  readonly safety?: SafetyOptions;
  /** The request's span (tracing). Default: the no-op span. */
  readonly trace?: Span;
}

/** Agent-safety services of a GuardedClient. Without them, rate limits never refuse and confirmations fail closed. */
export interface SafetyOptions {
  /** Process-wide: counts calls per caller and policy. */
  readonly rateLimiter?: RateLimiter;
  /** Asks the human behind this request's client; absent: every confirmation is refused (ConfirmationRequired). */
  readonly confirm?: Confirmer;
  /** Process-wide: SubjectAccessReviews with their short cache; absent: RBAC-keyed grants allow nothing. */
  readonly access?: AccessReviewer;
}

export interface ScaleOptions {
  /** Check everything and send the write with dryRun=All: nothing changes, no Event is recorded. */
  readonly dryRun?: boolean;
}

export interface Listed<T> {
  readonly items: T[];
  readonly health: CacheHealth;
}

export interface VisibleNamespace {
  readonly namespace: Namespace;
  /** The namespaced tools the caller may use there, sorted. */
  readonly tools: readonly string[];
}

export class GuardedClient {
  readonly caller: Caller;
  private readonly index: PolicyIndex;
  private readonly backend: ClusterBackend;
  private readonly now: () => number;
  private readonly maxScaleAttempts: number;
  private safety: SafetyOptions;
  private readonly trace: Span;
  /** This call's policy gate: its one decision, limits, RBAC key and audit records. */
  private readonly gate: CallGate;
  private cachedPermissions: Permissions | undefined;
  private cachedGranted: ReadonlySet<string> | undefined;

  constructor(caller: Caller, index: PolicyIndex, backend: ClusterBackend, options: GuardedOptions = {}) {
    this.caller = caller;
    this.index = index;
    this.backend = backend;
    this.now = options.now ?? Date.now;
    this.maxScaleAttempts = Math.max(1, options.maxScaleAttempts ?? 3);
    this.safety = options.safety ?? {};
    this.trace = options.trace ?? NOOP_SPAN;
    this.gate = new CallGate(caller, index, this.safety, this.trace, this.now);
  }

  /** Sets how this request's client asks a human (confirmations); one tools/call per request. */
  setConfirmer(confirm: Confirmer | undefined): void {
    const { confirm: _old, ...rest } = this.safety;
    this.safety = confirm === undefined ? rest : { ...rest, confirm };
  }

  /** The decisions taken so far through this client (one call: see forCall()). */
  get decisions(): readonly DecisionRecord[] {
    return this.gate.decisions;
  }

  /** The call's one decision, once admit (or a handler's check) took it. */
  get decision(): CallDecision | undefined {
    return this.gate.decision;
  }

  /**
   * A client for ONE call of this request: same caller, policy snapshot and backend, but its own
   * decision, so calls that run concurrently (the messages of a JSON-RPC batch) never see each
   * other's decisions. The permission summaries are shared (they depend only on caller and snapshot).
   */
  forCall(): GuardedClient {
    const child = new GuardedClient(this.caller, this.index, this.backend, {
      now: this.now,
      maxScaleAttempts: this.maxScaleAttempts,
      safety: this.safety,
      trace: this.trace,
    });
    child.cachedPermissions = this.cachedPermissions;
    child.cachedGranted = this.cachedGranted;
    return child;
  }

  /** What the caller may do (no check: a caller may always learn its own permissions). */
  permissions(): Permissions {
    this.cachedPermissions ??= permissions(this.index, this.caller);
    return this.cachedPermissions;
  }

  /** The tools some Ready policy grants the caller. */
  grantedTools(): ReadonlySet<string> {
    this.cachedGranted ??= grantedTools(this.index, this.caller);
    return this.cachedGranted;
  }

  /**
   * The checks of a tool call, in order, before its handler (see CallGate.admit): decide once with
   * every argument, then rate limits, then the RBAC second key.
   */
  admit(tool: string, args: CallArguments = {}): Promise<void> {
    return this.gate.admit(tool, args);
  }

  /** The RBAC second key of resources/list (bounded reviews per kind). No-op unless a policy sets it. */
  admitReads(): Promise<void> {
    return this.gate.admitReads(this.grantedTools());
  }

  /**
   * Lists the namespaces the caller may see: those its list_namespaces grants cover, and those where it
   * may use at least one namespaced tool (the row says which).
   */
  listNamespaces(selector?: LabelSelector): Listed<VisibleNamespace> {
    this.gate.check('list_namespaces', undefined);
    const span = this.trace.child(attr.SPAN_CACHE_READ);
    const snapshot = this.backend.list('namespace');
    cacheRead(span, 'namespaces', snapshot.health);
    this.requireSynced(snapshot.health, 'namespaces', span);
    const listable = namespaceFilter(this.index, this.caller, 'list_namespaces');
    const filters = NAMESPACED_TOOLS.filter((t) => this.grantedTools().has(t)).map(
      (t) => [t, namespaceFilter(this.index, this.caller, t)] as const,
    );
    const items: VisibleNamespace[] = [];
    for (const ns of snapshot.items) {
      const name = ns.metadata?.name;
      if (name === undefined) continue;
      const tools = filters.filter(([, allows]) => allows(name)).map(([t]) => t);
      if (tools.length === 0 && !listable(name)) continue;
      if (selector !== undefined && !selector.matches(ns.metadata?.labels)) continue;
      items.push({ namespace: ns, tools: tools.sort() });
    }
    span.setAttribute(attr.KUBE_ITEMS, items.length);
    span.end();
    return { items, health: snapshot.health };
  }

  /**
   * Lists objects of `kind`: in `namespace` when given (PolicyDenied unless the caller may list there,
   * whether or not it exists), else in every namespace the call's grants serve.
   */
  list<K extends ServedKind>(
    kind: K,
    opts: { namespace?: string; selector?: LabelSelector } = {},
  ): Listed<KindMap[K]> {
    const allows = this.listAccess(kind, opts.namespace);
    const span = this.trace.child(attr.SPAN_CACHE_READ);
    const snapshot = this.backend.list(kind);
    cacheRead(span, RESOURCE[kind], snapshot.health, opts.namespace);
    this.requireSynced(snapshot.health, `${KIND_LABEL[kind]}s`, span);
    const items = snapshot.items.filter((o) => {
      const ns = o.metadata?.namespace;
      if (ns === undefined || !allows(ns)) return false;
      return opts.selector === undefined || opts.selector.matches(o.metadata?.labels);
    });
    span.setAttribute(attr.KUBE_ITEMS, items.length);
    span.end();
    return { items, health: snapshot.health };
  }

  /**
   * One page of list(kind, opts), in [namespace, name] order, with the same policy checks. Uses the
   * backend's sorted snapshot when it has one, so a page costs O(namespaces + limit) (plus one label
   * test per object with a selector) instead of filtering, copying and sorting every cached object.
   */
  listPage<K extends ServedKind>(
    kind: K,
    opts: {
      namespace?: string;
      selector?: LabelSelector;
      limit: number;
      cursor?: string | undefined;
      fingerprint: string;
    },
  ): { page: Page<KindMap[K]>; health: CacheHealth } {
    const pageOpts = { limit: opts.limit, cursor: opts.cursor, fingerprint: opts.fingerprint };
    if (this.backend.listSorted === undefined) {
      const listed = this.list(kind, opts);
      const page = paginate(
        listed.items,
        (o): CursorKey => [o.metadata?.namespace ?? '', o.metadata?.name ?? ''],
        pageOpts,
      );
      return { page, health: listed.health };
    }
    const allows = this.listAccess(kind, opts.namespace);
    const span = this.trace.child(attr.SPAN_CACHE_READ);
    const sorted = this.backend.listSorted(kind);
    cacheRead(span, RESOURCE[kind], sorted.health, opts.namespace);
    this.requireSynced(sorted.health, `${KIND_LABEL[kind]}s`, span);
    const namespaces = opts.namespace !== undefined ? [opts.namespace] : sorted.namespaces.filter(allows);
    const selector = opts.selector;
    const page = paginateSorted(
      namespaces,
      (ns) => sorted.inNamespace(ns),
      (o) => o.metadata?.name ?? '',
      selector === undefined ? undefined : (o) => selector.matches(o.metadata?.labels),
      pageOpts,
    );
    span.setAttribute(attr.KUBE_ITEMS, page.items.length);
    span.end();
    return { page, health: sorted.health };
  }

  /**
   * Every object of `kind` the caller may read, without throwing (resources/list). Readable means the
   * caller may use list_<kind>s in the object's namespace.
   */
  listReadable<K extends ServedKind>(kind: K): Listed<KindMap[K]> {
    const snapshot = this.backend.list(kind);
    const allows = this.readableFilter(kind);
    if (allows === undefined) return { items: [], health: snapshot.health };
    const span = this.trace.child(attr.SPAN_CACHE_READ);
    cacheRead(span, RESOURCE[kind], snapshot.health);
    const items = snapshot.items.filter(
      (o) => o.metadata?.namespace !== undefined && allows(o.metadata.namespace),
    );
    span.setAttribute(attr.KUBE_ITEMS, items.length);
    span.end();
    return { items, health: snapshot.health };
  }

  /**
   * listReadable() grouped and sorted: the namespaces whose objects the caller may read (ascending)
   * and each one's objects by name, shared from the backend's sorted snapshot (no copy, no sort).
   * Undefined when the backend keeps no sorted snapshot.
   */
  readableSorted<K extends ServedKind>(
    kind: K,
  ):
    | { namespaces: readonly string[]; inNamespace: (namespace: string) => readonly KindMap[K][] }
    | undefined {
    if (this.backend.listSorted === undefined) return undefined;
    const sorted = this.backend.listSorted(kind);
    const allows = this.readableFilter(kind);
    if (allows === undefined) return { namespaces: [], inNamespace: () => [] };
    const span = this.trace.child(attr.SPAN_CACHE_READ);
    cacheRead(span, RESOURCE[kind], sorted.health);
    const namespaces = sorted.namespaces.filter(allows);
    span.end();
    return { namespaces, inNamespace: sorted.inNamespace };
  }

  /** resources/list: records whether list_<kind>s is granted somewhere; its rows, or undefined. */
  private readableFilter(kind: ServedKind): ((namespace: string) => boolean) | undefined {
    const tool = LIST_TOOL[kind];
    const decision = this.gate.judge(tool, undefined, undefined);
    return decision.allowed ? this.gate.rowFilter(tool) : undefined;
  }

  /**
   * One object, or undefined when it does not exist OR the caller may not read it: the two are
   * deliberately indistinguishable (resources/read). The RBAC second key, when it applies, is one
   * SubjectAccessReview for exactly this kind and namespace.
   */
  async getReadable<K extends ServedKind>(
    kind: K,
    namespace: string,
    name: string,
  ): Promise<KindMap[K] | undefined> {
    const tool = LIST_TOOL[kind];
    const decision = this.gate.judge(tool, namespace, undefined);
    if (!decision.allowed) return undefined;
    if (decision.rbacKeyed) {
      try {
        await this.gate.secondKey(decision);
      } catch (err) {
        if (err instanceof ToolError && err.code === 'PolicyDenied') return undefined;
        throw err;
      }
    }
    const span = this.trace.child(attr.SPAN_CACHE_READ);
    const object = this.backend.get(kind, namespace, name);
    if (span.recording) {
      span.setAttribute(attr.KUBE_SOURCE, 'cache');
      span.setAttribute(attr.KUBE_RESOURCE, RESOURCE[kind]);
      span.setAttribute(attr.K8S_NAMESPACE_NAME, namespace);
      span.setAttribute(attr.KUBE_ITEMS, object === undefined ? 0 : 1);
    }
    span.end();
    return object;
  }

  /**
   * Scales a workload through the /scale subresource: the call's decision (bounds and grants) and a
   * connected cache first, then the steps of scale.ts (read → unchanged → limits → confirm → claim
   * → write → event). A Conflict is retried from a fresh read, so the result is never a lost
   * update; scaling to the current count changes nothing.
   */
  async scale(
    kind: ScalableKind,
    namespace: string,
    name: string,
    replicas: number,
    options: ScaleOptions = {},
  ): Promise<ScaleOutcome> {
    const tool = SCALE_TOOL[kind];
    const decision = this.gate.check(tool, namespace, replicas);
    const health = this.backend.list(kind).health;
    if (!health.connected || !health.synced) {
      throw new ToolError(
        'Unavailable',
        `Cannot scale ${kind} "${name}": the Kubernetes API server is unreachable`,
        {
          reason: `The connection to the API server was lost ${staleness(health.lastGoodAt, this.now())} ago; no change was made`,
          suggestions: [
            'Retry in a little while',
            'Read-only lists still answer from the cache, with a staleness warning',
          ],
        },
      );
    }
    return runScale(
      {
        kind,
        namespace,
        name,
        replicas,
        dryRun: options.dryRun === true,
        tool,
        what: `${KIND_LABEL[kind]} "${name}" in namespace "${namespace}"`,
        decision,
        attempts: 0,
        policies: decision.policies,
      },
      {
        caller: this.caller,
        backend: this.backend,
        trace: this.trace,
        now: this.now,
        maxAttempts: this.maxScaleAttempts,
        confirm: this.safety.confirm,
        record: (span, record, reason) => this.gate.record(span, record, reason),
      },
    );
  }

  private requireSynced(health: CacheHealth, what: string, span: Span): void {
    if (health.synced) return;
    span.fail('Unavailable', 'the cache has not synced');
    span.end();
    throw new ToolError('Unavailable', `The list of ${what} is not available yet`, {
      reason: 'KubeMCP has not finished its first sync with the Kubernetes API server',
      suggestions: ['Retry in a few seconds'],
    });
  }

  /**
   * The policy question of a list: in `namespace` (PolicyDenied unless the caller may list there,
   * whether or not it exists), else anywhere (the tool granted somewhere). Returns which namespaces
   * the list may show.
   */
  private listAccess(kind: ServedKind, namespace: string | undefined): (ns: string) => boolean {
    const tool = LIST_TOOL[kind];
    if (namespace !== undefined) {
      this.gate.check(tool, namespace);
      return (ns) => ns === namespace;
    }
    this.gate.decide(tool, undefined, undefined);
    return this.gate.rowFilter(tool);
  }
}

/** Attributes of a read from the watch caches (tracing on only). */
function cacheRead(span: Span, resource: string, health: CacheHealth, namespace?: string): void {
  if (!span.recording) return;
  span.setAttribute(attr.KUBE_SOURCE, 'cache');
  span.setAttribute(attr.KUBE_RESOURCE, resource);
  if (namespace !== undefined) span.setAttribute(attr.K8S_NAMESPACE_NAME, namespace);
  span.setAttribute(attr.KUBE_CACHE_SYNCED, health.synced);
  span.setAttribute(attr.KUBE_CACHE_CONNECTED, health.connected);
}
