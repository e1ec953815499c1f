/**
 * The McpPolicy controller. It watches McpPolicies (cluster-scoped) and Namespaces and runs two kinds
 * of work through one serialized queue:
 *
 * - `index`: compiles ALL current policies and namespaces into a new PolicyIndex and publishes it
 *   (every replica does this: every replica enforces). Policies whose compiled state changed are
 *   queued for a status write.
 * - `status/<name>`: on the leader only, writes the status the policy's compiled state calls for
 *   through the status subresource (JSON merge patch), only when it differs from what the object
 *   shows, and records a Normal Accepted / Warning Invalid Event when its validity changes.
 *
 * Reconciles are idempotent and read only the watch caches: a missing object means "stop".
 */

import type { KubernetesObject, V1Namespace } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../api/v1alpha1/index.js';
import type { OperatorMetrics } from '../health/metrics.js';
import type { BackoffOptions } from '../kube/backoff.js';
import { type KubeClient, MERGE_PATCH } from '../kube/client.js';
import type { EventRecorder } from '../kube/events.js';
import { ResilientInformer } from '../kube/informer.js';
import { trimMetadata } from '../kube/trim.js';
import type { CacheHealth, Wire } from '../kube/types.js';
import { compile, type PolicyIndex } from '../policy/index.js';
import type { NamespaceInfo, PolicyState } from '../policy/types.js';
import { WorkQueue } from './queue.js';
import { desiredStatus, readStatus, stateEqual, statusEqual, validityEvent } from './status.js';
import type { PolicyStore } from './store.js';

/** An McpPolicy as the watch cache holds it (the spec is validated by compile, not here). */
export interface McpPolicyObject extends Wire<KubernetesObject> {
  spec?: unknown;
  status?: unknown;
}

export const INDEX_KEY = 'index';
const STATUS_PREFIX = 'status/';
type Key = string;

export const MCP_POLICIES_PATH = `/apis/${GROUP}/${VERSION}/${PLURAL}`;
export const DEFAULT_FIELD_MANAGER = 'kubemcp-operator';

export interface PolicyControllerOptions {
  readonly client: KubeClient;
  readonly store: PolicyStore;
  readonly logger?: Logger;
  readonly metrics?: OperatorMetrics;
  /** Whether this replica may write status and Events. Default: always (no leader election). */
  readonly isLeader?: () => boolean;
  /** A Namespace cache shared with the backend (started by its owner); default: the controller's own. */
  readonly namespaceInformer?: ResilientInformer<Wire<V1Namespace>>;
  /** Records the Accepted/Invalid Events; omit to record none. */
  readonly events?: EventRecorder;
  readonly fieldManager?: string;
  /** Reconnect backoff of the controller's own informers. */
  readonly watchBackoff?: BackoffOptions;
  /** Retry backoff of failed reconciles. */
  readonly retryBackoff?: BackoffOptions;
  readonly now?: () => number;
  /** The namespace the operator runs in: policies covering it get a Warnings condition. */
  readonly operatorNamespace?: string;
}

function labelsKey(labels: Readonly<Record<string, string>> | undefined): string {
  if (!labels) return '';
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export class PolicyController {
  private readonly store: PolicyStore;
  private readonly log: Logger | undefined;
  private readonly metrics: OperatorMetrics | undefined;
  private readonly isLeader: () => boolean;
  private readonly policies: ResilientInformer<McpPolicyObject>;
  private readonly namespaces: ResilientInformer<Wire<V1Namespace>>;
  private readonly ownsNamespaces: boolean;
  private readonly queue: WorkQueue<Key>;
  private readonly client: KubeClient;
  private readonly events: EventRecorder | undefined;
  private readonly fieldManager: string;
  private readonly now: () => number;
  private readonly operatorNamespace: string | undefined;
  /** Generation of each policy the last index was asked to reflect (to skip status-only updates). */
  private readonly generations = new Map<string, number | undefined>();
  /** Labels of each namespace as last seen (to skip updates that change no label). */
  private readonly namespaceLabels = new Map<string, string>();
  /** The status we last wrote per policy and the resourceVersion it was written over (cache lag guard). */
  private readonly written = new Map<string, { overResourceVersion: string | undefined; status: string }>();
  private started = false;
  private cachesSynced = false;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(options: PolicyControllerOptions) {
    this.store = options.store;
    this.log = options.logger?.child({ component: 'controller' });
    this.metrics = options.metrics;
    this.isLeader = options.isLeader ?? (() => true);
    this.events = options.events;
    this.fieldManager = options.fieldManager ?? DEFAULT_FIELD_MANAGER;
    this.now = options.now ?? Date.now;
    this.operatorNamespace = options.operatorNamespace;
    this.client = options.client;
    const common = {
      client: options.client,
      ...(options.watchBackoff ? { backoff: options.watchBackoff } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    };
    this.policies = new ResilientInformer<McpPolicyObject>({
      ...common,
      kind: 'mcppolicy',
      path: MCP_POLICIES_PATH,
      transform: trimMetadata,
    });
    this.ownsNamespaces = options.namespaceInformer === undefined;
    this.namespaces =
      options.namespaceInformer ??
      new ResilientInformer<Wire<V1Namespace>>({
        ...common,
        kind: 'namespace',
        path: '/api/v1/namespaces',
        transform: trimMetadata,
      });
    this.queue = new WorkQueue<Key>({
      handler: (key) => this.reconcile(key),
      concurrency: 4,
      ...(options.retryBackoff ? { backoff: options.retryBackoff } : {}),
      onError: (key, err, retryInMs) =>
        this.log?.warn(
          {
            key,
            err: err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err),
            retryInMs,
          },
          'reconcile failed; retrying',
        ),
    });
    if (this.metrics) {
      this.metrics.trackCache('mcppolicy', () => this.policies.health());
      this.metrics.trackCache('namespace', () => this.namespaces.health());
    }
  }

  /** Starts the watches; the first index is built once both caches have synced. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.unsubscribe.push(
      this.policies.on('add', (p) => this.onPolicy(p)),
      this.policies.on('update', (p) => this.onPolicy(p)),
      this.policies.on('delete', (p) => this.onPolicyDeleted(p)),
      this.namespaces.on('add', (ns) => this.onNamespace(ns)),
      this.namespaces.on('update', (ns) => this.onNamespace(ns)),
      this.namespaces.on('delete', (ns) => this.onNamespaceDeleted(ns)),
    );
    this.policies.start();
    if (this.ownsNamespaces) this.namespaces.start();
    void Promise.all([this.policies.synced(), this.namespaces.synced()]).then(() => {
      if (!this.started) return;
      this.cachesSynced = true;
      this.log?.info(
        { policies: this.policies.list().length, namespaces: this.namespaces.list().length },
        'caches synced',
      );
      this.queue.add(INDEX_KEY);
      this.queue.start();
    });
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    for (const off of this.unsubscribe.splice(0)) off();
    await this.queue.shutdown();
    await this.policies.stop();
    if (this.ownsNamespaces) await this.namespaces.stop();
  }

  /** True once the first index built from synced caches is published. */
  ready(): boolean {
    return this.store.ready;
  }

  /** Resolves when the first index is published. */
  async synced(timeoutMs = 30_000): Promise<void> {
    await this.store.waitFor(() => true, timeoutMs);
  }

  health(): { readonly mcppolicy: CacheHealth; readonly namespace: CacheHealth } {
    return { mcppolicy: this.policies.health(), namespace: this.namespaces.health() };
  }

  /** Queues a status check of every policy (e.g. on becoming leader). */
  resyncStatus(): void {
    if (!this.cachesSynced) return;
    for (const p of this.policies.list()) {
      const name = p.metadata?.name;
      if (name) this.queue.add(`${STATUS_PREFIX}${name}`);
    }
  }

  /** Resolves when no reconcile is queued or running (for tests and benchmarks). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private onPolicy(p: McpPolicyObject): void {
    const name = p.metadata?.name;
    if (!name) return;
    const generation = p.metadata?.generation;
    // A status-only update (our own write) changes no generation: no recompile, but check the status.
    if (!this.generations.has(name) || this.generations.get(name) !== generation) {
      this.generations.set(name, generation);
      this.queue.add(INDEX_KEY);
    }
    if (this.cachesSynced) this.queue.add(`${STATUS_PREFIX}${name}`);
  }

  private onPolicyDeleted(p: McpPolicyObject): void {
    const name = p.metadata?.name;
    if (!name) return;
    this.generations.delete(name);
    this.written.delete(name);
    this.queue.add(INDEX_KEY);
  }

  private onNamespace(ns: Wire<V1Namespace>): void {
    const name = ns.metadata?.name;
    if (!name) return;
    const key = labelsKey(ns.metadata?.labels);
    if (this.namespaceLabels.get(name) === key) return;
    this.namespaceLabels.set(name, key);
    this.queue.add(INDEX_KEY);
  }

  private onNamespaceDeleted(ns: Wire<V1Namespace>): void {
    const name = ns.metadata?.name;
    if (!name) return;
    this.namespaceLabels.delete(name);
    this.queue.add(INDEX_KEY);
  }

  private async reconcile(key: Key): Promise<void> {
    const controller = key === INDEX_KEY ? 'index' : 'status';
    const end = this.metrics?.reconcileDuration.startTimer({ controller });
    try {
      if (key === INDEX_KEY) this.rebuildIndex();
      else if (key.startsWith(STATUS_PREFIX)) await this.reconcileStatus(key.slice(STATUS_PREFIX.length));
      this.metrics?.reconciles.inc({ controller, result: 'success' });
    } catch (err) {
      this.metrics?.reconciles.inc({ controller, result: 'error' });
      this.metrics?.reconcileErrors.inc({ controller });
      throw err;
    } finally {
      end?.();
    }
  }

  /** Compiles every cached policy and namespace, publishes the index, queues changed statuses. */
  private rebuildIndex(): PolicyIndex {
    const policies = this.policies.list().flatMap((p) => {
      const name = p.metadata?.name;
      if (!name) return [];
      return [{ name, generation: p.metadata?.generation ?? 0, spec: p.spec }];
    });
    const namespaces: NamespaceInfo[] = this.namespaces.list().flatMap((ns) => {
      const name = ns.metadata?.name;
      return name ? [{ name, labels: ns.metadata?.labels ?? {} }] : [];
    });
    const previous = this.store.ready ? this.store.current() : undefined;
    const index = compile({
      policies,
      namespaces,
      ...(this.operatorNamespace === undefined ? {} : { operatorNamespace: this.operatorNamespace }),
    });
    const version = this.store.publish(index);
    let ready = 0;
    const changed: string[] = [];
    for (const [name, state] of index.states) {
      if (state.ready) ready++;
      if (!previous || !stateEqual(previous.states.get(name), state)) changed.push(name);
    }
    this.metrics?.policies.set({ state: 'ready' }, ready);
    this.metrics?.policies.set({ state: 'invalid' }, index.states.size - ready);
    this.metrics?.indexVersion.set(version);
    this.log?.debug(
      { version, policies: index.states.size, ready, namespaces: namespaces.length, changed: changed.length },
      'policy index published',
    );
    for (const name of changed) this.queue.add(`${STATUS_PREFIX}${name}`);
    return index;
  }

  private async reconcileStatus(name: string): Promise<void> {
    if (!this.isLeader()) return;
    const obj = this.policies.get(name);
    if (!obj) return; // deleted: nothing to do
    const state: PolicyState | undefined = this.store.current().states.get(name);
    if (!state) return; // the index has not seen it yet; rebuilding it queues this again
    if ((obj.metadata?.generation ?? 0) !== state.generation) return; // a rebuild is pending
    const current = readStatus(obj.status);
    const desired = desiredStatus(state, current, this.now());
    if (statusEqual(current, desired)) return;
    const serialized = JSON.stringify(desired);
    const resourceVersion = obj.metadata?.resourceVersion;
    const last = this.written.get(name);
    if (last && last.overResourceVersion === resourceVersion && last.status === serialized) {
      return; // our write is not in the cache yet
    }
    await this.client.request('PATCH', `${MCP_POLICIES_PATH}/${encodeURIComponent(name)}/status`, {
      body: { status: desired },
      contentType: MERGE_PATCH,
      query: { fieldManager: this.fieldManager },
    });
    this.written.set(name, { overResourceVersion: resourceVersion, status: serialized });
    this.metrics?.statusWrites.inc();
    this.log?.info(
      {
        policy: name,
        ready: state.ready,
        generation: state.generation,
        matchedNamespaces: state.matchedNamespaces,
        ...(state.warnings?.length ? { warnings: state.warnings.map((w) => w.code) } : {}),
      },
      'status written',
    );
    const event = validityEvent(current, desired);
    if (event && this.events) {
      await this.events.record({
        regarding: {
          apiVersion: API_VERSION,
          kind: KIND,
          name,
          ...(obj.metadata?.uid ? { uid: obj.metadata.uid } : {}),
        },
        type: event.type,
        reason: event.reason,
        action: 'Reconcile',
        note: event.note,
      });
    }
  }
}
