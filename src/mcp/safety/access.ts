/**
 * Kubernetes RBAC as a second key (McpPolicy `requireKubernetesRBAC: true`): before a call that only
 * such policies allow, the caller's own identity (user, groups, uid and extra from its TokenReview)
 * must also be allowed the equivalent Kubernetes action by a SubjectAccessReview.
 *
 * Answers are cached for at most `ttlMs` (default and maximum 10 s) in a bounded LRU map, and
 * concurrent questions share one review: at most one SubjectAccessReview per caller, action and
 * namespace per cache period. A failed review (API server unreachable) refuses the call and is
 * remembered for FAILURE_TTL_MS, so a retry within that second sends nothing. At most
 * MAX_CONCURRENT_REVIEWS reviews are in flight at once (the rest wait their turn, at most
 * MAX_WAITING_REVIEWS of them), and a call across namespaces asks at most MAX_REVIEWS_PER_CALL
 * (see allowedIn).
 */

import {
  SCALE_TOOL_OF,
  type ScalableServedKind,
  SERVED_KIND_INFO,
  SERVED_KINDS,
} from '../../api/v1alpha1/kinds.js';
import type { AccessAnswer, AccessQuestion } from '../../kube/access.js';
import type { Caller } from '../../policy/types.js';
import type { Span } from '../../telemetry/index.js';
import { ToolError } from '../errors.js';

export const MAX_ACCESS_TTL_MS = 10_000;
/** How long a failed review is remembered (a retry within it is refused without a review). */
export const FAILURE_TTL_MS = 1_000;
/** SubjectAccessReviews in flight at once, per process. */
export const MAX_CONCURRENT_REVIEWS = 8;
/** Reviews waiting for a turn; past this, a question is refused (Unavailable) at once. */
export const MAX_WAITING_REVIEWS = 1_024;
/** Per-namespace reviews one call across namespaces may send (after one cluster-wide review). */
export const MAX_REVIEWS_PER_CALL = 32;

/** The Kubernetes action equivalent to a tool. */
export interface Action {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  /** Cluster-scoped (list_namespaces): asked without a namespace. */
  readonly clusterScoped?: boolean;
}

/** Tool → the Kubernetes action a caller would need to do the same with kubectl (from the kind registry). */
export const TOOL_ACTIONS: Readonly<Record<string, Action>> = Object.fromEntries([
  ['list_namespaces', { verb: 'list', group: '', resource: 'namespaces', clusterScoped: true }],
  ...SERVED_KINDS.map((k) => {
    const { listTool, group, resource } = SERVED_KIND_INFO[k];
    return [listTool, { verb: 'list', group, resource }];
  }),
  ...(Object.entries(SCALE_TOOL_OF) as [ScalableServedKind, string][]).map(([k, tool]) => {
    const { group, resource } = SERVED_KIND_INFO[k];
    return [tool, { verb: 'update', group, resource, subresource: 'scale' }];
  }),
]);

/** "update deployments/scale (apps) in namespace web", as a denial names it. */
export function describeAction(action: Action, namespace: string | undefined): string {
  const resource = `${action.resource}${action.subresource === undefined ? '' : `/${action.subresource}`}`;
  const group = action.group === '' ? '' : ` (API group ${action.group})`;
  const where =
    action.clusterScoped === true
      ? ''
      : namespace === undefined
        ? ' in every namespace'
        : ` in namespace ${namespace}`;
  return `${action.verb} ${resource}${group}${where}`;
}

/**
 * How a look-up was answered: from the cache, by joining a review another call had already sent
 * (`shared`), or by a review this call sent (its answer: allowed, denied, or error).
 */
export type AccessLookupResult = 'cache_hit' | 'shared' | 'allowed' | 'denied' | 'error';

interface Entry {
  /** Undefined: the review failed (remembered for FAILURE_TTL_MS). */
  readonly answer: AccessAnswer | undefined;
  readonly expires: number;
}

function unavailable(cause?: unknown): ToolError {
  return new ToolError('Unavailable', 'Kubernetes RBAC could not be checked right now; nothing was done', {
    reason: 'The SubjectAccessReview an McpPolicy requires failed (the API server did not answer)',
    suggestions: ['Retry in a little while'],
    ...(cause === undefined ? {} : { cause }),
  });
}

export class AccessReviewer {
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<AccessAnswer>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly maxConcurrent: number;
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  /** Reviews sent to the API server (for metrics and tests). */
  reviews = 0;

  constructor(
    private readonly review: ((q: AccessQuestion, trace?: Span) => Promise<AccessAnswer>) | undefined,
    options: {
      ttlMs?: number;
      maxEntries?: number;
      /** Reviews in flight at once (default MAX_CONCURRENT_REVIEWS). */
      maxConcurrent?: number;
      now?: () => number;
      /** Called per look-up: a cache hit, or the result of a review sent. */
      onLookup?: (result: AccessLookupResult) => void;
    } = {},
  ) {
    this.onLookup = options.onLookup;
    this.ttlMs = Math.min(MAX_ACCESS_TTL_MS, Math.max(0, options.ttlMs ?? MAX_ACCESS_TTL_MS));
    this.maxEntries = Math.max(1, options.maxEntries ?? 10_000);
    this.maxConcurrent = Math.max(1, options.maxConcurrent ?? MAX_CONCURRENT_REVIEWS);
    this.now = options.now ?? Date.now;
  }

  private readonly now: () => number;
  private readonly onLookup: ((result: AccessLookupResult) => void) | undefined;

  /**
   * Whether the cluster allows `caller` the action (in `namespace`). Throws ToolError Unavailable
   * when it cannot tell. `trace`: the span a SubjectAccessReview request is part of (tracing).
   */
  async allowed(
    caller: Caller,
    action: Action,
    namespace: string | undefined,
    trace?: Span,
  ): Promise<AccessAnswer> {
    if (this.review === undefined) {
      throw new ToolError('Unavailable', 'This server cannot check Kubernetes RBAC', {
        reason:
          "An McpPolicy requires the caller's own Kubernetes RBAC to allow the call, and this server cannot ask (fail closed)",
      });
    }
    const question: AccessQuestion = {
      user: caller.username,
      groups: caller.groups,
      ...(caller.uid === undefined ? {} : { uid: caller.uid }),
      ...(caller.extra === undefined ? {} : { extra: caller.extra }),
      verb: action.verb,
      group: action.group,
      resource: action.resource,
      ...(action.subresource === undefined ? {} : { subresource: action.subresource }),
      ...(action.clusterScoped === true || namespace === undefined ? {} : { namespace }),
    };
    const key = JSON.stringify([
      question.user,
      [...question.groups].sort(),
      question.uid ?? '',
      question.extra ?? {},
      question.verb,
      question.group,
      question.resource,
      question.subresource ?? '',
      question.namespace ?? '',
    ]);
    const now = this.now();
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      if (hit.expires > now) {
        this.onLookup?.('cache_hit');
        if (hit.answer === undefined) throw unavailable();
        return hit.answer;
      }
      this.cache.delete(key);
    }
    let pending = this.inflight.get(key);
    // Only the question that sent the review reports its answer; the ones that joined it report
    // `shared`, so the counts of allowed, denied and error are the reviews sent.
    const sent = pending === undefined;
    if (pending === undefined) {
      const review = this.review;
      pending = this.turn(() => {
        this.reviews++;
        return review(question, trace);
      }).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    let answer: AccessAnswer;
    try {
      answer = await pending;
    } catch (err) {
      this.onLookup?.(sent ? 'error' : 'shared');
      if (sent) this.remember(key, undefined, now + FAILURE_TTL_MS);
      throw err instanceof ToolError ? err : unavailable(err);
    }
    if (!sent) {
      this.onLookup?.('shared');
      return answer;
    }
    this.onLookup?.(answer.allowed ? 'allowed' : 'denied');
    if (this.ttlMs > 0) this.remember(key, answer, now + this.ttlMs);
    return answer;
  }

  /**
   * The namespaces of `namespaces` in which the cluster allows `caller` the action, for a call
   * across namespaces. One cluster-wide review first (a ClusterRoleBinding answers every namespace
   * at once); when it does not allow, one review per namespace, for at most `max` (at most
   * MAX_REVIEWS_PER_CALL) of them in the order given: a call shares one such budget over all it asks. Namespaces past the cap, and those whose review fails, are left out
   * (fail closed).
   */
  async allowedIn(
    caller: Caller,
    action: Action,
    namespaces: readonly string[],
    trace?: Span,
    max: number = MAX_REVIEWS_PER_CALL,
  ): Promise<{ allowed: ReadonlySet<string>; unchecked: number; asked: number }> {
    if (namespaces.length === 0) return { allowed: new Set(), unchecked: 0, asked: 0 };
    const everywhere = await this.allowed(caller, action, undefined, trace).catch(() => undefined);
    if (everywhere?.allowed === true) return { allowed: new Set(namespaces), unchecked: 0, asked: 0 };
    const asked = namespaces.slice(0, Math.max(0, Math.min(max, MAX_REVIEWS_PER_CALL)));
    const answers = await Promise.all(
      asked.map((ns) =>
        this.allowed(caller, action, ns, trace).then(
          (a) => a.allowed,
          () => false,
        ),
      ),
    );
    const allowed = new Set<string>();
    asked.forEach((ns, i) => {
      if (answers[i] === true) allowed.add(ns);
    });
    return { allowed, unchecked: namespaces.length - asked.length, asked: asked.length };
  }

  private remember(key: string, answer: AccessAnswer | undefined, expires: number): void {
    this.cache.set(key, { answer, expires });
    if (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }

  /** Runs `send` when fewer than maxConcurrent reviews are in flight; waits its turn otherwise. */
  private async turn<T>(send: () => Promise<T>): Promise<T> {
    if (this.active >= this.maxConcurrent) {
      if (this.waiting.length >= MAX_WAITING_REVIEWS) {
        throw new ToolError('Unavailable', 'Too many Kubernetes RBAC checks are waiting; nothing was done', {
          reason: 'KubeMCP bounds the SubjectAccessReviews it sends at once, and the queue is full',
          suggestions: ['Retry in a little while'],
        });
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await send();
    } finally {
      const next = this.waiting.shift();
      // The turn passes straight to the next waiter (active stays the same), or is given back.
      if (next !== undefined) next();
      else this.active--;
    }
  }
}

/** The refusal of a call the McpPolicy allows and the caller's own RBAC does not. */
export function rbacDenied(
  caller: Caller,
  tool: string,
  action: Action,
  namespace: string | undefined,
): ToolError {
  const needed = describeAction(action, namespace);
  return new ToolError(
    'PolicyDenied',
    `Your Kubernetes RBAC does not allow ${needed}, which ${tool} needs here`,
    {
      reason: `The McpPolicy that grants ${tool} requires the caller's own Kubernetes RBAC to allow it too (requireKubernetesRBAC), and a SubjectAccessReview for ${caller.username} denied: ${needed}`,
      suggestions: [
        `Ask a cluster admin for a Role/RoleBinding that grants ${needed} to ${caller.username}`,
        'Call get_permissions to see what you may do',
      ],
    },
  );
}
