/**
 * SubjectAccessReviews (authorization.k8s.io/v1): would the cluster's own RBAC (and any other
 * authorizer) allow this user to do this? The operator asks with its own identity (the ClusterRole
 * grants `create subjectaccessreviews`, nothing more) on behalf of an MCP caller.
 */

import type { Span } from '../telemetry/index.js';
import type { KubeClient } from './client.js';
import { toBackendError } from './errors.js';

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

interface SarStatus {
  readonly status?: { allowed?: boolean; denied?: boolean; reason?: string; evaluationError?: string };
}

/** Creates one SubjectAccessReview. Throws BackendError when the API server cannot answer. */
export async function subjectAccessReview(
  client: KubeClient,
  q: AccessQuestion,
  timeoutMs: number,
  trace?: Span,
): Promise<AccessAnswer> {
  try {
    const res = await client.request<SarStatus>(
      'POST',
      '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      {
        timeoutMs,
        trace,
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: q.user,
            groups: [...q.groups],
            ...(q.uid === undefined ? {} : { uid: q.uid }),
            ...(q.extra === undefined ? {} : { extra: q.extra }),
            resourceAttributes: {
              verb: q.verb,
              group: q.group,
              resource: q.resource,
              ...(q.subresource === undefined ? {} : { subresource: q.subresource }),
              ...(q.namespace === undefined ? {} : { namespace: q.namespace }),
            },
          },
        },
      },
    );
    const reason = res.status?.reason || res.status?.evaluationError || undefined;
    return { allowed: res.status?.allowed === true, ...(reason === undefined ? {} : { reason }) };
  } catch (err) {
    throw toBackendError(err, 'create a SubjectAccessReview');
  }
}
