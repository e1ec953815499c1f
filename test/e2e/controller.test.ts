/**
 * The McpPolicy controller on a real API server, with the CRD that ships in crds/:
 * - status (Ready, observedGeneration, matchedNamespaces) and Events, written only on change;
 * - CEL validation by the API server, and validation only the controller can do;
 * - namespace label changes reach the index within a second;
 * - leader election between two `kubemcp serve` processes: one leader writes status, handover when it dies.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ALL_CRD_FILES,
  ALL_CRD_NAMES,
  GROUP,
  PLURAL,
  RULE_MESSAGES,
  VERSION,
} from '../../src/api/v1alpha1/index.js';
import { PolicyController } from '../../src/controller/controller.js';
import { PolicyStore } from '../../src/controller/store.js';
import { operatorMetrics } from '../../src/health/metrics.js';
import { EventRecorder } from '../../src/kube/events.js';
import { evaluate } from '../../src/policy/index.js';
import { applyManifestFile, waitForCrdEstablished } from '../cluster/apply.js';
import { freePort } from '../cluster/cluster.js';
import { serveArgs } from '../serve-args.js';
import { cluster, eventually, kubeClient, kubeConfig, scratchNamespace } from './support.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SAMPLES = path.join(ROOT, 'config/samples');
const suffix = randomBytes(3).toString('hex');

interface PolicyObj {
  metadata: { name: string; generation?: number; resourceVersion?: string; uid?: string };
  spec: Record<string, unknown>;
  status?: {
    observedGeneration?: number;
    matchedNamespaces?: number;
    conditions?: {
      type: string;
      status: string;
      reason: string;
      message: string;
      observedGeneration?: number;
      lastTransitionTime: string;
    }[];
  };
}

const custom = () => kubeConfig().makeApiClient(CustomObjectsApi);
const core = () => kubeConfig().makeApiClient(CoreV1Api);

async function getPolicy(name: string): Promise<PolicyObj> {
  return (await custom().getClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    name,
  })) as PolicyObj;
}

async function createPolicy(name: string, spec: Record<string, unknown>): Promise<PolicyObj> {
  return (await custom().createClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'McpPolicy', metadata: { name }, spec },
  })) as PolicyObj;
}

async function patchSpec(name: string, spec: Record<string, unknown>): Promise<PolicyObj> {
  return (await custom().patchClusterCustomObject(
    { group: GROUP, version: VERSION, plural: PLURAL, name, body: { spec } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  )) as PolicyObj;
}

async function deletePolicy(name: string): Promise<void> {
  await custom()
    .deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name })
    .catch(() => undefined);
}

function ready(p: PolicyObj) {
  return p.status?.conditions?.find((c) => c.type === 'Ready');
}

async function policyEvents(name: string) {
  const list = await kubeConfig().makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: 'default' });
  return list.items.filter((e) => e.regarding?.kind === 'McpPolicy' && e.regarding?.name === name);
}

const created: string[] = [];
afterAll(async () => {
  for (const name of created) await deletePolicy(name);
});

beforeAll(async () => {
  const kc = kubeConfig();
  for (const file of ALL_CRD_FILES) await applyManifestFile(kc, path.join(ROOT, file), 'kubemcp-e2e');
  for (const name of ALL_CRD_NAMES) await waitForCrdEstablished(kc, name);
});

describe('the McpPolicy controller (in process)', () => {
  const ns = scratchNamespace('ctl');
  const store = new PolicyStore();
  const registry = new Registry();
  const metrics = operatorMetrics(registry);
  let controller: PolicyController;

  beforeAll(async () => {
    const client = kubeClient();
    controller = new PolicyController({
      client,
      store,
      metrics,
      logger: pino({ level: 'warn' }),
      events: new EventRecorder(client, `e2e-${suffix}`),
    });
    controller.start();
    await controller.synced(30_000);
  });
  afterAll(async () => {
    await controller?.stop();
  });

  it('marks the shipped samples Ready=True with observedGeneration, and follows a new generation', async () => {
    const kc = kubeConfig();
    // The McpPolicy samples (test/e2e/tenants.test.ts covers the tenancy kinds).
    const files = fs
      .readdirSync(SAMPLES)
      .filter((f) => f.startsWith('kubemcp_v1alpha1_mcppolicy_') && f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    const names: string[] = [];
    for (const f of files) {
      const [obj] = await applyManifestFile(kc, path.join(SAMPLES, f), 'kubemcp-e2e');
      const name = obj?.metadata?.name;
      if (name) {
        names.push(name);
        created.push(name);
      }
    }
    for (const name of names) {
      const p = await eventually(`${name} Ready`, async () => {
        const p = await getPolicy(name);
        return ready(p)?.status === 'True' && p.status?.observedGeneration === p.metadata.generation
          ? p
          : undefined;
      });
      expect(ready(p)).toMatchObject({ reason: 'Accepted', observedGeneration: p.metadata.generation });
      expect(ready(p)?.message).toMatch(/^Grants /);
      expect(typeof p.status?.matchedNamespaces).toBe('number');
      expect(store.current().grants.has(name)).toBe(true);
    }
    const name = names[0] as string;
    const before = await getPolicy(name);
    const tools = [...((before.spec.tools as string[]) ?? []), 'list_services'];
    const patched = await patchSpec(name, { tools: [...new Set(tools)] });
    expect(patched.metadata.generation).toBeGreaterThan(before.metadata.generation ?? 0);
    const after = await eventually('the new generation observed', async () => {
      const p = await getPolicy(name);
      return p.status?.observedGeneration === patched.metadata.generation ? p : undefined;
    });
    expect(ready(after)?.observedGeneration).toBe(patched.metadata.generation);
    // Ready stayed True: its lastTransitionTime did not move.
    expect(ready(after)?.lastTransitionTime).toBe(ready(before)?.lastTransitionTime);
  });

  it('leaves to the API server what CEL can judge: a ServiceAccount subject without namespace is rejected', async () => {
    const name = `e2e-${suffix}-cel`;
    let error: unknown;
    try {
      await createPolicy(name, {
        subjects: [{ kind: 'ServiceAccount', name: 'copilot' }],
        namespaces: { names: ['web'] },
        tools: ['list_pods'],
      });
      created.push(name);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ApiException);
    expect((error as ApiException<unknown>).code).toBe(422);
    expect(String((error as ApiException<unknown>).body)).toContain(
      RULE_MESSAGES.serviceAccountNeedsNamespace,
    );

    let scaleError: unknown;
    try {
      await createPolicy(`${name}-scale`, {
        subjects: [{ kind: 'User', name: 'alice' }],
        namespaces: { names: ['web'] },
        tools: ['scale_*'],
      });
      created.push(`${name}-scale`);
    } catch (err) {
      scaleError = err;
    }
    expect((scaleError as ApiException<unknown>).code).toBe(422);
    expect(String((scaleError as ApiException<unknown>).body)).toContain('needs replicas bounds');

    // Glob caps: at most 8 stars per pattern.
    let starsError: unknown;
    try {
      await createPolicy(`${name}-stars`, {
        subjects: [{ kind: 'User', name: 'alice' }],
        namespaces: { names: ['*a*a*a*a*a*a*a*a*a*b'] },
        tools: ['list_pods'],
      });
      created.push(`${name}-stars`);
    } catch (err) {
      starsError = err;
    }
    expect((starsError as ApiException<unknown>).code).toBe(422);
    expect(String((starsError as ApiException<unknown>).body)).toContain(RULE_MESSAGES.tooManyStars);
  });

  it('judges what only it can (an unknown tool): Ready=False, a Warning Event, no grant; fixed: Accepted again', async () => {
    const name = `e2e-${suffix}-unknown-tool`;
    created.push(name);
    await createPolicy(name, {
      subjects: [{ kind: 'User', name: `user-${suffix}` }],
      namespaces: { names: ['*'] },
      tools: ['delete_pods'],
    });
    const p = await eventually('Ready=False', async () => {
      const p = await getPolicy(name);
      return ready(p)?.status === 'False' ? p : undefined;
    });
    expect(ready(p)).toMatchObject({ reason: 'Invalid', observedGeneration: 1 });
    expect(ready(p)?.message).toMatch(/"delete_pods" matches no known tool/);
    expect(p.status?.matchedNamespaces).toBe(0);
    const warning = await eventually('the Warning Invalid Event', async () =>
      (await policyEvents(name)).find((e) => e.type === 'Warning' && e.reason === 'Invalid'),
    );
    expect(warning.note).toMatch(/matches no known tool/);
    expect(warning.reportingController).toBe('kubemcp.io/operator');
    expect(store.current().grants.has(name)).toBe(false);
    expect(
      evaluate(store.current(), {
        caller: { username: `user-${suffix}`, groups: [] },
        tool: 'list_pods',
        namespace: 'default',
      }).allowed,
    ).toBe(false);

    await patchSpec(name, { tools: ['list_pods'] });
    await eventually('Ready=True after the fix', async () => ready(await getPolicy(name))?.status === 'True');
    await eventually('the Normal Accepted Event', async () =>
      (await policyEvents(name)).find((e) => e.type === 'Normal' && e.reason === 'Accepted'),
    );
    expect(
      evaluate(store.current(), {
        caller: { username: `user-${suffix}`, groups: [] },
        tool: 'list_pods',
        namespace: 'default',
      }).allowed,
    ).toBe(true);
    // One Warning and one Normal: no Event for reconciles that changed nothing.
    expect((await policyEvents(name)).length).toBe(2);
  });

  it('re-evaluates selectors on a namespace label change: index within 1 s, then matchedNamespaces', async () => {
    const name = `e2e-${suffix}-selector`;
    const team = `team-${suffix}`;
    created.push(name);
    await createPolicy(name, {
      subjects: [{ kind: 'Group', name: `group-${suffix}` }],
      namespaces: { selector: { matchLabels: { 'kubemcp.io/e2e-team': team } } },
      tools: ['list_pods'],
    });
    await eventually('Ready with 0 namespaces', async () => {
      const p = await getPolicy(name);
      return ready(p)?.status === 'True' && p.status?.matchedNamespaces === 0;
    });
    const caller = { username: 'someone', groups: [`group-${suffix}`] };
    const covers = () => evaluate(store.current(), { caller, tool: 'list_pods', namespace: ns() }).allowed;
    expect(covers()).toBe(false);

    const label = (value: string | null) =>
      core().patchNamespace(
        { name: ns(), body: { metadata: { labels: { 'kubemcp.io/e2e-team': value } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    const t0 = performance.now();
    await label(team);
    await store.waitFor(() => covers(), 5_000);
    const latency = performance.now() - t0;
    console.log(`namespace label → index: ${latency.toFixed(1)} ms`);
    expect(latency).toBeLessThan(1_000);
    await eventually(
      'matchedNamespaces 1',
      async () => (await getPolicy(name)).status?.matchedNamespaces === 1,
    );

    await label(null);
    await store.waitFor(() => !covers(), 5_000);
    await eventually(
      'matchedNamespaces 0',
      async () => (await getPolicy(name)).status?.matchedNamespaces === 0,
    );
  });

  it('writes status only when it changes', async () => {
    const name = `e2e-${suffix}-quiet`;
    created.push(name);
    await createPolicy(name, {
      subjects: [{ kind: 'User', name: `quiet-${suffix}` }],
      namespaces: { names: [`nothing-here-${suffix}`] },
      tools: ['list_pods'],
    });
    const settled = await eventually('Ready', async () => {
      const p = await getPolicy(name);
      return ready(p)?.status === 'True' ? p : undefined;
    });
    await controller.idle();
    const version = store.version;
    // A namespace change that does not concern this policy: a new index, no write to this policy.
    await core().patchNamespace(
      { name: ns(), body: { metadata: { labels: { unrelated: suffix } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await store.waitFor(() => store.version > version, 5_000);
    await controller.idle();
    // A status-only update (our own write echoed back) changes no generation: no rebuild.
    await new Promise((r) => setTimeout(r, 300));
    const after = await getPolicy(name);
    expect(after.metadata.resourceVersion).toBe(settled.metadata.resourceVersion);
    expect((await policyEvents(name)).filter((e) => e.reason === 'Accepted')).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------

interface Replica {
  readonly identity: string;
  readonly healthPort: number;
  readonly child: ChildProcess;
  readonly log: string[];
  readonly exited: Promise<number | null>;
}

const LEASE = { duration: 4, renew: 3, retry: 1 };

async function startReplica(identity: string, leaseNamespace: string, leaseName: string): Promise<Replica> {
  const healthPort = await freePort();
  const child = spawn(
    process.execPath,
    serveArgs({
      kubeconfig: cluster().kubeconfig,
      mcpPort: 0,
      healthPort,
      leaseNamespace,
      leaseName,
      identity,
      extraArgs: [
        '--lease-duration',
        String(LEASE.duration),
        '--renew-deadline',
        String(LEASE.renew),
        '--retry-period',
        String(LEASE.retry),
      ],
    }),
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBECONFIG: '' } },
  );
  const log: string[] = [];
  child.stdout?.on('data', (d: Buffer) => log.push(...d.toString().trimEnd().split('\n')));
  child.stderr?.on('data', (d: Buffer) => log.push(...d.toString().trimEnd().split('\n')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { identity, healthPort, child, log, exited };
}

async function metric(r: Replica, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${r.healthPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.split(' ')[1]);
}

async function isReady(r: Replica): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${r.healthPort}/readyz`)).status === 200;
  } catch {
    return false;
  }
}

describe('leader election between two kubemcp serve processes', () => {
  const ns = scratchNamespace('lease');
  const leaseName = `kubemcp-e2e-${suffix}`;
  const replicas: Replica[] = [];
  const coordination = () => kubeConfig().makeApiClient(CoordinationV1Api);
  const holder = async () =>
    (await coordination().readNamespacedLease({ name: leaseName, namespace: ns() })).spec?.holderIdentity;

  afterAll(async () => {
    for (const r of replicas) {
      if (r.child.exitCode === null && r.child.signalCode === null) {
        r.child.kill('SIGKILL');
        await r.exited;
      }
    }
  });

  async function dumpLogs(): Promise<void> {
    for (const r of replicas) process.stderr.write(`── ${r.identity} ──\n${r.log.slice(-30).join('\n')}\n`);
  }

  it('exactly one holds the Lease and writes status; killing it hands over within the lease duration; SIGTERM releases at once', async ({
    onTestFailed,
  }) => {
    onTestFailed(dumpLogs);
    const a = await startReplica(`a-${suffix}`, ns(), leaseName);
    const b = await startReplica(`b-${suffix}`, ns(), leaseName);
    replicas.push(a, b);
    await eventually('both replicas ready', async () => (await isReady(a)) && (await isReady(b)), 60_000);

    const first = await eventually('a leader', async () => holder());
    expect([a.identity, b.identity]).toContain(first);
    const [leader, follower] = first === a.identity ? [a, b] : [b, a];
    await eventually('leader gauges', async () => (await metric(leader, 'kubemcp_leader')) === 1);
    expect(await metric(follower, 'kubemcp_leader')).toBe(0);
    const lease = await coordination().readNamespacedLease({ name: leaseName, namespace: ns() });
    expect(lease.spec?.leaseDurationSeconds).toBe(LEASE.duration);
    // Microsecond timestamps as the API stores them.
    expect(lease.spec?.renewTime).toBeDefined();

    // Both enforce (both compile the index), only the leader writes status.
    const name = `e2e-${suffix}-leader`;
    created.push(name);
    await createPolicy(name, {
      subjects: [{ kind: 'User', name: `leader-${suffix}` }],
      namespaces: { names: ['*'] },
      tools: ['list_pods'],
    });
    await eventually('status from the leader', async () => ready(await getPolicy(name))?.status === 'True');
    await eventually(
      'both replicas compiled it',
      async () =>
        (await metric(leader, 'kubemcp_policy_index_version')) > 0 &&
        (await metric(follower, 'kubemcp_policy_index_version')) > 0,
    );
    expect(await metric(leader, 'kubemcp_controller_status_writes_total')).toBeGreaterThan(0);
    expect(await metric(follower, 'kubemcp_controller_status_writes_total')).toBe(0);

    // Kill the leader (no release): the follower takes over once the Lease expires.
    const killedAt = performance.now();
    leader.child.kill('SIGKILL');
    await leader.exited;
    await eventually(
      'the follower to hold the Lease',
      async () => (await holder()) === follower.identity,
      30_000,
    );
    const handover = performance.now() - killedAt;
    console.log(
      `leader killed → follower holds the Lease: ${(handover / 1000).toFixed(2)} s (lease ${LEASE.duration} s)`,
    );
    // Worst case (client-go semantics): the follower notices the last renewal up to one jittered retry
    // period late, waits out the lease from then, and polls up to one more jittered retry period after.
    expect(handover).toBeGreaterThan((LEASE.duration - LEASE.retry * 2.2) * 1000);
    expect(handover).toBeLessThan((LEASE.duration + 2 * LEASE.retry * 2.2 + 1) * 1000);
    const transitions = (await coordination().readNamespacedLease({ name: leaseName, namespace: ns() })).spec
      ?.leaseTransitions;
    expect(transitions).toBeGreaterThanOrEqual(1);
    await eventually('new leader gauge', async () => (await metric(follower, 'kubemcp_leader')) === 1);

    // The new leader writes status now.
    await patchSpec(name, { tools: ['list_pods', 'list_services'] });
    await eventually('status of generation 2 from the new leader', async () => {
      const p = await getPolicy(name);
      return p.status?.observedGeneration === 2 && ready(p)?.message.includes('list_services');
    });
    expect(await metric(follower, 'kubemcp_controller_status_writes_total')).toBeGreaterThan(0);

    // A third replica joins; SIGTERM to the leader releases the Lease, so the handover is immediate.
    const c = await startReplica(`c-${suffix}`, ns(), leaseName);
    replicas.push(c);
    await eventually('c ready', async () => isReady(c), 60_000);
    expect(await holder()).toBe(follower.identity);
    const termAt = performance.now();
    follower.child.kill('SIGTERM');
    expect(await follower.exited).toBe(0);
    await eventually('c to hold the Lease', async () => (await holder()) === c.identity, 30_000);
    const graceful = performance.now() - termAt;
    console.log(`leader SIGTERM → next holds the Lease: ${(graceful / 1000).toFixed(2)} s`);
    expect(graceful).toBeLessThan((LEASE.retry * 2.2 + 1) * 1000);
    expect(follower.log.some((l) => l.includes('released the Lease'))).toBe(true);
  });
});
