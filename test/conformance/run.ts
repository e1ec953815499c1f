/**
 * npm run test:conformance — KubeMCP checked by MCP tools nobody here wrote, against a live server.
 *
 *   npm run test:conformance [-- --only conformance|inspector] [--requirements 2026-07-28]
 *
 * 1. Starts (or reuses, see test/cluster/index.ts; KUBEMCP_CLUSTER_DIR is honoured) a real local
 *    control plane, installs the operator CRD and RBAC, creates namespace kubemcp-conformance with a
 *    2-replica Deployment, a ServiceAccount `agent` and an McpPolicy granting it list_* and
 *    scale_deployment (1..5) there, and runs `kubemcp serve` as the operator ServiceAccount.
 * 2. Runs `conformance server --requirements <rev>` for 2025-11-25 and 2026-07-28 (the exact
 *    scenario sets each revision requires, each at its own wire) with the commented baselines
 *    baseline-<rev>.yml. The suite cannot send credentials, so it talks to KubeMCP through a loopback
 *    proxy that adds the agent's token (auth-proxy.ts); KubeMCP itself runs unmodified.
 * 3. Runs the MCP Inspector CLI directly against KubeMCP with the token: tools/list (legacy and
 *    modern protocol eras), tools/call list_pods, and the documented exit codes for no token (3) and
 *    an isError result (5).
 *
 * Fails when a scenario fails that is not baselined, when a baseline entry has gone stale, or when an
 * Inspector assertion fails. Results: .cache/conformance/ (per-scenario checks.json, summary.json).
 * Tools are pinned in test/conformance/tools/ and cached under ~/.cache/kubemcp (see tools.ts).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { AppsV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import YAML from 'yaml';
import { HarnessError, log } from '../cluster/log.js';
import { REPO_ROOT } from '../cluster/paths.js';
import { type AuthProxy, startAuthProxy } from './auth-proxy.js';
import {
  acquireLiveCluster,
  applyPolicy,
  ensureDeployment,
  ensureNamespace,
  ensureServiceAccount,
  type LiveCluster,
  mintToken,
  type ServeProcess,
  startKubemcp,
  waitToolVisible,
} from './live.js';
import { ensureMcpTools, type McpTools } from './tools.js';

const REVISIONS = ['2025-11-25', '2026-07-28'] as const;
const NAMESPACE = 'kubemcp-conformance';
const AGENT = 'agent';
const POLICY = 'kubemcp-conformance';
const DEPLOYMENT = 'web';
const REPLICAS = 2;
const BOUNDS = { min: 1, max: 5 };
/** Every tool the agent's policy grants, plus get_permissions, in tools/list order. */
const EXPECTED_TOOLS = [
  'list_namespaces',
  'list_pods',
  'list_deployments',
  'list_statefulsets',
  'list_services',
  'scale_deployment',
  'get_permissions',
];
const OUT = path.join(REPO_ROOT, '.cache', 'conformance');
const HERE = path.join(REPO_ROOT, 'test', 'conformance');

interface Exec {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

function exec(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<Exec> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new HarnessError(path.basename(args[0] ?? cmd), `timed out after ${timeoutMs / 1000}s`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Conformance
// ---------------------------------------------------------------------------------------------

interface Check {
  readonly id: string;
  readonly status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED' | string;
  readonly errorMessage?: string;
  readonly description?: string;
}

/** `fail` (lowercase) is a failing scenario the revision does not score: reported, never gating. */
type Verdict = 'pass' | 'baselined' | 'not exercised' | 'FAIL' | 'fail';

interface ScenarioResult {
  readonly scenario: string;
  /** undefined when scored; else the suite's reason (extension, pending, added-after-release). */
  readonly notScored?: string;
  readonly verdict: Verdict;
  readonly passed: number;
  readonly failed: number;
  readonly warnings: number;
  readonly baselined: readonly string[];
  readonly unexpected: readonly string[];
  readonly stale: readonly string[];
}

interface RevisionResult {
  readonly revision: string;
  readonly exitCode: number | null;
  readonly seconds: number;
  readonly scenarios: readonly ScenarioResult[];
  readonly ok: boolean;
}

interface Requirements {
  readonly server: readonly string[];
  readonly notScored: ReadonlyMap<string, string>;
}

function readRequirements(tools: McpTools, revision: string): Requirements {
  const doc = YAML.parse(
    fs.readFileSync(path.join(tools.conformancePackage, 'requirements', `${revision}.yaml`), 'utf8'),
  ) as { server?: string[]; not_scored?: Array<{ scenario: string; leg: string; reason: string }> };
  const notScored = new Map<string, string>();
  for (const e of doc.not_scored ?? []) if (e.leg === 'server') notScored.set(e.scenario, e.reason);
  return { server: doc.server ?? [], notScored };
}

/** Baseline entries: scenario → check ids ('*' for a whole-scenario entry). */
function readBaseline(file: string): Map<string, Set<string>> {
  const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as { server?: string[] } | null;
  const out = new Map<string, Set<string>>();
  for (const entry of doc?.server ?? []) {
    const i = entry.indexOf(':');
    const scenario = i === -1 ? entry : entry.slice(0, i);
    const check = i === -1 ? '*' : entry.slice(i + 1);
    if (!out.has(scenario)) out.set(scenario, new Set());
    out.get(scenario)?.add(check);
  }
  return out;
}

/** scenario → its checks, from the suite's output directory (server-<scenario>-<timestamp>/checks.json). */
function readChecks(dir: string): Map<string, Check[]> {
  const out = new Map<string, Check[]>();
  if (!fs.existsSync(dir)) return out;
  for (const sub of fs.readdirSync(dir)) {
    const m = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(sub);
    const file = path.join(dir, sub, 'checks.json');
    if (m?.[1] === undefined || !fs.existsSync(file)) continue;
    out.set(m[1], JSON.parse(fs.readFileSync(file, 'utf8')) as Check[]);
  }
  return out;
}

/**
 * Our own reading of a scenario, mirroring the suite's baseline rules (a WARNING counts as a failure
 * once a baseline is given; per-check entries excuse only that check; a baselined check that passes is
 * stale) and adding one thing the suite does not say: whether anything was exercised at all.
 */
function classify(
  scenario: string,
  checks: readonly Check[],
  baseline: ReadonlySet<string> | undefined,
  notScored: string | undefined,
): ScenarioResult {
  const wholesale = baseline?.has('*') ?? false;
  const bad = checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING');
  const badIds = new Set(bad.map((c) => c.id));
  const unexpected = [...new Set(bad.filter((c) => !wholesale && !baseline?.has(c.id)).map((c) => c.id))];
  const baselined = [...new Set(bad.filter((c) => wholesale || baseline?.has(c.id)).map((c) => c.id))];
  const stale = wholesale
    ? bad.length === 0
      ? ['*']
      : []
    : [...(baseline ?? [])].filter(
        (id) => !badIds.has(id) && checks.some((c) => c.id === id && c.status === 'SUCCESS'),
      );
  const exercised = checks.some((c) => c.status === 'SUCCESS' && c.id !== 'wire-schema-valid');
  let verdict: Verdict;
  if (unexpected.length > 0 || stale.length > 0) verdict = notScored === undefined ? 'FAIL' : 'fail';
  else if (exercised) verdict = 'pass';
  else if (bad.some((c) => c.status === 'FAILURE')) verdict = 'baselined';
  else verdict = 'not exercised';
  return {
    scenario,
    ...(notScored === undefined ? {} : { notScored }),
    verdict,
    passed: checks.filter((c) => c.status === 'SUCCESS').length,
    failed: checks.filter((c) => c.status === 'FAILURE').length,
    warnings: checks.filter((c) => c.status === 'WARNING').length,
    baselined,
    unexpected,
    stale,
  };
}

async function runConformance(tools: McpTools, url: string, revision: string): Promise<RevisionResult> {
  const outDir = path.join(OUT, revision);
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const baselineFile = path.join(HERE, `baseline-${revision}.yml`);
  const env = {
    ...process.env,
    PATH: `${tools.nodeBinDir}${path.delimiter}${process.env.PATH ?? ''}`,
    NO_COLOR: '1',
  };
  log(`▸ conformance ${tools.versions.conformance} server --requirements ${revision}`);
  const res = await exec(
    tools.node,
    [
      tools.conformance,
      'server',
      '--url',
      url,
      '--requirements',
      revision,
      '--expected-failures',
      baselineFile,
      '--timeout',
      '20000',
      '-o',
      outDir,
    ],
    env,
    300_000,
  );
  fs.writeFileSync(path.join(outDir, 'output.txt'), `${res.stdout}\n--- stderr ---\n${res.stderr}`);
  const reqs = readRequirements(tools, revision);
  const baseline = readBaseline(baselineFile);
  const checks = readChecks(outDir);
  const scenarios: ScenarioResult[] = [];
  for (const scenario of [...reqs.server, ...reqs.notScored.keys()]) {
    const c = checks.get(scenario);
    const notScored = reqs.notScored.get(scenario);
    if (c === undefined) {
      scenarios.push({
        scenario,
        ...(notScored === undefined ? {} : { notScored }),
        verdict: notScored === undefined ? 'FAIL' : 'fail',
        passed: 0,
        failed: 0,
        warnings: 0,
        baselined: [],
        unexpected: ['(no result: the scenario did not run)'],
        stale: [],
      });
      continue;
    }
    scenarios.push(classify(scenario, c, baseline.get(scenario), notScored));
  }
  const scoredFail = scenarios.some((s) => s.notScored === undefined && s.verdict === 'FAIL');
  if (res.code !== 0 && !scoredFail) {
    log(`  the suite exited ${res.code} although every scored scenario is as baselined; its output:`);
    log(res.stdout.split('\n').slice(-40).join('\n'));
  }
  return {
    revision,
    exitCode: res.code,
    seconds: res.ms / 1000,
    scenarios,
    ok: res.code === 0 && !scoredFail,
  };
}

function printRevision(r: RevisionResult): void {
  const w = Math.max(...r.scenarios.map((s) => s.scenario.length), 8);
  const lines = [
    '',
    `Conformance, requirements ${r.revision} (${r.seconds.toFixed(1)}s, suite exit ${r.exitCode}): ${r.ok ? 'OK' : 'FAILED'}`,
    `  ${'scenario'.padEnd(w)}  ${'scored'.padEnd(19)}  ${'result'.padEnd(13)}  checks ✓/✗/⚠  notes`,
  ];
  for (const s of r.scenarios) {
    const notes: string[] = [];
    if (s.baselined.length > 0 && s.verdict === 'pass')
      notes.push(`${s.baselined.length} check(s) baselined`);
    if (s.unexpected.length > 0 && s.notScored === undefined)
      notes.push(`UNEXPECTED: ${s.unexpected.join(', ')}`);
    if (s.unexpected.length > 0 && s.notScored !== undefined)
      notes.push(
        `${s.unexpected.length} failing check(s), not scored: ${s.unexpected.slice(0, 2).join(', ')}${s.unexpected.length > 2 ? ', …' : ''}`,
      );
    if (s.stale.length > 0) notes.push(`STALE baseline: ${s.stale.join(', ')} now passes`);
    const counts = `${s.passed}/${s.failed}/${s.warnings}`;
    lines.push(
      `  ${s.scenario.padEnd(w)}  ${(s.notScored ?? 'yes').padEnd(19)}  ${s.verdict.padEnd(13)}  ${counts.padEnd(13)}  ${notes.join('; ')}`,
    );
  }
  const scored = r.scenarios.filter((s) => s.notScored === undefined);
  const count = (v: Verdict) => scored.filter((s) => s.verdict === v).length;
  lines.push(
    `  scored: ${scored.length} scenarios — pass ${count('pass')}, baselined ${count('baselined')}, not exercised ${count('not exercised')}, FAIL ${count('FAIL')}`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

// ---------------------------------------------------------------------------------------------
// Inspector
// ---------------------------------------------------------------------------------------------

interface InspectorCase {
  readonly name: string;
  readonly args: readonly string[];
  readonly token: boolean;
  readonly exit: number;
  /** Returns a problem, or undefined when the output is as expected. */
  readonly check: (json: unknown, raw: string) => string | undefined;
}

interface InspectorResult {
  readonly name: string;
  readonly ok: boolean;
  readonly exitCode: number | null;
  readonly ms: number;
  readonly problem?: string;
}

function parseJson(text: string): unknown {
  const t = text.trim();
  if (t === '') return undefined;
  try {
    return JSON.parse(t);
  } catch {
    const last = t
      .split('\n')
      .reverse()
      .find((l) => l.trim().startsWith('{'));
    try {
      return last === undefined ? undefined : JSON.parse(last);
    } catch {
      return undefined;
    }
  }
}

type Json = Record<string, unknown> | undefined;
const get = (o: unknown, ...keys: string[]): unknown =>
  keys.reduce<unknown>(
    (v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined),
    o,
  );

function toolNames(json: unknown): string[] {
  const tools = get(json, 'result', 'tools');
  return Array.isArray(tools) ? tools.map((t) => String((t as Json)?.name)) : [];
}

function expectTools(json: unknown): string | undefined {
  const names = toolNames(json);
  return names.join(',') === EXPECTED_TOOLS.join(',')
    ? undefined
    : `tools/list showed [${names.join(', ')}], expected [${EXPECTED_TOOLS.join(', ')}]`;
}

function expectPods(json: unknown): string | undefined {
  const sc = get(json, 'result', 'structuredContent') as Json;
  const items = (sc?.items ?? []) as Array<{ name?: string; ready?: string }>;
  const text = String(get(json, 'result', 'content', '0', 'text') ?? '');
  if (get(json, 'result', 'isError') === true) return `list_pods returned isError: ${text}`;
  if (sc?.kind !== 'pod') return `structuredContent.kind is ${String(sc?.kind)}, expected pod`;
  if (sc.total !== REPLICAS || items.length !== REPLICAS)
    return `expected ${REPLICAS} pods, got total=${String(sc.total)} items=${items.length}`;
  if (!items.every((i) => i.name?.startsWith(`${DEPLOYMENT}-`) && i.ready === '1/1'))
    return `unexpected rows: ${JSON.stringify(items)}`;
  if (!text.includes(`${REPLICAS} of ${REPLICAS} pods in namespace ${NAMESPACE}`))
    return `unexpected text rendering: ${text.split('\n')[0]}`;
  return undefined;
}

const INSPECTOR_CASES: readonly InspectorCase[] = [
  {
    name: 'tools/list (legacy era: initialize, 2025-11-25)',
    args: ['--protocol-era', 'legacy', '--method', 'tools/list'],
    token: true,
    exit: 0,
    check: expectTools,
  },
  {
    name: 'tools/list (modern era: 2026-07-28)',
    args: ['--protocol-era', 'modern', '--method', 'tools/list'],
    token: true,
    exit: 0,
    check: expectTools,
  },
  {
    name: 'tools/call list_pods (legacy era)',
    args: [
      '--protocol-era',
      'legacy',
      '--method',
      'tools/call',
      '--tool-name',
      'list_pods',
      '--tool-arg',
      `namespace=${NAMESPACE}`,
    ],
    token: true,
    exit: 0,
    check: expectPods,
  },
  {
    name: 'tools/call list_pods (modern era)',
    args: [
      '--protocol-era',
      'modern',
      '--method',
      'tools/call',
      '--tool-name',
      'list_pods',
      '--tool-arg',
      `namespace=${NAMESPACE}`,
    ],
    token: true,
    exit: 0,
    check: expectPods,
  },
  {
    name: 'tools/list without a token → exit 3 (auth required)',
    args: ['--method', 'tools/list'],
    token: false,
    exit: 3,
    check: (json, raw) =>
      get(json, 'error', 'code') === 'auth_required' || raw.includes('auth_required')
        ? undefined
        : `expected an auth_required error, got ${raw.slice(0, 300)}`,
  },
  {
    name: `scale_deployment to ${BOUNDS.max + 10} (out of bounds) → exit 5 (isError)`,
    args: [
      '--protocol-era',
      'modern',
      '--method',
      'tools/call',
      '--tool-name',
      'scale_deployment',
      '--tool-args-json',
      JSON.stringify({ namespace: NAMESPACE, name: DEPLOYMENT, replicas: BOUNDS.max + 10 }),
    ],
    token: true,
    exit: 5,
    check: (_json, raw) =>
      raw.includes('"code":"OutOfBounds"')
        ? undefined
        : `expected an OutOfBounds result, got ${raw.slice(0, 300)}`,
  },
];

async function runInspector(tools: McpTools, url: string, token: string): Promise<InspectorResult[]> {
  const home = path.join(OUT, 'inspector-home');
  fs.rmSync(home, { recursive: true, force: true });
  fs.mkdirSync(home, { recursive: true });
  // The Inspector keeps a catalog and client config under $HOME: give it a scratch one.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${tools.nodeBinDir}${path.delimiter}${process.env.PATH ?? ''}`,
    HOME: home,
    MCP_CATALOG_PATH: path.join(home, 'mcp.json'),
    MCP_CLIENT_CONFIG_PATH: path.join(home, 'client.json'),
    NO_COLOR: '1',
  };
  const results: InspectorResult[] = [];
  log(`▸ MCP Inspector ${tools.versions.inspector} --cli against ${url}`);
  for (const c of INSPECTOR_CASES) {
    const args = [
      tools.inspector,
      '--cli',
      url,
      '--transport',
      'http',
      ...c.args,
      ...(c.token ? ['--header', `Authorization: Bearer ${token}`] : []),
      '--format',
      'json',
      '--stored-auth-only',
      '--connect-timeout',
      '15000',
    ];
    const res = await exec(tools.node, args, env, 60_000);
    const raw = `${res.stdout}\n${res.stderr}`;
    let problem: string | undefined;
    if (res.code !== c.exit)
      problem = `exit code ${res.code}, expected ${c.exit}: ${raw.trim().slice(0, 400)}`;
    else problem = c.check(parseJson(res.stdout) ?? parseJson(res.stderr), raw);
    results.push({
      name: c.name,
      ok: problem === undefined,
      exitCode: res.code,
      ms: res.ms,
      ...(problem === undefined ? {} : { problem }),
    });
  }
  return results;
}

function printInspector(results: readonly InspectorResult[]): void {
  const w = Math.max(...results.map((r) => r.name.length));
  const lines = ['', `MCP Inspector CLI: ${results.every((r) => r.ok) ? 'OK' : 'FAILED'}`];
  for (const r of results) {
    lines.push(
      `  ${r.ok ? '✓' : '✗'} ${r.name.padEnd(w)}  exit ${r.exitCode}  ${r.ms.toFixed(0)} ms${r.problem ? `\n      ${r.problem}` : ''}`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

// ---------------------------------------------------------------------------------------------
// Live server
// ---------------------------------------------------------------------------------------------

async function createFixtures(live: LiveCluster): Promise<void> {
  await ensureNamespace(live.kc, NAMESPACE, { 'kubemcp.io/conformance': 'true' });
  await ensureServiceAccount(live.kc, NAMESPACE, AGENT);
  await ensureDeployment(live.kc, NAMESPACE, DEPLOYMENT, REPLICAS);
  await applyPolicy(live.kc, POLICY, {
    subjects: [{ kind: 'ServiceAccount', name: AGENT, namespace: NAMESPACE }],
    namespaces: { names: [NAMESPACE] },
    tools: ['list_*', 'scale_deployment'],
    replicas: BOUNDS,
  });
}

async function waitDeploymentReady(live: LiveCluster, timeoutMs = 60_000): Promise<void> {
  const apps = live.kc.makeApiClient(AppsV1Api);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await apps.readNamespacedDeployment({ name: DEPLOYMENT, namespace: NAMESPACE });
    if (d.status?.readyReplicas === REPLICAS && d.status.replicas === REPLICAS) return;
    if (Date.now() > deadline)
      throw new HarnessError(
        'cluster',
        `Deployment ${NAMESPACE}/${DEPLOYMENT} not ${REPLICAS}/${REPLICAS} ready`,
      );
    await sleep(250);
  }
}

async function removeFixtures(live: LiveCluster): Promise<void> {
  try {
    await live.kc.makeApiClient(CustomObjectsApi).deleteClusterCustomObject({
      group: 'kubemcp.io',
      version: 'v1alpha1',
      plural: 'mcppolicies',
      name: POLICY,
    });
    await live.kc.makeApiClient(CoreV1Api).deleteNamespace({ name: NAMESPACE });
  } catch {
    // best effort on a cluster we did not start
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      requirements: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(
      'Usage: npm run test:conformance [-- --only conformance|inspector] [--requirements 2025-11-25,2026-07-28]\n',
    );
    return 0;
  }
  const only = values.only;
  if (only !== undefined && only !== 'conformance' && only !== 'inspector')
    throw new HarnessError('conformance', `--only must be conformance or inspector, got "${only}"`);
  const revisions = values.requirements?.split(',').map((s) => s.trim()) ?? [...REVISIONS];
  for (const r of revisions) {
    if (!(REVISIONS as readonly string[]).includes(r))
      throw new HarnessError(
        'conformance',
        `no baseline for requirements ${r} (have ${REVISIONS.join(', ')})`,
      );
  }

  const started = Date.now();
  fs.mkdirSync(OUT, { recursive: true });
  const tools = ensureMcpTools();
  const live = await acquireLiveCluster();
  let serve: ServeProcess | undefined;
  let proxy: AuthProxy | undefined;
  const revisionResults: RevisionResult[] = [];
  let inspectorResults: InspectorResult[] = [];
  try {
    await createFixtures(live);
    serve = await startKubemcp({
      kc: live.kc,
      dir: path.join(OUT, 'server'),
      entry: 'tsx',
      extraArgs: ['--lease-name=kubemcp-conformance'],
    });
    const token = await mintToken(live.kc, NAMESPACE, AGENT, { audiences: ['kubemcp'] });
    await waitToolVisible(serve.url, token, 'list_pods');
    await waitDeploymentReady(live);
    log(
      `▸ kubemcp serve ready at ${serve.url} (pid ${serve.pid}; log ${path.relative(REPO_ROOT, serve.logFile)})`,
    );

    if (only !== 'inspector') {
      proxy = await startAuthProxy(serve.base, token);
      for (const revision of revisions)
        revisionResults.push(await runConformance(tools, `${proxy.base}/mcp`, revision));
    }
    if (only !== 'conformance') inspectorResults = await runInspector(tools, serve.url, token);
  } finally {
    await proxy?.close();
    await serve?.stop();
    if (live.cluster.mode !== 'local') await removeFixtures(live);
    await live.release();
  }

  for (const r of revisionResults) printRevision(r);
  if (inspectorResults.length > 0) printInspector(inspectorResults);
  const ok = revisionResults.every((r) => r.ok) && inspectorResults.every((r) => r.ok);
  const summary = {
    ok,
    seconds: (Date.now() - started) / 1000,
    tools: tools.versions,
    conformance: revisionResults,
    inspector: inspectorResults,
  };
  fs.writeFileSync(path.join(OUT, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(
    `\n${ok ? '✓' : '✗'} conformance + inspector ${ok ? 'passed' : 'FAILED'} in ${summary.seconds.toFixed(1)}s (details: ${path.relative(REPO_ROOT, OUT)}/)\n`,
  );
  return ok ? 0 : 1;
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
