/**
 * SubjectAccessReviews (authorization.k8s.io/v1): would the cluster's own RBAC (and any other
 * authorizer) allow this user to do this? The operator asks with its own identity (the ClusterRole
 * grants `create subjectaccessreviews`, nothing more) on behalf of an MCP caller.
 */

import type { Span } from '../telemetry/index.js';
import type { KubeClient } from './client.js';
import { toBackendError } from './errors.js';
import type { AccessAnswer, AccessQuestion } from './types.js';

// The question and answer types live with the backend's types (types.ts), which name them.
export type { AccessAnswer, AccessQuestion } from './types.js';

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
