import { setTimeout as sleep } from 'node:timers/promises';
import type { ScaleClaim } from '../kube/scalehistory.js';
import type {
  CacheHealth,
  ClusterBackend,
  KindMap,
  Namespace,
  ScalableKind,
  ScaleInfo,
} from '../kube/types.js';
import { BackendError } from '../kube/types.js';
import {
  decideScale,
  evaluate,
  grantedTools,
  type LimitedGrant,
  namespaceFilter,
  needsCooldown,
  type PolicyIndex,
  permissions,
} from '../policy/index.js';
import type { Caller, Decision, DecisionRequest, Permissions } from '../policy/types.js';
import { attr, NOOP_SPAN, type Span } from '../telemetry/index.js';
import { type CursorKey, type Page, paginate, paginateSorted } from './cursor.js';
import { fromBackendError, ToolError } from './errors.js';
import { staleness } from './format.js';
import type { LabelSelector } from './labels.js';
import { type AccessReviewer, rbacDenied, TOOL_ACTIONS } from './safety/access.js';
import {
  type ConfirmationRequest,
  type Confirmer,
  confirmationDeclined,
  confirmationRequired,
} from './safety/confirm.js';
import {
  admitRate,
  grantsOfTool,
  indexHasLimits,
  indexHasRbac,
  limitedGrants,
  onlyRbacKeyed,
  scaleRefusal,
} from './safety/guard.js';
import type { RateLimiter } from './safety/ratelimit.js';

/**
 * THE enforcement point. A GuardedClient is built per request from (caller, policy index snapshot,
 * backend); tool handlers and resource handlers only ever get a GuardedClient, never the backend, and
 * every method asks the policy engine before it reads or writes anything. Nothing here knows MCP.
 */

/** The namespaced kinds served as lists and resources. */
export type ServedKind = 'pod' | 'deployment' | 'statefulset' | 'service';
export const SERVED_KINDS: readonly ServedKind[] = ['pod', 'deployment', 'statefulset', 'service'];

/** The tool whose grant gates reading kind X (lists and resources alike). */
export const LIST_TOOL: Readonly<Record<ServedKind, string>> = {
  pod: 'list_pods',
  deployment: 'list_deployments',
  statefulset: 'list_statefulsets',
  service: 'list_services',
};
export const SCALE_TOOL: Readonly<Record<ScalableKind, string>> = {
  deployment: 'scale_deployment',
  statefulset: 'scale_statefulset',
};
/** Tools that act inside a namespace (their grants define which namespaces a caller sees). */
export const NAMESPACED_TOOLS: readonly string[] = [
  ...Object.values(LIST_TOOL),
  ...Object.values(SCALE_TOOL),
];

const KIND_LABEL: Readonly<Record<ServedKind, string>> = {
  pod: 'Pod',
  deployment: 'Deployment',
  statefulset: 'StatefulSet',
  service: 'Service',
};

/** One policy decision the client asked for, for the audit record. */
export interface DecisionRecord {
  readonly tool: string;
  readonly namespace?: string;
  readonly replicas?: number;
  readonly allowed: boolean;
  readonly code?: string;
  readonly policies: readonly string[];
}

export interface GuardedOptions {
  /** Clock (ms since epoch); injectable for tests. */
  readonly now?: () => number;
  /** How many times a scale is attempted when the API server answers Conflict. Default 3. */
  readonly maxScaleAttempts?: number;
  /** Agent safety (McpPolicy limits): shared rate limiter, and how to ask a human. */
  readonly safety?: SafetyOptions;
  /**
   * The request's span (tracing): every policy decision, cache read, API request and Event of this
   * client becomes a child of it. Default: the no-op span.
   */
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

export interface ScaleOutcome {
  readonly kind: ScalableKind;
  readonly namespace: string;
  readonly name: string;
  readonly from: number;
  readonly to: number;
  readonly changed: boolean;
  /** Ready replicas as last known (may lag a just-issued scale). */
  readonly readyReplicas: number;
  readonly policies: readonly string[];
  readonly attempts: number;
  /** True when nothing was written: the API server validated and admitted the change, and discarded it. */
  readonly dryRun: boolean;
  /** Set when a human confirmed the change (or, on a dry run, would have to). */
  readonly confirmation?: { readonly reasons: readonly string[]; readonly via?: string };
}

export class GuardedClient {
  readonly caller: Caller;
  private readonly index: PolicyIndex;
  private readonly backend: ClusterBackend;
  private readonly now: () => number;
  private readonly maxScaleAttempts: number;
  private safety: SafetyOptions;
  private readonly trace: Span;
  /** (tool, namespace) pairs whose RBAC second key a SubjectAccessReview allowed during this request. */
  private readonly rbacAllowed = new Set<string>();
  private readonly records: DecisionRecord[] = [];
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

  /**
   * The checks of a tool call that hold across requests (agent safety): counts the call against the
   * rate limits of the policies that allow it. Called once per tools/call, before the handler; a
   * call no policy allows is left to the handler's own check (which refuses it). No-op when no
   * policy sets a limit.
   */
  async admit(tool: string, namespace: string | undefined): Promise<void> {
    if (!indexHasLimits(this.index)) return;
    let policies: readonly string[];
    if (namespace !== undefined) {
      const decision = evaluate(this.index, { caller: this.caller, tool, namespace });
      if (!decision.allowed) return;
      policies = decision.policies;
    } else {
      policies = grantsOfTool(this.index, this.caller, tool).map((g) => g.policy);
    }
    const grants = limitedGrants(this.index, policies);
    if (grants === undefined) return;
    admitRate(this.safety.rateLimiter, this.caller.username, tool, grants, this.now());
    await this.reviewRbac(tool, namespace);
  }

  /**
   * The RBAC second key of reads that span namespaces (resources/list and resources/read): reviews
   * each list tool in every namespace only RBAC-keyed policies let the caller read.
   */
  async admitReads(): Promise<void> {
    if (!indexHasRbac(this.index)) return;
    for (const kind of SERVED_KINDS) await this.reviewRbac(LIST_TOOL[kind], undefined);
  }

  /**
   * Runs the SubjectAccessReviews (cached) this call needs and remembers what they allowed. A
   * namespaced call the caller's RBAC refuses throws PolicyDenied naming the missing permission; for
   * a call across namespaces, namespaces the RBAC refuses are left out of the answer.
   */
  private async reviewRbac(tool: string, namespace: string | undefined): Promise<void> {
    if (!indexHasRbac(this.index)) return;
    const action = TOOL_ACTIONS[tool];
    if (action === undefined) return;
    const ask = async (ns: string | undefined): Promise<boolean> => {
      const key = rbacKey(tool, ns);
      if (this.rbacAllowed.has(key)) return true;
      const policies = evaluate(this.index, {
        caller: this.caller,
        tool,
        ...(ns === undefined ? {} : { namespace: ns }),
      }).policies;
      if (!onlyRbacKeyed(this.index, policies)) return true;
      if (this.safety.access === undefined) return false;
      const answer = await this.safety.access.allowed(this.caller, action, ns, this.trace);
      if (answer.allowed) this.rbacAllowed.add(key);
      return answer.allowed;
    };
    if (namespace !== undefined || action.clusterScoped === true) {
      if (!(await ask(namespace))) {
        const denied = rbacDenied(this.caller, tool, action, namespace);
        this.record(
          this.trace.child(attr.SPAN_POLICY),
          {
            tool,
            ...(namespace === undefined ? {} : { namespace }),
            allowed: false,
            code: 'PolicyDenied',
            policies: [],
          },
          denied.reason,
        );
        throw denied;
      }
      return;
    }
    // Across namespaces: one review per namespace that only RBAC-keyed grants cover.
    const allows = namespaceFilter(this.index, this.caller, tool);
    const namespaces = [...this.index.namespaces].filter(allows);
    // A review that fails leaves its namespace out (fail closed), rather than failing the whole list.
    await Promise.all(namespaces.map((ns) => ask(ns).catch(() => false)));
  }

  /** The sync gate of the RBAC second key: false when only RBAC-keyed policies allow and no review allowed it. */
  private rbacPasses(tool: string, namespace: string | undefined, policies?: readonly string[]): boolean {
    if (!indexHasRbac(this.index) || TOOL_ACTIONS[tool] === undefined) return true;
    if (this.rbacAllowed.has(rbacKey(tool, namespace))) return true;
    const allowing =
      policies ??
      evaluate(this.index, {
        caller: this.caller,
        tool,
        ...(namespace === undefined ? {} : { namespace }),
      }).policies;
    return !onlyRbacKeyed(this.index, allowing);
  }

  /** A namespace filter narrowed by the RBAC second key (unchanged when no policy sets it). */
  private rbacFilter(tool: string, allows: (ns: string) => boolean): (ns: string) => boolean {
    if (!indexHasRbac(this.index)) return allows;
    return (ns) => allows(ns) && this.rbacPasses(tool, ns);
  }

  /** The decisions taken so far through this client (one call: see forCall()). */
  get decisions(): readonly DecisionRecord[] {
    return this.records;
  }

  /**
   * A client for ONE call of this request: same caller, policy snapshot and backend, but its own
   * decision list, so calls that run concurrently (the messages of a JSON-RPC batch) never see each
   * other's decisions in their audit records. The permission summaries are shared (they depend only
   * on caller and snapshot).
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
   * Lists the namespaces the caller may see: those its list_namespaces grants cover, and those where it
   * may use at least one namespaced tool (the row says which).
   */
  listNamespaces(selector?: LabelSelector): Listed<VisibleNamespace> {
    this.check({ caller: this.caller, tool: 'list_namespaces' });
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
   * whether or not it exists), else in every namespace the caller may list in.
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
    if (!this.recordGrant(LIST_TOOL[kind])) return { items: [], health: snapshot.health };
    const allows = this.rbacFilter(
      LIST_TOOL[kind],
      namespaceFilter(this.index, this.caller, LIST_TOOL[kind]),
    );
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
    if (!this.recordGrant(LIST_TOOL[kind])) return { namespaces: [], inNamespace: () => [] };
    const allows = this.rbacFilter(
      LIST_TOOL[kind],
      namespaceFilter(this.index, this.caller, LIST_TOOL[kind]),
    );
    const span = this.trace.child(attr.SPAN_CACHE_READ);
    cacheRead(span, RESOURCE[kind], sorted.health);
    const namespaces = sorted.namespaces.filter(allows);
    span.end();
    return { namespaces, inNamespace: sorted.inNamespace };
  }

  /**
   * One object, or undefined when it does not exist OR the caller may not read it: the two are
   * deliberately indistinguishable (resources/read).
   */
  getReadable<K extends ServedKind>(kind: K, namespace: string, name: string): KindMap[K] | undefined {
    const decisionSpan = this.trace.child(attr.SPAN_POLICY);
    const decision = evaluate(this.index, { caller: this.caller, tool: LIST_TOOL[kind], namespace });
    const allowed = decision.allowed && this.rbacPasses(LIST_TOOL[kind], namespace, decision.policies);
    this.record(
      decisionSpan,
      {
        tool: LIST_TOOL[kind],
        namespace,
        allowed,
        ...(allowed ? {} : { code: decision.code ?? 'PolicyDenied' }),
        policies: decision.policies,
      },
      decision.reason,
    );
    if (!allowed) return undefined;
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
   * Scales a workload through the /scale subresource. Bounds and grants are checked before the
   * backend is touched; a stale resourceVersion (Conflict) is retried from a fresh read, so the
   * result is never a lost update; scaling to the current count changes nothing.
   */
  async scale(
    kind: ScalableKind,
    namespace: string,
    name: string,
    replicas: number,
    options: ScaleOptions = {},
  ): Promise<ScaleOutcome> {
    const tool = SCALE_TOOL[kind];
    const dryRun = options.dryRun === true;
    const decision = this.check({ caller: this.caller, tool, namespace, replicas });
    // Agent-safety limits of the allowing policies; undefined when they set none (fast path).
    const limited = limitedGrants(this.index, decision.policies);
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
    const what = `${KIND_LABEL[kind]} "${name}" in namespace "${namespace}"`;
    let attempts = 0;
    // A human's answer holds for the change they were shown: a retry after a Conflict that finds the
    // same `from` does not ask again (a changed one does).
    let confirmed: { readonly from: number; readonly via: string | undefined } | undefined;
    while (attempts < this.maxScaleAttempts) {
      attempts++;
      let current: ScaleInfo & { lastScaledAt?: number; claim?: ScaleClaim };
      try {
        current = await this.readForScale(kind, namespace, name, limited);
      } catch (err) {
        throw this.scaleError(err, what, kind, namespace);
      }
      if (current.replicas === replicas) {
        return {
          kind,
          namespace,
          name,
          from: current.replicas,
          to: replicas,
          changed: false,
          readyReplicas: this.readyOf(kind, namespace, name, current),
          policies: decision.policies,
          attempts,
          dryRun,
        };
      }
      let policies = decision.policies;
      let confirmation: ScaleOutcome['confirmation'];
      if (limited !== undefined) {
        const limitSpan = this.trace.child(attr.SPAN_POLICY);
        const verdict = decideScale(limited, {
          from: current.replicas,
          to: replicas,
          now: this.now(),
          ...(current.lastScaledAt === undefined ? {} : { lastScaledAt: current.lastScaledAt }),
        });
        const refusal = verdict.kind === 'deny' ? scaleRefusal(verdict, what) : undefined;
        this.record(
          limitSpan,
          {
            tool,
            namespace,
            replicas,
            allowed: verdict.kind !== 'deny',
            ...(verdict.kind === 'deny' ? { code: verdict.code } : {}),
            policies: verdict.policies,
          },
          refusal?.reason ??
            (verdict.kind === 'confirm' ? 'a human must confirm' : 'the agent-safety limits allow it'),
        );
        if (refusal !== undefined) throw refusal;
        policies = verdict.policies;
        if (verdict.kind === 'confirm') {
          const request: ConfirmationRequest = {
            caller: this.caller.username,
            kind,
            namespace,
            name,
            from: current.replicas,
            to: replicas,
            reasons: verdict.reasons,
          };
          if (dryRun) {
            // A dry run asks nobody: it says that the real call would need a human to confirm.
            confirmation = { reasons: verdict.reasons };
          } else if (confirmed !== undefined && confirmed.from === current.replicas) {
            confirmation = { reasons: verdict.reasons, via: confirmed.via };
          } else {
            const answer =
              this.safety.confirm === undefined
                ? ({ outcome: 'unavailable', why: 'this client cannot ask a human' } as const)
                : await this.safety.confirm(request);
            if (answer.outcome === 'unavailable') throw confirmationRequired(request, answer.why);
            if (answer.outcome === 'declined') throw confirmationDeclined(request, answer.via);
            confirmation = { reasons: verdict.reasons, via: answer.via };
            confirmed = { from: current.replicas, via: answer.via };
          }
        }
      }
      if (!dryRun && current.claim !== undefined && limited !== undefined) {
        // Record this scale for the cool-down before making it: a replica that lost the race retries
        // from a fresh read and then sees the cool-down.
        try {
          await this.claimScale(current.claim, limited);
        } catch (err) {
          if (err instanceof BackendError && err.code === 'Conflict') {
            if (attempts < this.maxScaleAttempts) await sleep(conflictBackoffMs(attempts));
            continue;
          }
          throw this.scaleError(err, what, kind, namespace);
        }
      }
      let written: ScaleInfo;
      try {
        written = await this.backend.writeScale(
          kind,
          namespace,
          name,
          replicas,
          current.resourceVersion,
          dryRun
            ? { dryRun: true, trace: this.trace }
            : this.trace.recording
              ? { trace: this.trace }
              : undefined,
        );
      } catch (err) {
        if (err instanceof BackendError && err.code === 'Conflict') {
          // Someone else wrote in between: back off a little (jittered, so concurrent scalers spread
          // out) and retry from a fresh read. The write carried the read's resourceVersion, so nothing
          // was lost.
          if (attempts < this.maxScaleAttempts) await sleep(conflictBackoffMs(attempts));
          continue;
        }
        throw this.scaleError(err, what, kind, namespace);
      }
      const uid = written.uid ?? current.uid;
      if (dryRun) {
        return {
          kind,
          namespace,
          name,
          from: current.replicas,
          to: replicas,
          changed: false,
          readyReplicas: this.readyOf(kind, namespace, name, current),
          policies,
          attempts,
          dryRun,
          ...(confirmation === undefined ? {} : { confirmation }),
        };
      }
      const eventSpan = this.trace.child(attr.SPAN_EVENT);
      eventSpan.setAttribute(attr.EVENT_REASON, 'Scaled');
      try {
        await this.backend.recordScaleEvent(
          {
            kind,
            namespace,
            name,
            ...(uid === undefined ? {} : { uid }),
            caller: this.caller.username,
            policy: policies.join(', '),
            from: current.replicas,
            to: replicas,
          },
          eventSpan,
        );
      } catch {
        // Best effort by contract; a failed Event must not turn a done scale into an error.
      } finally {
        eventSpan.end();
      }
      return {
        kind,
        namespace,
        name,
        from: current.replicas,
        to: replicas,
        changed: true,
        readyReplicas: this.readyOf(kind, namespace, name, written),
        policies,
        attempts,
        dryRun,
        ...(confirmation === undefined ? {} : { confirmation }),
      };
    }
    throw new ToolError('Conflict', `${what} kept changing while we tried to scale it; nothing was changed`, {
      reason: `The API server answered Conflict ${attempts} times in a row (someone else is updating it)`,
      suggestions: [
        'Retry the call in a moment',
        'Check whether an autoscaler or controller owns its replica count',
      ],
    });
  }

  /**
   * The current scale. With a cool-down to enforce, also when KubeMCP last scaled the object (a
   * Lease in the cluster, the same for every replica of the operator) and the claim to record the
   * next scale with (src/kube/scalehistory.ts).
   */
  private async readForScale(
    kind: ScalableKind,
    namespace: string,
    name: string,
    limited: readonly LimitedGrant[] | undefined,
  ): Promise<ScaleInfo & { lastScaledAt?: number; claim?: ScaleClaim }> {
    if (limited === undefined || !needsCooldown(limited.map((g) => g.limits))) {
      return this.backend.readScale(kind, namespace, name, this.trace);
    }
    if (this.backend.readScaleHistory === undefined) {
      throw new ToolError('Unavailable', 'This server cannot read when the object was last scaled', {
        reason: 'A cool-down applies, and this backend cannot enforce it: the call is refused (fail closed)',
      });
    }
    return this.backend.readScaleHistory(kind, namespace, name, this.trace);
  }

  private async claimScale(claim: ScaleClaim, limited: readonly LimitedGrant[]): Promise<void> {
    if (this.backend.claimScale === undefined) {
      throw new ToolError('Unavailable', 'This server cannot record scales for the cool-down', {
        reason: 'A cool-down applies, and this backend cannot enforce it: the call is refused (fail closed)',
      });
    }
    const longest = Math.max(...limited.map((g) => g.limits?.cooldownSeconds ?? 0));
    await this.backend.claimScale(claim, this.now(), longest, this.trace);
  }

  private readyOf(kind: ScalableKind, namespace: string, name: string, info: ScaleInfo): number {
    if (info.readyReplicas !== undefined) return info.readyReplicas;
    return this.backend.get(kind, namespace, name)?.status?.readyReplicas ?? 0;
  }

  private scaleError(err: unknown, what: string, kind: ScalableKind, namespace: string): unknown {
    if (!(err instanceof BackendError)) return err;
    const mapped = fromBackendError(err, what);
    if (mapped.code !== 'NotFound') return mapped;
    return new ToolError('NotFound', `${what} was not found`, {
      reason: `There is no ${KIND_LABEL[kind]} with that name in namespace "${namespace}"`,
      suggestions: [`Call ${LIST_TOOL[kind]} with namespace "${namespace}" to see what exists`],
      cause: err,
    });
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

  /** Evaluates one request, records it, and throws PolicyDenied / OutOfBounds when refused. */
  private check(request: DecisionRequest): Decision {
    const span = this.trace.child(attr.SPAN_POLICY);
    const decision = evaluate(this.index, request);
    this.record(
      span,
      {
        tool: request.tool,
        ...(request.namespace === undefined ? {} : { namespace: request.namespace }),
        ...(request.replicas === undefined ? {} : { replicas: request.replicas }),
        allowed: decision.allowed,
        ...(decision.code === undefined ? {} : { code: decision.code }),
        policies: decision.policies,
      },
      decision.reason,
    );
    if (decision.allowed && !this.rbacPasses(request.tool, request.namespace, decision.policies)) {
      const action = TOOL_ACTIONS[request.tool];
      if (action !== undefined) throw rbacDenied(this.caller, request.tool, action, request.namespace);
    }
    if (decision.allowed) return decision;
    const where = request.namespace === undefined ? '' : ` in namespace "${request.namespace}"`;
    if (decision.code === 'OutOfBounds') {
      throw new ToolError('OutOfBounds', `${request.replicas} replicas is outside what you may set${where}`, {
        reason: decision.reason,
        suggestions: decision.suggestions,
      });
    }
    throw new ToolError('PolicyDenied', `You may not use ${request.tool}${where}`, {
      reason: decision.reason,
      suggestions: [...decision.suggestions, 'Call get_permissions to see what you may do'],
    });
  }

  /**
   * The policy question of a list: in `namespace` (PolicyDenied unless the caller may list there,
   * whether or not it exists), else anywhere (the tool granted somewhere). Records the decision and
   * returns which namespaces the list may show.
   */
  private listAccess(kind: ServedKind, namespace: string | undefined): (ns: string) => boolean {
    const tool = LIST_TOOL[kind];
    if (namespace !== undefined) {
      this.check({ caller: this.caller, tool, namespace });
      return (ns) => ns === namespace;
    }
    this.requireGranted(tool);
    return this.rbacFilter(tool, namespaceFilter(this.index, this.caller, tool));
  }

  /** Records whether `tool` is granted somewhere (by which policies) and returns it. */
  private recordGrant(tool: string): boolean {
    const span = this.trace.child(attr.SPAN_POLICY);
    const granted = this.grantedTools().has(tool);
    const policies = granted
      ? [
          ...new Set(
            this.permissions()
              .grants.filter((g) => g.tools.includes(tool))
              .map((g) => g.policy),
          ),
        ]
      : [];
    this.record(
      span,
      { tool, allowed: granted, ...(granted ? {} : { code: 'PolicyDenied' }), policies },
      granted || !span.recording ? undefined : `No Ready McpPolicy grants ${tool} to ${this.caller.username}`,
    );
    return granted;
  }

  /**
   * Keeps one policy decision for the audit record, and ends its span (tracing) with the decision
   * as attributes: what the caller asked, allow or deny, the code and reason the caller is told, and
   * the policies that decided. Nothing about namespaces the caller did not name.
   */
  private record(span: Span, decision: DecisionRecord, reason: string | undefined): void {
    this.records.push(decision);
    if (span.recording) {
      span.setAttribute(attr.POLICY_TOOL, decision.tool);
      if (decision.namespace !== undefined) span.setAttribute(attr.K8S_NAMESPACE_NAME, decision.namespace);
      if (decision.replicas !== undefined) span.setAttribute(attr.POLICY_REPLICAS, decision.replicas);
      span.setAttribute(attr.POLICY_DECISION, decision.allowed ? 'allow' : 'deny');
      if (decision.code !== undefined) span.setAttribute(attr.POLICY_CODE, decision.code);
      if (reason !== undefined) span.setAttribute(attr.POLICY_REASON, reason);
      span.setAttribute(attr.POLICY_POLICIES, decision.policies);
    }
    span.end();
  }

  /** For calls that span namespaces: the caller needs the tool granted somewhere. */
  private requireGranted(tool: string): void {
    if (this.recordGrant(tool)) return;
    throw new ToolError('PolicyDenied', `You may not use ${tool}`, {
      reason: `No Ready McpPolicy grants ${tool} to ${this.caller.username}`,
      suggestions: [
        'Call get_permissions to see what you may do',
        'Ask a cluster admin for an McpPolicy that grants this tool',
      ],
    });
  }
}

/** The Kubernetes resource behind each served kind (span attributes). */
const RESOURCE: Readonly<Record<ServedKind, string>> = {
  pod: 'pods',
  deployment: 'deployments',
  statefulset: 'statefulsets',
  service: 'services',
};

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

/** Delay before retry `attempt` after a Conflict: 10-15 ms, doubling per attempt, at most 240 ms. */
function conflictBackoffMs(attempt: number): number {
  return Math.min(160, 10 * 2 ** (attempt - 1)) * (1 + Math.random() * 0.5);
}
