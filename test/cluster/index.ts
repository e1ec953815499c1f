/**
 * The cluster an e2e run uses: an existing one named by KUBEMCP_E2E_KUBECONFIG or KUBECONFIG (kind,
 * or any reachable cluster; nothing is built), a local control plane already started with
 * `npm run cluster:up` (reused and left running), or a fresh local control plane that this run
 * starts and stops.
 */
import fs from 'node:fs';
import path from 'node:path';
import { KubeConfig, VersionApi } from '@kubernetes/client-node';
import { binaryPaths, ensureBinaries } from './build.js';
import { isRunning, killClusterSync, startCluster, stopCluster } from './cluster.js';
import { log } from './log.js';
import { CLUSTER_DIR } from './paths.js';

export interface E2ECluster {
  readonly kubeconfig: string;
  /** 'external': a cluster we did not start; 'reused': a running `cluster:up`; 'local': started for this run. */
  readonly mode: 'external' | 'reused' | 'local';
  /** Directory of component logs, for the local control plane. */
  readonly logsDir?: string;
  /**
   * State directory of the local control plane (pid and state files), for tests that stop and start
   * one component (stopComponent / startComponent in cluster.ts). Absent for an external cluster.
   */
  readonly dir?: string;
  /** The kubectl matching the local control plane; absent for an external cluster (use `kubectl`). */
  readonly kubectl?: string;
}

async function reachable(kubeconfigPath: string): Promise<boolean> {
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    const api = kc.makeApiClient(VersionApi);
    await Promise.race([
      api.getCode(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 5000)),
    ]);
    return true;
  } catch {
    return false;
  }
}

export async function acquireCluster(): Promise<{ cluster: E2ECluster; release: () => Promise<void> }> {
  let external = process.env.KUBEMCP_E2E_KUBECONFIG ?? process.env.KUBECONFIG;
  // KUBECONFIG=.cluster/kubeconfig (as `cluster:up` suggests) is the local control plane itself:
  // reuse it with everything the harness knows about it (logs, processes).
  if (external && path.resolve(external.split(':')[0] ?? external) === path.join(CLUSTER_DIR, 'kubeconfig')) {
    external = undefined;
  }
  if (external) {
    const file = external.split(':')[0] ?? external;
    if (fs.existsSync(file) && (await reachable(file))) {
      log(`e2e: using the existing cluster of ${file}`);
      return { cluster: { kubeconfig: file, mode: 'external' }, release: async () => {} };
    }
    log(`e2e: ${file} does not reach a cluster; starting the local control plane instead`);
  }
  const running = await isRunning(CLUSTER_DIR);
  if (running) {
    log(`e2e: reusing the local control plane at ${running.server} (left running)`);
    return {
      cluster: {
        kubeconfig: running.kubeconfig,
        mode: 'reused',
        logsDir: `${CLUSTER_DIR}/logs`,
        dir: CLUSTER_DIR,
        kubectl: running.kubectl,
      },
      release: async () => {},
    };
  }
  const built = await ensureBinaries();
  log('e2e: starting the local control plane …');
  const t0 = Date.now();
  const onExit = () => killClusterSync(CLUSTER_DIR);
  process.once('exit', onExit);
  const state = await startCluster({ dir: CLUSTER_DIR, binaries: binaryPaths(built) });
  log(`e2e: control plane ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return {
    cluster: {
      kubeconfig: state.kubeconfig,
      mode: 'local',
      logsDir: `${CLUSTER_DIR}/logs`,
      dir: CLUSTER_DIR,
      kubectl: state.kubectl,
    },
    release: async () => {
      await stopCluster(CLUSTER_DIR);
      process.off('exit', onExit);
    },
  };
}
