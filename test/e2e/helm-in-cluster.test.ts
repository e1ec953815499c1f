/**
 * The Helm chart as users install it, on the kind tier's cluster with real Pods: `helm install` of
 * charts/kubemcp (Helm 4, default values but the image's pull policy, since kind's nodes hold the
 * image loaded by `kind load`) into its own namespace, then the in-cluster smoke (both Pods Ready
 * from the image, exactly one Lease holder, an agent Pod's calls through the chart's Service),
 * `helm upgrade` to a chart whose CRD changed (the CRD is updated and the Pods keep serving), and
 * `helm uninstall` (the CRDs and the McpPolicies stay).
 *
 * `npm run test:e2e:kind` runs this file after the config/default tier, once config/default is
 * deleted (the chart and kustomize install the same cluster-wide objects), with
 * KUBEMCP_E2E_IN_CLUSTER=kind-helm. Skipped elsewhere. The same lifecycle with Helm 3 and 4 on the
 * local control plane (kwok Pods, no containers): test/e2e/helm-lifecycle.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureHelm, runHelm } from '../cluster/helm.js';
import { DEFAULT_IMAGE } from '../cluster/image.js';
import {
  CHART,
  CHART_CRDS,
  type KubectlTarget,
  objectExists,
  printerColumns,
  RELEASE,
  UPGRADE_COLUMN,
  writeUpgradedChart,
} from './chart-support.js';
import {
  type Agent,
  holderPod,
  isReady,
  leaseHolder,
  operatorPods,
  startAgent,
} from './in-cluster-support.js';
import {
  createDeployment,
  createNamespace,
  createPolicy,
  createServiceAccount,
  deleteNamespace,
  deletePolicy,
  readDeployment,
  runKubectl,
  uniqueSuffix,
  waitPolicyReady,
  waitReady,
} from './mcp-support.js';
import { cluster, eventually } from './support.js';

const mode = process.env.KUBEMCP_E2E_IN_CLUSTER === 'kind-helm' ? 'kind' : undefined;
const NS = 'kubemcp-helm';

const target = (): KubectlTarget => ({
  kubectl: cluster().kubectl ?? 'kubectl',
  kubeconfig: cluster().kubeconfig,
});
const exists = (args: string[]): boolean => objectExists(target(), args);

describe.skipIf(mode === undefined)('the Helm chart on kind: install, smoke, upgrade, uninstall', () => {
  const suffix = uniqueSuffix();
  const ns = `e2e-helm-${suffix}`;
  const agents = `e2e-helm-agents-${suffix}`;
  const policy = `e2e-helm-${suffix}`;
  let dir = '';
  let helmBin = '';
  let agent: Agent | undefined;

  const helm = (args: string[]): string => {
    const started = Date.now();
    const res = runHelm(helmBin, [...args, '--kubeconfig', cluster().kubeconfig], {
      stateDir: path.join(dir, 'helm-state'),
    });
    if (res.status !== 0)
      throw new Error(`helm ${args.join(' ')} exited ${res.status}:\n${res.stderr}${res.stdout}`);
    console.log(`helm ${args[0]}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return res.stdout;
  };
  const image = [
    '--set',
    `image.repository=${DEFAULT_IMAGE.split(':')[0]}`,
    '--set',
    `image.tag=${DEFAULT_IMAGE.split(':')[1]}`,
  ];
  const wait = ['--set', 'image.pullPolicy=Never', '--wait', '--timeout', '180s'];

  async function servesTheAgent(): Promise<void> {
    const listed = await (agent as Agent).callTool('list_pods', { namespace: ns });
    expect(listed.isError).toBeFalsy();
    const items = (listed.structuredContent?.items ?? []) as Array<{ namespace: string }>;
    expect(items.length).toBeGreaterThan(0);
    expect(items.every((p) => p.namespace === ns)).toBe(true);
  }

  beforeAll(async () => {
    helmBin = await ensureHelm();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubemcp-helm-kind-'));
    for (const crd of CHART_CRDS) expect(exists(['crd', crd]), `${crd} before the install`).toBe(false);
  }, 1_800_000);

  afterAll(async () => {
    agent?.stop();
    await deletePolicy(policy).catch(() => undefined);
    if (helmBin) {
      runHelm(
        helmBin,
        ['uninstall', RELEASE, '-n', NS, '--ignore-not-found', '--kubeconfig', cluster().kubeconfig],
        {
          stateDir: path.join(dir, 'helm-state'),
        },
      );
    }
    runKubectl(['delete', 'crd', ...CHART_CRDS, '--ignore-not-found', '--wait=true', '--timeout=60s']);
    await deleteNamespace(ns);
    await deleteNamespace(agents);
    await deleteNamespace(NS);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }, 300_000);

  it('installs: 2 operator Pods Ready from the image, exactly one holds the Lease', async () => {
    helm(['install', RELEASE, CHART, '-n', NS, '--create-namespace', ...image, ...wait]);
    for (const crd of CHART_CRDS) expect(exists(['crd', crd]), crd).toBe(true);
    const pods = await operatorPods(NS);
    expect(pods).toHaveLength(2);
    for (const p of pods) {
      expect(isReady(p)).toBe(true);
      expect(p.spec?.containers[0]?.image).toBe(DEFAULT_IMAGE);
      expect(p.status?.containerStatuses?.[0]?.restartCount).toBe(0);
    }
    const holder = await eventually(
      "a Lease holder among the chart's operator Pods",
      async () => {
        const h = await leaseHolder(NS).catch(() => undefined);
        return holderPod(h, pods).length === 1 ? h : undefined;
      },
      30_000,
    );
    expect(holderPod(holder, pods)).toHaveLength(1);
  }, 300_000);

  it("serves an agent Pod through the chart's Service: allowed within its policy, denied outside", async () => {
    await createNamespace(ns);
    await createNamespace(agents);
    await createServiceAccount(agents, 'agent');
    await createDeployment(ns, 'web', 1);
    await waitReady(ns, 'web', 1);
    await createPolicy(policy, {
      subjects: [{ kind: 'ServiceAccount', name: 'agent', namespace: agents }],
      namespaces: { names: [ns] },
      tools: ['list_pods', 'scale_deployment'],
      replicas: { min: 1, max: 3 },
    });
    await waitPolicyReady(policy);
    agent = await startAgent(agents, 'agent', `http://kubemcp.${NS}.svc:8080/mcp`);

    await servesTheAgent();
    const scaled = await agent.callTool('scale_deployment', { namespace: ns, name: 'web', replicas: 2 });
    expect(scaled.isError).toBeFalsy();
    expect((await readDeployment(ns, 'web')).spec?.replicas).toBe(2);
    const elsewhere = await agent.callTool('list_pods', { namespace: NS });
    expect(elsewhere.isError).toBe(true);
    expect(JSON.stringify(elsewhere)).not.toContain('kubemcp-operator-');
  }, 300_000);

  it('upgrades to a chart whose CRD changed: the CRD is updated and the agent is still served', async () => {
    expect(printerColumns(target())).not.toContain(UPGRADE_COLUMN);
    helm(['upgrade', RELEASE, writeUpgradedChart(dir), '-n', NS, ...image, ...wait]);
    expect(printerColumns(target())).toContain(UPGRADE_COLUMN);
    const pods = await operatorPods(NS);
    expect(pods.filter(isReady)).toHaveLength(2);
    await eventually(
      'the agent served after the upgrade',
      () =>
        servesTheAgent().then(
          () => true,
          () => undefined,
        ),
      60_000,
    );
  }, 300_000);

  it('uninstalls: the operator goes, the CRDs and the McpPolicies stay', async () => {
    helm(['uninstall', RELEASE, '-n', NS, '--wait']);
    expect(exists(['-n', NS, 'deployment', 'kubemcp-operator'])).toBe(false);
    expect(exists(['-n', NS, 'service', 'kubemcp'])).toBe(false);
    expect(exists(['clusterrole', 'kubemcp-operator'])).toBe(false);
    for (const crd of CHART_CRDS) expect(exists(['crd', crd]), crd).toBe(true);
    expect(exists(['mcppolicy', policy])).toBe(true);
    await eventually(
      'no operator Pods left',
      async () => ((await operatorPods(NS)).length === 0 ? true : undefined),
      90_000,
    );
  }, 300_000);
});
