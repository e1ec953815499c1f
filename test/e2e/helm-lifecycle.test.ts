/**
 * `helm install`, `helm upgrade` and `helm uninstall` of charts/kubemcp, with Helm 4 and Helm 3, on
 * a throwaway local control plane of this file's own: the chart's objects are cluster-wide and Helm
 * must own them, which the run's shared cluster (where other files apply config/ with kubectl)
 * cannot offer. Its Pods are kwok's (Ready without running a container), so this checks what Helm
 * does with the objects, not the operator: the in-cluster smoke with real Pods (one Lease holder, an
 * agent call through the Service) is test/e2e/helm-in-cluster.test.ts, on the kind tier.
 * - a first install with the sample policies on a cluster without the CRD (the samples are hooks,
 *   applied once the CRD exists);
 * - an upgrade to a chart whose CRD changed updates the CRD;
 * - an uninstall leaves the CRD and every McpPolicy (the samples and one applied by hand) and removes
 *   everything else; a second install adopts the kept CRD.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { binaryPaths, ensureBinaries } from '../cluster/build.js';
import { startCluster, stopCluster } from '../cluster/cluster.js';
import { ensureHelm, runHelm } from '../cluster/helm.js';
import { kubectl as runKubectl } from '../cluster/operator.js';
import {
  CHART,
  CHART_CRDS,
  type KubectlTarget,
  objectExists,
  POLICY_CRD,
  printerColumns,
  RELEASE,
  UPGRADE_COLUMN,
  writeUpgradedChart,
} from './chart-support.js';
import { cluster } from './support.js';

// On an external cluster (kind) the local control plane's binaries are not built; the kind tier
// installs the chart on its own cluster (test/e2e/helm-in-cluster.test.ts).
const external = cluster().mode === 'external';

let dir: string;
let kubeconfig: string;
let kubectlBin: string;
let upgradedChart: string;
const bins: { helm?: string; helm3?: string } = {};

beforeAll(async () => {
  if (external) return;
  bins.helm = await ensureHelm();
  bins.helm3 = await ensureHelm(3);
  const built = await ensureBinaries({ only: ['kubernetes', 'etcd', 'kwok'] });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubemcp-helm-cluster-'));
  const state = await startCluster({ dir, binaries: binaryPaths(built) });
  kubeconfig = state.kubeconfig;
  kubectlBin = state.kubectl;
  upgradedChart = writeUpgradedChart(dir);
}, 1_800_000);

afterAll(async () => {
  if (dir) {
    await stopCluster(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function k(args: string[], input?: string): string {
  return runKubectl(kubectlBin, kubeconfig, args, input);
}

const target = (): KubectlTarget => ({ kubectl: kubectlBin, kubeconfig });
const exists = (args: string[]): boolean => objectExists(target(), args);

function policies(): string[] {
  return k(['get', 'mcppolicies', '-o', 'name']).trim().split('\n').filter(Boolean).sort();
}

const SAMPLES = ['copilot-read-only', 'sre-prod-staging', 'web-scaler'].map(
  (n) => `mcppolicy.kubemcp.io/${n}`,
);

describe.skipIf(external).each([
  { name: 'Helm 4', bin: () => bins.helm as string, namespace: 'kubemcp-helm4' },
  { name: 'Helm 3', bin: () => bins.helm3 as string, namespace: 'kubemcp-helm3' },
])('$name', ({ bin, namespace }) => {
  const helm = (args: string[]) => {
    const started = Date.now();
    const res = runHelm(bin(), [...args, '--kubeconfig', kubeconfig], {
      stateDir: path.join(dir, 'helm-state'),
    });
    if (res.status !== 0)
      throw new Error(`helm ${args.join(' ')} exited ${res.status}:\n${res.stderr}${res.stdout}`);
    process.stderr.write(`helm ${args[0]}: ${Date.now() - started} ms\n`);
    return res.stdout;
  };
  const wait = ['--wait', '--timeout', '120s'];

  it('installs on a cluster without the CRD, the sample policies included', () => {
    for (const crd of CHART_CRDS) expect(exists(['crd', crd]), crd).toBe(false);
    helm([
      'install',
      RELEASE,
      CHART,
      '-n',
      namespace,
      '--create-namespace',
      '--set',
      'samples.enabled=true',
      ...wait,
    ]);
    const crd = JSON.parse(k(['get', 'crd', POLICY_CRD, '-o', 'json'])) as {
      metadata: { annotations: Record<string, string> };
    };
    expect(crd.metadata.annotations['helm.sh/resource-policy']).toBe('keep');
    expect(policies()).toEqual(SAMPLES);
    const dep = JSON.parse(k(['-n', namespace, 'get', 'deployment', 'kubemcp-operator', '-o', 'json'])) as {
      status: { availableReplicas?: number };
    };
    expect(dep.status.availableReplicas).toBe(2);
    expect(exists(['clusterrolebinding', 'kubemcp-operator'])).toBe(true);
  });

  it('upgrades to a chart whose CRD changed, and the CRD is updated', () => {
    k(
      ['apply', '-f', '-'],
      'apiVersion: kubemcp.io/v1alpha1\nkind: McpPolicy\nmetadata: {name: applied-by-hand}\n' +
        'spec: {subjects: [{kind: User, name: alice}], namespaces: {names: [default]}, tools: [list_pods]}\n',
    );
    expect(printerColumns(target())).not.toContain(UPGRADE_COLUMN);
    helm(['upgrade', RELEASE, upgradedChart, '-n', namespace, '--set', 'samples.enabled=true', ...wait]);
    expect(printerColumns(target())).toContain(UPGRADE_COLUMN);
    const labels = (
      parse(k(['get', 'crd', POLICY_CRD, '-o', 'yaml'])) as { metadata: { labels: Record<string, string> } }
    ).metadata.labels;
    expect(labels['helm.sh/chart']).toBe('kubemcp-99.0.0');
    expect(policies()).toEqual([...SAMPLES, 'mcppolicy.kubemcp.io/applied-by-hand'].sort());
  });

  it('uninstalls everything but the CRD and the McpPolicies', () => {
    helm(['uninstall', RELEASE, '-n', namespace, '--wait']);
    for (const crd of CHART_CRDS) expect(exists(['crd', crd]), crd).toBe(true);
    expect(policies()).toEqual([...SAMPLES, 'mcppolicy.kubemcp.io/applied-by-hand'].sort());
    expect(exists(['-n', namespace, 'deployment', 'kubemcp-operator'])).toBe(false);
    expect(exists(['-n', namespace, 'service', 'kubemcp'])).toBe(false);
    expect(exists(['clusterrole', 'kubemcp-operator'])).toBe(false);
    expect(exists(['clusterrolebinding', 'kubemcp-operator'])).toBe(false);
  });

  it('installs again over the kept CRDs, then the CRDs are deleted by hand as the README says', () => {
    helm(['install', RELEASE, CHART, '-n', namespace, ...wait]);
    expect(printerColumns(target())).not.toContain(UPGRADE_COLUMN);
    helm(['uninstall', RELEASE, '-n', namespace, '--wait']);
    k(['delete', 'crd', ...CHART_CRDS, '--wait=true', '--timeout=60s']);
    for (const crd of CHART_CRDS) expect(exists(['crd', crd]), crd).toBe(false);
  });
});
