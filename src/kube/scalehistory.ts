/**
 * When did KubeMCP last scale an object? Kept in the cluster, not in a process's memory, so that
 * every replica of the operator sees the same answer: one coordination.k8s.io Lease per scaled
 * object (named after its uid) in the operator's own namespace, whose `spec.renewTime` is the time of
 * the last KubeMCP scale. The operator already may get, create and update Leases there (the leader
 * election Role): no new permission.
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
import { BackendError, type ScalableKind, type ScaleInfo } from './types.js';

export const SCALE_LEASE_PREFIX = 'kubemcp-scale-';
export const SCALE_LEASE_LABELS = {
  'app.kubernetes.io/managed-by': 'kubemcp',
  'kubemcp.io/purpose': 'scale-cooldown',
} as const;

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

interface LeaseWire {
  metadata?: { resourceVersion?: string };
  spec?: { renewTime?: string };
}

function leasePath(namespace: string, name?: string): string {
  const base = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
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
    if (httpStatus(err) === 409) {
      throw new BackendError('Conflict', `another scale of ${claim.object} was recorded first`, {
        cause: err,
      });
    }
    throw toBackendError(err, `record the scale of ${claim.object}`);
  }
}
