/**
 * A work queue like client-go's: keys are deduplicated while they wait, a key is never handled by two
 * workers at once (a key added while it is being handled is handled again afterwards), and a handler
 * that throws is retried with per-key exponential backoff (reset on success).
 */

import { Backoff, type BackoffOptions } from '../kube/backoff.js';

export interface WorkQueueOptions<K extends string> {
  readonly handler: (key: K) => Promise<void>;
  /** Keys handled at the same time (never the same key twice). Default 4. */
  readonly concurrency?: number;
  /** Per-key retry backoff. Default 50 ms doubling to 30 s. */
  readonly backoff?: BackoffOptions;
  /** Called when a handler throws, before the retry is scheduled. */
  readonly onError?: (key: K, err: unknown, retryInMs: number) => void;
}

export class WorkQueue<K extends string> {
  /** Keys waiting to be handled, in the order they were added (a Set keeps insertion order). */
  private readonly waiting = new Set<K>();
  private readonly processing = new Set<K>();
  /** Keys added again while they were being handled. */
  private readonly redo = new Set<K>();
  private readonly delayed = new Map<K, { timer: NodeJS.Timeout; at: number }>();
  private readonly backoffs = new Map<K, Backoff>();
  private readonly concurrency: number;
  private running = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: WorkQueueOptions<K>) {
    this.concurrency = Math.max(1, options.concurrency ?? 4);
  }

  /** Begins handling keys (keys added before start wait). */
  start(): void {
    if (this.closed) return;
    this.running = true;
    this.pump();
  }

  /** Queues `key` unless it is already waiting. */
  add(key: K): void {
    if (this.closed) return;
    const timer = this.delayed.get(key);
    if (timer) {
      clearTimeout(timer.timer);
      this.delayed.delete(key);
    }
    if (this.processing.has(key)) {
      this.redo.add(key);
      return;
    }
    if (this.waiting.has(key)) return;
    this.waiting.add(key);
    this.pump();
  }

  /** Queues `key` after `ms` (an earlier pending delayed add wins). */
  addAfter(key: K, ms: number): void {
    if (this.closed) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    timer.unref?.();
    this.delayed.set(key, { timer, at });
  }

  /** Forgets a key's failures: its next retry starts from the initial delay. */
  forget(key: K): void {
    this.backoffs.delete(key);
  }

  /** Keys waiting or being handled (not counting delayed retries). */
  get length(): number {
    return this.waiting.size + this.processing.size + this.redo.size;
  }

  /** Failures of `key` since its last success. */
  failures(key: K): number {
    return this.backoffs.get(key)?.attempts ?? 0;
  }

  /** Resolves when nothing is waiting or being handled (delayed retries aside). */
  idle(): Promise<void> {
    if (this.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops taking keys, drops delayed retries and waits for the handlers in flight. */
  async shutdown(): Promise<void> {
    this.closed = true;
    this.running = false;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    this.waiting.clear();
    this.redo.clear();
    if (this.processing.size > 0) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    this.notifyIdle();
  }

  private pump(): void {
    if (!this.running) return;
    while (this.processing.size < this.concurrency && this.waiting.size > 0) {
      const key = this.waiting.values().next().value as K;
      this.waiting.delete(key);
      this.processing.add(key);
      void this.handle(key);
    }
  }

  private async handle(key: K): Promise<void> {
    try {
      await this.options.handler(key);
      this.backoffs.delete(key);
    } catch (err) {
      let backoff = this.backoffs.get(key);
      if (!backoff) {
        backoff = new Backoff({ initialMs: 50, maxMs: 30_000, ...this.options.backoff });
        this.backoffs.set(key, backoff);
      }
      const delay = backoff.next();
      try {
        this.options.onError?.(key, err, delay);
      } catch {
        // a logging hook must not break the queue
      }
      // A key added again meanwhile is handled anyway; the retry is for the failure.
      if (!this.closed) this.addAfter(key, delay);
    } finally {
      this.processing.delete(key);
      if (this.redo.delete(key) && !this.closed) this.waiting.add(key);
      this.pump();
      if (this.length === 0 || (this.closed && this.processing.size === 0)) this.notifyIdle();
    }
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
