/**
 * The ClusterBackend of a real cluster: list/get from resilient watch caches (namespaces, pods,
 * deployments, statefulsets, services), the /scale subresource for reads and writes, and Events on
 * scaled objects. It knows nothing of policy: only the MCP layer's GuardedClient may hold it.
 */

import os from 'node:os';
import type { V1Scale } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { attr, type Span } from '../telemetry/index.js';
import { type AccessAnswer, type AccessQuestion, subjectAccessReview } from './access.js';
import type { BackoffOptions } from './backoff.js';
import { type KubeClient, KubeTimeoutError } from './client.js';
import { failureText, toBackendError, writeMayHaveApplied } from './errors.js';
import { EventRecorder } from './events.js';
import { ResilientInformer } from './informer.js';
import { claimScale, readScaleHistory, type ScaleClaim, type ScaleHistory } from './scalehistory.js';
import { compactObject, trimMetadata, trimPod, trimWorkload } from './trim.js';
import {
  BackendError,
  type CachedKind,
  type CacheHealth,
  type ClusterBackend,
  type KindMap,
  type ListSnapshot,
  type NamespacedKind,
  type ScalableKind,
  type ScaleEvent,
  type ScaleInfo,
  type SortedSnapshot,
  type WriteScaleOptions,
} from './types.js';

/** The field manager of every /scale write KubeMCP makes. */
export const SCALE_FIELD_MANAGER = 'kubemcp';

export const CACHED_KINDS: readonly CachedKind[] = [
  'namespace',
  'pod',
  'deployment',
  'statefulset',
  'service',
];

export interface KubeBackendOptions {
  readonly client: KubeClient;
  readonly logger?: Logger;
  /** reportingInstance of the Events this backend records. Default: the hostname. */
  readonly reportingInstance?: string;
  /** Reconnect backoff of the informers. */
  readonly backoff?: BackoffOptions;
  /** Namespace of the Leases that record each object's last KubeMCP scale (cool-downs). Default kubemcp-system. */
  readonly scaleLeaseNamespace?: string;
  /** Upper bound of a /scale read, in ms. Default 10 s. */
  readonly readTimeoutMs?: number;
  /**
   * Upper bound of a /scale write, in ms. Default 10 s. A write cut short may still have been applied:
   * the error says the outcome is unknown and to read the replicas again.
   */
  readonly writeTimeoutMs?: number;
  /** Called when any cache's health changes. */
  readonly onHealthChange?: (kind: CachedKind, health: CacheHealth) => void;
  readonly now?: () => number;
}

type Informers = { readonly [K in CachedKind]: ResilientInformer<KindMap[K]> };

const WORKLOAD: Record<ScalableKind, { kind: string; resource: string }> = {
  deployment: { kind: 'Deployment', resource: 'deployments' },
  statefulset: { kind: 'StatefulSet', resource: 'statefulsets' },
};

/** The /scale subresource of a workload. */
function scalePath(kind: ScalableKind, namespace: string, name: string): string {
  return `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/${WORKLOAD[kind].resource}/${encodeURIComponent(name)}/scale`;
}

export class KubeBackend implements ClusterBackend {
  private readonly informers: Informers;
  private readonly client: KubeClient;
  private readonly events: EventRecorder;
  private readonly log: Logger | undefined;
  private readonly readTimeoutMs: number;
  private readonly writeTimeoutMs: number;
  private readonly scaleLeaseNamespace: string;
  private readonly instance: string;

  constructor(options: KubeBackendOptions) {
    this.client = options.client;
    this.log = options.logger?.child({ component: 'backend' });
    this.readTimeoutMs = options.readTimeoutMs ?? 10_000;
    this.writeTimeoutMs = options.writeTimeoutMs ?? 10_000;
    this.scaleLeaseNamespace = options.scaleLeaseNamespace ?? 'kubemcp-system';
    this.instance = options.reportingInstance ?? os.hostname();
    this.events = new EventRecorder(
      options.client,
      options.reportingInstance ?? os.hostname(),
      options.logger,
    );
    const make = <K extends CachedKind>(
      kind: K,
      path: string,
      trim: (o: KindMap[K]) => KindMap[K],
    ): ResilientInformer<KindMap[K]> =>
      new ResilientInformer<KindMap[K]>({
        client: options.client,
        kind,
        path,
        transform: (o) => compactObject(trim(o)),
        ...(options.backoff ? { backoff: options.backoff } : {}),
        ...(options.logger ? { logger: options.logger } : {}),
        ...(options.now ? { now: options.now } : {}),
        ...(options.onHealthChange
          ? { onHealthChange: (h: CacheHealth) => options.onHealthChange?.(kind, h) }
          : {}),
      });
    this.informers = {
      namespace: make('namespace', '/api/v1/namespaces', trimMetadata),
      pod: make('pod', '/api/v1/pods', trimPod),
      deployment: make('deployment', '/apis/apps/v1/deployments', trimWorkload),
      statefulset: make('statefulset', '/apis/apps/v1/statefulsets', trimWorkload),
      service: make('service', '/api/v1/services', trimMetadata),
    };
  }

  /** Starts every informer in the background (list, then watch; retried with backoff). */
  start(): void {
    for (const kind of CACHED_KINDS) this.informers[kind].start();
  }

  /** Resolves when every cache has synced once. */
  async synced(): Promise<void> {
    await Promise.all(CACHED_KINDS.map((k) => this.informers[k].synced()));
  }

  /** Rejects when a cache has not synced within `timeoutMs`. */
  async waitForSync(timeoutMs: number): Promise<void> {
    await Promise.all(CACHED_KINDS.map((k) => this.informers[k].waitForSync(timeoutMs)));
  }

  isSynced(): boolean {
    return CACHED_KINDS.every((k) => this.informers[k].health().synced);
  }

  async stop(): Promise<void> {
    await Promise.all(CACHED_KINDS.map((k) => this.informers[k].stop()));
  }

  /** The informer behind a kind, e.g. to share the Namespace cache with the controller. */
  informer<K extends CachedKind>(kind: K): ResilientInformer<KindMap[K]> {
    return this.informers[kind] as ResilientInformer<KindMap[K]>;
  }

  health(kind: CachedKind): CacheHealth {
    return this.informers[kind].health();
  }

  list<K extends CachedKind>(kind: K): ListSnapshot<K> {
    const informer = this.informer(kind);
    return { items: informer.list(), health: informer.health() };
  }

  listSorted<K extends NamespacedKind>(kind: K): SortedSnapshot<K> {
    const informer = this.informer(kind);
    return {
      namespaces: informer.namespaces(),
      inNamespace: (namespace) => informer.sortedInNamespace(namespace),
      health: informer.health(),
    };
  }

  get<K extends CachedKind>(kind: K, namespace: string, name: string): KindMap[K] | undefined {
    const informer = this.informer(kind);
    return kind === 'namespace' ? informer.get(name) : informer.get(name, namespace);
  }

  private cachedReady(kind: ScalableKind, namespace: string, name: string): number | undefined {
    const obj = this.informers[kind].get(name, namespace) as
      | { status?: { readyReplicas?: number } }
      | undefined;
    return obj?.status?.readyReplicas ?? (obj ? 0 : undefined);
  }

  private scaleInfo(kind: ScalableKind, namespace: string, name: string, scale: V1Scale): ScaleInfo {
    const ready = this.cachedReady(kind, namespace, name);
    return {
      replicas: scale.spec?.replicas ?? 0,
      resourceVersion: scale.metadata?.resourceVersion ?? '',
      ...(ready === undefined ? {} : { readyReplicas: ready }),
      ...(scale.metadata?.uid === undefined ? {} : { uid: scale.metadata.uid }),
    };
  }

  async readScale(kind: ScalableKind, namespace: string, name: string, trace?: Span): Promise<ScaleInfo> {
    const what = `read the scale of ${WORKLOAD[kind].resource} ${namespace}/${name}`;
    try {
      const scale = await this.client.request<V1Scale>('GET', scalePath(kind, namespace, name), {
        timeoutMs: this.readTimeoutMs,
        trace,
      });
      return this.scaleInfo(kind, namespace, name, scale);
    } catch (err) {
      throw toBackendError(err, what);
    }
  }

  async writeScale(
    kind: ScalableKind,
    namespace: string,
    name: string,
    replicas: number,
    resourceVersion: string,
    options: WriteScaleOptions = {},
  ): Promise<ScaleInfo> {
    const what = `${options.dryRun === true ? 'dry-run ' : ''}scale ${WORKLOAD[kind].resource} ${namespace}/${name} to ${replicas}`;
    if (!Number.isSafeInteger(replicas) || replicas < 0) {
      throw new BackendError('Invalid', `${what}: replicas must be a whole number ≥ 0`);
    }
    if (resourceVersion === '') {
      throw new BackendError('Invalid', `${what}: a resourceVersion is required (read the scale first)`);
    }
    const body: V1Scale = {
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      metadata: { name, namespace, resourceVersion },
      spec: { replicas },
    };
    try {
      // fieldManager names the writer in the object's managedFields.
      const scale = await this.client.request<V1Scale>('PUT', scalePath(kind, namespace, name), {
        body,
        query: { fieldManager: SCALE_FIELD_MANAGER, ...(options.dryRun === true ? { dryRun: 'All' } : {}) },
        timeoutMs: this.writeTimeoutMs,
        trace: options.trace,
      });
      this.log?.debug({ kind, namespace, name, replicas, dryRun: options.dryRun === true }, 'scaled');
      return this.scaleInfo(kind, namespace, name, scale);
    } catch (err) {
      if (err instanceof KubeTimeoutError) {
        // The request was sent: the API server may have applied it after we stopped waiting.
        throw new BackendError(
          'Unavailable',
          `${what}: no answer from the API server within ${err.timeoutMs} ms; the outcome is unknown (the scale may or may not have been applied): read the current replicas again before retrying`,
          { cause: err, outcomeUnknown: true },
        );
      }
      if (writeMayHaveApplied(err)) {
        // The request may have reached the API server (the connection broke before the answer, or
        // the server failed after accepting it): saying "nothing was changed" could be false.
        throw new BackendError(
          'Unavailable',
          `${what}: ${failureText(err)}; the outcome is unknown (the scale may or may not have been applied): read the current replicas again before retrying`,
          { cause: err, outcomeUnknown: true },
        );
      }
      throw toBackendError(err, what);
    }
  }

  reviewAccess(question: AccessQuestion, trace?: Span): Promise<AccessAnswer> {
    return subjectAccessReview(this.client, question, this.readTimeoutMs, trace);
  }

  async readScaleHistory(
    kind: ScalableKind,
    namespace: string,
    name: string,
    trace?: Span,
  ): Promise<ScaleHistory> {
    const scale = await this.readScale(kind, namespace, name, trace);
    return readScaleHistory(
      this.client,
      this.scaleLeaseNamespace,
      kind,
      namespace,
      name,
      scale,
      this.readTimeoutMs,
      trace,
    );
  }

  claimScale(claim: ScaleClaim, at: number, cooldownSeconds: number, trace?: Span): Promise<void> {
    return claimScale(this.client, claim, at, this.instance, cooldownSeconds, this.readTimeoutMs, trace);
  }

  async recordScaleEvent(event: ScaleEvent, trace?: Span): Promise<void> {
    try {
      const recorded = await this.events.record(
        {
          regarding: {
            apiVersion: 'apps/v1',
            kind: WORKLOAD[event.kind].kind,
            name: event.name,
            namespace: event.namespace,
            ...(event.uid === undefined ? {} : { uid: event.uid }),
          },
          type: 'Normal',
          reason: 'Scaled',
          action: 'Scale',
          note: `scaled by ${event.caller} via McpPolicy ${event.policy} from ${event.from} to ${event.to}`,
        },
        trace,
      );
      trace?.setAttribute(attr.EVENT_RECORDED, recorded);
    } catch {
      // EventRecorder never throws; this guards the contract.
    }
  }
}
