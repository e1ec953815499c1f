/**
 * The Lease that leader election holds: the fields it reads and writes (LeaseRecord), the API it needs
 * (LeaseClient, injectable so that unit tests use an in-memory one), and that API on a real cluster
 * (KubeLeaseClient: one coordination.k8s.io/v1 Lease, replaced with its resourceVersion).
 */

import type { V1Lease } from '@kubernetes/client-node';
import type { KubeClient } from '../kube/client.js';
import { httpStatus } from '../kube/errors.js';
import { microTime, parseMicroTime } from '../kube/microtime.js';
import type { Wire } from '../kube/types.js';

/** The fields of a Lease that leader election reads and writes. Times in ms since the epoch. */
export interface LeaseRecord {
  readonly holderIdentity?: string;
  readonly leaseDurationSeconds?: number;
  readonly acquireTime?: number;
  readonly renewTime?: number;
  readonly leaseTransitions?: number;
  /** The Lease object's resourceVersion (optimistic concurrency). */
  readonly resourceVersion?: string;
}

/** Someone else created or changed the Lease first. */
export class LeaseConflictError extends Error {
  constructor(message = 'the Lease was changed by someone else') {
    super(message);
    this.name = 'LeaseConflictError';
  }
}

export interface LeaseClient {
  /** The Lease, or undefined when it does not exist. */
  get(): Promise<LeaseRecord | undefined>;
  /** Creates the Lease; LeaseConflictError when it exists. */
  create(record: LeaseRecord): Promise<LeaseRecord>;
  /** Replaces the Lease if its resourceVersion is still `record.resourceVersion`; LeaseConflictError otherwise. */
  update(record: LeaseRecord): Promise<LeaseRecord>;
  /** Human-readable name for logs, e.g. kubemcp-system/kubemcp-operator. */
  readonly description: string;
  /** The Lease's namespace and name, for the remedies an error names. */
  readonly namespace?: string;
  readonly name?: string;
}

/** The LeaseClient of a real cluster: one Lease, read and replaced with its resourceVersion. */
export class KubeLeaseClient implements LeaseClient {
  readonly description: string;
  private readonly path: string;
  private readonly collection: string;

  constructor(
    private readonly client: KubeClient,
    readonly namespace: string,
    readonly name: string,
  ) {
    this.description = `${namespace}/${name}`;
    this.collection = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
    this.path = `${this.collection}/${encodeURIComponent(name)}`;
  }

  private toRecord(lease: Wire<V1Lease>): LeaseRecord {
    const spec = lease.spec ?? {};
    const acquire = parseMicroTime(spec.acquireTime as unknown);
    const renew = parseMicroTime(spec.renewTime as unknown);
    return {
      ...(spec.holderIdentity ? { holderIdentity: spec.holderIdentity } : {}),
      ...(spec.leaseDurationSeconds === undefined ? {} : { leaseDurationSeconds: spec.leaseDurationSeconds }),
      ...(acquire === undefined ? {} : { acquireTime: acquire }),
      ...(renew === undefined ? {} : { renewTime: renew }),
      ...(spec.leaseTransitions === undefined ? {} : { leaseTransitions: spec.leaseTransitions }),
      ...(lease.metadata?.resourceVersion ? { resourceVersion: lease.metadata.resourceVersion } : {}),
    };
  }

  private toLease(record: LeaseRecord): Wire<V1Lease> {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: this.name,
        namespace: this.namespace,
        ...(record.resourceVersion ? { resourceVersion: record.resourceVersion } : {}),
      },
      spec: {
        ...(record.holderIdentity ? { holderIdentity: record.holderIdentity } : {}),
        ...(record.leaseDurationSeconds === undefined
          ? {}
          : { leaseDurationSeconds: record.leaseDurationSeconds }),
        ...(record.acquireTime === undefined ? {} : { acquireTime: microTime(record.acquireTime) }),
        ...(record.renewTime === undefined ? {} : { renewTime: microTime(record.renewTime) }),
        ...(record.leaseTransitions === undefined ? {} : { leaseTransitions: record.leaseTransitions }),
      },
    };
  }

  async get(): Promise<LeaseRecord | undefined> {
    try {
      return this.toRecord(await this.client.request<Wire<V1Lease>>('GET', this.path));
    } catch (err) {
      if (httpStatus(err) === 404) return undefined;
      throw err;
    }
  }

  async create(record: LeaseRecord): Promise<LeaseRecord> {
    try {
      return this.toRecord(
        await this.client.request<Wire<V1Lease>>('POST', this.collection, { body: this.toLease(record) }),
      );
    } catch (err) {
      if (httpStatus(err) === 409) throw new LeaseConflictError('the Lease already exists');
      throw err;
    }
  }

  async update(record: LeaseRecord): Promise<LeaseRecord> {
    try {
      return this.toRecord(
        await this.client.request<Wire<V1Lease>>('PUT', this.path, { body: this.toLease(record) }),
      );
    } catch (err) {
      if (httpStatus(err) === 409) throw new LeaseConflictError();
      throw err;
    }
  }
}
