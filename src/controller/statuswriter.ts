/**
 * Writes the status a compiled state calls for onto one object of the kubemcp.io group (McpPolicy,
 * McpNamespacePolicy or McpDelegation) through its status subresource, only when it differs from what
 * the object shows, and records the Event a change of validity calls for.
 */

import type { Logger } from 'pino';
import { API_VERSION } from '../api/v1alpha1/index.js';
import type { OperatorMetrics } from '../health/metrics.js';
import { type KubeClient, MERGE_PATCH } from '../kube/client.js';
import type { EventRecorder } from '../kube/events.js';
import type { PolicyState } from '../policy/types.js';
import { desiredStatus, readStatus, statusEqual, validityEvent } from './status.js';

/** One object whose status to check: where it lives and what the watch cache shows. */
export interface StatusTarget {
  readonly kind: string;
  /** The collection path, e.g. /apis/kubemcp.io/v1alpha1/namespaces/team-a/mcpnamespacepolicies. */
  readonly collection: string;
  readonly name: string;
  readonly namespace?: string;
  readonly generation: number;
  readonly resourceVersion?: string;
  readonly uid?: string;
  readonly status: unknown;
}

/** The status target of a cached object (undefined without a name). */
export function targetOf(
  kind: string,
  collection: string,
  obj: { metadata?: ObjectMeta; status?: unknown },
): StatusTarget | undefined {
  const meta = obj.metadata;
  if (!meta?.name) return undefined;
  return {
    kind,
    collection,
    name: meta.name,
    ...(meta.namespace ? { namespace: meta.namespace } : {}),
    generation: meta.generation ?? 0,
    ...(meta.resourceVersion ? { resourceVersion: meta.resourceVersion } : {}),
    ...(meta.uid ? { uid: meta.uid } : {}),
    status: obj.status,
  };
}

interface ObjectMeta {
  readonly name?: string;
  readonly namespace?: string;
  readonly generation?: number;
  readonly resourceVersion?: string;
  readonly uid?: string;
}

export interface StatusWriterOptions {
  readonly client: KubeClient;
  readonly fieldManager: string;
  readonly now: () => number;
  readonly events?: EventRecorder;
  readonly metrics?: OperatorMetrics;
  readonly log?: Logger;
}

export class StatusWriter {
  /**
   * The status we last wrote per object and the resourceVersion it was written over (cache lag
   * guard), until the cache shows it: 10,000 policies do not keep 10,000 serialized statuses.
   */
  private readonly written = new Map<string, { overResourceVersion: string | undefined; status: string }>();

  constructor(private readonly options: StatusWriterOptions) {}

  /** How many writes the cache does not show yet. */
  get unseenWrites(): number {
    return this.written.size;
  }

  forget(key: string): void {
    this.written.delete(key);
  }

  /** Writes `state` onto `target` when its status differs; `key` identifies the object. */
  async write(key: string, target: StatusTarget, state: PolicyState): Promise<void> {
    if (target.generation !== state.generation) return; // a rebuild is pending
    const { client, fieldManager, events, metrics, log } = this.options;
    const current = readStatus(target.status);
    const desired = desiredStatus(state, current, this.options.now());
    if (statusEqual(current, desired)) {
      this.written.delete(key); // the cache shows it: nothing left to guard
      return;
    }
    const serialized = JSON.stringify(desired);
    const last = this.written.get(key);
    if (last && last.overResourceVersion === target.resourceVersion && last.status === serialized) {
      return; // our write is not in the cache yet
    }
    await client.request('PATCH', `${target.collection}/${encodeURIComponent(target.name)}/status`, {
      body: { status: desired },
      contentType: MERGE_PATCH,
      query: { fieldManager },
    });
    this.written.set(key, { overResourceVersion: target.resourceVersion, status: serialized });
    metrics?.statusWrites.inc();
    log?.info(
      {
        kind: target.kind,
        policy: target.name,
        ...(target.namespace === undefined ? {} : { namespace: target.namespace }),
        ready: state.ready,
        reason: state.reason,
        generation: state.generation,
        matchedNamespaces: state.matchedNamespaces,
        ...(state.warnings?.length ? { warnings: state.warnings.map((w) => w.code) } : {}),
      },
      'status written',
    );
    const event = validityEvent(current, desired);
    if (event && events) {
      await events.record({
        regarding: {
          apiVersion: API_VERSION,
          kind: target.kind,
          name: target.name,
          ...(target.namespace === undefined ? {} : { namespace: target.namespace }),
          ...(target.uid ? { uid: target.uid } : {}),
        },
        type: event.type,
        reason: event.reason,
        action: 'Reconcile',
        note: event.note,
      });
    }
  }
}
