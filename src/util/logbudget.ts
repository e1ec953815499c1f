import type { Logger } from 'pino';

/**
 * Log lines about what callers send, bounded: values capped and stripped of control characters, and
 * at most `burst` lines per window at the chosen level (the rest at debug, with one summary line
 * when the next window opens). A flood of bad requests must not become a flood of log lines; the
 * metrics count every one.
 */

/** Longest caller-supplied text one logged value keeps. */
export const MAX_LOGGED_CHARS = 256;

/** A caller-supplied value as a log line may show it: text, at most `max` characters, no control characters. */
export function capForLog(value: unknown, max = MAX_LOGGED_CHARS): string | undefined {
  if (value === undefined || value === null) return undefined;
  const text = Array.isArray(value) ? value.join(', ') : String(value);
  const cut = text.length > max ? `${text.slice(0, max)}…[${text.length - max} more chars]` : text;
  return cut.replace(/\p{Cc}/gu, '?');
}

export interface RateLimitedLogOptions {
  readonly level: 'info' | 'warn' | 'error';
  /** The summary line when lines were held back, e.g. "more X were not logged (see metric Y)". */
  readonly summary: string;
  /** Lines per window at `level`. Default 20. */
  readonly burst?: number;
  /** Default 10 s. */
  readonly windowMs?: number;
  readonly now?: () => number;
}

export class RateLimitedLog {
  private windowStart = Number.NEGATIVE_INFINITY;
  private logged = 0;
  private suppressed = 0;
  private readonly burst: number;
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(
    private readonly log: Logger,
    private readonly options: RateLimitedLogOptions,
  ) {
    this.burst = options.burst ?? 20;
    this.windowMs = options.windowMs ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  write(fields: Record<string, unknown>, message: string): void {
    const t = this.now();
    if (t - this.windowStart >= this.windowMs) {
      if (this.suppressed > 0) {
        this.log[this.options.level](
          { suppressed: this.suppressed, windowSeconds: this.windowMs / 1000 },
          this.options.summary,
        );
      }
      this.windowStart = t;
      this.logged = 0;
      this.suppressed = 0;
    }
    if (this.logged < this.burst) {
      this.logged++;
      this.log[this.options.level](fields, message);
    } else {
      this.suppressed++;
      this.log.debug(fields, message);
    }
  }
}
