import { defineConfig } from 'vitest/config';

const e2e = {
  environment: 'node' as const,
  globalSetup: ['test/e2e/global-setup.ts'],
  // One real control plane is shared by every e2e file; run them one at a time.
  fileParallelism: false,
  testTimeout: 120_000,
  hookTimeout: 300_000,
};

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          benchmark: { include: ['bench/**/*.bench.ts'] },
        },
      },
      {
        // The fast tier's e2e: the local control plane with kwok nodes (or the cluster named by
        // KUBEMCP_E2E_KUBECONFIG; on kind the in-cluster tier runs too).
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          exclude: ['test/e2e/faults.test.ts'],
          ...e2e,
        },
      },
      {
        // npm run test:faults: the local control plane's components stopped, killed and cut under load.
        test: { name: 'faults', include: ['test/e2e/faults.test.ts'], ...e2e },
      },
    ],
  },
});
