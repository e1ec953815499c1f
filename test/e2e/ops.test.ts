/**
 * Operating KubeMCP on a real API server:
 *
 * - the manifests: `kubectl apply -f crds/` (CRDs only) and `kubectl apply -k config/default`, and
 *   config/crd renders the same CRD as crds/;
 * - leader election that cannot work (its Lease namespace does not exist): `kubemcp serve` says so in
 *   its log, on /readyz?verbose and in a metric; without leader-election flags, a process outside a
 *   Pod does not elect and writes status at once;
 * - risky grants: Ready=True plus a Warnings condition;
 * - an Event about a Deployment whose name has 253 characters is recorded.
 */

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  AppsV1Api,
  CustomObjectsApi,
  EventsV1Api,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  ALL_CRD_FILES,
  ALL_CRD_NAMES,
  CRD_NAME,
  GROUP,
  PLURAL,
  VERSION,
} from '../../src/api/v1alpha1/index.js';
import { PolicyController } from '../../src/controller/controller.js';
import { PolicyStore } from '../../src/controller/store.js';
import { EventRecorder } from '../../src/kube/events.js';
import { applyManifestFile, waitForCrdEstablished } from '../cluster/apply.js';
import { freePort } from '../cluster/cluster.js';
import { kubectl } from '../cluster/operator.js';
import { serveArgs } from '../serve-args.js';
import { cluster, eventually, kubeClient, kubeConfig, scratchNamespace } from './support.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const suffix = randomBytes(3).toString('hex');
const run = (args: string[]) => kubectl(cluster().kubectl ?? 'kubectl', cluster().kubeconfig, args);

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
interface PolicyObj {
  status?: { conditions?: Condition[] };
}

const custom = () => kubeConfig().makeApiClient(CustomObjectsApi);
const created: string[] = [];

async function createPolicy(name: string, spec: Record<string, unknown>): Promise<void> {
  await custom().createClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'McpPolicy', metadata: { name }, spec },
  });
  created.push(name);
}

async function getPolicy(name: string): Promise<PolicyObj> {
  return (await custom().getClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    name,
  })) as PolicyObj;
}

const condition = (p: PolicyObj, type: string) => p.status?.conditions?.find((c) => c.type === type);

beforeAll(async () => {
  const kc = kubeConfig();
  for (const file of ALL_CRD_FILES) await applyManifestFile(kc, path.join(ROOT, file), 'kubemcp-e2e');
  for (const name of ALL_CRD_NAMES) await waitForCrdEstablished(kc, name);
});

afterAll(async () => {
  for (const name of created) {
    await custom()
      .deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name })
      .catch(() => undefined);
  }
});

describe('the shipped manifests', () => {
  it('kubectl apply -f crds/ applies the CRDs and nothing else', () => {
    const out = run(['apply', '--dry-run=server', '-f', 'crds/']);
    expect(out.trim().split('\n').sort()).toEqual(
      ALL_CRD_NAMES.map(
        (name) => `customresourcedefinition.apiextensions.k8s.io/${name} configured (server dry run)`,
      ).sort(),
    );
  });

  it('kubectl apply -k config/default applies, and config/crd holds the same CRD as crds/', () => {
    run(['apply', '--server-side', '-f', 'config/manager/namespace.yaml']);
    const out = run(['apply', '--dry-run=server', '-k', 'config/default']);
    expect(out).toMatch(new RegExp(`^customresourcedefinition\\.apiextensions\\.k8s\\.io/${CRD_NAME} `, 'm'));
    expect(out).toMatch(/^networkpolicy\.networking\.k8s\.io\/kubemcp-operator /m);
    expect(out).toMatch(/^role\.rbac\.authorization\.k8s\.io\/kubemcp-leader-election /m);
    const rendered = parseAllDocuments(run(['kustomize', 'config/crd'])).map((d) => d.toJS());
    const shipped = ALL_CRD_FILES.map((file) =>
      parseAllDocuments(fs.readFileSync(path.join(ROOT, file), 'utf8'))[0]?.toJS(),
    );
    expect(rendered).toHaveLength(ALL_CRD_FILES.length);
    type Crd = { metadata?: { name?: string }; spec?: unknown } | undefined;
    const byName = (crds: readonly Crd[]) =>
      [...crds].sort((a, b) => String(a?.metadata?.name).localeCompare(String(b?.metadata?.name)));
    expect(byName(rendered as Crd[]).map((c) => c?.spec)).toEqual(
      byName(shipped as Crd[]).map((c) => c?.spec),
    );
  });
});

interface Serve {
  readonly child: ChildProcess;
  readonly healthPort: number;
  readonly lines: string[];
  stop(): Promise<void>;
}

/** `kubemcp serve` outside a Pod, as a developer runs it: admin kubeconfig, no in-cluster variables. */
async function serve(args: string[]): Promise<Serve> {
  const healthPort = await freePort();
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) =>
        k !== 'KUBECONFIG' &&
        !k.startsWith('KUBEMCP_') &&
        !['KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT', 'POD_NAME', 'POD_NAMESPACE'].includes(k),
    ),
  );
  const child = spawn(
    process.execPath,
    serveArgs({ kubeconfig: cluster().kubeconfig, mcpPort: 0, healthPort, extraArgs: args }),
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env },
  );
  const lines: string[] = [];
  // Whole lines only: a chunk may end in the middle of one.
  const collect = (): ((chunk: Buffer) => void) => {
    let partial = '';
    return (chunk) => {
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts.filter((l) => l !== ''));
    };
  };
  child.stdout?.on('data', collect());
  child.stderr?.on('data', collect());
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    healthPort,
    lines,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function text(port: number, pathname: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${pathname}`);
  return { status: res.status, body: await res.text() };
}

describe('kubemcp serve and its Lease', () => {
  const servers: Serve[] = [];
  afterAll(async () => {
    for (const s of servers) await s.stop();
  });

  it('a Lease namespace that does not exist: an error naming the remedies, /readyz?verbose and a metric say so', async ({
    onTestFailed,
  }) => {
    const missing = `e2e-no-such-ns-${suffix}`;
    const s = await serve([
      '--leader-elect',
      '--leader-election-namespace',
      missing,
      '--retry-period',
      '1',
      '--renew-deadline',
      '3',
      '--lease-duration',
      '4',
    ]);
    servers.push(s);
    onTestFailed(() => {
      process.stderr.write(`── serve ──\n${s.lines.slice(-30).join('\n')}\n`);
    });
    const verbose = await eventually(
      'the leader-election warning on /readyz?verbose',
      async () => {
        const r = await text(s.healthPort, '/readyz?verbose').catch(() => undefined);
        return r?.body.includes('[!] leader-election warning') ? r : undefined;
      },
      60_000,
    );
    // Ready all the same: every replica serves and enforces, leading or not.
    expect(verbose.status).toBe(200);
    expect(verbose.body).toContain(`NamespaceNotFound: cannot use the Lease ${missing}/kubemcp-operator`);
    expect(verbose.body).toContain('--no-leader-elect');

    const errors = s.lines
      .map((l) => {
        try {
          return JSON.parse(l) as { level: number; msg: string; reason?: string };
        } catch {
          return undefined;
        }
      })
      .filter((r) => r?.level === 50 && r.reason === 'NamespaceNotFound');
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors[0]?.msg).toContain(`kubectl create namespace ${missing}`);
    expect(errors[0]?.msg).toContain('--leader-election-namespace');
    const metrics = (await text(s.healthPort, '/metrics')).body;
    const attempts = Number(
      /^kubemcp_leader_election_errors_total\{reason="NamespaceNotFound"\} (\d+)$/m.exec(metrics)?.[1],
    );
    expect(attempts).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(/^kubemcp_leader_election_failing\{reason="NamespaceNotFound"\} 1$/m);
    expect(metrics).toMatch(/^kubemcp_leader 0$/m);
    const more = await eventually('more attempts', async () => {
      const m = (await text(s.healthPort, '/metrics')).body;
      const n = Number(
        /^kubemcp_leader_election_errors_total\{reason="NamespaceNotFound"\} (\d+)$/m.exec(m)?.[1],
      );
      return n >= 4 ? n : undefined;
    });
    // Rate-limited: one error line a minute per cause, not one per attempt.
    const lines = s.lines.filter((l) => l.includes('"level":50') && l.includes('NamespaceNotFound'));
    expect(lines.length).toBeLessThanOrEqual(2);
    expect(lines.length).toBeLessThan(more);
  });

  it('outside a Pod, plain kubemcp serve does not elect and writes McpPolicy status', async ({
    onTestFailed,
  }) => {
    const name = `e2e-plain-${suffix}`;
    await createPolicy(name, {
      subjects: [{ kind: 'User', name: `plain-${suffix}` }],
      namespaces: { names: ['default'] },
      tools: ['list_pods'],
    });
    const s = await serve([]);
    servers.push(s);
    onTestFailed(() => {
      process.stderr.write(`── serve ──\n${s.lines.slice(-30).join('\n')}\n`);
    });
    await eventually(
      'status from plain serve',
      async () => condition(await getPolicy(name), 'Ready')?.status === 'True',
    );
    expect(s.lines.some((l) => l.includes('"leaderElection":"disabled"'))).toBe(true);
    expect((await text(s.healthPort, '/metrics')).body).toMatch(/^kubemcp_leader 1$/m);
    await s.stop();
  });
});

describe('risky grants and long names on the real API server', () => {
  const ns = scratchNamespace('ops');
  const store = new PolicyStore();
  let controller: PolicyController | undefined;

  afterAll(async () => {
    await controller?.stop();
  });

  it('a policy covering the operator namespace, for everyone, with min defaulted: Ready=True plus Warnings', async () => {
    const client = kubeClient();
    controller = new PolicyController({
      client,
      store,
      logger: pino({ level: 'warn' }),
      operatorNamespace: ns(),
    });
    controller.start();
    await controller.synced(30_000);

    const name = `e2e-risky-${suffix}`;
    await createPolicy(name, {
      subjects: [{ kind: 'Group', name: 'system:authenticated' }],
      namespaces: { names: ['e2e-ops-*'] },
      tools: ['list_pods', 'scale_deployment'],
      replicas: { max: 3 },
    });
    const p = await eventually('Warnings condition', async () => {
      const obj = await getPolicy(name);
      return condition(obj, 'Warnings') ? obj : undefined;
    });
    expect(condition(p, 'Ready')).toMatchObject({ status: 'True', reason: 'Accepted' });
    const warnings = condition(p, 'Warnings');
    expect(warnings).toMatchObject({
      status: 'True',
      reason: 'OperatorNamespace,EveryoneSubject,ScaleToZero',
    });
    expect(warnings?.message).toContain(`operator's own namespace "${ns()}"`);

    // The printer column shows the codes.
    const table = run([
      'get',
      'mcpp',
      name,
      '--no-headers',
      '-o',
      'custom-columns=W:.status.conditions[?(@.type=="Warnings")].reason',
    ]);
    expect(table.trim()).toBe('OperatorNamespace,EveryoneSubject,ScaleToZero');
    expect(run(['get', 'mcpp', name])).toMatch(/WARNINGS/);

    // kubemcp check prints the same warnings.
    const check = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'check',
        '--kubeconfig',
        cluster().kubeconfig,
        '--as',
        `someone-${suffix}`,
        '--group',
        'system:authenticated',
        '--tool',
        'list_pods',
        '--namespace',
        ns(),
        '--operator-namespace',
        ns(),
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(check.status, check.stderr).toBe(0);
    expect(check.stdout).toContain(
      `warning: McpPolicy ${name}: OperatorNamespace: covers the operator's own namespace`,
    );
    expect(check.stdout).toContain(`warning: McpPolicy ${name}: EveryoneSubject:`);
    expect(check.stdout).toContain(`warning: McpPolicy ${name}: ScaleToZero:`);

    // Fixing the policy removes the condition.
    await custom().patchClusterCustomObject(
      {
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        name,
        body: {
          spec: {
            subjects: [{ kind: 'User', name: `agent-${suffix}` }],
            namespaces: { names: ['default'] },
            tools: ['list_pods', 'scale_deployment'],
            replicas: { min: 1, max: 3 },
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await eventually('Warnings removed', async () => {
      const obj = await getPolicy(name);
      return condition(obj, 'Ready')?.status === 'True' && condition(obj, 'Warnings') === undefined;
    });
  });

  it('an Event about a Deployment whose name has 253 characters is recorded', async () => {
    const label = 'a'.repeat(62);
    const name = `${label}b.${label}c.${label}d.${'e'.repeat(61)}`;
    expect(name).toHaveLength(253);
    await kubeConfig()
      .makeApiClient(AppsV1Api)
      .createNamespacedDeployment({
        namespace: ns(),
        body: {
          metadata: { name },
          spec: {
            replicas: 0,
            selector: { matchLabels: { app: 'long' } },
            template: {
              metadata: { labels: { app: 'long' } },
              spec: { containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.10' }] },
            },
          },
        },
      });
    const recorder = new EventRecorder(kubeClient(), `e2e-${suffix}`);
    const ok = await recorder.record({
      regarding: { apiVersion: 'apps/v1', kind: 'Deployment', name, namespace: ns() },
      type: 'Normal',
      reason: 'Scaled',
      action: 'Scale',
      note: 'scaled by e2e from 0 to 0',
    });
    expect(ok).toBe(true);
    const events = await kubeConfig().makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns() });
    const mine = events.items.filter((e) => e.regarding?.name === name && e.reason === 'Scaled');
    expect(mine).toHaveLength(1);
    expect(mine[0]?.metadata?.name?.length).toBeLessThanOrEqual(253);
  });
});
