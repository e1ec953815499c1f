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
import {
  DELEGATION_KIND,
  DELEGATION_PLURAL,
  GROUP,
  KIND,
  NS_KIND,
  NS_PLURAL,
  PLURAL,
  VERSION,
} from '../api/v1alpha1/index.js';
import type { OperatorMetrics } from '../health/metrics.js';
import type { BackoffOptions } from '../kube/backoff.js';
import type { KubeClient } from '../kube/client.js';
import type { EventRecorder } from '../kube/events.js';
import { ResilientInformer } from '../kube/informer.js';
import { trimMetadata, trimPolicyObject } from '../kube/trim.js';
import type { CacheHealth, Wire } from '../kube/types.js';
import { CompileMemo, compile, type PolicyIndex } from '../policy/index.js';
import type { PolicyState } from '../policy/types.js';
import {
  DELEGATION_STATUS_PREFIX,
  delegationKey,
  NS_STATUS_PREFIX,
  namespacedKey,
  type ObjectKey,
  policyKey,
  STATUS_PREFIX,
} from './keys.js';
import { WorkQueue } from './queue.js';
import { changedStatusKeys, compileInputOf, labelsKey } from './rebuild.js';
import { type StatusTarget, StatusWriter, targetOf } from './statuswriter.js';
import type { PolicyStore } from './store.js';

/** An McpPolicy as the watch cache holds it (the spec is validated by compile, not here). */
export interface McpPolicyObject extends Wire<KubernetesObject> {
  spec?: unknown;
  status?: unknown;
}

export const INDEX_KEY = 'index';

type Key = string;

export const MCP_POLICIES_PATH = `/apis/${GROUP}/${VERSION}/${PLURAL}`;
/** Every McpNamespacePolicy of every namespace (the watch); one namespace's: {@link namespacePoliciesPath}. */
export const MCP_NAMESPACE_POLICIES_PATH = `/apis/${GROUP}/${VERSION}/${NS_PLURAL}`;
export const MCP_DELEGATIONS_PATH = `/apis/${GROUP}/${VERSION}/${DELEGATION_PLURAL}`;

export function namespacePoliciesPath(namespace: string): string {
  return `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(namespace)}/${NS_PLURAL}`;
}
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

export class PolicyController {
  private readonly store: PolicyStore;
  private readonly log: Logger | undefined;
  private readonly metrics: OperatorMetrics | undefined;
  private readonly isLeader: () => boolean;
  private readonly policies: ResilientInformer<McpPolicyObject>;
  private readonly namespacePolicies: ResilientInformer<McpPolicyObject>;
  private readonly delegations: ResilientInformer<McpPolicyObject>;
  private readonly namespaces: ResilientInformer<Wire<V1Namespace>>;
  private readonly ownsNamespaces: boolean;
  private readonly queue: WorkQueue<Key>;
  private readonly statusWriter: StatusWriter;
  private readonly operatorNamespace: string | undefined;
  /** Generation of each object (by status key) the last index was asked to reflect (to skip status-only updates). */
  private readonly generations = new Map<string, number | undefined>();
  /** Labels of each namespace as last seen (to skip updates that change no label). */
  private readonly namespaceLabels = new Map<string, string>();
  /** What a rebuild reuses of the last: an edit of one policy compiles that policy only. */
  private readonly memo = new CompileMemo();
  private started = false;
  private cachesSynced = false;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(options: PolicyControllerOptions) {
    this.store = options.store;
    this.log = options.logger?.child({ component: 'controller' });
    this.metrics = options.metrics;
    this.isLeader = options.isLeader ?? (() => true);
    this.operatorNamespace = options.operatorNamespace;
    this.statusWriter = new StatusWriter({
      client: options.client,
      fieldManager: options.fieldManager ?? DEFAULT_FIELD_MANAGER,
      now: options.now ?? Date.now,
      ...(options.events ? { events: options.events } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
      ...(this.log ? { log: this.log } : {}),
    });
    const common = {
      client: options.client,
      ...(options.watchBackoff ? { backoff: options.watchBackoff } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    };
    this.policies = new ResilientInformer<McpPolicyObject>({
      ...common,
      kind: 'mcppolicy',
      path: MCP_POLICIES_PATH,
      transform: trimPolicyObject,
    });
    this.namespacePolicies = new ResilientInformer<McpPolicyObject>({
      ...common,
      kind: 'mcpnamespacepolicy',
      path: MCP_NAMESPACE_POLICIES_PATH,
      transform: trimPolicyObject,
    });
    this.delegations = new ResilientInformer<McpPolicyObject>({
      ...common,
      kind: 'mcpdelegation',
      path: MCP_DELEGATIONS_PATH,
      transform: trimPolicyObject,
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
      this.metrics.trackCache('mcpnamespacepolicy', () => this.namespacePolicies.health());
      this.metrics.trackCache('mcpdelegation', () => this.delegations.health());
      this.metrics.trackCache('namespace', () => this.namespaces.health());
    }
  }

  /** Starts the watches; the first index is built once both caches have synced. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.unsubscribe.push(
      this.policies.on('add', (p) => this.onObject(policyKey(p))),
      this.policies.on('update', (p) => this.onObject(policyKey(p))),
      this.policies.on('delete', (p) => this.onObjectDeleted(policyKey(p))),
      this.namespacePolicies.on('add', (p) => this.onObject(namespacedKey(p))),
      this.namespacePolicies.on('update', (p) => this.onObject(namespacedKey(p))),
      this.namespacePolicies.on('delete', (p) => this.onObjectDeleted(namespacedKey(p))),
      this.delegations.on('add', (p) => this.onObject(delegationKey(p))),
      this.delegations.on('update', (p) => this.onObject(delegationKey(p))),
      this.delegations.on('delete', (p) => this.onObjectDeleted(delegationKey(p))),
      this.namespaces.on('add', (ns) => this.onNamespace(ns)),
      this.namespaces.on('update', (ns) => this.onNamespace(ns)),
      this.namespaces.on('delete', (ns) => this.onNamespaceDeleted(ns)),
    );
    this.policies.start();
    this.namespacePolicies.start();
    this.delegations.start();
    if (this.ownsNamespaces) this.namespaces.start();
    void Promise.all([
      this.policies.synced(),
      this.namespacePolicies.synced(),
      this.delegations.synced(),
      this.namespaces.synced(),
    ]).then(() => {
      if (!this.started) return;
      this.cachesSynced = true;
      this.log?.info(
        {
          policies: this.policies.list().length,
          namespacePolicies: this.namespacePolicies.list().length,
          delegations: this.delegations.list().length,
          namespaces: this.namespaces.list().length,
        },
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
    await this.namespacePolicies.stop();
    await this.delegations.stop();
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

  health(): {
    readonly mcppolicy: CacheHealth;
    readonly mcpnamespacepolicy: CacheHealth;
    readonly mcpdelegation: CacheHealth;
    readonly namespace: CacheHealth;
  } {
    return {
      mcppolicy: this.policies.health(),
      mcpnamespacepolicy: this.namespacePolicies.health(),
      mcpdelegation: this.delegations.health(),
      namespace: this.namespaces.health(),
    };
  }

  /** Queues a status check of every policy (e.g. on becoming leader). */
  resyncStatus(): void {
    if (!this.cachesSynced) return;
    for (const p of this.policies.list()) this.queueKey(policyKey(p));
    for (const p of this.namespacePolicies.list()) this.queueKey(namespacedKey(p));
    for (const p of this.delegations.list()) this.queueKey(delegationKey(p));
  }

  /** Resolves when no reconcile is queued or running (for tests and benchmarks). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private queueKey(entry: ObjectKey | undefined): void {
    if (entry) this.queue.add(entry.key);
  }

  private onObject(entry: ObjectKey | undefined): void {
    if (!entry) return;
    // A status-only update (our own write) changes no generation: no recompile, but check the status.
    if (!this.generations.has(entry.key) || this.generations.get(entry.key) !== entry.generation) {
      this.generations.set(entry.key, entry.generation);
      this.queue.add(INDEX_KEY);
    }
    if (this.cachesSynced) this.queue.add(entry.key);
  }

  private onObjectDeleted(entry: ObjectKey | undefined): void {
    if (!entry) return;
    this.generations.delete(entry.key);
    this.statusWriter.forget(entry.key);
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
      else await this.reconcileStatus(key);
      this.metrics?.reconciles.inc({ controller, result: 'success' });
    } catch (err) {
      this.metrics?.reconciles.inc({ controller, result: 'error' });
      this.metrics?.reconcileErrors.inc({ controller });
      throw err;
    } finally {
      end?.();
    }
  }

  /** Compiles every cached policy, delegation and namespace, publishes the index, queues changed statuses. */
  private rebuildIndex(): PolicyIndex {
    const input = compileInputOf({
      policies: this.policies.list(),
      namespacePolicies: this.namespacePolicies.list(),
      delegations: this.delegations.list(),
      namespaces: this.namespaces.list(),
    });
    const previous = this.store.ready ? this.store.current() : undefined;
    const index = compile({
      ...input,
      ...(this.operatorNamespace === undefined ? {} : { operatorNamespace: this.operatorNamespace }),
      memo: this.memo,
    });
    const version = this.store.publish(index);
    let ready = 0;
    for (const state of index.states.values()) if (state.ready) ready++;
    const changed = changedStatusKeys(previous, index);
    this.metrics?.policies.set({ state: 'ready' }, ready);
    this.metrics?.policies.set({ state: 'invalid' }, index.states.size - ready);
    this.metrics?.indexVersion.set(version);
    this.log?.debug(
      {
        version,
        policies: index.states.size,
        ready,
        namespaces: input.namespaces.length,
        changed: changed.length,
      },
      'policy index published',
    );
    for (const key of changed) this.queue.add(key);
    return index;
  }

  /** The cached object and compiled state a status key names, or undefined when either is missing. */
  private statusTarget(key: string): { target: StatusTarget; state: PolicyState } | undefined {
    const index = this.store.current();
    let obj: McpPolicyObject | undefined;
    let state: PolicyState | undefined;
    let kind: string;
    let collection: string;
    if (key.startsWith(STATUS_PREFIX)) {
      const name = key.slice(STATUS_PREFIX.length);
      [obj, state, kind, collection] = [
        this.policies.get(name),
        index.states.get(name),
        KIND,
        MCP_POLICIES_PATH,
      ];
    } else if (key.startsWith(NS_STATUS_PREFIX)) {
      const id = key.slice(NS_STATUS_PREFIX.length);
      const slash = id.indexOf('/');
      const namespace = id.slice(0, slash);
      obj = this.namespacePolicies.get(id.slice(slash + 1), namespace);
      [state, kind, collection] = [index.states.get(id), NS_KIND, namespacePoliciesPath(namespace)];
    } else if (key.startsWith(DELEGATION_STATUS_PREFIX)) {
      const name = key.slice(DELEGATION_STATUS_PREFIX.length);
      obj = this.delegations.get(name);
      [state, kind, collection] = [index.delegations.get(name), DELEGATION_KIND, MCP_DELEGATIONS_PATH];
    } else return undefined;
    const target = obj && targetOf(kind, collection, obj);
    // Deleted, or not in the index yet (a rebuild queues it again).
    return target && state ? { target, state } : undefined;
  }

  private async reconcileStatus(key: string): Promise<void> {
    if (!this.isLeader()) return;
    const found = this.statusTarget(key);
    if (found) await this.statusWriter.write(key, found.target, found.state);
  }
}
