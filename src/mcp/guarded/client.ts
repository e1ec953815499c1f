import type { CacheHealth, ClusterBackend, KindMap, Namespace, ScalableKind } from '../../kube/types.js';
import {
  type CallDecision,
  type CompiledGrant,
  coverFilter,
  decideCall,
  grantedTools,
  indexHasLimits,
  indexHasRbac,
  isScaleTool,
  namespaceFilter,
  type PolicyIndex,
  permissions,
  toolGrants,
} from '../../policy/index.js';
import type { Caller, Permissions } from '../../policy/types.js';
import { attr, NOOP_SPAN, type Span } from '../../telemetry/index.js';
import { type CursorKey, type Page, paginate, paginateSorted } from '../cursor.js';
import { ToolError } from '../errors.js';
import { staleness } from '../format.js';
import type { LabelSelector } from '../labels.js';
import { type AccessReviewer, MAX_REVIEWS_PER_CALL, rbacDenied, TOOL_ACTIONS } from '../safety/access.js';
import type { Confirmer } from '../safety/confirm.js';
import { admitRate, admitRows } from '../safety/guard.js';
import type { RateLimiter } from '../safety/ratelimit.js';
import { KIND_LABEL, LIST_TOOL, NAMESPACED_TOOLS, RESOURCE, SCALE_TOOL, type ServedKind } from './kinds.js';
import { type DecisionRecord, policyRefusal, recordOf, traceDecision } from './record.js';
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

/** The arguments of a call the policy judges. */
export interface CallArguments {
  readonly namespace?: string | undefined;
  readonly replicas?: number | undefined;
}

export class GuardedClient {
  readonly caller: Caller;
  private readonly index: PolicyIndex;
  private readonly backend: ClusterBackend;
  private readonly now: () => number;
  private readonly maxScaleAttempts: number;
  private safety: SafetyOptions;
  private readonly trace: Span;
  /** (tool, namespace) pairs whose RBAC second key a SubjectAccessReview allowed during this call. */
  private readonly reviewed = new Set<string>();
  private readonly records: DecisionRecord[] = [];
  /** The call's one decision, and where its record is. */
  private current: { readonly decision: CallDecision; readonly at: number } | undefined;
  /** For lists across namespaces: the rows the call may return, after rate limits and RBAC. */
  private readonly rows = new Map<string, (namespace: string) => boolean>();
  /** Per-namespace SubjectAccessReviews this call may still ask for (lists across namespaces). */
  private reviewsLeft = MAX_REVIEWS_PER_CALL;
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
  }

  /** Sets how this request's client asks a human (confirmations); one tools/call per request. */
  setConfirmer(confirm: Confirmer | undefined): void {
    const { confirm: _old, ...rest } = this.safety;
    this.safety = confirm === undefined ? rest : { ...rest, confirm };
  }

  /** The decisions taken so far through this client (one call: see forCall()). */
  get decisions(): readonly DecisionRecord[] {
    return this.records;
  }

  /** The call's one decision, once admit (or a handler's check) took it. */
  get decision(): CallDecision | undefined {
    return this.current?.decision;
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
   * The checks of a tool call, in order, before its handler: decide (once, with every argument;
   * PolicyDenied / OutOfBounds), then the rate limits of the policies that allow it (RateLimited),
   * then the RBAC second key when every one of them requires it (a SubjectAccessReview). A list
   * across namespaces is charged and reviewed per grant (admitRows).
   */
  async admit(tool: string, args: CallArguments = {}): Promise<void> {
    const decision = this.decide(tool, args.namespace, args.replicas);
    const { namespace, replicas } = decision.request;
    if (namespace === undefined && NAMESPACED_TOOLS.includes(tool)) {
      await this.admitRows(tool, true);
      return;
    }
    if (decision.limited !== undefined) {
      const refusal = admitRate(
        this.safety.rateLimiter,
        this.caller.username,
        tool,
        decision.limited,
        this.now(),
      );
      if (refusal !== undefined) {
        this.refuse({ tool, namespace, replicas }, 'RateLimited', refusal.policies, refusal.error);
      }
    }
    if (decision.rbacKeyed) await this.secondKey(decision);
  }

  /**
   * The RBAC second key of resources/list: per kind, the namespaces only RBAC-keyed grants let the
   * caller read are reviewed (bounded: AccessReviewer.allowedIn). No-op unless a policy sets it.
   */
  async admitReads(): Promise<void> {
    if (!indexHasRbac(this.index)) return;
    for (const tool of Object.values(LIST_TOOL)) {
      if (this.grantedTools().has(tool)) await this.admitRows(tool, false);
    }
  }

  /**
   * The one decision of the call on (tool, namespace, replicas): taken and recorded the first time,
   * found again after. Throws PolicyDenied / OutOfBounds when refused.
   */
  private decide(tool: string, namespace: string | undefined, replicas: number | undefined): CallDecision {
    const r = isScaleTool(tool) ? replicas : undefined;
    const found = this.current?.decision;
    if (
      found !== undefined &&
      found.request.tool === tool &&
      found.request.namespace === namespace &&
      found.request.replicas === r
    ) {
      if (!found.allowed) throw policyRefusal(found.request, found);
      return found;
    }
    const decision = this.judge(tool, namespace, r);
    if (!decision.allowed) throw policyRefusal(decision.request, decision);
    return decision;
  }

  /** Judges and records, without throwing. */
  private judge(tool: string, namespace: string | undefined, replicas: number | undefined): CallDecision {
    const span = this.trace.child(attr.SPAN_POLICY);
    const decision = decideCall(this.index, {
      caller: this.caller,
      tool,
      ...(namespace === undefined ? {} : { namespace }),
      ...(replicas === undefined ? {} : { replicas }),
    });
    this.current = { decision, at: this.records.length };
    this.record(span, recordOf(decision.request, decision), decision.reason);
    return decision;
  }

  /** A handler's check: the call's decision, and the RBAC second key it needs having passed. */
  private check(tool: string, namespace: string | undefined, replicas?: number): CallDecision {
    const decision = this.decide(tool, namespace, replicas);
    if (decision.rbacKeyed && !this.reviewed.has(rbacKey(tool, namespace))) {
      // Only reachable when a handler runs without admit(): refuse, and say what did not happen.
      throw new ToolError(
        'Unavailable',
        `Kubernetes RBAC was not checked for this ${tool} call; nothing was done`,
        {
          reason:
            'An McpPolicy requires the caller’s own Kubernetes RBAC to allow the call, and no SubjectAccessReview was sent for it (fail closed)',
        },
      );
    }
    return decision;
  }

  /** Records a refusal of a step after the decision, and throws its answer. */
  private refuse(
    request: { tool: string; namespace?: string | undefined; replicas?: number | undefined },
    code: string,
    policies: readonly string[],
    error: ToolError,
  ): never {
    this.record(
      this.trace.child(attr.SPAN_POLICY),
      {
        tool: request.tool,
        ...(request.namespace === undefined ? {} : { namespace: request.namespace }),
        ...(request.replicas === undefined ? {} : { replicas: request.replicas }),
        allowed: false,
        code,
        policies,
      },
      error.reason,
    );
    throw error;
  }

  /**
   * The RBAC second key of a call in one namespace (or of a cluster-scoped one): one
   * SubjectAccessReview (cached). A denial names the permission the review refused.
   */
  private async secondKey(decision: CallDecision): Promise<void> {
    const { tool, namespace, replicas } = decision.request;
    const action = TOOL_ACTIONS[tool];
    if (action === undefined) return;
    if (namespace === undefined && action.clusterScoped !== true) return;
    const request = { tool, namespace, replicas };
    const access = this.safety.access;
    if (access === undefined) {
      this.refuse(
        request,
        'Unavailable',
        decision.policies,
        new ToolError('Unavailable', 'This server cannot check Kubernetes RBAC; nothing was done', {
          reason:
            "An McpPolicy requires the caller's own Kubernetes RBAC to allow the call, and this server cannot ask (fail closed)",
        }),
      );
    }
    let allowed: boolean;
    try {
      allowed = (await access.allowed(this.caller, action, namespace, this.trace)).allowed;
    } catch (err) {
      const error =
        err instanceof ToolError ? err : new ToolError('Unavailable', 'Kubernetes RBAC could not be checked');
      this.refuse(request, error.code, decision.policies, error);
    }
    if (!allowed)
      this.refuse(
        request,
        'PolicyDenied',
        decision.policies,
        rbacDenied(this.caller, tool, action, namespace),
      );
    this.reviewed.add(rbacKey(tool, namespace));
  }

  /**
   * The rows of a list across namespaces come from the grants that serve them: after the rate
   * limits (`charge`: each rate-limited grant serves its namespaces only with a call left, and is
   * charged), and the RBAC second key (namespaces only RBAC-keyed grants cover are reviewed,
   * bounded). The call's record names exactly the grants that serve rows.
   */
  private async admitRows(tool: string, charge: boolean): Promise<void> {
    const all = toolGrants(this.index, this.caller, tool);
    let kept: readonly CompiledGrant[] = all;
    if (charge && indexHasLimits(this.index)) {
      const admitted = admitRows(this.safety.rateLimiter, this.caller.username, tool, all, this.now());
      if ('refusal' in admitted) {
        this.refuse({ tool }, 'RateLimited', admitted.refusal.policies, admitted.refusal.error);
      }
      kept = admitted.kept;
    }
    const keyed = kept.filter((g) => g.limits?.requireKubernetesRBAC === true);
    const plain = keyed.length === 0 ? kept : kept.filter((g) => !keyed.includes(g));
    const plainCovers = coverFilter(this.index, plain);
    let filter = plainCovers;
    const action = TOOL_ACTIONS[tool];
    if (keyed.length > 0 && action !== undefined) {
      const keyedCovers = coverFilter(this.index, keyed);
      const needs = [...this.index.namespaces].filter((ns) => keyedCovers(ns) && !plainCovers(ns)).sort();
      const access = this.safety.access;
      let allowed: ReadonlySet<string> = new Set<string>();
      if (access !== undefined && needs.length > 0) {
        const reviewed = await access.allowedIn(this.caller, action, needs, this.trace, this.reviewsLeft);
        this.reviewsLeft -= reviewed.asked;
        allowed = reviewed.allowed;
      }
      filter = (ns) => plainCovers(ns) || allowed.has(ns);
    }
    this.rows.set(tool, filter);
    const at = this.current?.decision.request.tool === tool ? this.current.at : -1;
    const record = this.records[at];
    if (record !== undefined && kept !== all)
      this.records[at] = { ...record, policies: kept.map((g) => g.policy) };
  }

  /**
   * The namespaces a list across namespaces may show: those admit() settled, else (a handler run
   * without admit) those the grants cover without the RBAC second key (fail closed).
   */
  private rowFilter(tool: string): (namespace: string) => boolean {
    const settled = this.rows.get(tool);
    if (settled !== undefined) return settled;
    if (!indexHasRbac(this.index)) return namespaceFilter(this.index, this.caller, tool);
    return coverFilter(
      this.index,
      toolGrants(this.index, this.caller, tool).filter((g) => g.limits?.requireKubernetesRBAC !== true),
    );
  }

  /**
   * Lists the namespaces the caller may see: those its list_namespaces grants cover, and those where it
   * may use at least one namespaced tool (the row says which).
   */
  listNamespaces(selector?: LabelSelector): Listed<VisibleNamespace> {
    this.check('list_namespaces', undefined);
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
    const decision = this.judge(tool, undefined, undefined);
    return decision.allowed ? this.rowFilter(tool) : undefined;
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
    const decision = this.judge(tool, namespace, undefined);
    if (!decision.allowed) return undefined;
    if (decision.rbacKeyed) {
      try {
        await this.secondKey(decision);
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
    const decision = this.check(tool, namespace, replicas);
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
        record: (span, record, reason) => this.record(span, record, reason),
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
      this.check(tool, namespace);
      return (ns) => ns === namespace;
    }
    this.decide(tool, undefined, undefined);
    return this.rowFilter(tool);
  }

  /** Keeps one policy decision for the audit record, and ends its span (tracing). */
  private record(span: Span, decision: DecisionRecord, reason: string | undefined): void {
    this.records.push(decision);
    traceDecision(span, decision, reason);
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

function rbacKey(tool: string, namespace: string | undefined): string {
  return `${tool}\u0000${namespace ?? ''}`;
}
