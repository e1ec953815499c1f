/** Exponential backoff, capped and jittered: the delay before the next retry of something that failed. */

export interface BackoffOptions {
  /** First delay. Default 200 ms. */
  readonly initialMs?: number;
  /** Upper bound of any delay. Default 30 s. */
  readonly maxMs?: number;
  /** Growth per failure. Default 2. */
  readonly factor?: number;
  /**
   * Fraction of the delay that is randomized: a delay d becomes a value in [d·(1−jitter), d].
   * Default 0.5 (so replicas that failed together do not retry together).
   */
  readonly jitter?: number;
  /** Source of randomness in [0, 1); injectable for tests. */
  readonly random?: () => number;
}

export class Backoff {
  private failures = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = Math.max(1, options.initialMs ?? 200);
    this.maxMs = Math.max(this.initialMs, options.maxMs ?? 30_000);
    this.factor = Math.max(1, options.factor ?? 2);
    this.jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
    this.random = options.random ?? Math.random;
  }

  /** Consecutive failures so far. */
  get attempts(): number {
    return this.failures;
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * this.factor ** Math.min(this.failures, 64));
    this.failures++;
    return Math.max(1, Math.round(base * (1 - this.jitter * this.random())));
  }

  /** After a success: the next failure starts from the initial delay again. */
  reset(): void {
    this.failures = 0;
  }
}
