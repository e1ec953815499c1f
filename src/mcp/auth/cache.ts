/**
 * A bounded map of authentication results by token hash; the least recently used entry goes first.
 * With `maxPerUser`, one username holds at most that many entries: its own oldest goes first, so a
 * namespace admin minting thousands of valid tokens for one ServiceAccount flushes only that
 * account's entries, never other callers'.
 */

import type { AuthOutcome } from './types.js';

export interface CacheEntry {
  readonly outcome: AuthOutcome;
  readonly expiresAtMs: number;
  /** From this time on, a hit also re-validates the token in the background (successes only). */
  readonly refreshAtMs: number;
  /**
   * Past expiresAtMs, the entry may still answer until this time, but only while a re-validation
   * started before expiresAtMs is under way (successes only; equal to expiresAtMs otherwise).
   */
  readonly staleUntilMs: number;
  readonly user: string | undefined;
}

export class BoundedCache {
  private readonly entries = new Map<string, CacheEntry>();
  /** Keys by username, oldest first (only with maxPerUser). */
  private readonly byUser = new Map<string, Set<string>>();

  constructor(
    private readonly maxEntries: number,
    /** Keep expired entries (until replaced or evicted) so that has() still knows the token. */
    private readonly keepExpired = false,
    private readonly maxPerUser = Number.POSITIVE_INFINITY,
  ) {}

  get(key: string, now: number): CacheEntry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs <= now) {
      if (!this.keepExpired) this.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry); // refresh recency
    return entry;
  }

  /** The entry of `key`, expired or not, without touching its recency. */
  peek(key: string): CacheEntry | undefined {
    return this.entries.get(key);
  }

  get size(): number {
    return this.entries.size;
  }

  set(
    key: string,
    outcome: AuthOutcome,
    expiresAtMs: number,
    refreshAtMs = expiresAtMs,
    staleUntilMs = expiresAtMs,
  ): void {
    this.delete(key);
    const user = outcome.ok ? outcome.caller.username : undefined;
    if (user !== undefined && Number.isFinite(this.maxPerUser)) {
      const own = this.byUser.get(user);
      while (own !== undefined && own.size >= this.maxPerUser) {
        const oldest = own.values().next();
        if (oldest.done) break;
        this.delete(oldest.value);
      }
    }
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
    this.entries.set(key, { outcome, expiresAtMs, refreshAtMs, staleUntilMs, user });
    if (user !== undefined && Number.isFinite(this.maxPerUser)) {
      let own = this.byUser.get(user);
      if (own === undefined) {
        own = new Set();
        this.byUser.set(user, own);
      }
      own.add(key);
    }
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    if (entry.user === undefined) return;
    const own = this.byUser.get(entry.user);
    own?.delete(key);
    if (own?.size === 0) this.byUser.delete(entry.user);
  }
}
