/**
 * When did KubeMCP last scale an object? Kept in the cluster, not in a process's memory, so that
 * every replica of the operator sees the same answer: one coordination.k8s.io Lease per scaled
 * object (named after its uid) in the operator's own namespace, whose `spec.renewTime` is the time of
 * the last KubeMCP scale. The operator may get, create and update Leases there (the leader-election
 * Role), and list and delete them for the leader's sweep of records too old to matter (below).
 *
 * A scale under a cool-down first claims the Lease (an update carrying the Lease's resourceVersion,
 * or a create), then writes /scale: of two replicas racing to scale the same object, one claim fails
 * with Conflict, and its retry sees the other's scale and the cool-down.
 *
 * Why not the object's own state: the operator may only update /scale (no annotations), and the
 * managedFields entry of a /scale update carries no time. Why not the `Scaled` Events: reading them
 * needs `list events`, they are best effort, and anyone who may create Events could forge them.
 */

import type { Span } from '../telemetry/index.js';
import type { KubeClient } from './client.js';
import { httpStatus, toBackendError } from './errors.js';
import { microTime, parseMicroTime } from './microtime.js';
import {
  BackendError,
  type ScalableKind,
  type ScaleClaim,
  type ScaleHistory,
  type ScaleInfo,
} from './types.js';

export const SCALE_LEASE_PREFIX = 'kubemcp-scale-';
export const SCALE_LEASE_LABELS = {
  'app.kubernetes.io/managed-by': 'kubemcp',
  'kubemcp.io/purpose': 'scale-cooldown',
} as const;

// The claim and history types live with the backend's types (types.ts), which name them.
export type { ScaleClaim, ScaleHistory } from './types.js';

interface LeaseWire {
  metadata?: { resourceVersion?: string };
  spec?: { renewTime?: string };
}

function leasePath(namespace: string, name?: string): string {
  const base = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

/**
 * The namespace the cool-down Leases live in (the operator's own) does not exist, e.g. `serve` run
 * from a laptop with no operator namespace: what is missing is that namespace, not the workload.
 */
export class LeaseNamespaceMissing extends BackendError {
  constructor(
    readonly leaseNamespace: string,
    object: string,
    cause: unknown,
  ) {
    super('NotFound', `record the scale of ${object}: namespace ${leaseNamespace} does not exist`, { cause });
    this.name = 'LeaseNamespaceMissing';
  }
}

/** Reads the last KubeMCP scale of the object `scale` describes (its uid names the Lease). Throws BackendError. */
export async function readScaleHistory(
  client: KubeClient,
  leaseNamespace: string,
  kind: ScalableKind,
  namespace: string,
  name: string,
  scale: ScaleInfo,
  timeoutMs: number,
  trace?: Span,
): Promise<ScaleHistory> {
  if (scale.uid === undefined || scale.uid === '') {
    throw new BackendError('Unavailable', `${kind} ${namespace}/${name}: the API server did not say its uid`);
  }
  const leaseName = `${SCALE_LEASE_PREFIX}${scale.uid}`;
  const object = `${kind} ${namespace}/${name}`;
  let lease: LeaseWire | undefined;
  try {
    lease = await client.request<LeaseWire>('GET', leasePath(leaseNamespace, leaseName), {
      timeoutMs,
      trace,
    });
  } catch (err) {
    if (httpStatus(err) !== 404) throw toBackendError(err, `read the last scale of ${object}`);
  }
  const at = parseMicroTime(lease?.spec?.renewTime);
  const version = lease?.metadata?.resourceVersion;
  return {
    ...scale,
    ...(at === undefined ? {} : { lastScaledAt: at }),
    claim: {
      namespace: leaseNamespace,
      leaseName,
      object,
      ...(lease === undefined || version === undefined ? {} : { leaseVersion: version }),
    },
  };
}

/**
 * Records a scale at `at` (ms since epoch) in the claim's Lease, with optimistic concurrency: throws
 * BackendError Conflict when another replica recorded one since the claim was read.
 */
export async function claimScale(
  client: KubeClient,
  claim: ScaleClaim,
  at: number,
  holder: string,
  cooldownSeconds: number,
  timeoutMs: number,
  trace?: Span,
): Promise<void> {
  const body = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: claim.leaseName,
      namespace: claim.namespace,
      labels: { ...SCALE_LEASE_LABELS },
      annotations: { 'kubemcp.io/object': claim.object },
      ...(claim.leaseVersion === undefined ? {} : { resourceVersion: claim.leaseVersion }),
    },
    spec: {
      holderIdentity: holder.slice(0, 128),
      renewTime: microTime(at),
      leaseDurationSeconds: Math.max(1, Math.min(cooldownSeconds, 2_147_483_647)),
    },
  };
  try {
    if (claim.leaseVersion === undefined) {
      await client.request('POST', leasePath(claim.namespace), { body, timeoutMs, trace });
    } else {
      await client.request('PUT', leasePath(claim.namespace, claim.leaseName), { body, timeoutMs, trace });
    }
  } catch (err) {
    // A create that finds the Lease already there lost a race just like a stale update.
    if (httpStatus(err) === 404) throw new LeaseNamespaceMissing(claim.namespace, claim.object, err);
    if (httpStatus(err) === 409) {
      throw new BackendError('Conflict', `another scale of ${claim.object} was recorded first`, {
        cause: err,
      });
    }
    throw toBackendError(err, `record the scale of ${claim.object}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Garbage collection of cool-down Leases (run by the leader; src/controller/leasesweep.ts)

/**
 * The longest cool-down any McpPolicy may set (LIMITS.cooldownSeconds in src/api/v1alpha1). The
 * check compares a Lease's time with the cool-down of the policy as it is *now*, which may have been
 * raised since the scale; a Lease older than this can no longer refuse any scale, so deleting it
 * never changes a decision.
 */
export const MAX_COOLDOWN_SECONDS = 86_400;

/** The fields of a listed Lease the sweep reads. */
export interface ScaleLeaseListItem {
  readonly metadata?: {
    readonly name?: string;
    readonly uid?: string;
    readonly resourceVersion?: string;
    readonly creationTimestamp?: string;
  };
  readonly spec?: { readonly renewTime?: string; readonly leaseDurationSeconds?: number };
}

/** A Lease to delete, with the preconditions that keep a fresh claim from being deleted. */
export interface ExpiredScaleLease {
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion: string;
}

/**
 * Which cool-down Leases may go (pure): named `kubemcp-scale-*` (labelled or not), and last scaled
 * (spec.renewTime, else the creation time) longer ago than both twice their own cool-down (their hold
 * expired more than a cool-down ago) and MAX_COOLDOWN_SECONDS. Leases without a name, uid or
 * resourceVersion, or without any time, are kept.
 */
export function expiredScaleLeases(items: readonly ScaleLeaseListItem[], now: number): ExpiredScaleLease[] {
  const out: ExpiredScaleLease[] = [];
  for (const item of items) {
    const name = item.metadata?.name;
    const uid = item.metadata?.uid;
    const resourceVersion = item.metadata?.resourceVersion;
    if (name === undefined || !name.startsWith(SCALE_LEASE_PREFIX) || !uid || !resourceVersion) continue;
    const at = parseMicroTime(item.spec?.renewTime) ?? parseMicroTime(item.metadata?.creationTimestamp);
    if (at === undefined) continue;
    const duration = item.spec?.leaseDurationSeconds;
    const hold = typeof duration === 'number' && Number.isFinite(duration) && duration > 0 ? duration : 0;
    const keepMs = Math.max(2 * hold, MAX_COOLDOWN_SECONDS) * 1000;
    if (now - at > keepMs) out.push({ name, uid, resourceVersion });
  }
  return out;
}

export interface SweepResult {
  /** Leases listed (every Lease of the namespace). */
  readonly listed: number;
  readonly deleted: number;
  /** Deletes refused because the Lease changed (a new claim) or was gone already. */
  readonly skipped: number;
}

/**
 * Lists the Leases of `namespace` (pages of 500) and deletes the expired cool-down records, one at a
 * time, each with preconditions on its uid and resourceVersion: a Lease claimed again since the list
 * is answered 409 and kept. At most `maxDeletes` per sweep. Throws (list or delete failures other
 * than 404/409) after counting what it deleted so far in `onDeleted`.
 */
export async function sweepScaleLeases(
  client: KubeClient,
  namespace: string,
  now: () => number,
  options: { timeoutMs?: number; maxDeletes?: number; onDeleted?: () => void; signal?: AbortSignal } = {},
): Promise<SweepResult> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxDeletes = options.maxDeletes ?? 1_000;
  let listed = 0;
  let deleted = 0;
  let skipped = 0;
  const expired: ExpiredScaleLease[] = [];
  let cont: string | undefined;
  do {
    const page = await client.request<{ items?: ScaleLeaseListItem[]; metadata?: { continue?: string } }>(
      'GET',
      leasePath(namespace),
      {
        query: { limit: 500, ...(cont ? { continue: cont } : {}) },
        timeoutMs,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
    );
    const items = page.items ?? [];
    listed += items.length;
    expired.push(...expiredScaleLeases(items, now()));
    cont = page.metadata?.continue || undefined;
  } while (cont !== undefined && expired.length < maxDeletes && options.signal?.aborted !== true);
  for (const lease of expired.slice(0, maxDeletes)) {
    if (options.signal?.aborted === true) break;
    try {
      await client.request('DELETE', leasePath(namespace, lease.name), {
        body: {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          preconditions: { uid: lease.uid, resourceVersion: lease.resourceVersion },
        },
        timeoutMs,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      deleted++;
      options.onDeleted?.();
    } catch (err) {
      const status = httpStatus(err);
      if (status === 409 || status === 404) skipped++;
      else throw toBackendError(err, `delete the cool-down Lease ${namespace}/${lease.name}`);
    }
  }
  return { listed, deleted, skipped };
}
