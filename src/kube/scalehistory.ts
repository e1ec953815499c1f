/**
 * When did KubeMCP last scale an object? Read from the cluster, not from a process's memory, so that
 * every replica of the operator sees the same answer: the object's managedFields. Every /scale write
 * of the operator names the field manager {@link SCALE_FIELD_MANAGER}; the API server keeps one
 * managedFields entry per manager (operation Update, subresource scale) and updates its `time`
 * whenever that manager changes the value of a field it owns (spec.replicas). Reading it needs only
 * the `list` the operator already has on the workload kinds (a list narrowed to one name by a
 * fieldSelector, so the answer is fresh, not an informer's).
 *
 * Limits (docs/security.md): the time has a resolution of one second (we count from the end of that
 * second, so a cool-down is never shorter than configured); when another manager (kubectl, an
 * autoscaler) later takes spec.replicas over, the API server drops our entry and the cool-down of the
 * earlier KubeMCP scale no longer applies.
 */

import type { KubeClient } from './client.js';
import { toBackendError } from './errors.js';
import { BackendError, type ScalableKind } from './types.js';

/** The field manager of every /scale write KubeMCP makes. */
export const SCALE_FIELD_MANAGER = 'kubemcp';

/** A managedFields entry, as the API server sends it (only what is read here). */
export interface ManagedFieldsEntry {
  readonly manager?: string;
  readonly operation?: string;
  readonly subresource?: string;
  readonly time?: string;
  readonly fieldsV1?: unknown;
}

/** The state of a workload a cool-down needs, from one fresh read. */
export interface ScaleHistory {
  readonly replicas: number;
  readonly resourceVersion: string;
  readonly uid?: string;
  /** When KubeMCP last changed the replica count (ms since epoch, end of the recorded second); undefined when never (or since taken over). */
  readonly lastScaledAt?: number;
}

function ownsReplicas(fields: unknown): boolean {
  if (typeof fields !== 'object' || fields === null) return false;
  const spec = (fields as Record<string, unknown>)['f:spec'];
  return typeof spec === 'object' && spec !== null && 'f:replicas' in spec;
}

/** The last KubeMCP scale recorded in managedFields (ms since epoch, end of its second), if any. Pure. */
export function lastKubeMcpScale(
  managedFields: readonly ManagedFieldsEntry[] | undefined,
  manager: string = SCALE_FIELD_MANAGER,
): number | undefined {
  let last: number | undefined;
  for (const entry of managedFields ?? []) {
    if (entry.manager !== manager || entry.subresource !== 'scale' || entry.time === undefined) continue;
    if (!ownsReplicas(entry.fieldsV1)) continue;
    const at = Date.parse(entry.time);
    if (Number.isNaN(at)) continue;
    // managedFields times have a resolution of one second: count from the end of that second.
    const end = Math.floor(at / 1000) * 1000 + 1000;
    if (last === undefined || end > last) last = end;
  }
  return last;
}

const RESOURCE: Record<ScalableKind, string> = { deployment: 'deployments', statefulset: 'statefulsets' };

interface WorkloadList {
  readonly items?: readonly {
    metadata?: { resourceVersion?: string; uid?: string; managedFields?: ManagedFieldsEntry[] };
    spec?: { replicas?: number };
  }[];
}

/**
 * Reads one workload fresh from the API server (a list narrowed to its name: the operator may list,
 * not get). Throws BackendError: NotFound when it does not exist.
 */
export async function readScaleHistory(
  client: KubeClient,
  kind: ScalableKind,
  namespace: string,
  name: string,
  timeoutMs: number,
): Promise<ScaleHistory> {
  const what = `read the scale history of ${RESOURCE[kind]} ${namespace}/${name}`;
  let list: WorkloadList;
  try {
    list = await client.request<WorkloadList>(
      'GET',
      `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/${RESOURCE[kind]}`,
      { query: { fieldSelector: `metadata.name=${name}` }, timeoutMs },
    );
  } catch (err) {
    throw toBackendError(err, what);
  }
  const item = list.items?.[0];
  if (item === undefined) {
    throw new BackendError('NotFound', `${what}: not found`);
  }
  const lastScaledAt = lastKubeMcpScale(item.metadata?.managedFields);
  return {
    replicas: item.spec?.replicas ?? 1,
    resourceVersion: item.metadata?.resourceVersion ?? '',
    ...(item.metadata?.uid === undefined ? {} : { uid: item.metadata.uid }),
    ...(lastScaledAt === undefined ? {} : { lastScaledAt }),
  };
}
