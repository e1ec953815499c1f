/**
 * Why leader election cannot use its Lease, told once and clearly: a failed Lease call classified
 * (namespace missing, RBAC, credentials, unavailable) with its remedy, and the run of failures
 * counted, shown as a gauge and logged at most once a minute per reason.
 */

import type { Logger } from 'pino';
import type { Counter, Gauge } from 'prom-client';
import { apiMessage, httpStatus } from '../kube/errors.js';
import type { Clock } from './clock.js';
import { LeaseConflictError } from './lease.js';

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
    message: `cannot ${op} ${where}: ${firstLine(err).slice(0, 300)}; retrying`,
  };
}

/** The leader-election collectors of OperatorMetrics. */
export interface LeaderElectionMetrics {
  readonly leaderElectionErrors: Counter<'reason'>;
  readonly leaderElectionFailing: Gauge<'reason'>;
}

export interface LeaseProblemsOptions {
  readonly lease: { description: string; namespace?: string; name?: string };
  readonly clock: Clock;
  readonly log: Logger | undefined;
  readonly metrics: LeaderElectionMetrics | undefined;
  /** A problem is logged at error level at most once per this interval per reason. */
  readonly errorLogIntervalMs: number;
  /** Failed attempts in a row (same reason) before a problem is reported. */
  readonly reportAfter: number;
}

/**
 * The current run of failed Lease calls, and how it is reported: counted per reason, shown as a gauge
 * and logged (rate-limited) once it has lasted reportAfter attempts; cleared when a call gets an answer.
 */
export class LeaseProblems {
  private current: LeaseProblem | undefined;
  private readonly loggedAt = new Map<LeaseProblemReason, number>();

  constructor(private readonly o: LeaseProblemsOptions) {}

  /** The current problem once it has lasted reportAfter attempts; undefined while Lease calls get answers. */
  problem(): LeaseProblem | undefined {
    return this.current && this.current.attempts >= this.o.reportAfter ? this.current : undefined;
  }

  /** Records a failed Lease call: metric, current problem, rate-limited error log. */
  failed(err: unknown, op: 'get' | 'create' | 'update'): void {
    const { log, metrics, reportAfter } = this.o;
    const found = leaseProblem(err, op, this.o.lease);
    if (!found) {
      this.recovered();
      return;
    }
    const now = this.o.clock.now();
    const previous = this.current;
    this.current =
      previous?.reason === found.reason
        ? { ...found, since: previous.since, attempts: previous.attempts + 1 }
        : { ...found, since: now, attempts: 1 };
    metrics?.leaderElectionErrors.inc({ reason: found.reason });
    if (previous && previous.reason !== found.reason && previous.attempts >= reportAfter) {
      metrics?.leaderElectionFailing.set({ reason: previous.reason }, 0);
    }
    // One failed call is not yet a problem: right after an API server restart, its authorizer may
    // refuse a request or two before its caches fill.
    if (this.current.attempts < reportAfter) {
      log?.debug({ reason: found.reason }, found.message);
      return;
    }
    metrics?.leaderElectionFailing.set({ reason: found.reason }, 1);
    const last = this.loggedAt.get(found.reason);
    if (last === undefined || now - last >= this.o.errorLogIntervalMs) {
      this.loggedAt.set(found.reason, now);
      const fields = { reason: found.reason, attempts: this.current.attempts };
      if (found.reason === 'Unavailable') log?.warn(fields, found.message);
      else log?.error(fields, found.message);
    } else {
      log?.debug({ reason: found.reason }, found.message);
    }
  }

  /** A Lease call got an answer: the current problem, if any, is over. */
  recovered(): void {
    const previous = this.current;
    if (!previous) return;
    this.current = undefined;
    if (previous.attempts < this.o.reportAfter) return;
    this.loggedAt.clear();
    this.o.metrics?.leaderElectionFailing.set({ reason: previous.reason }, 0);
    this.o.log?.info({ reason: previous.reason, attempts: previous.attempts }, 'the Lease can be used again');
  }
}

/** The first line of an error's message, for logs. */
export function firstLine(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.message;
  return String(err);
}
