import type { TestProject } from 'vitest/node';
import { acquireCluster, type E2ECluster } from '../cluster/index.js';
import { REAL_NODE_TAINT } from '../cluster/node.js';
import { kubectl } from '../cluster/operator.js';

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: E2ECluster;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { cluster, release } = await acquireCluster();
  if (cluster.realNode && cluster.kubectl) {
    // A run stopped in the middle of the in-cluster tier may have left the scheduling it sets up:
    // workloads go to the kwok node, the real node keeps its taint.
    const k = (args: string[]) => kubectl(cluster.kubectl as string, cluster.kubeconfig, args);
    k(['uncordon', '-l', 'type=kwok']);
    const t = REAL_NODE_TAINT;
    k(['taint', 'nodes', cluster.realNode.name, `${t.key}=${t.value}:${t.effect}`, '--overwrite']);
  }
  project.provide('cluster', cluster);
  return release;
}
