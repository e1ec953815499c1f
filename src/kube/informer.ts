/**
 * A watch cache that survives API server outages. client-node 1.4's ListWatch (makeInformer) stops
 * for good on any watch or list error other than 410 Gone; this wrapper restarts it with capped,
 * jittered exponential backoff, tracks whether the cache is connected and synced (CacheHealth), trims
 * every object before it is stored, and hands out a stable snapshot array for cheap lists.
 *
 * Objects are indexed by namespace and name (get is O(1)). Cached objects are shared: never mutate.
 */

import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  Watch,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Backoff, type BackoffOptions } from './backoff.js';
import type { CacheHealth } from './types.js';

export type InformerEvent = 'add' | 'update' | 'delete';
export type ObjectHandler<T> = (obj: T) => void;

export interface InformerOptions<T extends KubernetesObject> {
  readonly kubeConfig: KubeConfig;
  /** A short name for logs and metrics, e.g. `pod`. */
  readonly kind: string;
  /** Collection path to watch, e.g. `/api/v1/pods`. */
  readonly path: string;
  /**
   * Lists the collection (the typed client-node call). It is asked for pages of `page.limit` objects
   * (the API server's chunked list, as client-go's informers do) and called again with the returned
   * `continue` token until there is none; a list function that ignores `page` returns everything at once.
   */
  readonly list: (page: ListPage) => Promise<KubernetesListObject<T>>;
  /** Objects per list page (default 500). */
  readonly listPageSize?: number;
  /** Turns a watched object (plain JSON) into the type the list returns, e.g. typed client-node models. */
  readonly fromWatch?: (raw: unknown) => T;
  /** Trims each object before it is cached (listed and watched alike). */
  readonly transform?: (obj: T) => T;
  readonly labelSelector?: string;
  readonly backoff?: BackoffOptions;
  readonly logger?: Logger;
  /** Clock in ms; injectable for tests. */
  readonly now?: () => number;
  /** Called whenever health changes (connected / synced flips). */
  readonly onHealthChange?: (health: CacheHealth) => void;
}

/** One page request of a chunked list. */
export interface ListPage {
  readonly limit: number;
  /** The `continue` token of the previous page; absent for the first. */
  readonly continue?: string;
}

/** client-go's informer page size. */
const DEFAULT_LIST_PAGE_SIZE = 500;

type WatchCallback = (phase: string, apiObj: unknown, watchObj?: unknown) => void;
type DoneCallback = (err: unknown) => void;

/** The Watch ListWatch talks to: adds bookmarks, transforms objects and reports connection state. */
class TrackingWatch extends Watch {
  constructor(
    kc: KubeConfig,
    private readonly hooks: {
      stopped(): boolean;
      event(phase: string, obj: unknown): unknown;
      established(): void;
      ended(err: unknown): void;
    },
  ) {
    super(kc);
  }

  override async watch(
    path: string,
    queryParams: Record<string, unknown>,
    callback: WatchCallback,
    done: DoneCallback,
  ): Promise<AbortController> {
    if (this.hooks.stopped()) {
      // Stopped while a list was in flight: start no watch (ListWatch stays idle).
      const idle = new AbortController();
      idle.abort();
      return idle;
    }
    let ended = false;
    const controller = await super.watch(
      path,
      { ...queryParams, allowWatchBookmarks: true },
      (phase, obj, watchObj) => callback(phase, this.hooks.event(phase, obj), watchObj),
      (err) => {
        ended = true;
        this.hooks.ended(err);
        done(err);
      },
    );
    if (!ended) this.hooks.established();
    return controller;
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code =
      (err as { statusCode?: number; code?: number | string }).statusCode ?? (err as { code?: unknown }).code;
    const first = err.message.split('\n')[0] ?? err.message;
    return code === undefined ? first : `${first} (${String(code)})`;
  }
  return String(err);
}

export class ResilientInformer<T extends KubernetesObject> {
  readonly kind: string;
  private readonly inner: ListWatch<T>;
  private readonly backoff: Backoff;
  private readonly now: () => number;
  private readonly log: Logger | undefined;
  private readonly handlers: Record<InformerEvent, Set<ObjectHandler<T>>> = {
    add: new Set(),
    update: new Set(),
    delete: new Set(),
  };
  private snapshot: readonly T[] | undefined;
  /** Per-namespace views sorted by name, built on demand, dropped when that namespace changes. */
  private readonly sortedByNamespace = new Map<string, readonly T[]>();
  /** Cached objects per namespace (kept from add/delete events), for the sorted namespace list. */
  private readonly namespaceSizes = new Map<string, number>();
  private namespaceOrder: readonly string[] | undefined;
  private started = false;
  private stopped = false;
  private connected = false;
  private hasSynced = false;
  private listedOnce = false;
  private lastGood: number | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private resolveSynced!: () => void;
  private readonly syncedPromise: Promise<void>;
  private restartCount = 0;
  private lastError: string | undefined;

  constructor(private readonly options: InformerOptions<T>) {
    this.kind = options.kind;
    this.now = options.now ?? Date.now;
    this.log = options.logger?.child({ component: 'informer', kind: options.kind });
    this.backoff = new Backoff(options.backoff);
    this.syncedPromise = new Promise<void>((resolve) => {
      this.resolveSynced = resolve;
    });
    const transform = options.transform ?? ((o: T) => o);
    const fromWatch = options.fromWatch ?? ((raw: unknown) => raw as T);
    const watch = new TrackingWatch(options.kubeConfig, {
      stopped: () => this.stopped,
      event: (phase, obj) => {
        if (phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED') {
          this.markGood();
          return transform(fromWatch(obj));
        }
        if (phase === 'BOOKMARK') this.markGood();
        return obj;
      },
      established: () => this.onEstablished(),
      ended: (err) => {
        // A clean close (the server's watch timeout) is routine: ListWatch re-watches at once.
        if (err === null || err === undefined) this.markGood();
      },
    });
    const limit = options.listPageSize ?? DEFAULT_LIST_PAGE_SIZE;
    const list = async (): Promise<KubernetesListObject<T>> => {
      // Page by page, each page trimmed before the next is fetched: the first sync of a large cluster
      // never holds the whole list's JSON, parsed and typed copies at once (a continue token that
      // expired mid-way fails the list, and the informer retries from scratch).
      const items: T[] = [];
      let token: string | undefined;
      let result: KubernetesListObject<T>;
      do {
        result = await options.list(token === undefined ? { limit } : { limit, continue: token });
        for (const o of result.items ?? []) items.push(transform(o));
        token = result.metadata?._continue || undefined;
      } while (token !== undefined);
      result.items = items;
      this.listedOnce = true;
      this.markGood();
      return result;
    };
    this.inner = new ListWatch<T>(options.path, watch, list, false, options.labelSelector);
    const invalidate = (obj: T, sizeChange: number): void => {
      this.snapshot = undefined;
      const namespace = obj.metadata?.namespace ?? '';
      this.sortedByNamespace.delete(namespace);
      if (sizeChange === 0) return;
      const size = (this.namespaceSizes.get(namespace) ?? 0) + sizeChange;
      if (size > 0) this.namespaceSizes.set(namespace, size);
      else this.namespaceSizes.delete(namespace);
      if (size === 0 || size === sizeChange) this.namespaceOrder = undefined;
    };
    this.inner.on('add', (obj) => {
      invalidate(obj, 1);
      for (const h of this.handlers.add) this.safely(h, obj);
    });
    this.inner.on('update', (obj) => {
      invalidate(obj, 0);
      for (const h of this.handlers.update) this.safely(h, obj);
    });
    this.inner.on('delete', (obj) => {
      invalidate(obj, -1);
      for (const h of this.handlers.delete) this.safely(h, obj);
    });
    this.inner.on('error', (err?: unknown) => this.onError(err));
  }

  /** Registers a handler; returns a function that removes it. */
  on(event: InformerEvent, handler: ObjectHandler<T>): () => void {
    this.handlers[event].add(handler);
    return () => {
      this.handlers[event].delete(handler);
    };
  }

  /** Starts listing and watching in the background; failures are retried, never thrown. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.run();
  }

  /** Resolves once the first list has been cached (it may wait forever while the server is unreachable). */
  synced(): Promise<void> {
    return this.syncedPromise;
  }

  /** Like synced(), but rejects after `timeoutMs`. */
  async waitForSync(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `the ${this.kind} cache did not sync within ${timeoutMs} ms${this.lastError ? `: ${this.lastError}` : ''}`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      await Promise.race([this.syncedPromise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.setConnected(false);
    await this.inner.stop();
  }

  health(): CacheHealth {
    const lastGoodAt = this.connected ? this.now() : this.lastGood;
    return {
      connected: this.connected,
      synced: this.hasSynced,
      ...(lastGoodAt === undefined ? {} : { lastGoodAt }),
    };
  }

  /** Times the watch was restarted after an error. */
  get restarts(): number {
    return this.restartCount;
  }

  /** The last error seen, for logs and diagnostics. */
  get error(): string | undefined {
    return this.lastError;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.inner.get(name, namespace);
  }

  /** Every cached object. The array is shared until the next change: do not mutate it. */
  list(): readonly T[] {
    // ListWatch.list() builds a fresh array on every call: build it once per change.
    if (!this.snapshot) this.snapshot = Object.freeze(this.inner.list() as T[]);
    return this.snapshot;
  }

  /** Cached objects of one namespace. */
  listNamespace(namespace: string): readonly T[] {
    return this.inner.list(namespace);
  }

  /**
   * The namespaces that hold cached objects, in ascending order (namespaced kinds). Shared until a
   * namespace gains its first or loses its last object: do not mutate.
   */
  namespaces(): readonly string[] {
    this.namespaceOrder ??= Object.freeze([...this.namespaceSizes.keys()].filter((n) => n !== '').sort());
    return this.namespaceOrder;
  }

  /**
   * Cached objects of one namespace in ascending name order. Built once per change of that namespace
   * (so a list over every namespace costs O(namespaces + page), not a sort of every object per call);
   * shared: do not mutate.
   */
  sortedInNamespace(namespace: string): readonly T[] {
    if (namespace === '') return [];
    let sorted = this.sortedByNamespace.get(namespace);
    if (sorted === undefined) {
      const items = this.inner.list(namespace) as T[];
      const name = (o: T): string => o.metadata?.name ?? '';
      items.sort((a, b) => {
        const x = name(a);
        const y = name(b);
        return x < y ? -1 : x > y ? 1 : 0;
      });
      sorted = Object.freeze(items);
      this.sortedByNamespace.set(namespace, sorted);
    }
    return sorted;
  }

  private run(): void {
    if (this.stopped) return;
    this.inner.start().catch((err: unknown) => this.onError(err));
  }

  private markGood(): void {
    this.lastGood = this.now();
  }

  private onEstablished(): void {
    if (this.stopped) return;
    this.markGood();
    this.backoff.reset();
    this.lastError = undefined;
    this.setConnected(true);
    if (!this.hasSynced && this.listedOnce) {
      this.hasSynced = true;
      this.log?.debug({ objects: this.inner.list().length }, 'cache synced');
      this.resolveSynced();
      this.options.onHealthChange?.(this.health());
    }
  }

  private onError(err: unknown): void {
    if (this.stopped) return;
    if (this.restartTimer !== undefined) return;
    this.lastError = errorText(err);
    this.setConnected(false);
    const delay = this.backoff.next();
    this.restartCount++;
    const level = this.backoff.attempts > 1 ? 'debug' : 'warn';
    this.log?.[level](
      { err: this.lastError, retryInMs: delay, attempt: this.backoff.attempts },
      'watch failed; restarting',
    );
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.run();
    }, delay);
    this.restartTimer.unref?.();
  }

  private setConnected(connected: boolean): void {
    if (this.connected === connected) return;
    this.connected = connected;
    if (connected) this.log?.info('watch connected');
    this.options.onHealthChange?.(this.health());
  }

  private safely(handler: ObjectHandler<T>, obj: T): void {
    try {
      handler(obj);
    } catch (err) {
      this.log?.error({ err }, 'informer handler threw');
    }
  }
}
