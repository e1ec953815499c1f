/**
 * Many agents: 1,000 ServiceAccounts, each with its own token and McpPolicy, calling a real
 * `kubemcp serve` round-robin at concurrency 64, against one caller at the same concurrency.
 *
 *   npm run bench:agents [-- --quick | --callers 1000 --namespaces 100 --pods-per-namespace 100]
 *                           [--concurrency 64 --warmup 5s --duration 20s --repeat 2 --profile
 *                            --cleanup --no-build --node-options=…]
 *   npm run bench:agents -- --help
 *
 * Uses the e2e cluster rules (a running `cluster:up` in KUBEMCP_CLUSTER_DIR is reused and keeps the
 * workload between runs; otherwise a local control plane is started and stopped). Then:
 *   1. setup (bench/lib/agents-workload.ts, idempotent): 100 namespaces in teams of four, 10,000 bare
 *      pods bound to the kwok fake node (created in parallel, --setup-concurrency at a time; kwok
 *      makes them Ready), idle Deployments, one scale target per scaling caller, 1,001
 *      ServiceAccounts and McpPolicies
 *      (exact names, globs, selectors, some scale grants; bench/lib/agents-plan.ts); the extra pods
 *      of `npm run bench:mcp` (bench-x-*) are deleted so the server caches this workload only;
 *   2. one audience-bound token per caller (TokenRequest), minted fresh every run;
 *   3. `node dist/cli/main.js serve` (the compiled operator) as the operator ServiceAccount, with the
 *      NODE_OPTIONS of config/manager/deployment.yaml and --max-inflight-per-caller=<2 × concurrency>
 *      (the baseline is one identity with that many calls in flight; the default of 8 would answer
 *      429; twice the concurrency leaves room for a slot released a moment after its answer);
 *      waits until every McpPolicy has status.observedGeneration = generation and Ready=True, and the
 *      server's index holds them all; memory 10 s later (idle);
 *   4. phases, interleaved --repeat times (baseline, 1,000 callers, baseline, …) after a warm-up each:
 *      (1) the baseline caller (a glob over one team of four namespaces, a scale grant) alone;
 *      (2) every caller in turn (call k goes to caller k mod 1,000), all at --concurrency. Before the
 *      first phase-2 run each caller makes its first call (get_permissions, 8 at a time: twice the
 *      server's 4 concurrent TokenReviews, so none waits long in its queue), which is when its token is
 *      reviewed. Both phases send the same mix: list_pods 45 %, list_deployments 25 %,
 *      get_permissions 29.5 %, scale_deployment 0.5 % (1 ↔ 2 replicas of the caller's own
 *      Deployment, within its bounds);
 *   5. TokenReviews from the server's /metrics (kubemcp_tokenreviews_total), RSS sampled every
 *      250 ms and VmHWM from /proc, the V8 heap from /metrics, right after the load and 10 s later.
 * Prints per-tool tables and the targets; writes bench/results/agents-<time>.json.
 *
 * Targets (issue 12): phase-2 calls/s ≥ 90 % of phase 1's; phase-2 p99 ≤ 3 × p50; peak RSS
 * (VmHWM) ≤ 160 MiB; TokenReviews ≤ one per token per cache period (60 s) and at least one per token;
 * 0 errors. A missed target is reported, not an exit code; with --profile the top frames are printed.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { acquireLiveCluster, mcpRequest, type ServeProcess, startKubemcp } from '../test/conformance/live.js';
import {
  callOf,
  distinctCalls,
  FULL,
  makePlan,
  type Plan,
  type PlanCaller,
  QUICK,
  roundRobin,
  type Sizes,
} from './lib/agents-plan.js';
import {
  clusterPodCount,
  ensureDeployments,
  ensureNamespaces,
  ensurePods,
  ensurePolicies,
  ensureServiceAccounts,
  fakeNodeName,
  mintTokens,
  pool,
  removeAgentsWorkload,
  waitPoliciesCompiled,
} from './lib/agents-workload.js';
import {
  buildDist,
  log,
  machine,
  parseCount,
  parseDuration,
  parseFlags,
  RESULTS,
  ROOT,
  runMain,
  serverNodeOptions,
  table,
  UsageError,
  writeResult,
} from './lib/cli.js';
import { type MixRun, type PreparedRequest, post, prepare, runMix } from './lib/loadgen.js';
import { type Memory, memoryOf, metricSum, scrapeMetrics } from './lib/metrics.js';
import { formatProfile, type ProfileSummary, summariseProfile } from './lib/profile.js';
import { fmt, type LatencySummary, procCpuSeconds, procMemory, summarise } from './lib/stats.js';
import { removeExtraPods } from './lib/workload.js';

const AUDIENCE = 'kubemcp';
/** The TokenReview cache keeps a success at most this long (src/mcp/auth/authenticator.ts, maxTtlMs). */
const TOKEN_CACHE_MS = 60_000;
const IDLE_SETTLE_MS = 10_000;
const FIRST_CALL_CONCURRENCY = 8;
const TARGET_THROUGHPUT = 0.9;
const TARGET_P99_RATIO = 3;
const TARGET_RSS_MIB = 160;

const USAGE = `npm run bench:agents -- [options]

  --quick                     100 callers, 20 namespaces, 50 pods each (1,000 pods), 10 s runs
  --callers <n>               callers, each with its own ServiceAccount, token and McpPolicy [1000]
  --namespaces <n>            namespaces, a multiple of 4 [100]
  --pods-per-namespace <n>    bare pods per namespace [100]
  --concurrency <n>           closed-loop virtual clients in both phases [64]
  --warmup <t>                warm-up before each run, e.g. 5s [5s]
  --duration <t>              measured length of each run [20s]
  --repeat <n>                runs per phase, interleaved (baseline, many, baseline, …) [2]
  --setup-concurrency <n>     parallel API calls while setting up [32]
  --pod-timeout <t>           longest wait for the pods to be Ready [15m]
  --profile                   run the server with --cpu-prof and print its hot spots
  --cleanup                   delete the workload at the end (namespaces, policies)
  --no-build                  use the existing dist/ (skip npm run build)
  --node-options <s>          Node flags of the server (default: the shipped Deployment's NODE_OPTIONS)
  --help                      this text

Targets: 1,000-caller calls/s ≥ 90 % of one caller's; its p99 ≤ 3 × p50; peak RSS ≤ 160 MiB;
TokenReviews ≤ one per token per 60 s cache period; 0 errors. A missed target does not change the
exit code. Results: bench/results/agents-*.json.
`;

function settings() {
  const v = parseFlags({
    quick: { type: 'boolean', default: false },
    callers: { type: 'string' },
    namespaces: { type: 'string' },
    'pods-per-namespace': { type: 'string' },
    concurrency: { type: 'string', default: '64' },
    warmup: { type: 'string' },
    duration: { type: 'string' },
    repeat: { type: 'string', default: '2' },
    'setup-concurrency': { type: 'string', default: '32' },
    'pod-timeout': { type: 'string', default: '15m' },
    profile: { type: 'boolean', default: false },
    cleanup: { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    'node-options': { type: 'string' },
    help: { type: 'boolean', default: false },
  });
  const base = v.quick ? QUICK : FULL;
  const sizes: Sizes = {
    callers: v.callers === undefined ? base.callers : parseCount(v.callers, '--callers'),
    namespaces: v.namespaces === undefined ? base.namespaces : parseCount(v.namespaces, '--namespaces', 4),
    podsPerNamespace:
      v['pods-per-namespace'] === undefined
        ? base.podsPerNamespace
        : parseCount(v['pods-per-namespace'], '--pods-per-namespace', 0),
  };
  if (sizes.namespaces % 4 !== 0) throw new UsageError('--namespaces must be a multiple of 4');
  return {
    help: v.help,
    quick: v.quick,
    sizes,
    concurrency: parseCount(v.concurrency, '--concurrency'),
    warmupMs: parseDuration(v.warmup ?? (v.quick ? '3s' : '5s'), '--warmup'),
    durationMs: parseDuration(v.duration ?? (v.quick ? '10s' : '20s'), '--duration'),
    repeat: parseCount(v.repeat, '--repeat'),
    setupConcurrency: parseCount(v['setup-concurrency'], '--setup-concurrency'),
    podTimeoutMs: parseDuration(v['pod-timeout'], '--pod-timeout'),
    profile: v.profile,
    cleanup: v.cleanup,
    build: !v['no-build'],
    nodeOptions: serverNodeOptions(v['node-options']),
    nodeOptionsShipped: v['node-options'] === undefined,
  };
}
type Settings = ReturnType<typeof settings>;

// ---------------------------------------------------------------------------------------------
// Load

const callOk = (status: number, body: Buffer): boolean =>
  status === 200 && body.includes('"structuredContent"') && !body.includes('"isError":true');

/** A scale that still conflicted after KubeMCP's own retries: legitimate, counted apart. */
const conflict = (status: number, body: Buffer, tag: string): string | undefined =>
  status === 200 && tag === 'scale_deployment' && body.includes('"code":"Conflict"') ? 'Conflict' : undefined;

/** Prebuilt requests of one caller, built on first use (keyed by callOf's key). */
class CallerRequests {
  private readonly cache: Array<PreparedRequest | undefined>;
  constructor(
    readonly caller: PlanCaller,
    private readonly token: string,
  ) {
    this.cache = new Array(distinctCalls(caller));
  }
  get(n: number): PreparedRequest {
    const call = callOf(this.caller, n);
    let req = this.cache[call.key];
    if (req === undefined) {
      req = prepare(
        call.tool,
        mcpRequest(this.token, 'tools/call', { name: call.tool, arguments: call.args }),
      );
      this.cache[call.key] = req;
    }
    return req;
  }
}

interface RunRecord {
  readonly run: MixRun;
  readonly serverCpuSeconds: number;
  readonly tokenReviews: number;
  /** Highest RSS sampled during the run (every 250 ms), MiB. */
  readonly rssPeakMiB: number;
}

async function measure(
  serve: ServeProcess,
  s: Settings,
  next: (client: number) => PreparedRequest,
): Promise<RunRecord> {
  const before = await scrapeMetrics(serve.healthPort);
  const cpu0 = procCpuSeconds(serve.pid);
  let rssPeakMiB = 0;
  const sample = () => {
    rssPeakMiB = Math.max(rssPeakMiB, procMemory(serve.pid).rssMiB);
  };
  const timer = setInterval(sample, 250);
  const run = await runMix({
    url: serve.url,
    concurrency: s.concurrency,
    warmupMs: s.warmupMs,
    durationMs: s.durationMs,
    next,
    ok: callOk,
    tolerated: conflict,
  });
  clearInterval(timer);
  sample();
  const serverCpuSeconds = procCpuSeconds(serve.pid) - cpu0;
  const after = await scrapeMetrics(serve.healthPort);
  return {
    run,
    serverCpuSeconds,
    tokenReviews:
      metricSum(after, 'kubemcp_tokenreviews_total') - metricSum(before, 'kubemcp_tokenreviews_total'),
    rssPeakMiB,
  };
}

interface FirstCalls extends LatencySummary {
  readonly seconds: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly tokenReviews: number;
  /** Tokens refused without a TokenReview (busy: the review queue was full) while they ran. */
  readonly busy: number;
}

/** Every caller's first call (get_permissions), FIRST_CALL_CONCURRENCY at a time: its token is reviewed. */
async function firstCalls(serve: ServeProcess, requests: readonly CallerRequests[]): Promise<FirstCalls> {
  const before = await scrapeMetrics(serve.healthPort);
  const url = new URL(serve.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: FIRST_CALL_CONCURRENCY });
  const samples: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  await pool(requests, FIRST_CALL_CONCURRENCY, async (r) => {
    const req = r.get(0); // call 0 of every caller is get_permissions
    const t = performance.now();
    try {
      const res = await post(agent, url, req.headers, req.body);
      samples.push(performance.now() - t);
      if (!callOk(res.status, res.body)) {
        errors++;
        firstError ??= `${r.caller.sa}: HTTP ${res.status} ${res.body.subarray(0, 300).toString('utf8')}`;
      }
    } catch (err) {
      errors++;
      firstError ??= `${r.caller.sa}: ${err instanceof Error ? err.message : String(err)}`;
    }
  });
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  const after = await scrapeMetrics(serve.healthPort);
  const delta = (name: string, labels: Record<string, string> = {}) =>
    metricSum(after, name, labels) - metricSum(before, name, labels);
  return {
    ...summarise(samples),
    seconds,
    errors,
    ...(firstError === undefined ? {} : { firstError }),
    tokenReviews: delta('kubemcp_tokenreviews_total'),
    busy: delta('kubemcp_tokenreviews_avoided_total', { reason: 'busy' }),
  };
}

// ---------------------------------------------------------------------------------------------
// Results

interface ToolRow extends LatencySummary {
  readonly tool: string;
  readonly callsPerSec: number;
  readonly errors: number;
  readonly conflicts: number;
}

interface PhaseResult extends LatencySummary {
  readonly phase: 'baseline' | 'many';
  readonly callers: number;
  readonly concurrency: number;
  readonly runs: number;
  readonly seconds: number;
  readonly callsPerSec: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly conflicts: number;
  readonly perTool: readonly ToolRow[];
  readonly tokenReviews: number;
  readonly serverCpuPercent: number;
  readonly serverCpuMsPerCall: number;
  readonly loadgenCpuPercent: number;
  readonly rssPeakMiB: number;
  readonly meanResponseBytes: number;
}

function pooled(phase: PhaseResult['phase'], callers: number, s: Settings, records: readonly RunRecord[]) {
  const runs = records.map((r) => r.run);
  const seconds = runs.reduce((a, r) => a + r.seconds, 0);
  const wall = runs.reduce((a, r) => a + r.wallSeconds, 0);
  const samples = runs.flatMap((r) => r.samples);
  const tools = [...new Set(runs.flatMap((r) => [...r.byTag.keys()]))].sort();
  const perTool: ToolRow[] = tools.map((tool) => {
    const tagRuns = runs.flatMap((r) => {
      const t = r.byTag.get(tool);
      return t === undefined ? [] : [t];
    });
    const toolSamples = tagRuns.flatMap((t) => t.samples);
    return {
      tool,
      ...summarise(toolSamples),
      callsPerSec: toolSamples.length / seconds,
      errors: tagRuns.reduce((a, t) => a + t.errors, 0),
      conflicts: tagRuns.reduce((a, t) => a + (t.tolerated.Conflict ?? 0), 0),
    };
  });
  const serverCpu = records.reduce((a, r) => a + r.serverCpuSeconds, 0);
  const firstError = runs.find((r) => r.firstError !== undefined)?.firstError;
  const result: PhaseResult = {
    phase,
    callers,
    concurrency: s.concurrency,
    runs: runs.length,
    ...summarise(samples),
    seconds,
    callsPerSec: samples.length / seconds,
    errors: runs.reduce((a, r) => a + r.errors, 0),
    ...(firstError === undefined ? {} : { firstError }),
    conflicts: perTool.reduce((a, t) => a + t.conflicts, 0),
    perTool,
    tokenReviews: records.reduce((a, r) => a + r.tokenReviews, 0),
    serverCpuPercent: (100 * serverCpu) / wall,
    // Warm-up calls are not in `samples`: CPU per call over the measured share of the wall time.
    serverCpuMsPerCall: (1000 * serverCpu * (seconds / wall)) / Math.max(1, samples.length),
    loadgenCpuPercent: (100 * runs.reduce((a, r) => a + r.loadgenCpuSeconds, 0)) / wall,
    rssPeakMiB: Math.max(...records.map((r) => r.rssPeakMiB)),
    meanResponseBytes: runs.reduce((a, r) => a + r.bytes, 0) / Math.max(1, samples.length),
  };
  return result;
}

interface Target {
  readonly what: string;
  readonly value: string;
  readonly target: string;
  readonly ok: boolean;
}

function phaseTable(p: PhaseResult): string {
  const row = (
    name: string,
    x: LatencySummary & { callsPerSec: number; errors: number; conflicts: number },
  ) => [
    name,
    String(x.n),
    fmt(x.callsPerSec, 0),
    fmt(x.p50, 1),
    fmt(x.p90, 1),
    fmt(x.p99, 1),
    fmt(x.max, 1),
    String(x.errors),
    String(x.conflicts),
  ];
  return table(
    ['tool', 'calls', 'calls/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'errors', 'conflicts'],
    [...p.perTool.map((t) => row(t.tool, t)), row('all', p)],
  );
}

function memoryTable(rows: Array<[string, Memory]>): string {
  return table(
    ['memory of kubemcp serve, MiB', 'RSS', 'peak RSS', 'V8 heap', 'heap used', 'external'],
    rows.map(([name, m]) => [
      name,
      fmt(m.rssMiB),
      fmt(m.hwmMiB),
      fmt(m.heapTotalMiB),
      fmt(m.heapUsedMiB),
      fmt(m.externalMiB),
    ]),
  );
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const s = settings();
  if (s.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const plan: Plan = makePlan(s.sizes);
  const pods = plan.namespaces.length * s.sizes.podsPerNamespace;
  fs.mkdirSync(RESULTS, { recursive: true });
  if (s.build) buildDist();
  log(
    `▸ server Node flags: ${s.nodeOptions.join(' ') || '(none)'}${s.nodeOptionsShipped ? " (the shipped Deployment's NODE_OPTIONS)" : ''}`,
  );
  const started = new Date();
  const loadBefore = machine().loadavg;
  const live = await acquireLiveCluster();
  let serve: ServeProcess | undefined;
  try {
    const kc = live.kc;
    const setup: Record<string, number> = {};
    const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      const t = performance.now();
      const out = await fn();
      setup[name] = (performance.now() - t) / 1000;
      return out;
    };
    log(
      `▸ workload: ${plan.namespaces.length} namespaces, ${pods.toLocaleString('en-US')} pods, ${plan.callers.length} callers + 1 baseline caller`,
    );
    if (await removeExtraPods(kc))
      log('  deleted the bench-x-* namespaces of npm run bench:mcp (9,000+ pods)');
    const node = await fakeNodeName(kc);
    const deletedNs = await step('namespacesS', () => ensureNamespaces(kc, plan, s.setupConcurrency));
    if (deletedNs > 0) log(`  deleted ${deletedNs} bench namespaces the plan does not name`);
    const created = await step('podsS', () =>
      ensurePods(kc, plan, node, {
        concurrency: s.setupConcurrency,
        timeoutMs: s.podTimeoutMs,
        onProgress: (p, sec) =>
          log(`  ${fmt(sec, 0)} s: ${p.created} pods created, ${p.ready}/${p.desired} Ready`),
      }),
    );
    log(`  ${pods.toLocaleString('en-US')} pods Ready (${created} created) in ${fmt(setup.podsS ?? 0)} s`);
    await step('deploymentsS', () => ensureDeployments(kc, plan, node, s.setupConcurrency));
    const newSas = await step('serviceAccountsS', () => ensureServiceAccounts(kc, plan, s.setupConcurrency));
    const policies = await step('policiesS', () => ensurePolicies(kc, plan, s.setupConcurrency));
    log(
      `  deployments ${fmt(setup.deploymentsS ?? 0)} s; ServiceAccounts ${newSas} created (${fmt(setup.serviceAccountsS ?? 0)} s); McpPolicies ${policies.created} created, ${policies.replaced} replaced, ${policies.deleted} deleted (${fmt(setup.policiesS ?? 0)} s)`,
    );
    const callers = [plan.baseline, ...plan.callers];
    const tokens = await step('tokensS', () => mintTokens(kc, callers, AUDIENCE, 16));
    log(`  ${tokens.length} tokens minted (${fmt(setup.tokensS ?? 0)} s)`);
    const podsInCluster = await clusterPodCount(kc);

    // The server.
    const profDir = path.join(RESULTS, 'profiles');
    const profName = `serve-agents-${started.toISOString().replace(/[:.]/g, '-')}.cpuprofile`;
    if (s.profile) fs.mkdirSync(profDir, { recursive: true });
    const spawned = performance.now();
    serve = await startKubemcp({
      kc,
      dir: path.join(RESULTS, 'agents-server'),
      entry: 'dist',
      nodeArgs: [
        ...s.nodeOptions,
        ...(s.profile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=${profName}`] : []),
      ],
      extraArgs: [`--max-inflight-per-caller=${2 * s.concurrency}`],
    });
    const syncSeconds = (performance.now() - spawned) / 1000;
    log(
      `▸ kubemcp serve ready (caches synced) ${fmt(syncSeconds, 2)} s after spawn; log ${path.relative(ROOT, serve.logFile)}`,
    );
    await step('policiesCompiledS', () =>
      waitPoliciesCompiled(kc, plan, 600_000, (n, total) => log(`  ${n}/${total} McpPolicies compiled`)),
    );
    // The server's own index (the status may have been written by an earlier run's server).
    for (const deadline = Date.now() + 120_000; ; ) {
      const ready = metricSum(await scrapeMetrics(serve.healthPort), 'kubemcp_policies', { state: 'ready' });
      if (ready >= callers.length) break;
      if (Date.now() > deadline)
        throw new Error(`the server's index holds ${ready} Ready policies, want ${callers.length}`);
      await sleep(500);
    }
    log(`  every McpPolicy compiled ${fmt((performance.now() - spawned) / 1000, 1)} s after spawn`);
    await sleep(IDLE_SETTLE_MS);
    const memoryIdle = await memoryOf(serve);

    // The load.
    const baseline = new CallerRequests(plan.baseline, tokens[0] as string);
    const many = plan.callers.map((c, i) => new CallerRequests(c, tokens[i + 1] as string));
    let baseN = 1; // call 0 (get_permissions) is the baseline token's first call, made below
    const nextBaseline = () => baseline.get(baseN++);
    let k = 0;
    const n = many.length;
    const nextMany = () => {
      const next = roundRobin(n, k++);
      return (many[next.caller] as CallerRequests).get(next.n);
    };
    const baseFirst = await firstCalls(serve, [baseline]);
    const baseT0 = performance.now() - baseFirst.seconds * 1000;
    const baseRecords: RunRecord[] = [];
    const manyRecords: RunRecord[] = [];
    let first: FirstCalls | undefined;
    let manyT0 = 0;
    for (let rep = 0; rep < s.repeat; rep++) {
      log(`▸ run ${rep + 1}/${s.repeat}: one caller at concurrency ${s.concurrency} …`);
      const b = await measure(serve, s, nextBaseline);
      baseRecords.push(b);
      log(
        `  ${fmt(b.run.samples.length / b.run.seconds, 0)} calls/s  p50 ${fmt(summarise(b.run.samples).p50, 1)} ms  p99 ${fmt(summarise(b.run.samples).p99, 1)} ms  errors ${b.run.errors}`,
      );
      if (first === undefined) {
        log(
          `▸ the first call of each of ${n} callers (${FIRST_CALL_CONCURRENCY} at a time; one TokenReview each) …`,
        );
        manyT0 = performance.now();
        first = await firstCalls(serve, many);
        log(
          `  ${fmt(first.seconds, 1)} s (${fmt(n / first.seconds, 0)} callers/s), p50 ${fmt(first.p50, 1)} ms, p99 ${fmt(first.p99, 1)} ms, ${first.tokenReviews} TokenReviews, errors ${first.errors}${first.firstError ? ` (${first.firstError.slice(0, 200)})` : ''}`,
        );
      }
      log(`▸ run ${rep + 1}/${s.repeat}: ${n} callers round-robin at concurrency ${s.concurrency} …`);
      const m = await measure(serve, s, nextMany);
      manyRecords.push(m);
      log(
        `  ${fmt(m.run.samples.length / m.run.seconds, 0)} calls/s  p50 ${fmt(summarise(m.run.samples).p50, 1)} ms  p99 ${fmt(summarise(m.run.samples).p99, 1)} ms  errors ${m.run.errors}  TokenReviews ${m.tokenReviews}`,
      );
    }
    const loadEnd = performance.now();
    const memoryRightAfter = await memoryOf(serve);
    await sleep(IDLE_SETTLE_MS);
    const memoryAfter = await memoryOf(serve);
    const loadAfter = machine().loadavg;
    await serve.stop();
    let profile: ProfileSummary | undefined;
    if (s.profile) {
      const file = path.join(profDir, profName);
      if (fs.existsSync(file)) profile = summariseProfile(file, ROOT);
    }

    // Results and targets.
    const base = pooled('baseline', 1, s, baseRecords);
    const multi = pooled('many', n, s, manyRecords);
    const firstRun = first as FirstCalls;
    const manySpanS = (loadEnd - manyT0) / 1000;
    const baseSpanS = (loadEnd - baseT0) / 1000;
    const periods = (span: number) => Math.floor((span * 1000) / TOKEN_CACHE_MS) + 1;
    const manyReviews = firstRun.tokenReviews + multi.tokenReviews;
    const baseReviews = baseFirst.tokenReviews + base.tokenReviews;
    const reviewBound = n * periods(manySpanS);
    const errors = base.errors + multi.errors + firstRun.errors + baseFirst.errors;
    // VmHWM is updated lazily by the kernel: a sample of VmRSS may be a little above it.
    const peakRss = Math.max(memoryAfter.hwmMiB, memoryRightAfter.hwmMiB, base.rssPeakMiB, multi.rssPeakMiB);
    const targets: Target[] = [
      {
        what: `calls/s, ${n} callers vs one caller (c=${s.concurrency})`,
        value: `${fmt(multi.callsPerSec, 0)} vs ${fmt(base.callsPerSec, 0)} (${fmt((100 * multi.callsPerSec) / base.callsPerSec, 0)} %)`,
        target: `≥ ${100 * TARGET_THROUGHPUT} %`,
        ok: multi.callsPerSec >= TARGET_THROUGHPUT * base.callsPerSec,
      },
      {
        what: `p99 vs p50, ${n} callers`,
        value: `${fmt(multi.p99, 1)} vs ${fmt(multi.p50, 1)} ms (${fmt(multi.p99 / multi.p50, 2)}×)`,
        target: `≤ ${TARGET_P99_RATIO}×`,
        ok: multi.p99 <= TARGET_P99_RATIO * multi.p50,
      },
      {
        what: 'peak RSS (VmHWM over the whole life of the server, or a higher 250 ms sample)',
        value: `${fmt(peakRss)} MiB`,
        target: `≤ ${TARGET_RSS_MIB} MiB`,
        ok: peakRss <= TARGET_RSS_MIB,
      },
      {
        what: `TokenReviews for ${n} tokens over ${fmt(manySpanS, 0)} s (${periods(manySpanS)} cache period(s) of 60 s)`,
        value: `${manyReviews} (${fmt(manyReviews / n, 2)} per token)`,
        target: `${n}–${reviewBound}`,
        ok: manyReviews >= n && manyReviews <= reviewBound,
      },
      {
        what: 'errors (both phases, first calls included)',
        value: String(errors),
        target: '0',
        ok: errors === 0,
      },
    ];

    const out: string[] = [
      '',
      `=== many agents: ${n} callers, ${plan.namespaces.length} namespaces, ${pods.toLocaleString('en-US')} bench pods (${podsInCluster.toLocaleString('en-US')} pods in the cluster), concurrency ${s.concurrency}, ${s.repeat} × (${fmt(s.warmupMs / 1000, 0)} s warm-up + ${fmt(s.durationMs / 1000, 0)} s) per phase ===`,
      `load average ${loadBefore.map((l) => fmt(l, 2)).join(' ')} before, ${loadAfter.map((l) => fmt(l, 2)).join(' ')} after, on ${machine().cpus} cores`,
      '',
      `phase 1 — one caller (${plan.baseline.sa}, policy over ${plan.baseline.covers.length} namespaces): ${fmt(base.callsPerSec, 0)} calls/s; server CPU ${fmt(base.serverCpuPercent, 0)} % (${fmt(base.serverCpuMsPerCall, 2)} ms/call), load generator ${fmt(base.loadgenCpuPercent, 0)} %`,
      phaseTable(base),
      '',
      `phase 2 — ${n} callers round-robin: ${fmt(multi.callsPerSec, 0)} calls/s; server CPU ${fmt(multi.serverCpuPercent, 0)} % (${fmt(multi.serverCpuMsPerCall, 2)} ms/call), load generator ${fmt(multi.loadgenCpuPercent, 0)} %`,
      phaseTable(multi),
      '',
      `first calls of ${n} callers (${FIRST_CALL_CONCURRENCY} at a time): ${fmt(firstRun.seconds, 1)} s, p50 ${fmt(firstRun.p50, 1)} ms, p99 ${fmt(firstRun.p99, 1)} ms, errors ${firstRun.errors}, refused busy ${firstRun.busy}`,
      `TokenReviews: ${firstRun.tokenReviews} at the first calls + ${multi.tokenReviews} in the phase-2 runs = ${manyReviews} for ${n} tokens over ${fmt(manySpanS, 0)} s; baseline ${baseReviews} for 1 token over ${fmt(baseSpanS, 0)} s`,
      `setup: ${Object.entries(setup)
        .map(([k2, v]) => `${k2.replace(/S$/, '')} ${fmt(v, 1)} s`)
        .join(', ')}; server ready ${fmt(syncSeconds, 1)} s after spawn`,
      '',
      memoryTable([
        ['idle, policies compiled, before the load', memoryIdle],
        ['right after the load', memoryRightAfter],
        ['10 s after the load', memoryAfter],
      ]),
      `highest RSS sampled during the load: ${fmt(Math.max(base.rssPeakMiB, multi.rssPeakMiB))} MiB (every 250 ms)`,
      '',
      table(
        ['target', 'measured', 'target', ''],
        targets.map((t) => [t.what, t.value, t.target, t.ok ? 'met' : 'MISSED']),
      ),
    ];
    if (base.firstError) out.push(`first error, phase 1: ${base.firstError.slice(0, 300)}`);
    if (multi.firstError) out.push(`first error, phase 2: ${multi.firstError.slice(0, 300)}`);
    if (firstRun.firstError) out.push(`first error, first calls: ${firstRun.firstError.slice(0, 300)}`);
    if (profile) out.push('', formatProfile(profile));
    process.stdout.write(`${out.join('\n')}\n`);

    const file = writeResult('agents', started, {
      benchmark: 'agents',
      startedAt: started.toISOString(),
      machine: { ...machine(), loadavgBefore: loadBefore, loadavgAfter: loadAfter },
      cluster: live.cluster.mode,
      settings: {
        sizes: s.sizes,
        pods,
        podsInCluster,
        concurrency: s.concurrency,
        warmupS: s.warmupMs / 1000,
        durationS: s.durationMs / 1000,
        repeat: s.repeat,
        serverNodeOptions: s.nodeOptions,
        serverArgs: [`--max-inflight-per-caller=${2 * s.concurrency}`],
        policyKinds: Object.fromEntries(
          [...new Set(plan.callers.map((c) => c.kind))].map((kind) => [
            kind,
            plan.callers.filter((c) => c.kind === kind).length,
          ]),
        ),
        scalingCallers: plan.callers.filter((c) => c.scaleEvery > 0).length,
      },
      setupSeconds: setup,
      serverReadySeconds: syncSeconds,
      baseline: base,
      many: multi,
      firstCalls: firstRun,
      tokenReviews: {
        tokens: n,
        spanSeconds: manySpanS,
        cachePeriods: periods(manySpanS),
        issued: manyReviews,
        atFirstCalls: firstRun.tokenReviews,
        baselineIssued: baseReviews,
      },
      memory: {
        idle: memoryIdle,
        rightAfterLoad: memoryRightAfter,
        after10s: memoryAfter,
        peakRssMiB: peakRss,
      },
      targets,
      ...(profile ? { profile } : {}),
    });
    const missed = targets.filter((t) => !t.ok);
    process.stdout.write(
      `\nResults: ${path.relative(ROOT, file)}\n${missed.length === 0 ? 'All targets met.' : `Targets missed: ${missed.map((t) => t.what).join('; ')}`}\n`,
    );
    if (s.cleanup) {
      log('▸ --cleanup: deleting the namespaces and McpPolicies (the pods go in the background)');
      await removeAgentsWorkload(kc);
    }
    return 0;
  } finally {
    await serve?.stop();
    await live.release();
  }
}

runMain(main, USAGE);
