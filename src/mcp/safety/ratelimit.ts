/**
 * Per-caller, per-policy rate limits (McpPolicy `rateLimit.callsPerMinute`): a sliding one-minute
 * window. A call passes when fewer than N calls of the same caller passed under the same policy in
 * the last 60 seconds; otherwise it is refused with the time until the oldest of them leaves the
 * window.
 *
 * State lives in this process: each operator replica counts the calls it answers, so with R replicas
 * behind a Service a caller may make up to R × N calls per minute (docs/security.md). Memory is
 * bounded: at most `maxKeys` (caller, policy) windows, the least recently used dropped first, and a
 * window holds at most N timestamps.
 */

const WINDOW_MS = 60_000;

class Window {
  /** Timestamps of passed calls, oldest first, from `head` on. */
  private times: number[] = [];
  private head = 0;

  private prune(now: number): void {
    while (this.head < this.times.length && (this.times[this.head] ?? 0) <= now - WINDOW_MS) this.head++;
    if (this.head > 64 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
  }

  /** Seconds until a call can pass (0: it can pass now). */
  wait(now: number, limit: number): number {
    this.prune(now);
    const count = this.times.length - this.head;
    if (count < limit) return 0;
    const oldest = this.times[this.head + count - limit] ?? now;
    return Math.max(1, Math.ceil((oldest + WINDOW_MS - now) / 1000));
  }

  take(now: number): void {
    this.times.push(now);
  }
}

export interface RateLimitCandidate {
  readonly policy: string;
  readonly callsPerMinute: number;
}

export type RateLimitAnswer =
  | { readonly allowed: true; readonly policy?: string }
  | { readonly allowed: false; readonly retryAfterSeconds: number; readonly policies: readonly string[] };

export class RateLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly maxKeys: number;

  constructor(options: { maxKeys?: number } = {}) {
    this.maxKeys = Math.max(1, options.maxKeys ?? 10_000);
  }

  /** How many (caller, policy) windows are held. */
  get size(): number {
    return this.windows.size;
  }

  private window(key: string, create: boolean): Window | undefined {
    const found = this.windows.get(key);
    if (found !== undefined) {
      // Refresh its place: Map iteration order is insertion order, so the first key is the least recently used.
      this.windows.delete(key);
      this.windows.set(key, found);
      return found;
    }
    if (!create) return undefined;
    const made = new Window();
    this.windows.set(key, made);
    if (this.windows.size > this.maxKeys) {
      const oldest = this.windows.keys().next().value;
      if (oldest !== undefined) this.windows.delete(oldest);
    }
    return made;
  }

  /**
   * Admits one call of `caller` that the given rate-limited policies allow (grants add up: it passes
   * when any of them has room, and is counted under the first that has). Refused: the shortest wait.
   */
  admit(caller: string, candidates: readonly RateLimitCandidate[], now: number): RateLimitAnswer {
    let shortest: number | undefined;
    for (const c of candidates) {
      const key = `${c.policy}\u0000${caller}`;
      const window = this.window(key, true);
      if (window === undefined) continue;
      const wait = window.wait(now, c.callsPerMinute);
      if (wait === 0) {
        window.take(now);
        return { allowed: true, policy: c.policy };
      }
      shortest = Math.min(shortest ?? wait, wait);
    }
    if (shortest === undefined) return { allowed: true };
    return { allowed: false, retryAfterSeconds: shortest, policies: candidates.map((c) => c.policy) };
  }
}
