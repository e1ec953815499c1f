/**
 * The operator's parts of `kubemcp serve`: watch caches, policy store and controller, leader
 * election and the cool-down Lease sweeper, wired to one another; and its readiness checks.
 */

import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import {
  KubeLeaseClient,
  LeaderElector,
  PolicyController,
  PolicyStore,
  ScaleLeaseSweeper,
} from '../../controller/index.js';
import type { OperatorMetrics, ReadinessCheck } from '../../health/index.js';
import {
  CACHED_KINDS,
  EventRecorder,
  KubeBackend,
  type KubeClient,
  type SharedConfirmationKey,
} from '../../kube/index.js';
import { cooldownsWithoutNamespace } from '../../policy/cooldowns.js';

export interface OperatorParts {
  readonly backend: KubeBackend;
  readonly store: PolicyStore;
  readonly controller: PolicyController;
  readonly elector: LeaderElector | undefined;
  readonly sweeper: ScaleLeaseSweeper;
}

/** Builds the parts (nothing runs yet: start() starts them). */
export function operatorParts(
  config: Config,
  client: KubeClient,
  identity: string,
  logger: Logger,
  metrics: OperatorMetrics,
): OperatorParts {
  const watchBackoff = { maxMs: config.watchBackoffMaxSeconds * 1000 };
  const le = config.leaderElection;
  // Cool-down records (one Lease per scaled object) live next to the leader-election Lease.
  const backend = new KubeBackend({
    client,
    logger,
    reportingInstance: identity,
    backoff: watchBackoff,
    scaleLeaseNamespace: le.namespace,
  });
  for (const kind of CACHED_KINDS) metrics.trackCache(kind, () => backend.health(kind));
  const store = new PolicyStore();
  const elector = le.enabled
    ? new LeaderElector({
        identity,
        client: new KubeLeaseClient(client, le.namespace, le.leaseName),
        leaseDurationMs: le.leaseDurationSeconds * 1000,
        renewDeadlineMs: le.renewDeadlineSeconds * 1000,
        retryPeriodMs: le.retryPeriodSeconds * 1000,
        logger,
        metrics,
      })
    : undefined;
  const controller = new PolicyController({
    client,
    store,
    logger,
    metrics,
    isLeader: () => elector?.isLeader() ?? true,
    namespaceInformer: backend.informer('namespace'),
    events: new EventRecorder(client, identity, logger),
    watchBackoff,
    // The Pod's namespace (or the Lease namespace set explicitly, kubemcp-system by default).
    operatorNamespace: le.namespace,
  });
  // The leader deletes cool-down Leases that can no longer refuse a scale.
  const sweeper = new ScaleLeaseSweeper({
    client,
    namespace: le.namespace,
    intervalMs: config.scaleLeaseSweepSeconds * 1000,
    logger,
    deleted: metrics.scaleLeasesDeleted,
    errors: metrics.scaleLeaseSweepErrors,
  });
  return { backend, store, controller, elector, sweeper };
}

/** Starts the parts; the leader (or the only replica) resyncs status and sweeps cool-down Leases. */
export function startOperator(parts: OperatorParts, metrics: OperatorMetrics): void {
  const { elector, controller, sweeper } = parts;
  if (elector) {
    elector.onChange((leading) => {
      metrics.leader.set(leading ? 1 : 0);
      if (leading) {
        controller.resyncStatus();
        sweeper.start();
      } else {
        void sweeper.stop();
      }
    });
  } else {
    metrics.leader.set(1);
    sweeper.start();
  }
  parts.backend.start();
  controller.start();
  elector?.start();
}

/**
 * Cool-downs record scales as Leases in the operator namespace: say so once, at the first index,
 * when policies set cooldownSeconds and that namespace does not exist (their scales are refused).
 */
export function warnCooldownsWithoutNamespace(store: PolicyStore, namespace: string, logger: Logger): void {
  const off = store.onChange((index) => {
    off();
    const policies = cooldownsWithoutNamespace(index, namespace);
    if (policies.length > 0) {
      logger.warn(
        { namespace, policies },
        'McpPolicies set cooldownSeconds, and the namespace where KubeMCP records scales (Leases) does not exist: their scales are refused until it does (create it, or set --leader-election-namespace)',
      );
    }
  });
}

/** /readyz: not while stopping, caches synced, an index built; key and leadership problems warn. */
export function readinessChecks(
  parts: OperatorParts,
  sharedKey: SharedConfirmationKey | undefined,
  stopping: () => boolean,
): ReadinessCheck[] {
  const { backend, controller, elector } = parts;
  const checks: ReadinessCheck[] = [
    { name: 'shutdown', check: () => !stopping() || 'shutting down' },
    { name: 'caches', check: () => backend.isSynced() || 'watch caches have not synced yet' },
    { name: 'policies', check: () => controller.ready() || 'no policy index built yet' },
  ];
  if (sharedKey) {
    checks.push({
      name: 'confirmation-key',
      warnOnly: true,
      check: () => sharedKey.problemMessage() ?? true,
    });
  }
  if (elector) {
    checks.push({
      name: 'leader-election',
      warnOnly: true,
      check: () => {
        const problem = elector.problem();
        return problem === undefined || `${problem.reason}: ${problem.message}`;
      },
    });
  }
  return checks;
}
