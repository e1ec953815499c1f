/**
 * Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection package:
 *
 * - A candidate acquires the Lease when it does not exist, when nobody holds it, or when the holder
 *   has not renewed it for leaseDuration (measured on OUR clock from when we last saw the record
 *   change, so clock skew between replicas does not matter). Taking over increments leaseTransitions.
 * - The leader renews every retryPeriod with optimistic concurrency (the Lease's resourceVersion). If
 *   it cannot renew for renewDeadline, or sees another holder, it stops leading and becomes a
 *   candidate again.
 * - On stop, a leader releases the Lease (empty holderIdentity, 1 s duration) so a follower takes
 *   over at once instead of waiting out the lease.
 *
 * The loop's logic is pure over a LeaseClient and a Clock, both injectable (unit tests use fakes).
 * The Lease and its API are in lease.ts, the clock in clock.ts, and how a failing Lease is reported in
 * lease-problem.ts.
 */

import type { Logger } from 'pino';
import { type Clock, realClock } from './clock.js';
import type { LeaseClient, LeaseRecord } from './lease.js';
import { firstLine, type LeaderElectionMetrics, type LeaseProblem, LeaseProblems } from './lease-problem.js';

export interface LeaderElectorOptions {
  readonly identity: string;
  readonly client: LeaseClient;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Candidates wait retryPeriod × (1 + jitter × random) between attempts. Default 1.2 (client-go's). */
  readonly jitter?: number;
  readonly random?: () => number;
  /** Counts failed Lease calls by reason and shows the current problem as a gauge. */
  readonly metrics?: LeaderElectionMetrics;
  /** A problem is logged at error level at most once per this interval per reason. Default 60 s. */
  readonly errorLogIntervalMs?: number;
  /** Failed attempts in a row (same reason) before a problem is reported. Default 2. */
  readonly reportAfterAttempts?: number;
}

export type LeadershipListener = (leading: boolean) => void;

export class LeaderElector {
  readonly identity: string;
  private readonly client: LeaseClient;
  private readonly clock: Clock;
  private readonly log: Logger | undefined;
  private readonly jitter: number;
  private readonly random: () => number;
  private leading = false;
  private observed: LeaseRecord | undefined;
  private observedAt = 0;
  private lastRenew = 0;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly listeners = new Set<LeadershipListener>();
  private readonly problems: LeaseProblems;

  constructor(private readonly options: LeaderElectorOptions) {
    if (!(options.leaseDurationMs > options.renewDeadlineMs)) {
      throw new Error('leader election: the lease duration must be greater than the renew deadline');
    }
    if (!(options.renewDeadlineMs > options.retryPeriodMs)) {
      throw new Error('leader election: the renew deadline must be greater than the retry period');
    }
    this.identity = options.identity;
    this.client = options.client;
    this.clock = options.clock ?? realClock;
    this.log = options.logger?.child({ component: 'leader', lease: options.client.description });
    this.jitter = options.jitter ?? 1.2;
    this.random = options.random ?? Math.random;
    this.problems = new LeaseProblems({
      lease: options.client,
      clock: this.clock,
      log: this.log,
      metrics: options.metrics,
      errorLogIntervalMs: options.errorLogIntervalMs ?? 60_000,
      reportAfter: Math.max(1, options.reportAfterAttempts ?? 2),
    });
  }

  /** Why the Lease cannot be used right now (after reportAfterAttempts failures in a row); undefined while Lease calls get answers. */
  problem(): LeaseProblem | undefined {
    return this.problems.problem();
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** The holder we last observed (possibly us); undefined when unknown or released. */
  leader(): string | undefined {
    return this.observed?.holderIdentity || undefined;
  }

  /** Registers a listener of leadership changes; returns a function that removes it. */
  onChange(listener: LeadershipListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Starts the acquire/renew loop in the background. */
  start(): void {
    if (this.loop) return;
    this.loop = this.run().catch((err: unknown) => {
      this.log?.error({ err }, 'leader election loop failed');
      this.setLeading(false);
    });
  }

  /** Stops the loop; a leader releases the Lease first. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    if (this.leading) {
      await this.release();
      this.setLeading(false);
    }
  }

  /**
   * One attempt: acquires or renews the Lease. Returns true when we hold it afterwards. Never
   * throws: API failures count as "not acquired".
   */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.clock.now();
    const durationSeconds = Math.max(1, Math.round(this.options.leaseDurationMs / 1000));
    let old: LeaseRecord | undefined;
    try {
      old = await this.client.get();
    } catch (err) {
      this.problems.failed(err, 'get');
      return false;
    }
    if (old === undefined) {
      try {
        const created = await this.client.create({
          holderIdentity: this.identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: 0,
        });
        this.problems.recovered();
        this.observe(created, this.clock.now());
        return true;
      } catch (err) {
        this.problems.failed(err, 'create');
        return false;
      }
    }
    if (this.observed?.resourceVersion !== old.resourceVersion || this.observed === undefined) {
      this.observe(old, now);
    }
    const holder = old.holderIdentity ?? '';
    const heldByOther = holder !== '' && holder !== this.identity;
    if (heldByOther) {
      const duration = (old.leaseDurationSeconds ?? durationSeconds) * 1000;
      if (this.observedAt + duration > now) {
        this.problems.recovered(); // the Lease can be read; another replica holds it
        return false;
      }
    }
    const mine = holder === this.identity;
    try {
      const updated = await this.client.update({
        holderIdentity: this.identity,
        leaseDurationSeconds: durationSeconds,
        acquireTime: mine && old.acquireTime !== undefined ? old.acquireTime : now,
        renewTime: now,
        leaseTransitions: mine ? (old.leaseTransitions ?? 0) : (old.leaseTransitions ?? 0) + 1,
        ...(old.resourceVersion === undefined ? {} : { resourceVersion: old.resourceVersion }),
      });
      this.problems.recovered();
      this.observe(updated, this.clock.now());
      return true;
    } catch (err) {
      this.problems.failed(err, 'update');
      return false;
    }
  }

  /** Gives up the Lease if we hold it (best effort). */
  async release(): Promise<boolean> {
    try {
      const old = await this.client.get();
      if (!old || old.holderIdentity !== this.identity) return false;
      const now = this.clock.now();
      const released = await this.client.update({
        holderIdentity: '',
        leaseDurationSeconds: 1,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: old.leaseTransitions ?? 0,
        ...(old.resourceVersion === undefined ? {} : { resourceVersion: old.resourceVersion }),
      });
      this.observe(released, now);
      this.log?.info('released the Lease');
      return true;
    } catch (err) {
      this.log?.warn({ err: firstLine(err) }, 'could not release the Lease');
      return false;
    }
  }

  private async run(): Promise<void> {
    const { retryPeriodMs, renewDeadlineMs } = this.options;
    const signal = this.abort.signal;
    while (!signal.aborted) {
      if (!this.leading) {
        const acquired = await this.attempt(renewDeadlineMs);
        if (signal.aborted) {
          if (acquired) this.setLeading(true); // stop() then releases it
          break;
        }
        if (acquired) {
          this.lastRenew = this.clock.now();
          this.setLeading(true);
          await this.clock.sleep(retryPeriodMs, signal);
        } else {
          await this.clock.sleep(retryPeriodMs * (1 + this.jitter * this.random()), signal);
        }
        continue;
      }
      const remaining = this.lastRenew + renewDeadlineMs - this.clock.now();
      const renewed = remaining > 0 && (await this.attempt(remaining));
      if (signal.aborted) break;
      if (renewed) {
        this.lastRenew = this.clock.now();
        await this.clock.sleep(retryPeriodMs, signal);
        continue;
      }
      const stolen = this.leader() !== undefined && this.leader() !== this.identity;
      if (stolen || this.clock.now() >= this.lastRenew + renewDeadlineMs) {
        this.log?.warn(
          { holder: this.leader() },
          stolen ? 'another replica holds the Lease' : 'could not renew the Lease within the deadline',
        );
        this.setLeading(false);
        continue;
      }
      await this.clock.sleep(retryPeriodMs, signal);
    }
  }

  /** tryAcquireOrRenew bounded by `timeoutMs` (a hung API call counts as a failure). */
  private async attempt(timeoutMs: number): Promise<boolean> {
    const cancel = new AbortController();
    const onAbort = (): void => cancel.abort();
    this.abort.signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await Promise.race([
        this.tryAcquireOrRenew(),
        this.clock.sleep(timeoutMs, cancel.signal).then(() => false),
      ]);
    } finally {
      cancel.abort();
      this.abort.signal.removeEventListener('abort', onAbort);
    }
  }

  private observe(record: LeaseRecord, at: number): void {
    const before = this.observed?.holderIdentity;
    this.observed = record;
    this.observedAt = at;
    if (record.holderIdentity && record.holderIdentity !== before) {
      this.log?.info({ holder: record.holderIdentity }, 'new leader observed');
    }
  }

  private setLeading(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    this.log?.info({ identity: this.identity }, leading ? 'started leading' : 'stopped leading');
    for (const listener of this.listeners) {
      try {
        listener(leading);
      } catch (err) {
        this.log?.error({ err }, 'leadership listener threw');
      }
    }
  }
}
