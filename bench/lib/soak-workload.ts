/**
 * The soak's workload on a cluster (bench/soak.ts, and the fault tests in test/e2e/faults.test.ts
 * that run the same load): namespaces, Deployments, Services, caller ServiceAccounts and McpPolicies
 * of soak-oracle.ts; the oracle's snapshot of the cluster; and removal.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { type Caller, compile } from '../../src/policy/index.js';
import {
  applyPolicy,
  ensureDeployment,
  ensureNamespace,
  ensureServiceAccount,
  mcpCall,
  mcpRequest,
  mintToken,
} from '../../test/conformance/live.js';
import type { NextCall } from './loadgen.js';
import {
  CALLER_NAMES,
  CALLERS_NS,
  type Call,
  callerOf,
  judge,
  NAMESPACES,
  nextCall,
  POLICIES,
  prng,
  SCALER,
  WEB,
  WEB_REPLICAS,
  type World,
} from './soak-oracle.js';

async function ensureService(kc: KubeConfig, namespace: string): Promise<void> {
  try {
    await kc.makeApiClient(CoreV1Api).createNamespacedService({
      namespace,
      body: {
        metadata: { name: WEB, namespace },
        spec: { selector: { app: WEB }, ports: [{ port: 80, targetPort: 8080 }] },
      },
    });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
}

/** Creates whatever of the workload is missing (idempotent). */
export async function setupSoakWorkload(kc: KubeConfig): Promise<void> {
  await ensureNamespace(kc, CALLERS_NS);
  for (const name of CALLER_NAMES) await ensureServiceAccount(kc, CALLERS_NS, name);
  for (const ns of NAMESPACES) {
    await ensureNamespace(kc, ns.name, ns.labels);
    await ensureDeployment(kc, ns.name, WEB, WEB_REPLICAS);
    await ensureDeployment(kc, ns.name, SCALER, 1);
    await ensureService(kc, ns.name);
  }
  for (const [name, spec] of Object.entries(POLICIES)) await applyPolicy(kc, name, spec);
}

/** Waits until every web Deployment has its pods Ready, so list_pods totals have a known floor. */
export async function waitWebReady(kc: KubeConfig, timeoutMs = 120_000): Promise<void> {
  const apps = kc.makeApiClient(AppsV1Api);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let ready = 0;
    for (const ns of NAMESPACES)
      ready +=
        (await apps.readNamespacedDeployment({ name: WEB, namespace: ns.name })).status?.readyReplicas ?? 0;
    if (ready >= NAMESPACES.length * WEB_REPLICAS) return;
    if (Date.now() > deadline) throw new Error(`web pods not Ready after ${timeoutMs / 1000}s (${ready})`);
    await sleep(500);
  }
}

/** The oracle's view: every McpPolicy in the cluster and every Namespace, compiled with the pure engine. */
export async function snapshotWorld(kc: KubeConfig): Promise<World> {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const crd = kc.makeApiClient(CustomObjectsApi);
  const nsList = await core.listNamespace();
  const namespaces = nsList.items.map((n) => ({
    name: n.metadata?.name ?? '',
    labels: n.metadata?.labels ?? {},
  }));
  const policyList = (await crd.listClusterCustomObject({
    group: 'kubemcp.io',
    version: 'v1alpha1',
    plural: 'mcppolicies',
  })) as { items: Array<{ metadata: { name: string; generation?: number }; spec: unknown }> };
  const index = compile({
    policies: policyList.items.map((p) => ({
      name: p.metadata.name,
      ...(p.metadata.generation === undefined ? {} : { generation: p.metadata.generation }),
      spec: p.spec,
    })),
    namespaces,
  });
  const count = (items: Array<{ metadata?: { namespace?: string } }>) => {
    const m = new Map<string, number>();
    for (const i of items) {
      const ns = i.metadata?.namespace ?? '';
      m.set(ns, (m.get(ns) ?? 0) + 1);
    }
    return m;
  };
  const deployments = count((await apps.listDeploymentForAllNamespaces()).items);
  const services = count((await core.listServiceForAllNamespaces()).items);
  const webPods = new Map<string, number>();
  for (const ns of NAMESPACES) webPods.set(ns.name, WEB_REPLICAS);
  return { index, namespaces: namespaces.map((n) => n.name), deployments, services, webPods };
}

/** Deletes the workload's McpPolicies and namespaces, and waits (up to `timeoutMs`) until the namespaces are gone. */
export async function deleteSoakWorkload(kc: KubeConfig, timeoutMs = 60_000): Promise<void> {
  const crd = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  for (const name of Object.keys(POLICIES)) {
    await crd
      .deleteClusterCustomObject({ group: 'kubemcp.io', version: 'v1alpha1', plural: 'mcppolicies', name })
      .catch(() => undefined);
  }
  const names = [CALLERS_NS, ...NAMESPACES.map((n) => n.name)];
  for (const name of names) await core.deleteNamespace({ name }).catch(() => undefined);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = new Set((await core.listNamespace()).items.map((n) => n.metadata?.name));
    if (!names.some((n) => left.has(n)) || Date.now() > deadline) return;
    await sleep(500);
  }
}

/** One call of the soak's mix, with the caller that makes it. */
export interface SoakCall {
  readonly caller: Caller;
  readonly call: Call;
}

/**
 * The `next` of runCalls for the soak's mix: client i is clients[i] (its caller and token) and draws
 * its calls from its own seeded PRNG, so a run's mix can be repeated.
 */
export function soakNext(
  clients: ReadonlyArray<{ caller: string; token: string }>,
  seed: number,
): (client: number) => NextCall<SoakCall> {
  const state = clients.map((c, i) => ({
    caller: callerOf(c.caller),
    token: c.token,
    rand: prng(seed * 1_000_003 + i),
    id: 0,
  }));
  return (i) => {
    const s = state[i] as (typeof state)[number];
    const call = nextCall(s.rand);
    const req = mcpRequest(s.token, 'tools/call', { name: call.tool, arguments: call.args }, ++s.id);
    const body = Buffer.from(req.body);
    return {
      call: { caller: s.caller, call },
      headers: { ...req.headers, 'content-length': body.length },
      body,
    };
  };
}

/** One token per virtual client (audience kubemcp), the clients spread over the callers. */
export async function mintSoakClients(
  kc: KubeConfig,
  concurrency: number,
): Promise<Array<{ caller: string; token: string }>> {
  const clients: Array<{ caller: string; token: string }> = [];
  for (let i = 0; i < concurrency; i++) {
    const caller = CALLER_NAMES[i % CALLER_NAMES.length] as string;
    clients.push({ caller, token: await mintToken(kc, CALLERS_NS, caller, { audiences: ['kubemcp'] }) });
  }
  return clients;
}

/**
 * Warms each client's token (one TokenReview) and checks its caller's permissions against the engine,
 * so the clock starts on a server whose policy index agrees with the oracle.
 */
export async function warmSoakClients(
  url: string,
  world: World,
  clients: ReadonlyArray<{ caller: string; token: string }>,
): Promise<void> {
  for (const c of clients) {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const a = await mcpCall(url, c.token, 'tools/call', { name: 'get_permissions', arguments: {} });
      const v = judge(
        world,
        callerOf(c.caller),
        { tool: 'get_permissions', args: {} },
        a.status,
        Buffer.from(JSON.stringify(a.body)),
      );
      if (v.kind === 'ok') break;
      // The server's index may lag the policies' Ready status by a moment; anything else fails here.
      if (Date.now() > deadline)
        throw new Error(
          `${c.caller}: get_permissions disagrees with the engine before the load: ${JSON.stringify(v)}`,
        );
      await sleep(200);
    }
  }
}
