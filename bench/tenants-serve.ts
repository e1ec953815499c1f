/**
 * Tenancy at scale, on a real `kubemcp serve` (the acceptance of issue 20 as written: serve's RSS):
 * 1,000 namespaces and 1,000 McpPolicies are the baseline; then one McpDelegation and 10,000
 * McpNamespacePolicies (10 per namespace, each for its own agent) are created while the server runs.
 *
 *   npm run bench:tenants:serve [-- --namespaces 1000 --per-namespace 10 --cluster-policies 1000
 *                                    --edits 5 --concurrency 32 --settle 30s --no-build --node-options=…]
 *
 * Uses the e2e cluster rules (a running `cluster:up` in KUBEMCP_CLUSTER_DIR is reused, else a local
 * control plane is started and stopped). Then:
 *   1. the baseline objects (idempotent; bench McpNamespacePolicies of an earlier run are deleted);
 *   2. `node dist/cli/main.js serve` as the operator ServiceAccount with the NODE_OPTIONS of
 *      config/manager/deployment.yaml; waits until its index holds every McpPolicy Ready;
 *   3. memory, idle: VmRSS (the median of 5 samples a second apart, after --settle without calls)
 *      and the V8 heap from /metrics;
 *   4. the delegation and the namespaced policies, created --concurrency at a time; waits until the
 *      index holds them all Ready and every one shows status.observedGeneration; memory again;
 *   5. --edits edits of one namespaced policy (replicas.max 5 and back): the time from sending the
 *      patch until the agent's own get_permissions shows the new bound (enforced), and until the
 *      object's status shows the new generation;
 *   6. a restart: a new server started with every object in place, memory once its index holds
 *      them all (what a server costs with the tenants, without the heap V8 keeps after the burst of
 *      10,000 creations in step 4);
 *   7. on a cluster it did not start, the bench's namespaces, McpPolicies and delegation are deleted.
 * Prints the figures against the targets (RSS growth ≤ 30 MiB, in the running server and in the
 * restarted one; an edit enforced within 1 s) and writes bench/results/tenants-serve-<time>.json. A
 * missed target is exit code 1.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import {
  acquireLiveCluster,
  ensureServiceAccount,
  mcpCall,
  mintToken,
  type ServeProcess,
  startKubemcp,
} from '../test/conformance/live.js';
import { pool } from './lib/agents-workload.js';
import {
  buildDist,
  log,
  machine,
  parseCount,
  parseDuration,
  parseFlags,
  RESULTS,
  runMain,
  serverNodeOptions,
  writeResult,
} from './lib/cli.js';
import { type Memory, memoryOf, metricSum, scrapeMetrics } from './lib/metrics.js';
import { quantile } from './lib/stats.js';

const USAGE = `usage: npm run bench:tenants:serve [-- --namespaces N --per-namespace N --cluster-policies N
                                    --edits N --concurrency N --settle 30s --no-build --node-options=…]
`;
const flags = parseFlags(
  {
    namespaces: { type: 'string', default: '1000' },
    'per-namespace': { type: 'string', default: '10' },
    'cluster-policies': { type: 'string', default: '1000' },
    edits: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '32' },
    settle: { type: 'string', default: '30s' },
    'no-build': { type: 'boolean', default: false },
    'node-options': { type: 'string' },
  },
  USAGE,
);

const GROUP = { group: 'kubemcp.io', version: 'v1alpha1' };
const POLICIES = { ...GROUP, plural: 'mcppolicies' };
const NS_POLICIES = { ...GROUP, plural: 'mcpnamespacepolicies' };
const DELEGATIONS = { ...GROUP, plural: 'mcpdelegations' };
const BENCH = { 'kubemcp.io/bench': 'tenants' };
const SELECT = 'kubemcp.io/bench=tenants';
const DELEGATION = 'bench-tenants';
const AUDIENCE = 'kubemcp';
const RSS_TARGET_MIB = 30;
const EDIT_TARGET_MS = 1000;
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const code = (err: unknown): number | undefined => (err as { code?: number }).code;
const ignore409 = (err: unknown): void => {
  if (code(err) !== 409) throw err;
};

interface Sizes {
  readonly namespaces: number;
  readonly perNamespace: number;
  readonly clusterPolicies: number;
}

const nsName = (i: number): string => `bench-tenant-${i}`;

function tenantSpec(n: number, p: number, max = 6 + (p % 4)) {
  return {
    subjects: [{ kind: 'ServiceAccount', name: `agent-${p}`, namespace: nsName(n) }],
    tools: ['list_deployments', 'list_pods', 'scale_deployment'],
    replicas: { min: 1, max, maxStep: 2 },
    confirm: { above: 6 },
  };
}

async function createBaseline(kc: KubeConfig, s: Sizes, concurrency: number): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const api = kc.makeApiClient(CustomObjectsApi);
  const labels = { ...BENCH, 'kubemcp.io/tenant': 'true' };
  const indices = Array.from({ length: Math.max(s.namespaces, s.clusterPolicies) }, (_, i) => i);
  await pool(indices.slice(0, s.namespaces), concurrency, (i) =>
    core.createNamespace({ body: { metadata: { name: nsName(i), labels } } }).then(() => {}, ignore409),
  );
  await pool(indices.slice(0, s.clusterPolicies), concurrency, (i) => {
    const spec = {
      subjects: [{ kind: 'ServiceAccount', name: `agent-${i}`, namespace: 'agents' }],
      namespaces: { names: [nsName(i % s.namespaces), `${nsName((i * 7) % s.namespaces)}*`] },
      tools: ['list_*', 'scale_deployment'],
      replicas: { min: 1, max: 10, maxStep: 2 },
    };
    const body = {
      apiVersion: 'kubemcp.io/v1alpha1',
      kind: 'McpPolicy',
      metadata: { name: `bench-cluster-${i}`, labels: BENCH },
      spec,
    };
    return api.createClusterCustomObject({ ...POLICIES, body }).then(() => {}, ignore409);
  });
  // A reused cluster may hold an earlier run's tenants: the baseline has none.
  await api.deleteClusterCustomObject({ ...DELEGATIONS, name: DELEGATION }).catch((err: unknown) => {
    if (code(err) !== 404) throw err;
  });
  const leftovers = await listNamespaced(kc);
  await pool(leftovers, concurrency, (o) =>
    api
      .deleteNamespacedCustomObject({
        ...NS_POLICIES,
        namespace: o.metadata.namespace,
        name: o.metadata.name,
      })
      .then(
        () => {},
        (err: unknown) => {
          if (code(err) !== 404) throw err;
        },
      ),
  );
}

/** Deletes the bench's namespaces (and with them their McpNamespacePolicies), McpPolicies and delegation. */
async function removeBenchObjects(kc: KubeConfig): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const api = kc.makeApiClient(CustomObjectsApi);
  const gone = (err: unknown): void => {
    if (code(err) !== 404 && code(err) !== 409) throw err;
  };
  const namespaces = (await core.listNamespace({ labelSelector: SELECT })).items.map(
    (n) => n.metadata?.name ?? '',
  );
  await pool(namespaces, 16, (name) => core.deleteNamespace({ name }).then(() => {}, gone));
  const policies = (await api.listClusterCustomObject({ ...POLICIES, labelSelector: SELECT })) as {
    items: { metadata: { name: string } }[];
  };
  await pool(policies.items, 16, (p) =>
    api.deleteClusterCustomObject({ ...POLICIES, name: p.metadata.name }).then(() => {}, gone),
  );
  await api.deleteClusterCustomObject({ ...DELEGATIONS, name: DELEGATION }).then(() => {}, gone);
  log(`▸ removed the bench's ${namespaces.length} namespaces and ${policies.items.length} McpPolicies`);
}

interface Listed {
  metadata: { name: string; namespace: string; generation?: number };
  status?: { observedGeneration?: number; conditions?: { type: string; status: string }[] };
}

async function listNamespaced(kc: KubeConfig): Promise<Listed[]> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const out: Listed[] = [];
  let _continue: string | undefined;
  do {
    const page = (await api.listCustomObjectForAllNamespaces({
      ...NS_POLICIES,
      labelSelector: SELECT,
      limit: 2000,
      ...(_continue ? { _continue } : {}),
    })) as { items: Listed[]; metadata?: { continue?: string } };
    out.push(...page.items);
    _continue = page.metadata?.continue || undefined;
  } while (_continue);
  return out;
}

async function createTenants(kc: KubeConfig, s: Sizes, concurrency: number): Promise<void> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const delegation = {
    apiVersion: 'kubemcp.io/v1alpha1',
    kind: 'McpDelegation',
    metadata: { name: DELEGATION, labels: BENCH },
    spec: {
      namespaces: {
        selector: { matchLabels: { 'kubemcp.io/bench': 'tenants', 'kubemcp.io/tenant': 'true' } },
      },
      ceiling: { tools: ['list_*', 'scale_deployment'], maxReplicas: 10, maxStep: 2, confirmAbove: 8 },
    },
  };
  await api.createClusterCustomObject({ ...DELEGATIONS, body: delegation }).catch(ignore409);
  const items: [number, number][] = [];
  for (let n = 0; n < s.namespaces; n++) for (let p = 0; p < s.perNamespace; p++) items.push([n, p]);
  await pool(items, concurrency, ([n, p]) => {
    const body = {
      apiVersion: 'kubemcp.io/v1alpha1',
      kind: 'McpNamespacePolicy',
      metadata: { name: `agent-${p}`, namespace: nsName(n), labels: BENCH },
      spec: tenantSpec(n, p),
    };
    return api
      .createNamespacedCustomObject({ ...NS_POLICIES, namespace: nsName(n), body })
      .then(() => {}, ignore409);
  });
}

/** Until the server's index holds `want` Ready policies (cluster and namespaced). */
async function waitIndexReady(serve: ServeProcess, want: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let last = Date.now(); ; await sleep(500)) {
    const ready = metricSum(await scrapeMetrics(serve.healthPort), 'kubemcp_policies', { state: 'ready' });
    if (ready >= want) return;
    if (Date.now() > deadline)
      throw new Error(`the server's index holds ${ready} Ready policies, want ${want}`);
    if (Date.now() - last > 10_000) {
      last = Date.now();
      log(`  index: ${ready}/${want} Ready`);
    }
  }
}

/** Until every bench McpNamespacePolicy shows its generation as observed, Ready=True. */
async function waitStatuses(kc: KubeConfig, want: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const items = await listNamespaced(kc);
    const done = items.filter(
      (o) =>
        o.status?.observedGeneration === o.metadata.generation &&
        o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    ).length;
    if (done >= want) return;
    if (Date.now() > deadline) throw new Error(`${done}/${want} McpNamespacePolicies show their status`);
    log(`  status: ${done}/${want} McpNamespacePolicies written`);
    await sleep(10_000);
  }
}

/** Idle memory: VmRSS as the median of five samples a second apart, after `settleMs` of quiet. */
async function idleMemory(serve: ServeProcess, settleMs: number): Promise<Memory> {
  await sleep(settleMs);
  const samples: Memory[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(await memoryOf(serve));
    await sleep(1000);
  }
  samples.sort((a, b) => a.rssMiB - b.rssMiB);
  return samples[2] as Memory;
}

/** The agent's replicas.max for scale_deployment in its namespace, as get_permissions answers. */
async function grantedMax(serve: ServeProcess, token: string): Promise<number | undefined> {
  const res = await mcpCall(serve.url, token, 'tools/call', { name: 'get_permissions', arguments: {} });
  const grants = (res.body.result?.structuredContent?.grants ?? []) as { replicas?: { max: number } }[];
  return grants[0]?.replicas?.max;
}

interface EditTiming {
  readonly enforcedMs: number;
  readonly statusMs: number;
}

/** One edit of `bench-tenant-<n>/agent-<p>`'s replicas.max, timed until enforced and until its status shows it. */
async function timeEdit(
  kc: KubeConfig,
  serve: ServeProcess,
  token: string,
  target: { n: number; p: number; max: number },
): Promise<EditTiming> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const name = `agent-${target.p}`;
  const namespace = nsName(target.n);
  const t0 = performance.now();
  const patched = (await api.patchNamespacedCustomObject(
    { ...NS_POLICIES, namespace, name, body: { spec: { replicas: { max: target.max } } } },
    merge,
  )) as Listed;
  let enforcedMs: number | undefined;
  let statusMs: number | undefined;
  const deadline = Date.now() + 30_000;
  while (enforcedMs === undefined || statusMs === undefined) {
    if (Date.now() > deadline) throw new Error(`edit of ${namespace}/${name} not seen after 30 s`);
    if (enforcedMs === undefined && (await grantedMax(serve, token)) === target.max)
      enforcedMs = performance.now() - t0;
    if (statusMs === undefined) {
      const o = (await api.getNamespacedCustomObject({ ...NS_POLICIES, namespace, name })) as Listed;
      if (o.status?.observedGeneration === patched.metadata.generation) statusMs = performance.now() - t0;
    }
  }
  return { enforcedMs, statusMs };
}

async function main(): Promise<number> {
  const s: Sizes = {
    namespaces: parseCount(flags.namespaces, '--namespaces'),
    perNamespace: parseCount(flags['per-namespace'], '--per-namespace'),
    clusterPolicies: parseCount(flags['cluster-policies'], '--cluster-policies'),
  };
  const edits = parseCount(flags.edits, '--edits');
  const concurrency = parseCount(flags.concurrency, '--concurrency');
  const settleMs = parseDuration(flags.settle, '--settle');
  const nodeOptions = serverNodeOptions(flags['node-options']);
  const tenants = s.namespaces * s.perNamespace;
  if (!flags['no-build']) buildDist();
  log(`▸ server Node flags: ${nodeOptions.join(' ') || '(none)'}`);
  const started = new Date();
  const load = machine().loadavg;
  const live = await acquireLiveCluster();
  let serve: ServeProcess | undefined;
  try {
    const kc = live.kc;
    let t = performance.now();
    await createBaseline(kc, s, concurrency);
    const baselineS = (performance.now() - t) / 1000;
    log(
      `▸ baseline: ${s.namespaces} namespaces, ${s.clusterPolicies} McpPolicies (${baselineS.toFixed(0)} s)`,
    );
    serve = await startKubemcp({
      kc,
      dir: path.join(RESULTS, 'tenants-server'),
      entry: 'dist',
      nodeArgs: nodeOptions,
    });
    await waitIndexReady(serve, s.clusterPolicies, 300_000);
    const before = await idleMemory(serve, settleMs);
    log(`  idle: RSS ${before.rssMiB.toFixed(1)} MiB, heap used ${before.heapUsedMiB.toFixed(1)} MiB`);

    t = performance.now();
    await createTenants(kc, s, concurrency);
    const createS = (performance.now() - t) / 1000;
    log(`▸ 1 McpDelegation and ${tenants} McpNamespacePolicies created (${createS.toFixed(0)} s)`);
    await waitIndexReady(serve, s.clusterPolicies + tenants, 600_000);
    const indexS = (performance.now() - t) / 1000;
    await waitStatuses(kc, tenants, 1_800_000);
    const statusS = (performance.now() - t) / 1000;
    log(`  in the index after ${indexS.toFixed(0)} s, every status written after ${statusS.toFixed(0)} s`);
    const after = await idleMemory(serve, settleMs);
    const growth = after.rssMiB - before.rssMiB;
    log(`  idle: RSS ${after.rssMiB.toFixed(1)} MiB, heap used ${after.heapUsedMiB.toFixed(1)} MiB`);

    // Edits of one agent's policy, as that agent sees them.
    const target = { n: Math.floor(s.namespaces / 2), p: s.perNamespace - 1 };
    await ensureServiceAccount(kc, nsName(target.n), `agent-${target.p}`);
    const token = await mintToken(kc, nsName(target.n), `agent-${target.p}`, { audiences: [AUDIENCE] });
    const original = tenantSpec(target.n, target.p).replicas.max;
    if ((await grantedMax(serve, token)) !== original)
      throw new Error(`get_permissions of the target agent does not show replicas.max ${original}`);
    const timings: EditTiming[] = [];
    for (let i = 0; i < edits; i++) {
      timings.push(await timeEdit(kc, serve, token, { ...target, max: i % 2 === 0 ? 5 : original }));
      await sleep(1000);
    }
    await serve.stop();
    serve = await startKubemcp({
      kc,
      dir: path.join(RESULTS, 'tenants-server'),
      entry: 'dist',
      nodeArgs: nodeOptions,
    });
    await waitIndexReady(serve, s.clusterPolicies + tenants, 300_000);
    const restarted = await idleMemory(serve, settleMs);
    const restartGrowth = restarted.rssMiB - before.rssMiB;
    log(
      `  restarted, idle: RSS ${restarted.rssMiB.toFixed(1)} MiB, heap used ${restarted.heapUsedMiB.toFixed(1)} MiB`,
    );

    const enforced = timings.map((x) => x.enforcedMs).sort((a, b) => a - b);
    const status = timings.map((x) => x.statusMs).sort((a, b) => a - b);
    const maxEnforced = enforced.at(-1) ?? Number.NaN;

    const mib = (m: number): string => `${m.toFixed(1)} MiB`;
    console.log(
      `namespaces ${s.namespaces}, McpPolicies ${s.clusterPolicies}, McpNamespacePolicies ${tenants}`,
    );
    console.log(
      `RSS idle, baseline:             ${mib(before.rssMiB)} (heap used ${mib(before.heapUsedMiB)})`,
    );
    console.log(`RSS idle, with tenants:         ${mib(after.rssMiB)} (heap used ${mib(after.heapUsedMiB)})`);
    console.log(`RSS growth:                     ${mib(growth)} (target ≤ ${RSS_TARGET_MIB} MiB)`);
    console.log(`peak RSS (VmHWM):               ${mib(after.hwmMiB)}`);
    console.log(
      `RSS idle, restarted with them:  ${mib(restarted.rssMiB)} (heap used ${mib(restarted.heapUsedMiB)}): growth ${mib(restartGrowth)} (target ≤ ${RSS_TARGET_MIB} MiB)`,
    );
    console.log(
      `edit → enforced (get_permissions): median ${quantile(enforced, 0.5).toFixed(0)} ms, max ${maxEnforced.toFixed(0)} ms (target ≤ ${EDIT_TARGET_MS} ms)`,
    );
    console.log(
      `edit → status observed:         median ${quantile(status, 0.5).toFixed(0)} ms, max ${(status.at(-1) ?? Number.NaN).toFixed(0)} ms`,
    );
    console.log(
      `create ${tenants}: ${createS.toFixed(0)} s; all in the index ${indexS.toFixed(0)} s; all statuses ${statusS.toFixed(0)} s`,
    );
    const file = writeResult('tenants-serve', started, {
      sizes: s,
      serverNodeOptions: nodeOptions,
      machine: { ...machine(), loadavgBefore: load },
      memoryBaseline: before,
      memoryTenants: after,
      rssGrowthMiB: growth,
      memoryRestarted: restarted,
      rssGrowthRestartedMiB: restartGrowth,
      edits: timings,
      setupSeconds: { baseline: baselineS, create: createS, index: indexS, status: statusS },
    });
    log(`▸ ${path.relative(process.cwd(), file)}`);
    return growth <= RSS_TARGET_MIB && restartGrowth <= RSS_TARGET_MIB && maxEnforced <= EDIT_TARGET_MS
      ? 0
      : 1;
  } finally {
    await serve?.stop();
    // A cluster this run did not start keeps serving others: leave it without the bench's objects.
    if (live.cluster.mode !== 'local') await removeBenchObjects(live.kc);
    await live.release();
  }
}

runMain(main, USAGE);
