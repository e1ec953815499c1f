import {
  type CallDecision,
  type CompiledGrant,
  coverFilter,
  decideCall,
  indexHasLimits,
  indexHasRbac,
  isScaleTool,
  namespaceFilter,
  type PolicyIndex,
  toolGrants,
} from '../../policy/index.js';
import type { Caller } from '../../policy/types.js';
import { attr, type Span } from '../../telemetry/index.js';
import { ToolError } from '../errors.js';
import { type AccessReviewer, MAX_REVIEWS_PER_CALL, rbacDenied, TOOL_ACTIONS } from '../safety/access.js';
import { admitRate, admitRows } from '../safety/guard.js';
import type { RateLimiter } from '../safety/ratelimit.js';
import { LIST_TOOL, NAMESPACED_TOOLS } from './kinds.js';
import { type DecisionRecord, policyRefusal, recordOf, traceDecision } from './record.js';

/**
 * The policy gate of ONE call: its one decision (decideCall, with every argument), and the checks
 * that read it — rate limits, the RBAC second key — plus the decision records of its audit.
 *
 * `admit` runs before the tool's handler; the handler's own `check` finds the same decision rather
 * than judging again, so the answer, the limits and the audit cannot disagree.
 */

/** The arguments of a call the policy judges. */
export interface CallArguments {
  readonly namespace?: string | undefined;
  readonly replicas?: number | undefined;
}

/** Process-wide services the gate charges and asks. */
export interface GateServices {
  readonly rateLimiter?: RateLimiter | undefined;
  readonly access?: AccessReviewer | undefined;
}

export class CallGate {
  /** (tool, namespace) pairs whose RBAC second key a SubjectAccessReview allowed during this call. */
  private readonly reviewed = new Set<string>();
  private readonly records: DecisionRecord[] = [];
  /** The call's one decision, and where its record is. */
  private current: { readonly decision: CallDecision; readonly at: number } | undefined;
  /** For lists across namespaces: the rows the call may return, after rate limits and RBAC. */
  private readonly rows = new Map<string, (namespace: string) => boolean>();
  /** Per-namespace SubjectAccessReviews this call may still ask for (lists across namespaces). */
  private reviewsLeft = MAX_REVIEWS_PER_CALL;

  constructor(
    private readonly caller: Caller,
    private readonly index: PolicyIndex,
    private readonly services: GateServices,
    private readonly trace: Span,
    private readonly now: () => number,
  ) {}

  /** The decisions taken so far (the call's own, then any step that refused or narrowed it). */
  get decisions(): readonly DecisionRecord[] {
    return this.records;
  }

  /** The call's one decision, once admit (or a handler's check) took it. */
  get decision(): CallDecision | undefined {
    return this.current?.decision;
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
        this.services.rateLimiter,
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
  async admitReads(granted: ReadonlySet<string>): Promise<void> {
    if (!indexHasRbac(this.index)) return;
    for (const tool of Object.values(LIST_TOOL)) {
      if (granted.has(tool)) await this.admitRows(tool, false);
    }
  }

  /**
   * The one decision of the call on (tool, namespace, replicas): taken and recorded the first time,
   * found again after. Throws PolicyDenied / OutOfBounds when refused.
   */
  decide(tool: string, namespace: string | undefined, replicas: number | undefined): CallDecision {
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
  judge(tool: string, namespace: string | undefined, replicas: number | undefined): CallDecision {
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
  check(tool: string, namespace: string | undefined, replicas?: number): CallDecision {
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
  async secondKey(decision: CallDecision): Promise<void> {
    const { tool, namespace, replicas } = decision.request;
    const action = TOOL_ACTIONS[tool];
    if (action === undefined) return;
    if (namespace === undefined && action.clusterScoped !== true) return;
    const request = { tool, namespace, replicas };
    const access = this.services.access;
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
      const admitted = admitRows(this.services.rateLimiter, this.caller.username, tool, all, this.now());
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
      const access = this.services.access;
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
  rowFilter(tool: string): (namespace: string) => boolean {
    const settled = this.rows.get(tool);
    if (settled !== undefined) return settled;
    if (!indexHasRbac(this.index)) return namespaceFilter(this.index, this.caller, tool);
    return coverFilter(
      this.index,
      toolGrants(this.index, this.caller, tool).filter((g) => g.limits?.requireKubernetesRBAC !== true),
    );
  }

  /** Keeps one policy decision for the audit record, and ends its span (tracing). */
  record(span: Span, decision: DecisionRecord, reason: string | undefined): void {
    this.records.push(decision);
    traceDecision(span, decision, reason);
  }
}

function rbacKey(tool: string, namespace: string | undefined): string {
  return `${tool}\u0000${namespace ?? ''}`;
}
