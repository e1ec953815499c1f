/**
 * Admission to the TokenReview: a counting semaphore with four bounded FIFO wait queues, served in
 * this order:
 *   1. `urgent`: tokens that were valid before (their cached success expired, their caller waiting);
 *   2. `verified`: tokens whose ServiceAccount signature was verified locally (new agents);
 *   3. `refresh`: background re-validations of cached successes (no caller waits for them);
 *   4. `unknown`: everything else (tokens of other issuers, opaque tokens).
 * A flood of unknown tokens therefore never delays a genuine caller beyond the reviews running.
 * Every queue is bounded and every wait is bounded; a full queue answers at once (`busy`). Waiters
 * of the first three are also capped per username, so that one identity holding many valid tokens
 * cannot fill a queue others need.
 */

export type Priority = 'urgent' | 'verified' | 'refresh' | 'unknown';

export interface QueueLimits {
  readonly maxQueued: number;
  readonly maxWaitMs: number;
}

export interface SlotOptions {
  readonly maxRunning: number;
  readonly queues: Readonly<Record<Priority, QueueLimits>>;
  /** Waiters of one username at once (urgent, verified and refresh queues together). */
  readonly maxWaitersPerUser: number;
}

interface Waiter {
  readonly grant: () => void;
  readonly timer: NodeJS.Timeout;
  readonly user: string | undefined;
}

const ORDER: readonly Priority[] = ['urgent', 'verified', 'refresh', 'unknown'];

export class ReviewSlots {
  private running = 0;
  private readonly queues: Record<Priority, Waiter[]> = {
    urgent: [],
    verified: [],
    refresh: [],
    unknown: [],
  };
  private readonly perUser = new Map<string, number>();

  constructor(private readonly options: SlotOptions) {}

  /** Waiters now, all queues together. */
  get waiting(): number {
    let n = 0;
    for (const priority of ORDER) n += this.queues[priority].length;
    return n;
  }

  /** Whether acquire(priority, user) would run or wait now rather than answer false at once. */
  hasRoom(priority: Priority, user?: string): boolean {
    if (this.running < this.options.maxRunning) return true;
    if (this.queues[priority].length >= this.options.queues[priority].maxQueued) return false;
    const counted = priority === 'unknown' ? undefined : user;
    return counted === undefined || (this.perUser.get(counted) ?? 0) < this.options.maxWaitersPerUser;
  }

  /** Resolves true with a slot held, or false (at once when the queue or the user's share is full, else after the wait). */
  acquire(priority: Priority, user?: string): Promise<boolean> | boolean {
    if (this.running < this.options.maxRunning) {
      this.running++;
      return true;
    }
    if (!this.hasRoom(priority, user)) return false;
    const queue = this.queues[priority];
    const limits = this.options.queues[priority];
    const counted = priority === 'unknown' ? undefined : user;
    if (counted !== undefined) this.perUser.set(counted, (this.perUser.get(counted) ?? 0) + 1);
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        user: counted,
        grant: () => {
          clearTimeout(waiter.timer);
          this.leave(waiter);
          resolve(true);
        },
        timer: setTimeout(() => {
          const i = queue.indexOf(waiter);
          if (i >= 0) queue.splice(i, 1);
          this.leave(waiter);
          resolve(false);
        }, limits.maxWaitMs),
      };
      waiter.timer.unref?.();
      queue.push(waiter);
    });
  }

  release(): void {
    for (const priority of ORDER) {
      const next = this.queues[priority].shift();
      if (next !== undefined) {
        next.grant(); // the slot passes on: running stays the same
        return;
      }
    }
    this.running--;
  }

  private leave(waiter: Waiter): void {
    if (waiter.user === undefined) return;
    const n = (this.perUser.get(waiter.user) ?? 1) - 1;
    if (n <= 0) this.perUser.delete(waiter.user);
    else this.perUser.set(waiter.user, n);
  }
}
