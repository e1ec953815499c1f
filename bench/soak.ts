/**
 * Soak: a long closed-loop run of mixed MCP tool calls from several callers with different
 * McpPolicies against a real `kubemcp serve`, every answer checked against the pure policy engine.
 *
 *   npm run soak [-- --duration 5m --concurrency 32 --window 30s --seed 1 --no-build
 *                    --node-options="--max-old-space-size=128"]
 *   npm run soak:ci            (the same, --duration 60s)
 *
 * Uses the e2e cluster rules (a running `cluster:up` in KUBEMCP_CLUSTER_DIR is reused and left
 * running; otherwise a local control plane is started for the run and stopped after it). The server
 * is the compiled `dist/cli/main.js serve` (built first unless --no-build), running as the operator
 * ServiceAccount with the NODE_OPTIONS of config/manager/deployment.yaml, as in bench/mcp.ts.
 *
 * Workload: namespaces soak-* (some labelled for a selector, one no policy covers), each with two
 * Deployments and a Service; four ServiceAccount callers and five McpPolicies (exact names, globs, a
 * selector, a Group subject, replica bounds; one caller has only the group's grant). Each of
 * --concurrency virtual clients has its own token (clients are spread over the callers) and sends,
 * as soon as its previous answer is in: 80 % lists (list_pods / list_deployments / list_services in
 * one namespace or all, list_namespaces; namespaces include ones outside the caller's policies and
 * ones that do not exist), 15 % get_permissions, 5 % scale_deployment (replicas inside and outside
 * the bounds, in namespaces inside and outside the policies).
 *
 * Oracle: the same McpPolicy specs and the cluster's Namespaces (with labels) are compiled with the
 * pure engine (src/policy) and every answer is checked: allowed ⇔ the engine allows, the denial code
 * equals the engine's, list rows only from namespaces the engine allows and list totals equal to the
 * objects in those namespaces, get_permissions equal to the engine's permissions, a scale reports the
 * requested count and the policies the engine names. A contradiction fails the run and is printed.
 *
 * Targets (each missed target fails the run, exit code 1):
 *   - 0 policy contradictions;
 *   - 0 errors: transport errors, non-200 answers, JSON-RPC errors, isError codes other than the
 *     engine's denial (Conflict on a scale, after KubeMCP's own retries, is counted and reported
 *     apart: two clients scaling the same Deployment at once is a legitimate outcome);
 *   - RSS growth < 10 % after warm-up: the server's VmRSS (from /proc, sampled every second), median
 *     over the last part of the run vs. median over the part right after warm-up (warm-up = the first
 *     20 % of the run; each part is min(window, 20 % of the run) long).
 * Prints per-window latency percentiles (all calls, warm-up included) and writes JSON to
 * bench/results/soak-<time>.json and soak-latest.json.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { compile } from '../src/policy/index.js';
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
  waitPolicyReady,
} from '../test/conformance/live.js';
import { post } from './lib/loadgen.js';
import { shippedNodeOptions } from './lib/serve-flags.js';
import {
  CALLER_NAMES,
  CALLERS_NS,
  callerOf,
  judge,
  NAMESPACES,
  nextCall,
  POLICIES,
  prng,
  SCALER,
  type Verdict,
  WEB,
  WEB_REPLICAS,
  type World,
} from './lib/soak-oracle.js';
import { fmt, type LatencySummary, procCpuSeconds, procMemory, summarise } from './lib/stats.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const RESULTS = path.join(ROOT, 'bench', 'results');
const RSS_GROWTH_LIMIT = 0.1;
const WARMUP_FRACTION = 0.2;

const USAGE = `npm run soak -- [options]

  --duration <t>       length of the load, e.g. 60s, 5m, 300 (s)   [5m]
  --concurrency <n>    closed-loop virtual clients                 [32]
  --window <t>         latency table window                        [30s]
  --seed <n>           seed of the call mix                        [1]
  --no-build           use the existing dist/ (skip npm run build)
  --node-options <s>   Node flags of the server (default: the shipped Deployment's NODE_OPTIONS)
  --help               this text

Fails (exit code 1) on a policy contradiction, on any error, or when the server's RSS grows by 10 %
or more after warm-up. Results: bench/results/soak-*.json.
`;

class UsageError extends Error {}

function parseFlags() {
  try {
    return parseArgs({
      options: {
        duration: { type: 'string', default: '5m' },
        concurrency: { type: 'string', default: '32' },
        window: { type: 'string', default: '30s' },
        seed: { type: 'string', default: '1' },
        'no-build': { type: 'boolean', default: false },
        'node-options': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** "60s", "5m", "1500ms" or plain seconds → ms. */
function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m)
    throw new UsageError(`${flag}: expected a duration like 60s, 5m or 300, got ${JSON.stringify(text)}`);
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (ms <= 0) throw new UsageError(`${flag} must be positive`);
  return ms;
}

// ---------------------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------------------

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

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

async function setup(kc: KubeConfig): Promise<void> {
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
async function waitWebReady(kc: KubeConfig, timeoutMs = 120_000): Promise<void> {
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
async function snapshotWorld(kc: KubeConfig): Promise<World> {
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

// ---------------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------------

interface Sample {
  /** ms since the load started, at the answer. */
  readonly at: number;
  readonly ms: number;
  readonly tool: string;
}

interface Offence {
  readonly at: number;
  readonly caller: string;
  readonly tool: string;
  readonly args: Record<string, unknown>;
  readonly detail: string;
  readonly answer: string;
}

interface LoadOutcome {
  readonly samples: Sample[];
  readonly calls: number;
  readonly denied: number;
  readonly conflicts: number;
  readonly errors: Offence[];
  readonly violations: Offence[];
  readonly errorCount: number;
  readonly violationCount: number;
  readonly byTool: Record<string, { calls: number; denied: number }>;
  readonly seconds: number;
  readonly loadgenCpuSeconds: number;
}

const KEEP_OFFENCES = 10;

async function runSoak(
  serve: ServeProcess,
  world: World,
  clients: ReadonlyArray<{ caller: string; token: string }>,
  durationMs: number,
  seed: number,
): Promise<LoadOutcome> {
  const url = new URL(serve.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients.length });
  const samples: Sample[] = [];
  const errors: Offence[] = [];
  const violations: Offence[] = [];
  let errorCount = 0;
  let violationCount = 0;
  let denied = 0;
  let conflicts = 0;
  const byTool: Record<string, { calls: number; denied: number }> = {};
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const end = t0 + durationMs;
  const client = async (i: number): Promise<void> => {
    const { caller: name, token } = clients[i] as { caller: string; token: string };
    const caller = callerOf(name);
    const rand = prng(seed * 1_000_003 + i);
    let id = 0;
    for (;;) {
      const start = performance.now();
      if (start >= end) return;
      const call = nextCall(rand);
      const req = mcpRequest(token, 'tools/call', { name: call.tool, arguments: call.args }, ++id);
      const body = Buffer.from(req.body);
      let verdict: Verdict;
      let answer = '';
      try {
        const res = await post(agent, url, { ...req.headers, 'content-length': body.length }, body);
        verdict = judge(world, caller, call, res.status, res.body);
        if (verdict.kind === 'error' || verdict.kind === 'violation')
          answer = res.body.subarray(0, 600).toString('utf8');
      } catch (err) {
        verdict = { kind: 'error', detail: `transport: ${err instanceof Error ? err.message : String(err)}` };
      }
      const done = performance.now();
      samples.push({ at: done - t0, ms: done - start, tool: call.tool });
      const stats = byTool[call.tool] ?? { calls: 0, denied: 0 };
      byTool[call.tool] = stats;
      stats.calls++;
      if (verdict.kind === 'ok' && verdict.denied) {
        denied++;
        stats.denied++;
      } else if (verdict.kind === 'conflict') conflicts++;
      else if (verdict.kind === 'error' || verdict.kind === 'violation') {
        const offence: Offence = {
          at: Math.round(done - t0),
          caller: caller.username,
          tool: call.tool,
          args: call.args,
          detail: verdict.detail,
          answer,
        };
        if (verdict.kind === 'error') {
          errorCount++;
          if (errors.length < KEEP_OFFENCES) errors.push(offence);
        } else {
          violationCount++;
          if (violations.length < KEEP_OFFENCES) violations.push(offence);
        }
      }
    }
  };
  await Promise.all(clients.map((_, i) => client(i)));
  const cpu = process.cpuUsage(cpu0);
  agent.destroy();
  return {
    samples,
    calls: samples.length,
    denied,
    conflicts,
    errors,
    violations,
    errorCount,
    violationCount,
    byTool,
    seconds: (performance.now() - t0) / 1000,
    loadgenCpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

interface MemorySample {
  readonly at: number;
  readonly rssMiB: number;
}

/** Samples the server's VmRSS every second until stopped. */
function sampleRss(pid: number, t0: number): { samples: MemorySample[]; stop: () => void } {
  const samples: MemorySample[] = [];
  const take = () => {
    try {
      samples.push({ at: performance.now() - t0, rssMiB: procMemory(pid).rssMiB });
    } catch {
      // the process is gone; the run reports it through its errors
    }
  };
  take();
  const timer = setInterval(take, 1000);
  return { samples, stop: () => clearInterval(timer) };
}

async function heapOf(serve: ServeProcess): Promise<{ heapTotalMiB: number; heapUsedMiB: number }> {
  const text = await (await fetch(`http://127.0.0.1:${serve.healthPort}/metrics`)).text();
  const mib = (name: string): number =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text)?.[1] ?? Number.NaN) / 2 ** 20;
  return {
    heapTotalMiB: mib('nodejs_heap_size_total_bytes'),
    heapUsedMiB: mib('nodejs_heap_size_used_bytes'),
  };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cols: string[]) =>
    cols.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

interface WindowRow extends LatencySummary {
  readonly fromS: number;
  readonly toS: number;
  readonly callsPerSec: number;
  readonly rssMiB: number;
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const values = parseFlags();
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const durationMs = parseDuration(values.duration, '--duration');
  const windowMs = parseDuration(values.window, '--window');
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new UsageError(
      `--concurrency: expected a whole number ≥ 1, got ${JSON.stringify(values.concurrency)}`,
    );
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) throw new UsageError(`--seed: expected a whole number, got ${values.seed}`);
  const nodeOptions = (values['node-options'] ?? shippedNodeOptions()).split(' ').filter((f) => f !== '');

  fs.mkdirSync(RESULTS, { recursive: true });
  if (!values['no-build']) {
    log('▸ npm run build (the soak runs the compiled dist/, as the image does)');
    const res = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
    if (res.status !== 0) throw new Error('npm run build failed');
  }
  log(`▸ server Node flags: ${nodeOptions.join(' ') || '(none)'}`);
  const started = new Date();
  const live = await acquireLiveCluster();
  let serve: ServeProcess | undefined;
  try {
    const kc = live.kc;
    log('▸ workload: namespaces, Deployments, Services, callers, McpPolicies');
    await setup(kc);
    await waitWebReady(kc);
    serve = await startKubemcp({
      kc,
      dir: path.join(RESULTS, 'soak-server'),
      entry: 'dist',
      nodeArgs: nodeOptions,
    });
    for (const name of Object.keys(POLICIES)) await waitPolicyReady(kc, name);
    const world = await snapshotWorld(kc);
    for (const name of Object.keys(POLICIES)) {
      const state = world.index.states.get(name);
      if (!state?.ready) throw new Error(`the oracle finds McpPolicy ${name} not Ready: ${state?.message}`);
    }
    // One token per virtual client, the clients spread over the callers; each token warmed (one
    // TokenReview) and each caller's permissions checked before the clock starts.
    const clients: Array<{ caller: string; token: string }> = [];
    for (let i = 0; i < concurrency; i++) {
      const caller = CALLER_NAMES[i % CALLER_NAMES.length] as string;
      clients.push({ caller, token: await mintToken(kc, CALLERS_NS, caller, { audiences: ['kubemcp'] }) });
    }
    for (const c of clients) {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const a = await mcpCall(serve.url, c.token, 'tools/call', { name: 'get_permissions', arguments: {} });
        const v = judge(
          world,
          callerOf(c.caller),
          { tool: 'get_permissions', args: {} },
          a.status,
          Buffer.from(JSON.stringify(a.body)),
        );
        if (v.kind === 'ok') break;
        // The server's index may lag the policies' Ready status by a moment; anything else fails below.
        if (Date.now() > deadline)
          throw new Error(
            `${c.caller}: get_permissions disagrees with the engine before the load: ${JSON.stringify(v)}`,
          );
        await sleep(200);
      }
    }
    const heapBefore = await heapOf(serve);
    log(
      `▸ soak: ${fmt(durationMs / 1000, 0)} s at concurrency ${concurrency}, ${CALLER_NAMES.length} callers, ${Object.keys(POLICIES).length} McpPolicies, seed ${seed}`,
    );
    const t0 = performance.now();
    const cpu0 = procCpuSeconds(serve.pid);
    const rss = sampleRss(serve.pid, t0);
    const progress = setInterval(() => {
      const s = rss.samples.at(-1);
      log(`  ${fmt((performance.now() - t0) / 1000, 0)} s: RSS ${fmt(s?.rssMiB ?? Number.NaN)} MiB`);
    }, windowMs);
    const outcome = await runSoak(serve, world, clients, durationMs, seed);
    clearInterval(progress);
    rss.stop();
    const serverCpuSeconds = procCpuSeconds(serve.pid) - cpu0;
    const heapAfter = await heapOf(serve);
    const peak = procMemory(serve.pid).hwmMiB;

    // Per-window latency table.
    const windows: WindowRow[] = [];
    for (let from = 0; from < durationMs; from += windowMs) {
      const to = Math.min(durationMs, from + windowMs);
      const inWin = outcome.samples.filter((s) => s.at >= from && (s.at < to || to === durationMs));
      const rssIn = rss.samples.filter((s) => s.at >= from && s.at <= to).map((s) => s.rssMiB);
      windows.push({
        fromS: from / 1000,
        toS: to / 1000,
        ...summarise(inWin.map((s) => s.ms)),
        callsPerSec: inWin.length / ((to - from) / 1000),
        rssMiB: median(rssIn),
      });
    }
    const perTool = Object.entries(outcome.byTool)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([tool, t]) => ({
        tool,
        ...t,
        ...summarise(outcome.samples.filter((s) => s.tool === tool).map((s) => s.ms)),
      }));

    // RSS: median of the part right after warm-up vs. median of the last part.
    const warmupMs = WARMUP_FRACTION * durationMs;
    const partMs = Math.min(windowMs, WARMUP_FRACTION * durationMs);
    const rssIn = (from: number, to: number) =>
      median(rss.samples.filter((s) => s.at >= from && s.at <= to).map((s) => s.rssMiB));
    const rssAfterWarmup = rssIn(warmupMs, warmupMs + partMs);
    const rssEnd = rssIn(durationMs - partMs, durationMs + 1000);
    const growth = (rssEnd - rssAfterWarmup) / rssAfterWarmup;

    const targets = [
      {
        what: 'policy contradictions',
        value: String(outcome.violationCount),
        target: '0',
        ok: outcome.violationCount === 0,
      },
      { what: 'errors', value: String(outcome.errorCount), target: '0', ok: outcome.errorCount === 0 },
      {
        what: `RSS growth after warm-up (median ${fmt(warmupMs / 1000, 0)}–${fmt((warmupMs + partMs) / 1000, 0)} s → ${fmt((durationMs - partMs) / 1000, 0)}–${fmt(durationMs / 1000, 0)} s)`,
        value: `${fmt(rssAfterWarmup)} → ${fmt(rssEnd)} MiB (${growth >= 0 ? '+' : ''}${fmt(100 * growth)} %)`,
        target: `< ${100 * RSS_GROWTH_LIMIT} %`,
        ok: growth < RSS_GROWTH_LIMIT,
      },
    ];

    const all = summarise(outcome.samples.map((s) => s.ms));
    const out: string[] = [
      '',
      `=== soak: ${outcome.calls.toLocaleString('en-US')} calls in ${fmt(outcome.seconds, 1)} s (${fmt(outcome.calls / outcome.seconds, 0)} calls/s) at concurrency ${concurrency}; ${outcome.denied} denied as the engine says, ${outcome.conflicts} scale conflicts ===`,
      table(
        ['window', 'calls', 'calls/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'RSS MiB (median)'],
        [
          ...windows.map((w) => [
            `${fmt(w.fromS, 0)}–${fmt(w.toS, 0)} s`,
            String(w.n),
            fmt(w.callsPerSec, 0),
            fmt(w.p50, 2),
            fmt(w.p90, 2),
            fmt(w.p99, 2),
            fmt(w.max, 1),
            fmt(w.rssMiB),
          ]),
          [
            'all',
            String(all.n),
            fmt(outcome.calls / outcome.seconds, 0),
            fmt(all.p50, 2),
            fmt(all.p90, 2),
            fmt(all.p99, 2),
            fmt(all.max, 1),
            '',
          ],
        ],
      ),
      '',
      table(
        ['tool', 'calls', 'denied', 'p50 ms', 'p99 ms', 'max ms'],
        perTool.map((t) => [
          t.tool,
          String(t.calls),
          String(t.denied),
          fmt(t.p50, 2),
          fmt(t.p99, 2),
          fmt(t.max, 1),
        ]),
      ),
      '',
      `server memory: peak RSS ${fmt(peak)} MiB; V8 heap used ${fmt(heapBefore.heapUsedMiB)} → ${fmt(heapAfter.heapUsedMiB)} MiB (committed ${fmt(heapBefore.heapTotalMiB)} → ${fmt(heapAfter.heapTotalMiB)}); server CPU ${fmt((100 * serverCpuSeconds) / outcome.seconds, 0)} % of a core (${fmt((1000 * serverCpuSeconds) / outcome.calls, 2)} ms per call); load generator CPU ${fmt((100 * outcome.loadgenCpuSeconds) / outcome.seconds, 0)} % of a core; machine load average ${os
        .loadavg()
        .map((l) => fmt(l, 1))
        .join(' ')} on ${os.cpus().length} cores`,
      '',
      table(
        ['target', 'measured', 'target', ''],
        targets.map((t) => [t.what, t.value, t.target, t.ok ? 'met' : 'MISSED']),
      ),
    ];
    const offences = (title: string, list: readonly Offence[], count: number) => {
      if (count === 0) return;
      out.push('', `${title} (${count}; the first ${list.length}):`);
      for (const o of list)
        out.push(
          `  at ${o.at} ms: ${o.caller} ${o.tool} ${JSON.stringify(o.args)} — ${o.detail}`,
          ...(o.answer ? [`    answer: ${o.answer.replace(/\s+/g, ' ').slice(0, 400)}`] : []),
        );
    };
    offences('POLICY CONTRADICTIONS', outcome.violations, outcome.violationCount);
    offences('ERRORS', outcome.errors, outcome.errorCount);
    process.stdout.write(`${out.join('\n')}\n`);

    const result = {
      benchmark: 'soak',
      startedAt: started.toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        memGiB: os.totalmem() / 2 ** 30,
        node: process.version,
        loadavg: os.loadavg(),
      },
      cluster: live.cluster.mode,
      settings: {
        durationS: durationMs / 1000,
        concurrency,
        windowS: windowMs / 1000,
        seed,
        warmupS: warmupMs / 1000,
        serverNodeOptions: nodeOptions,
        callers: CALLER_NAMES,
        policies: POLICIES,
        namespaces: NAMESPACES,
      },
      calls: outcome.calls,
      callsPerSec: outcome.calls / outcome.seconds,
      denied: outcome.denied,
      conflicts: outcome.conflicts,
      latency: all,
      windows,
      perTool,
      memory: {
        rssAfterWarmupMiB: rssAfterWarmup,
        rssEndMiB: rssEnd,
        rssGrowth: growth,
        peakRssMiB: peak,
        heapBefore,
        heapAfter,
        rssSamples: rss.samples,
      },
      loadgenCpuPercent: (100 * outcome.loadgenCpuSeconds) / outcome.seconds,
      serverCpuPercent: (100 * serverCpuSeconds) / outcome.seconds,
      serverCpuMsPerCall: (1000 * serverCpuSeconds) / outcome.calls,
      targets,
      violations: outcome.violations,
      errors: outcome.errors,
    };
    const file = path.join(RESULTS, `soak-${started.toISOString().replace(/[:.]/g, '-')}.json`);
    fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    fs.writeFileSync(path.join(RESULTS, 'soak-latest.json'), `${JSON.stringify(result, null, 2)}\n`);
    const missed = targets.filter((t) => !t.ok);
    process.stdout.write(
      `\nResults: ${path.relative(ROOT, file)}\n${missed.length === 0 ? 'All targets met.' : `Targets missed: ${missed.map((t) => t.what).join('; ')}`}\n`,
    );
    return missed.length === 0 ? 0 : 1;
  } finally {
    await serve?.stop();
    await live.release();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n\n${USAGE}`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`\n✗ ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
