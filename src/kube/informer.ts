/**
 * A watch cache that survives API server outages, as client-go's reflector does it: list the
 * collection in pages, then watch from the list's resourceVersion; when the watch ends cleanly,
 * watch again from the last resourceVersion seen (bookmarks keep it fresh); when the server says the
 * resourceVersion is gone (410), list again; when it delivers nothing (no event, no bookmark) for
 * idleTimeoutMs, drop it and watch again; on any other failure, retry with capped, jittered
 * exponential backoff. It tracks whether the cache is connected and synced (CacheHealth), trims every
 * object before it is stored, and hands out stable snapshot arrays for cheap lists.
 *
 * The cache itself (indexed by namespace and name, with its shared views) is object-store.ts. Cached
 * objects are shared: never mutate.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { Backoff, type BackoffOptions } from './backoff.js';
import { type ApiStatus, KubeApiError, type KubeClient, type WatchEvent } from './client.js';
import { type ObjectMeta, ObjectStore } from './object-store.js';
import type { CacheHealth } from './types.js';

export type InformerEvent = 'add' | 'update' | 'delete';
export type ObjectHandler<T> = (obj: T) => void;

interface ListResponse {
  readonly metadata?: { readonly resourceVersion?: string; readonly continue?: string };
  readonly items?: unknown[];
}

export interface InformerOptions<T extends ObjectMeta> {
  readonly client: KubeClient;
  /** A short name for logs and metrics, e.g. `pod`. */
  readonly kind: string;
  /** Collection path to list and watch, e.g. `/api/v1/pods`. */
  readonly path: string;
  /** Objects per list page (default 500, as client-go's informers ask). */
  readonly listPageSize?: number;
  /** Trims each object before it is cached (listed and watched alike); it may mutate its argument. */
  readonly transform?: (obj: T) => T;
  readonly labelSelector?: string;
  readonly backoff?: BackoffOptions;
  readonly logger?: Logger;
  /** Clock in ms; injectable for tests. */
  readonly now?: () => number;
  /** Called whenever health changes (connected / synced flips). */
  readonly onHealthChange?: (health: CacheHealth) => void;
  /** Server-side timeout of one watch request, in s: a random value in [min, 2·min). Default 300. */
  readonly minWatchTimeoutSeconds?: number;
  /**
   * A watch that delivers nothing (no event, no bookmark) for this long is taken for dead: it is
   * aborted, the cache is reported disconnected, and the watch is opened again from the last
   * resourceVersion. The API server sends a bookmark about once a minute to watches that ask for
   * them, so a healthy watch is never idle this long. Default 5 minutes.
   */
  readonly idleTimeoutMs?: number;
}

export const DEFAULT_WATCH_IDLE_TIMEOUT_MS = 5 * 60_000;

/** client-go's informer page size. */
const DEFAULT_LIST_PAGE_SIZE = 500;

/** The watch's resourceVersion is too old: list again. */
class GoneError extends Error {}

/** The watch delivered nothing for idleTimeoutMs. */
class IdleWatchError extends Error {}

function errorText(err: unknown): string {
  if (err instanceof KubeApiError) return `${err.apiMessage ?? err.reason ?? 'error'} (${err.statusCode})`;
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const first = err.message.split('\n')[0] ?? err.message;
    return code === undefined ? first : `${first} (${String(code)})`;
  }
  return String(err);
}

export class ResilientInformer<T extends ObjectMeta> {
  readonly kind: string;
  private readonly client: KubeClient;
  private readonly backoff: Backoff;
  private readonly now: () => number;
  private readonly log: Logger | undefined;
  private readonly transform: (obj: T) => T;
  private readonly handlers: Record<InformerEvent, Set<ObjectHandler<T>>> = {
    add: new Set(),
    update: new Set(),
    delete: new Set(),
  };
  private store = new ObjectStore<T>();
  private resourceVersion: string | undefined;
  private started = false;
  private stopped = false;
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private connected = false;
  private hasSynced = false;
  private lastGood: number | undefined;
  private resolveSynced!: () => void;
  private readonly syncedPromise: Promise<void>;
  private restartCount = 0;
  private lastError: string | undefined;

  constructor(private readonly options: InformerOptions<T>) {
    this.kind = options.kind;
    this.client = options.client;
    this.now = options.now ?? Date.now;
    this.log = options.logger?.child({ component: 'informer', kind: options.kind });
    this.backoff = new Backoff(options.backoff);
    this.transform = options.transform ?? ((o: T) => o);
    this.syncedPromise = new Promise<void>((resolve) => {
      this.resolveSynced = resolve;
    });
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
    this.running = this.loop();
  }

  /** Resolves once the first list has been cached and its watch opened (may wait forever while the server is unreachable). */
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
    this.abort.abort();
    this.setConnected(false);
    await this.running;
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
    return this.store.get(name, namespace);
  }

  /** Every cached object. The array is shared until the next change: do not mutate it. */
  list(): readonly T[] {
    return this.store.list();
  }

  /** Cached objects of one namespace (a fresh array). */
  listNamespace(namespace: string): T[] {
    return this.store.listNamespace(namespace);
  }

  /**
   * The namespaces that hold cached objects, in ascending order (namespaced kinds). Shared until a
   * namespace gains its first or loses its last object: do not mutate.
   */
  namespaces(): readonly string[] {
    return this.store.namespaces();
  }

  /**
   * Cached objects of one namespace in ascending name order, built once per change of that namespace;
   * shared: do not mutate.
   */
  sortedInNamespace(namespace: string): readonly T[] {
    return this.store.sortedInNamespace(namespace);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.resourceVersion === undefined) await this.relist();
        await this.watchOnce();
        // The server closed the watch (its timeout): routine; watch again from where we are.
        this.markGood();
      } catch (err) {
        if (this.stopped) return;
        // 410 Gone: the resourceVersion is too old, whether the server says so in the stream (an
        // ERROR event) or as the watch's HTTP status.
        if (err instanceof GoneError || (err instanceof KubeApiError && err.statusCode === 410)) {
          this.log?.debug('resourceVersion expired; listing again');
          this.resourceVersion = undefined;
          continue;
        }
        this.lastError = errorText(err);
        this.setConnected(false);
        const delay = this.backoff.next();
        this.restartCount++;
        const level = this.backoff.attempts > 1 ? 'debug' : 'warn';
        this.log?.[level](
          { err: this.lastError, retryInMs: delay, attempt: this.backoff.attempts },
          'watch failed; restarting',
        );
        try {
          await sleep(delay, undefined, { signal: this.abort.signal });
        } catch {
          return; // stopped
        }
      }
    }
  }

  /** Lists every page, then swaps the store in one step, telling handlers what changed. */
  private async relist(): Promise<void> {
    const limit = this.options.listPageSize ?? DEFAULT_LIST_PAGE_SIZE;
    let fresh = new ObjectStore<T>();
    let token: string | undefined;
    let resourceVersion: string | undefined;
    do {
      let page: ListResponse;
      try {
        page = await this.client.request<ListResponse>('GET', this.options.path, {
          query: { limit, continue: token, labelSelector: this.options.labelSelector },
          signal: this.abort.signal,
        });
      } catch (err) {
        // The continue token expired mid-way: start the list over (not a failure worth a backoff).
        if (err instanceof KubeApiError && err.statusCode === 410 && token !== undefined) {
          fresh = new ObjectStore<T>();
          token = undefined;
          continue;
        }
        throw err;
      }
      // Each page is trimmed before the next is fetched: the first sync of a large cluster never
      // holds the whole list's JSON and its trimmed copy at once.
      for (const raw of page.items ?? []) fresh.put(this.transform(raw as T));
      token = page.metadata?.continue || undefined;
      resourceVersion = page.metadata?.resourceVersion;
    } while (token !== undefined);
    if (this.stopped) return;
    const old = this.store;
    this.store = fresh;
    this.resourceVersion = resourceVersion ?? '';
    this.markGood();
    for (const [event, obj] of old.changesTo(fresh)) this.emit(event, obj);
  }

  private async watchOnce(): Promise<void> {
    const min = this.options.minWatchTimeoutSeconds ?? 300;
    const idleMs = this.options.idleTimeoutMs ?? DEFAULT_WATCH_IDLE_TIMEOUT_MS;
    // One controller per watch: stop() aborts it, and so does the idle timer.
    const watch = new AbortController();
    const onStop = (): void => watch.abort();
    this.abort.signal.addEventListener('abort', onStop, { once: true });
    let idle = false;
    const timer = setTimeout(() => {
      idle = true;
      watch.abort();
    }, idleMs);
    timer.unref();
    try {
      await this.client.watch(
        this.options.path,
        (event) => {
          timer.refresh();
          this.onEvent(event);
        },
        {
          query: {
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: Math.floor(min * (1 + Math.random())),
            labelSelector: this.options.labelSelector,
          },
          signal: watch.signal,
          onEstablished: () => {
            timer.refresh();
            this.onEstablished();
          },
        },
      );
    } finally {
      clearTimeout(timer);
      this.abort.signal.removeEventListener('abort', onStop);
    }
    if (idle && !this.stopped) {
      throw new IdleWatchError(`the watch delivered no event or bookmark for ${Math.round(idleMs / 1000)} s`);
    }
  }

  private onEvent(event: WatchEvent): void {
    if (this.stopped) return;
    if (event.type === 'ERROR') {
      const status = event.object as ApiStatus | undefined;
      if (status?.code === 410) throw new GoneError();
      throw new KubeApiError(status?.code ?? 500, status, `watch ${this.options.path}`);
    }
    const rv = (event.object as ObjectMeta | undefined)?.metadata?.resourceVersion;
    this.markGood();
    if (event.type === 'BOOKMARK') {
      if (rv) this.resourceVersion = rv;
      return;
    }
    const obj = this.transform(event.object as T);
    if (rv) this.resourceVersion = rv;
    if (event.type === 'DELETED') {
      if (this.store.remove(obj.metadata?.namespace ?? '', obj.metadata?.name ?? ''))
        this.emit('delete', obj);
      return;
    }
    this.emit(this.store.put(obj) ? 'update' : 'add', obj);
  }

  private emit(event: InformerEvent, obj: T): void {
    for (const handler of this.handlers[event]) {
      try {
        handler(obj);
      } catch (err) {
        this.log?.error({ err }, 'informer handler threw');
      }
    }
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
    if (!this.hasSynced) {
      this.hasSynced = true;
      this.log?.debug({ objects: this.store.size }, 'cache synced');
      this.resolveSynced();
      this.options.onHealthChange?.(this.health());
    }
  }

  private setConnected(connected: boolean): void {
    if (this.connected === connected) return;
    this.connected = connected;
    if (connected) this.log?.info('watch connected');
    this.options.onHealthChange?.(this.health());
  }
}
