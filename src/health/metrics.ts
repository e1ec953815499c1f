import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CacheHealth } from '../kube/types.js';

/**
 * Prometheus metrics of the operator side (controller, leader election, watch caches). Registered
 * once per Registry: asking again for the same registry returns the same collectors.
 */
export interface OperatorMetrics {
  /** Reconciles by controller (index | status) and result (success | error). */
  readonly reconciles: Counter<'controller' | 'result'>;
  /** Failed reconciles by controller. */
  readonly reconcileErrors: Counter<'controller'>;
  readonly reconcileDuration: Histogram<'controller'>;
  /** McpPolicy status writes (only the leader writes). */
  readonly statusWrites: Counter;
  /** McpPolicies in the current index by state (ready | invalid). */
  readonly policies: Gauge<'state'>;
  /** Version of the published policy index. */
  readonly indexVersion: Gauge;
  /** 1 while this replica leads. */
  readonly leader: Gauge;
  /** Failed Lease calls by reason (NamespaceNotFound | Forbidden | Unauthorized | Unavailable). */
  readonly leaderElectionErrors: Counter<'reason'>;
  /** 1 for the reason the Lease cannot be used right now, 0 once it can. */
  readonly leaderElectionFailing: Gauge<'reason'>;
  /** Cool-down Leases the leader's sweep deleted. */
  readonly scaleLeasesDeleted: Counter;
  /** Sweeps of cool-down Leases that failed (list or delete refused, API server unreachable). */
  readonly scaleLeaseSweepErrors: Counter;
  /** 1 while human confirmations are signed with the shared key (Secret or file), 0 with a per-process one. */
  readonly confirmationKeyShared: Gauge;
  /** Registers a cache for the cache gauges (age, connected, synced). */
  trackCache(kind: string, health: () => CacheHealth): void;
}

const cache = new WeakMap<Registry, OperatorMetrics>();

export function operatorMetrics(registry: Registry, now: () => number = Date.now): OperatorMetrics {
  const existing = cache.get(registry);
  if (existing) return existing;
  const caches = new Map<string, () => CacheHealth>();
  const metrics: OperatorMetrics = {
    reconciles: new Counter({
      name: 'kubemcp_controller_reconciles_total',
      help: 'Reconciles by controller (index: compile and publish; status: write McpPolicy status) and result',
      labelNames: ['controller', 'result'] as const,
      registers: [registry],
    }),
    reconcileErrors: new Counter({
      name: 'kubemcp_controller_reconcile_errors_total',
      help: 'Failed reconciles by controller',
      labelNames: ['controller'] as const,
      registers: [registry],
    }),
    reconcileDuration: new Histogram({
      name: 'kubemcp_controller_reconcile_duration_seconds',
      help: 'Reconcile duration in seconds by controller',
      labelNames: ['controller'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    statusWrites: new Counter({
      name: 'kubemcp_controller_status_writes_total',
      help: 'McpPolicy status writes (only the leader writes status)',
      registers: [registry],
    }),
    policies: new Gauge({
      name: 'kubemcp_policies',
      help: 'McpPolicies in the published index by state (ready or invalid)',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
    indexVersion: new Gauge({
      name: 'kubemcp_policy_index_version',
      help: 'Version of the published policy index (increments on every publish)',
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'kubemcp_leader',
      help: '1 while this replica holds the leader Lease, else 0',
      registers: [registry],
    }),
    leaderElectionErrors: new Counter({
      name: 'kubemcp_leader_election_errors_total',
      help: 'Failed leader-election Lease calls by reason (NamespaceNotFound, Forbidden, Unauthorized, Unavailable)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    leaderElectionFailing: new Gauge({
      name: 'kubemcp_leader_election_failing',
      help: '1 while the leader-election Lease cannot be used, by reason; 0 once it can',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    scaleLeasesDeleted: new Counter({
      name: 'kubemcp_scale_leases_deleted_total',
      help: 'Cool-down Leases (kubemcp-scale-*) deleted by the leader because they can no longer refuse a scale',
      registers: [registry],
    }),
    scaleLeaseSweepErrors: new Counter({
      name: 'kubemcp_scale_lease_sweep_errors_total',
      help: 'Sweeps of expired cool-down Leases that failed (retried at the next interval)',
      registers: [registry],
    }),
    confirmationKeyShared: new Gauge({
      name: 'kubemcp_confirmation_key_shared',
      help: '1 while human confirmations are signed with the key shared by every replica (Secret or file), 0 while with a key of this process only',
      registers: [registry],
    }),
    trackCache(kind, health) {
      caches.set(kind, health);
    },
  };
  new Gauge({
    name: 'kubemcp_cache_age_seconds',
    help: 'Seconds since the watch cache of a kind was last known current (0 while connected)',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const t = now();
      for (const [kind, health] of caches) {
        const h = health();
        const age = h.connected
          ? 0
          : h.lastGoodAt === undefined
            ? -1
            : Math.max(0, (t - h.lastGoodAt) / 1000);
        this.set({ kind }, age);
      }
    },
  });
  new Gauge({
    name: 'kubemcp_cache_connected',
    help: '1 while the watch of a kind is connected',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [kind, health] of caches) this.set({ kind }, health().connected ? 1 : 0);
    },
  });
  new Gauge({
    name: 'kubemcp_cache_synced',
    help: '1 once the cache of a kind has synced',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [kind, health] of caches) this.set({ kind }, health().synced ? 1 : 0);
    },
  });
  metrics.leader.set(0);
  cache.set(registry, metrics);
  return metrics;
}
