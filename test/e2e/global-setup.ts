import type { TestProject } from 'vitest/node';
import { acquireCluster, type E2ECluster } from '../cluster/index.js';

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: E2ECluster;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { cluster, release } = await acquireCluster();
  project.provide('cluster', cluster);
  return release;
}
