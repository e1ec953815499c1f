/** The confirmation key of `kubemcp serve`: a key file, else the Secret every replica shares. */

import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import type { OperatorMetrics } from '../../health/index.js';
import { readConfirmationKeyFile } from '../../kube/confirmationkey.js';
import { type KubeClient, SharedConfirmationKey } from '../../kube/index.js';

export interface ConfirmationKey {
  /** The key, or how to read the current one; undefined: a random key per process. */
  readonly key: Uint8Array | (() => Uint8Array) | undefined;
  /** The shared Secret's holder, when the key comes from it (stopped on shutdown, a readiness warning). */
  readonly shared: SharedConfirmationKey | undefined;
}

/**
 * Read before anything else starts: a key file is read (a weak one refuses to start); else the Secret
 * shared by every replica is read or created (the first attempt is awaited, so normally the first
 * request already uses it; on failure a per-process key stands in and the read is retried in the
 * background).
 */
export async function confirmationKeyFor(
  config: Config,
  client: KubeClient,
  logger: Logger,
  metrics: OperatorMetrics,
): Promise<ConfirmationKey> {
  if (config.confirmationKeyFile !== undefined) {
    metrics.confirmationKeyShared.set(1);
    return { key: readConfirmationKeyFile(config.confirmationKeyFile), shared: undefined };
  }
  if (config.confirmationKeySecret === undefined) {
    metrics.confirmationKeyShared.set(0);
    return { key: undefined, shared: undefined };
  }
  const shared = new SharedConfirmationKey({
    client,
    namespace: config.leaderElection.namespace,
    name: config.confirmationKeySecret,
    logger,
    onProblem: (reason) => metrics.confirmationKeyShared.set(reason === undefined ? 1 : 0),
  });
  await shared.start();
  return { key: () => shared.current(), shared };
}
