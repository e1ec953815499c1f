/**
 * MCP tool-call latency, throughput and memory of a real `kubemcp serve` on 1,000 and 10,000 pods.
 *
 *   npm run bench:mcp [-- --pods 1000,10000 --concurrency 1,8,32 --duration 6 --warmup 1.5
 *                        --repeat 2 --cases noop,list,list-ns --scale-calls 20 --pod-timeout 900
 *                        --profile --node-options="--max-old-space-size=128" --no-build]
 *
 * The server runs with the NODE_OPTIONS of config/manager/deployment.yaml unless --node-options is given.
 *
 * Uses the e2e cluster rules (a running `cluster:up` in KUBEMCP_CLUSTER_DIR is reused and keeps its
 * pods between runs; otherwise a local control plane is started and stopped). Per pod count:
 *   1. scales 20 bench Deployments (kwok makes the pods Running/Ready; bench/lib/workload.ts) and
 *      reports how long it took (the controller manager's client rate limit makes it ~20 pods/s);
 *   2. starts `node dist/cli/main.js serve` (the compiled operator, as the image runs it) as the
 *      operator ServiceAccount, and reports the time to /readyz (caches synced);
 *   3. mints one audience-bound token per virtual client and warms it (TokenReview cache hits after);
 *   4. closed-loop load from THIS process (the server is a separate process; bench/lib/loadgen.ts)
 *      for get_permissions (the no-op floor: HTTP + auth + MCP + policy, no list), list_pods over
 *      every namespace the caller sees, and list_pods in one namespace, at each concurrency; cases are
 *      interleaved and repeated (--repeat) and the runs pooled, so drift hits every case alike; the
 *      server's CPU comes from /proc, the load generator's from process.cpuUsage();
 *   5. scale_deployment latency next to the same /scale update made directly with client-node
 *      (GET + PUT with resourceVersion, as KubeMCP does it, and a single PATCH), each call on a settled
 *      Deployment;
 *   6. VmRSS / VmHWM from /proc and the V8 heap from the server's /metrics, 10 s after sync, right
 *      after the load and 10 s later.
 * Prints tables with the targets and writes JSON to bench/results/ (gitignored). With --profile the
 * server runs with --cpu-prof and the profile's hot spots are printed (bench/lib/profile.ts).
 *
 * Targets (issue): list_pods p50 ≤ 2 × no-op p50; list_pods calls/s at concurrency 32 ≥ 80 % of the
 * no-op's; RSS ≤ 120 MiB with 10,000 pods cached. A missed target is reported, not an exit code.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { AppsV1Api, type KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import {
  acquireLiveCluster,
  applyPolicy,
  ensureDeployment,
  ensureNamespace,
  ensureServiceAccount,
  mcpCall,
  mcpRequest,
  mintToken,
  type ServeProcess,
  startKubemcp,
  waitToolVisible,
} from '../test/conformance/live.js';
import { type LoadResult, type LoadRun, mergeRuns, runLoad } from './lib/loadgen.js';
import { formatProfile, type ProfileSummary, summariseProfile } from './lib/profile.js';
import { shippedNodeOptions } from './lib/serve-flags.js';
import {
  fmt,
  type LatencySummary,
  type ProcMemory,
  procCpuSeconds,
  procMemory,
  summarise,
} from './lib/stats.js';
import { BENCH_NAMESPACES, ensurePods } from './lib/workload.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const RESULTS = path.join(ROOT, 'bench', 'results');
const AGENTS_NS = 'kubemcp-bench-agents';
const AGENT = 'bench-agent';
const POLICY = 'kubemcp-bench';
const SCALE_NS = 'kubemcp-bench-scale';
const SCALE_TARGET = 'target';
const TARGET_RSS_MIB = 120;
const IDLE_SETTLE_MS = 10_000;

const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '1000,10000' },
    concurrency: { type: 'string', default: '1,8,32' },
    duration: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '1.5' },
    repeat: { type: 'string', default: '2' },
    'scale-calls': { type: 'string', default: '20' },
    'pod-timeout': { type: 'string', default: '900' },
    profile: { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    cases: { type: 'string', default: 'noop,list,list-ns' },
    'node-options': { type: 'string' },
  },
});
const POD_COUNTS = values.pods.split(',').map(Number);
const CONCURRENCY = values.concurrency.split(',').map(Number);
const DURATION_MS = Number(values.duration) * 1000;
const WARMUP_MS = Number(values.warmup) * 1000;
const SCALE_CALLS = Number(values['scale-calls']);
const REPEAT = Number(values.repeat);
/**
 * Node flags of the server: by default the NODE_OPTIONS the shipped Deployment sets (so memory is
 * measured as the operator runs); --node-options replaces them (--node-options= for none).
 */
const NODE_OPTIONS = (values['node-options'] ?? shippedNodeOptions()).split(' ').filter((f) => f !== '');

interface Case {
  readonly key: string;
  readonly label: string;
  readonly tool: string;
  readonly args: Record<string, unknown>;
}
const ALL_CASES: readonly Case[] = [
  { key: 'noop', label: 'get_permissions (no-op floor)', tool: 'get_permissions', args: {} },
  { key: 'list', label: 'list_pods, all namespaces', tool: 'list_pods', args: {} },
  {
    key: 'list-ns',
    label: 'list_pods, namespace=bench-0',
    tool: 'list_pods',
    args: { namespace: 'bench-0' },
  },
];
const CASES = ALL_CASES.filter((c) => values.cases.split(',').includes(c.key));

interface Cell extends LoadResult {
  readonly case: string;
  /** Server CPU over the measured window, % of one core. */
  readonly serverCpuPercent: number;
}

interface ScaleResult {
  readonly mcp: LatencySummary;
  readonly directGetPut: LatencySummary;
  readonly directPatch: LatencySummary;
  /** scale_deployment calls answered Conflict (after KubeMCP's own retries); not in the latencies. */
  readonly mcpConflicts: number;
  /** Direct GET+PUT attempts answered 409 Conflict; not in the latencies. */
  readonly directConflicts: number;
}

interface Target {
  readonly what: string;
  readonly value: string;
  readonly target: string;
  readonly ok: boolean;
}

interface StageResult {
  readonly pods: number;
  readonly podSetupSeconds: number;
  readonly serverSyncSeconds: number;
  /** 10 s after /readyz (idle). */
  readonly memoryAfterSync: Memory;
  /** At the end of the last load cell. */
  readonly memoryRightAfterLoad: Memory;
  /** 10 s after the load (idle). */
  readonly memoryAfterLoad: Memory;
  readonly cells: readonly Cell[];
  readonly scale: ScaleResult;
  readonly targets: readonly Target[];
  readonly profile?: ProfileSummary;
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

function build(): void {
  log('▸ npm run build (the bench runs the compiled dist/, as the image does)');
  const res = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (res.status !== 0) throw new Error('npm run build failed');
}

async function setup(kc: KubeConfig): Promise<void> {
  await ensureNamespace(kc, AGENTS_NS);
  await ensureServiceAccount(kc, AGENTS_NS, AGENT);
  await ensureNamespace(kc, SCALE_NS);
  await ensureDeployment(kc, SCALE_NS, SCALE_TARGET, 1);
  await applyPolicy(kc, POLICY, {
    subjects: [{ kind: 'ServiceAccount', name: AGENT, namespace: AGENTS_NS }],
    namespaces: { names: ['bench-*', SCALE_NS] },
    tools: ['list_*', 'scale_deployment'],
    replicas: { min: 0, max: 100 },
  });
}

const callOk = (status: number, body: Buffer): boolean =>
  status === 200 && body.includes('"structuredContent"') && !body.includes('"isError":true');

interface Memory extends ProcMemory {
  /** V8 heap (from the server's /metrics): committed and used, MiB. */
  readonly heapTotalMiB: number;
  readonly heapUsedMiB: number;
  /** Memory of Buffers and other objects outside the V8 heap, MiB. */
  readonly externalMiB: number;
}

/** VmRSS/VmHWM from /proc plus the V8 heap figures the server exports on /metrics. */
async function memoryOf(serve: ServeProcess): Promise<Memory> {
  const proc = procMemory(serve.pid);
  const text = await (await fetch(`http://127.0.0.1:${serve.healthPort}/metrics`)).text();
  const mib = (name: string): number =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text)?.[1] ?? Number.NaN) / 2 ** 20;
  return {
    ...proc,
    heapTotalMiB: mib('nodejs_heap_size_total_bytes'),
    heapUsedMiB: mib('nodejs_heap_size_used_bytes'),
    externalMiB: mib('nodejs_external_memory_bytes'),
  };
}

interface CellRun {
  readonly run: LoadRun;
  readonly serverCpuSeconds: number;
}

/** One closed-loop run of a case; the server's CPU is sampled from /proc around it (warm-up included). */
async function measureRun(
  serve: ServeProcess,
  tokens: readonly string[],
  c: Case,
  concurrency: number,
): Promise<CellRun> {
  const cpu0 = procCpuSeconds(serve.pid);
  const run = await runLoad({
    url: serve.url,
    tokens,
    concurrency,
    warmupMs: WARMUP_MS,
    durationMs: DURATION_MS,
    request: (token) => mcpRequest(token, 'tools/call', { name: c.tool, arguments: c.args }),
    ok: callOk,
  });
  return { run, serverCpuSeconds: procCpuSeconds(serve.pid) - cpu0 };
}

function mergeCell(c: Case, concurrency: number, runs: readonly CellRun[]): Cell {
  const merged = mergeRuns(
    concurrency,
    runs.map((r) => r.run),
  );
  const wall = runs.reduce((a, r) => a + r.run.wallSeconds, 0);
  const cpu = runs.reduce((a, r) => a + r.serverCpuSeconds, 0);
  return { ...merged, case: c.key, serverCpuPercent: (100 * cpu) / wall };
}

/**
 * Times `n` sequential calls; before each one, waits (untimed) until the target Deployment has settled
 * (its controller has observed the last change and the pods are there), so every call meets the
 * quiet object an agent's occasional scale meets, not the status churn of the previous call.
 * A call returning false (a Conflict) is counted, not timed.
 */
async function timed(
  n: number,
  settle: () => Promise<void>,
  fn: () => Promise<boolean>,
): Promise<{ summary: LatencySummary; failed: number }> {
  const samples: number[] = [];
  let failed = 0;
  for (let i = 0; i < n; i++) {
    await settle();
    const t = performance.now();
    const ok = await fn();
    if (ok) samples.push(performance.now() - t);
    else failed++;
  }
  return { summary: summarise(samples), failed };
}

async function measureScale(kc: KubeConfig, serve: ServeProcess, token: string): Promise<ScaleResult> {
  const apps = kc.makeApiClient(AppsV1Api);
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const ref = { name: SCALE_TARGET, namespace: SCALE_NS };
  let replicas = (await apps.readNamespacedDeploymentScale(ref)).spec?.replicas;
  const next = () => {
    replicas = replicas === 1 ? 2 : 1;
    return replicas;
  };
  const settle = async (): Promise<void> => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const d = await apps.readNamespacedDeployment(ref);
      const want = d.spec?.replicas ?? 1;
      if (
        (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
        d.status?.replicas === want &&
        (d.status?.readyReplicas ?? 0) === want
      )
        return;
      if (Date.now() > deadline) throw new Error(`${SCALE_NS}/${SCALE_TARGET} did not settle within 60 s`);
      await sleep(50);
    }
  };
  const viaMcp = async (): Promise<boolean> => {
    const a = await mcpCall(serve.url, token, 'tools/call', {
      name: 'scale_deployment',
      arguments: { namespace: SCALE_NS, name: SCALE_TARGET, replicas: next() },
    });
    const sc = a.body.result?.structuredContent as
      | { changed?: boolean; error?: { code?: string } }
      | undefined;
    if (sc?.error?.code === 'Conflict') return false;
    if (a.status !== 200 || a.body.result?.isError || sc?.changed !== true)
      throw new Error(`scale_deployment failed: ${JSON.stringify(a.body).slice(0, 300)}`);
    return true;
  };
  // Warm-up (connections, JIT, token cache).
  for (let i = 0; i < 3; i++) {
    await settle();
    await viaMcp();
  }
  const mcp = await timed(SCALE_CALLS, settle, viaMcp);
  const direct = await timed(SCALE_CALLS, settle, async () => {
    const cur = await apps.readNamespacedDeploymentScale(ref);
    try {
      await apps.replaceNamespacedDeploymentScale({
        ...ref,
        body: {
          apiVersion: 'autoscaling/v1',
          kind: 'Scale',
          metadata: { ...ref, resourceVersion: cur.metadata?.resourceVersion ?? '' },
          spec: { replicas: next() },
        },
      });
      return true;
    } catch (err) {
      if ((err as { code?: number }).code === 409) return false;
      throw err;
    }
  });
  const patch = await timed(SCALE_CALLS, settle, async () => {
    await apps.patchNamespacedDeploymentScale({ ...ref, body: { spec: { replicas: next() } } }, merge);
    return true;
  });
  return {
    mcp: mcp.summary,
    directGetPut: direct.summary,
    directPatch: patch.summary,
    mcpConflicts: mcp.failed,
    directConflicts: direct.failed,
  };
}

function evaluateTargets(pods: number, cells: readonly Cell[], mem: Memory): Target[] {
  const targets: Target[] = [];
  const cell = (k: string, c: number) => cells.find((x) => x.case === k && x.concurrency === c);
  for (const c of CONCURRENCY) {
    const noop = cell('noop', c);
    const list = cell('list', c);
    if (!noop || !list) continue;
    targets.push({
      what: `list_pods p50 vs no-op p50, c=${c}`,
      value: `${fmt(list.p50, 2)} vs ${fmt(noop.p50, 2)} ms (${fmt(list.p50 / noop.p50, 2)}×)`,
      target: '≤ 2×',
      ok: list.p50 <= 2 * noop.p50,
    });
  }
  const top = Math.max(...CONCURRENCY);
  const noop = cell('noop', top);
  const list = cell('list', top);
  if (noop && list) {
    targets.push({
      what: `list_pods calls/s vs no-op, c=${top}`,
      value: `${fmt(list.callsPerSec, 0)} vs ${fmt(noop.callsPerSec, 0)} (${fmt((100 * list.callsPerSec) / noop.callsPerSec, 0)} %)`,
      target: '≥ 80 %',
      ok: list.callsPerSec >= 0.8 * noop.callsPerSec,
    });
  }
  if (pods >= 10_000) {
    targets.push({
      what: `RSS with ${pods.toLocaleString('en-US')} pods cached (10 s after the load)`,
      value: `${fmt(mem.rssMiB)} MiB (peak ${fmt(mem.hwmMiB)})`,
      target: `≤ ${TARGET_RSS_MIB} MiB`,
      ok: mem.rssMiB <= TARGET_RSS_MIB,
    });
  }
  return targets;
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cols: string[]) =>
    cols.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function printStage(s: StageResult): void {
  const label = (k: string) => CASES.find((c) => c.key === k)?.label ?? k;
  const out: string[] = [
    '',
    `=== ${s.pods.toLocaleString('en-US')} pods — bench pods ready after ${fmt(s.podSetupSeconds)} s of setup; kubemcp serve ready (caches synced) ${fmt(s.serverSyncSeconds, 2)} s after spawn ===`,
    table(
      [
        'tool call',
        'conc',
        'calls/s',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'max ms',
        'errors',
        'resp KiB',
        'server CPU',
        'CPU ms/call',
        'loadgen CPU',
      ],
      s.cells.map((c) => [
        label(c.case),
        String(c.concurrency),
        fmt(c.callsPerSec, 0),
        fmt(c.p50, 2),
        fmt(c.p90, 2),
        fmt(c.p99, 2),
        fmt(c.max, 1),
        String(c.errors),
        fmt(c.meanResponseBytes / 1024, 1),
        `${fmt(c.serverCpuPercent, 0)} %`,
        fmt((10 * c.serverCpuPercent) / c.callsPerSec, 3),
        `${fmt(c.loadgenCpuPercent, 0)} %`,
      ]),
    ),
    '',
    table(
      ['scale (sequential)', 'n', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
      [
        ['scale_deployment via KubeMCP (GET+PUT /scale, Event)', s.scale.mcp],
        ['direct client-node GET + PUT /scale', s.scale.directGetPut],
        ['direct client-node PATCH /scale', s.scale.directPatch],
      ].map(([name, l]) => {
        const x = l as LatencySummary;
        return [name as string, String(x.n), fmt(x.p50, 2), fmt(x.p90, 2), fmt(x.p99, 2), fmt(x.max, 1)];
      }),
    ),
    `conflicts (not timed): scale_deployment ${s.scale.mcpConflicts} (after its own retries), direct GET+PUT ${s.scale.directConflicts}`,
    '',
    table(
      ['memory of kubemcp serve, MiB', 'RSS', 'peak RSS', 'V8 heap', 'heap used', 'external'],
      [
        ['10 s after /readyz (idle)', s.memoryAfterSync],
        ['right after the load', s.memoryRightAfterLoad],
        ['10 s after the load (idle)', s.memoryAfterLoad],
      ].map(([name, m]) => {
        const x = m as Memory;
        return [
          name as string,
          fmt(x.rssMiB),
          fmt(x.hwmMiB),
          fmt(x.heapTotalMiB),
          fmt(x.heapUsedMiB),
          fmt(x.externalMiB),
        ];
      }),
    ),
    '',
    table(
      ['target', 'measured', 'target', ''],
      s.targets.map((t) => [t.what, t.value, t.target, t.ok ? 'met' : 'MISSED']),
    ),
  ];
  if (s.profile) out.push('', formatProfile(s.profile));
  process.stdout.write(`${out.join('\n')}\n`);
}

async function stage(kc: KubeConfig, pods: number): Promise<StageResult> {
  log(`\n▸ ${pods.toLocaleString('en-US')} pods: scaling the bench Deployments (kwok makes pods Ready) …`);
  const podSetupSeconds = await ensurePods(kc, pods, {
    timeoutMs: Number(values['pod-timeout']) * 1000,
    onProgress: (p, s) => log(`  ${fmt(s, 0)}s: ${p.ready}/${p.desired} ready`),
  });
  log(`  ${pods} pods ready (${fmt(podSetupSeconds)} s)`);
  const profDir = path.join(RESULTS, 'profiles');
  if (values.profile) fs.mkdirSync(profDir, { recursive: true });
  const spawned = performance.now();
  const serve = await startKubemcp({
    kc,
    dir: path.join(RESULTS, 'server'),
    entry: 'dist',
    nodeArgs: [
      ...NODE_OPTIONS,
      ...(values.profile
        ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=serve-${pods}.cpuprofile`]
        : []),
    ],
  });
  const serverSyncSeconds = (performance.now() - spawned) / 1000;
  try {
    const maxC = Math.max(...CONCURRENCY);
    const tokens: string[] = [];
    for (let i = 0; i < maxC; i++)
      tokens.push(await mintToken(kc, AGENTS_NS, AGENT, { audiences: ['kubemcp'] }));
    await waitToolVisible(serve.url, tokens[0] as string, 'list_pods');
    // Warm every token (one TokenReview each) and check the caller sees every bench pod.
    for (const t of tokens) {
      const a = await mcpCall(serve.url, t, 'tools/call', { name: 'list_pods', arguments: { limit: 1 } });
      const total = (a.body.result?.structuredContent as { total?: number } | undefined)?.total ?? -1;
      if (total < pods) throw new Error(`the bench caller sees ${total} pods, expected at least ${pods}`);
    }
    // Steady state: give V8's memory reducer an idle moment after the initial list (it shrinks the
    // heap only when the process is idle), as a pod that just became Ready would have.
    await sleep(IDLE_SETTLE_MS);
    const memoryAfterSync = await memoryOf(serve);
    // Cases are interleaved (noop, list, list-ns, noop, ...) and each is repeated REPEAT times, then
    // pooled: slow drift of the machine (GC state, neighbours) then hits every case alike.
    const cells: Cell[] = [];
    for (const conc of CONCURRENCY) {
      const runs = new Map<string, CellRun[]>(CASES.map((c) => [c.key, []]));
      for (let rep = 0; rep < REPEAT; rep++) {
        for (const c of CASES) runs.get(c.key)?.push(await measureRun(serve, tokens, c, conc));
      }
      for (const c of CASES) {
        const cell = mergeCell(c, conc, runs.get(c.key) ?? []);
        log(
          `  ${c.label.padEnd(30)} c=${String(conc).padEnd(3)} ${fmt(cell.callsPerSec, 0).padStart(6)} calls/s  p50 ${fmt(cell.p50, 2)} ms  p99 ${fmt(cell.p99, 2)} ms  errors ${cell.errors}`,
        );
        if (cell.errors > 0) log(`    first error: ${cell.firstError}`);
        cells.push(cell);
      }
    }
    cells.sort((a, b) => CASES.findIndex((c) => c.key === a.case) - CASES.findIndex((c) => c.key === b.case));
    const memoryRightAfterLoad = await memoryOf(serve);
    await sleep(IDLE_SETTLE_MS);
    const memoryAfterLoad = await memoryOf(serve);
    log('  scale_deployment vs direct /scale …');
    const scale = await measureScale(kc, serve, tokens[0] as string);
    await serve.stop();
    let profile: ProfileSummary | undefined;
    if (values.profile) {
      const file = path.join(profDir, `serve-${pods}.cpuprofile`);
      if (fs.existsSync(file)) profile = summariseProfile(file, ROOT);
    }
    return {
      pods,
      podSetupSeconds,
      serverSyncSeconds,
      memoryAfterSync,
      memoryRightAfterLoad,
      memoryAfterLoad,
      cells,
      scale,
      targets: evaluateTargets(pods, cells, memoryAfterLoad),
      ...(profile ? { profile } : {}),
    };
  } finally {
    await serve.stop();
  }
}

async function main(): Promise<number> {
  fs.mkdirSync(RESULTS, { recursive: true });
  if (!values['no-build']) build();
  log(
    `▸ server Node flags: ${NODE_OPTIONS.join(' ') || '(none)'}${values['node-options'] === undefined ? " (the shipped Deployment's NODE_OPTIONS)" : ''}`,
  );
  const started = new Date();
  const live = await acquireLiveCluster();
  const stages: StageResult[] = [];
  try {
    await setup(live.kc);
    for (const pods of POD_COUNTS) {
      const s = await stage(live.kc, pods);
      printStage(s);
      stages.push(s);
    }
  } finally {
    await live.release();
  }
  const result = {
    benchmark: 'mcp',
    startedAt: started.toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memGiB: os.totalmem() / 2 ** 30,
      node: process.version,
    },
    cluster: live.cluster.mode,
    settings: {
      concurrency: CONCURRENCY,
      durationS: DURATION_MS / 1000,
      warmupS: WARMUP_MS / 1000,
      repeat: REPEAT,
      serverNodeOptions: NODE_OPTIONS,
      scaleCalls: SCALE_CALLS,
      namespaces: BENCH_NAMESPACES,
    },
    stages,
  };
  const file = path.join(RESULTS, `mcp-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  fs.writeFileSync(path.join(RESULTS, 'mcp-latest.json'), `${JSON.stringify(result, null, 2)}\n`);
  const missed = stages.flatMap((s) =>
    s.targets.filter((t) => !t.ok).map((t) => `${s.pods} pods: ${t.what}`),
  );
  process.stdout.write(
    `\nResults: ${path.relative(ROOT, file)}\n${missed.length === 0 ? 'All targets met.' : `Targets missed:\n  ${missed.join('\n  ')}`}\n`,
  );
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`\n✗ ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
