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
 */

import type { V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Counter, Gauge } from 'prom-client';
import type { KubeClient } from '../kube/client.js';
import { apiMessage, httpStatus } from '../kube/errors.js';
import { microTime, parseMicroTime } from '../kube/microtime.js';
import type { Wire } from '../kube/types.js';

/** The fields of a Lease that leader election reads and writes. Times in ms since the epoch. */
export interface LeaseRecord {
  readonly holderIdentity?: string;
  readonly leaseDurationSeconds?: number;
  readonly acquireTime?: number;
  readonly renewTime?: number;
  readonly leaseTransitions?: number;
  /** The Lease object's resourceVersion (optimistic concurrency). */
  readonly resourceVersion?: string;
}

/** Someone else created or changed the Lease first. */
export class LeaseConflictError extends Error {
  constructor(message = 'the Lease was changed by someone else') {
    super(message);
    this.name = 'LeaseConflictError';
  }
}

export interface LeaseClient {
  /** The Lease, or undefined when it does not exist. */
  get(): Promise<LeaseRecord | undefined>;
  /** Creates the Lease; LeaseConflictError when it exists. */
  create(record: LeaseRecord): Promise<LeaseRecord>;
  /** Replaces the Lease if its resourceVersion is still `record.resourceVersion`; LeaseConflictError otherwise. */
  update(record: LeaseRecord): Promise<LeaseRecord>;
  /** Human-readable name for logs, e.g. kubemcp-system/kubemcp-operator. */
  readonly description: string;
  /** The Lease's namespace and name, for the remedies an error names. */
  readonly namespace?: string;
  readonly name?: string;
}

/**
 * Why the Lease cannot be used: its namespace does not exist (NamespaceNotFound), RBAC forbids it
 * (Forbidden), the operator's credentials are refused (Unauthorized), or any other failure
 * (Unavailable: unreachable API server, timeouts, 5xx). Losing a race for the Lease is not a problem.
 */
export type LeaseProblemReason = 'NamespaceNotFound' | 'Forbidden' | 'Unauthorized' | 'Unavailable';

export interface LeaseProblem {
  readonly reason: LeaseProblemReason;
  /** One line naming the cause and the remedy; no token, no object data. */
  readonly message: string;
  /** When this run of failures started (ms since the epoch, the elector's clock). */
  readonly since: number;
  /** Failed attempts in this run. */
  readonly attempts: number;
}

/** The leader-election collectors of OperatorMetrics. */
export interface LeaderElectionMetrics {
  readonly leaderElectionErrors: Counter<'reason'>;
  readonly leaderElectionFailing: Gauge<'reason'>;
}

/** Classifies a failed Lease call; undefined when it is not a problem (a lost race). */
export function leaseProblem(
  err: unknown,
  op: 'get' | 'create' | 'update',
  lease: { description: string; namespace?: string; name?: string },
): { reason: LeaseProblemReason; message: string } | undefined {
  if (err instanceof LeaseConflictError) return undefined;
  const status = httpStatus(err);
  const ns = lease.namespace ?? lease.description.split('/')[0] ?? '';
  const where = `the Lease ${lease.description}`;
  const withoutIt =
    'this replica cannot lead, and while no replica leads no McpPolicy status or Event is written (every replica still enforces)';
  const elsewhere = `set --leader-election-namespace (KUBEMCP_LEADER_ELECTION_NAMESPACE) to a namespace where the Lease can live`;
  const single = 'run a single replica with --no-leader-elect';
  if (status === 404 && op === 'create') {
    return {
      reason: 'NamespaceNotFound',
      message: `cannot use ${where}: the namespace "${ns}" does not exist, so ${withoutIt}. Remedy: create it (kubectl create namespace ${ns}), or ${elsewhere}, or ${single}`,
    };
  }
  if (status === 403) {
    const detail = apiMessage(err);
    return {
      reason: 'Forbidden',
      message: `cannot ${op} ${where}: RBAC forbids it${detail ? ` (${detail.slice(0, 300)})` : ''}, so ${withoutIt}. Remedy: grant the operator's identity get and update on the Lease named "${lease.name ?? lease.description.split('/')[1] ?? ''}" and create on leases in "${ns}" (config/rbac/leader_election_role.yaml), or ${elsewhere}, or ${single}`,
    };
  }
  if (status === 401) {
    return {
      reason: 'Unauthorized',
      message: `cannot ${op} ${where}: the API server refuses the operator's credentials (HTTP 401), so ${withoutIt}. Remedy: check the kubeconfig or ServiceAccount token the operator runs with`,
    };
  }
  return {
    reason: 'Unavailable',
    message: `cannot ${op} ${where}: ${describe(err).slice(0, 300)}; retrying`,
  };
}

export interface Clock {
  /** ms since the epoch (fractions allowed). */
  now(): number;
  /** Resolves after `ms`, or early (without error) when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    }),
};

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
  private current: LeaseProblem | undefined;
  private readonly loggedAt = new Map<LeaseProblemReason, number>();
  private readonly metrics: LeaderElectionMetrics | undefined;
  private readonly errorLogIntervalMs: number;
  private readonly reportAfter: number;

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
    this.metrics = options.metrics;
    this.errorLogIntervalMs = options.errorLogIntervalMs ?? 60_000;
    this.reportAfter = Math.max(1, options.reportAfterAttempts ?? 2);
  }

  /** Why the Lease cannot be used right now (after reportAfterAttempts failures in a row); undefined while Lease calls get answers. */
  problem(): LeaseProblem | undefined {
    return this.current && this.current.attempts >= this.reportAfter ? this.current : undefined;
  }

  /** Records a failed Lease call: metric, current problem, rate-limited error log. */
  private failed(err: unknown, op: 'get' | 'create' | 'update'): void {
    const found = leaseProblem(err, op, this.client);
    if (!found) {
      this.recovered();
      return;
    }
    const now = this.clock.now();
    const previous = this.current;
    this.current =
      previous?.reason === found.reason
        ? { ...found, since: previous.since, attempts: previous.attempts + 1 }
        : { ...found, since: now, attempts: 1 };
    this.metrics?.leaderElectionErrors.inc({ reason: found.reason });
    if (previous && previous.reason !== found.reason && previous.attempts >= this.reportAfter) {
      this.metrics?.leaderElectionFailing.set({ reason: previous.reason }, 0);
    }
    // One failed call is not yet a problem: right after an API server restart, its authorizer may
    // refuse a request or two before its caches fill.
    if (this.current.attempts < this.reportAfter) {
      this.log?.debug({ reason: found.reason }, found.message);
      return;
    }
    this.metrics?.leaderElectionFailing.set({ reason: found.reason }, 1);
    const last = this.loggedAt.get(found.reason);
    if (last === undefined || now - last >= this.errorLogIntervalMs) {
      this.loggedAt.set(found.reason, now);
      const fields = { reason: found.reason, attempts: this.current.attempts };
      if (found.reason === 'Unavailable') this.log?.warn(fields, found.message);
      else this.log?.error(fields, found.message);
    } else {
      this.log?.debug({ reason: found.reason }, found.message);
    }
  }

  /** A Lease call got an answer: the current problem, if any, is over. */
  private recovered(): void {
    const previous = this.current;
    if (!previous) return;
    this.current = undefined;
    if (previous.attempts < this.reportAfter) return;
    this.loggedAt.clear();
    this.metrics?.leaderElectionFailing.set({ reason: previous.reason }, 0);
    this.log?.info({ reason: previous.reason, attempts: previous.attempts }, 'the Lease can be used again');
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
      this.failed(err, 'get');
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
        this.recovered();
        this.observe(created, this.clock.now());
        return true;
      } catch (err) {
        this.failed(err, 'create');
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
        this.recovered(); // the Lease can be read; another replica holds it
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
      this.recovered();
      this.observe(updated, this.clock.now());
      return true;
    } catch (err) {
      this.failed(err, 'update');
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
      this.log?.warn({ err: describe(err) }, 'could not release the Lease');
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

function describe(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.message;
  return String(err);
}

/** The LeaseClient of a real cluster: one Lease, read and replaced with its resourceVersion. */
export class KubeLeaseClient implements LeaseClient {
  readonly description: string;
  private readonly path: string;
  private readonly collection: string;

  constructor(
    private readonly client: KubeClient,
    readonly namespace: string,
    readonly name: string,
  ) {
    this.description = `${namespace}/${name}`;
    this.collection = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
    this.path = `${this.collection}/${encodeURIComponent(name)}`;
  }

  private toRecord(lease: Wire<V1Lease>): LeaseRecord {
    const spec = lease.spec ?? {};
    const acquire = parseMicroTime(spec.acquireTime as unknown);
    const renew = parseMicroTime(spec.renewTime as unknown);
    return {
      ...(spec.holderIdentity ? { holderIdentity: spec.holderIdentity } : {}),
      ...(spec.leaseDurationSeconds === undefined ? {} : { leaseDurationSeconds: spec.leaseDurationSeconds }),
      ...(acquire === undefined ? {} : { acquireTime: acquire }),
      ...(renew === undefined ? {} : { renewTime: renew }),
      ...(spec.leaseTransitions === undefined ? {} : { leaseTransitions: spec.leaseTransitions }),
      ...(lease.metadata?.resourceVersion ? { resourceVersion: lease.metadata.resourceVersion } : {}),
    };
  }

  private toLease(record: LeaseRecord): Wire<V1Lease> {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: this.name,
        namespace: this.namespace,
        ...(record.resourceVersion ? { resourceVersion: record.resourceVersion } : {}),
      },
      spec: {
        ...(record.holderIdentity ? { holderIdentity: record.holderIdentity } : {}),
        ...(record.leaseDurationSeconds === undefined
          ? {}
          : { leaseDurationSeconds: record.leaseDurationSeconds }),
        ...(record.acquireTime === undefined ? {} : { acquireTime: microTime(record.acquireTime) }),
        ...(record.renewTime === undefined ? {} : { renewTime: microTime(record.renewTime) }),
        ...(record.leaseTransitions === undefined ? {} : { leaseTransitions: record.leaseTransitions }),
      },
    };
  }

  async get(): Promise<LeaseRecord | undefined> {
    try {
      return this.toRecord(await this.client.request<Wire<V1Lease>>('GET', this.path));
    } catch (err) {
      if (httpStatus(err) === 404) return undefined;
      throw err;
    }
  }

  async create(record: LeaseRecord): Promise<LeaseRecord> {
    try {
      return this.toRecord(
        await this.client.request<Wire<V1Lease>>('POST', this.collection, { body: this.toLease(record) }),
      );
    } catch (err) {
      if (httpStatus(err) === 409) throw new LeaseConflictError('the Lease already exists');
      throw err;
    }
  }

  async update(record: LeaseRecord): Promise<LeaseRecord> {
    try {
      return this.toRecord(
        await this.client.request<Wire<V1Lease>>('PUT', this.path, { body: this.toLease(record) }),
      );
    } catch (err) {
      if (httpStatus(err) === 409) throw new LeaseConflictError();
      throw err;
    }
  }
}
