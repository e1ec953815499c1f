/**
 * KubeMCP side by side with two other Kubernetes MCP servers, on the same cluster, in one run.
 *
 *   npm run bench:peers [-- --pods 1000 --rounds 3 --duration 8 --warmup 2 --concurrency 32
 *                          --scale-calls 8 --spawn-max-buffer 16777216 --no-build]
 *
 * Systems (bench/lib/peer-servers.ts): `kubemcp serve` (the compiled dist/, the shipped NODE_OPTIONS,
 * the operator ServiceAccount with the shipped RBAC, an McpPolicy granting the two tools);
 * kubernetes-mcp-server and mcp-server-kubernetes installed from the npm registry into
 * ~/.cache/kubemcp/peers/ and run as their docs say over Streamable HTTP, as a ServiceAccount bound
 * to a ClusterRole that allows what the operations need (they have no policy layer of their own).
 * Every system is called with the official MCP client SDK (@modelcontextprotocol/client, version
 * negotiation 'auto': each server at the newest revision it speaks).
 *
 * Workload: `--pods` pods in ONE namespace (bench-peers; kwok runs them) and a 1-replica Deployment to
 * scale in another (bench-peers-scale). Operations, per system:
 *   - a whole listing of the namespace's pods: KubeMCP `list_pods` following nextCursor (twice: with
 *     limit=500 and with the default page size), kubernetes-mcp-server `pods_list_in_namespace`,
 *     mcp-server-kubernetes `kubectl_get` (resourceType=pods, its default JSON output); every listing
 *     is checked to hold every pod;
 *   - listing latency at concurrency 1 and listings/s at `--concurrency` (closed loop, one SDK client
 *     per virtual client), with the server's CPU (process tree, /proc) per listing;
 *   - scaling the Deployment 1 ↔ 2 (KubeMCP `scale_deployment`, `resources_scale`, `kubectl_scale`),
 *     each call on a settled Deployment, and each checked by reading the Deployment back;
 *   - what an agent receives for one whole listing: bytes and tokens of the text content and of
 *     structuredContent, separately (tokens: the o200k_base BPE of gpt-tokenizer, and bytes/4);
 *   - RSS of each server's process tree (/proc VmRSS, sampled every 250 ms; mcp-server-kubernetes'
 *     kubectl children and kubernetes-mcp-server's npm wrapper included) idle and peak.
 * The systems alternate: `--rounds` rounds, each running every phase for every system in turn (the
 * order rotating per round), pooled afterwards, so drift of the machine affects all alike.
 * mcp-server-kubernetes is measured with SPAWN_MAX_BUFFER raised (its docs' advice for large
 * clusters); before the rounds one listing is tried with its default buffer and the outcome recorded.
 * Errors are results: counted, the first message kept, never fatal.
 *
 * Cluster: the e2e rules (a running `cluster:up` is reused; else a local control plane is started and
 * stopped). Writes bench/results/peers-<time>.json.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppsV1Api, type KubeConfig } from '@kubernetes/client-node';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { readState } from '../test/cluster/cluster.js';
import { kubectl, writeServiceAccountKubeconfig } from '../test/cluster/operator.js';
import {
  acquireLiveCluster,
  applyPolicy,
  ensureDeployment,
  ensureNamespace,
  ensureServiceAccount,
  freePort,
  mintToken,
  startKubemcp,
  waitPolicyReady,
  waitToolVisible,
} from '../test/conformance/live.js';
import { type Flag, parseCount, parseDuration, readFlags, serverNodeOptions, usageText } from './lib/cli.js';
import {
  ensurePeerInstalled,
  KUBERNETES_MCP_SERVER,
  MCP_SERVER_KUBERNETES,
  type PeerProcess,
  peerDir,
  startKubernetesMcpServer,
  startMcpServerKubernetes,
} from './lib/peer-servers.js';
import { RssSampler, treeCpuSeconds, treeMemory } from './lib/proc-tree.js';
import { fmt, type LatencySummary, summarise } from './lib/stats.js';
import { ensurePodsInNamespace } from './lib/workload.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const RESULTS = path.join(ROOT, 'bench', 'results');
const WORK = path.join(RESULTS, 'peers');
const NS = 'bench-peers';
const SCALE_NS = 'bench-peers-scale';
const SCALE_TARGET = 'target';
const AGENTS_NS = 'kubemcp-bench-agents';
const KUBEMCP_AGENT = 'bench-peers-agent';
const PEER_IDENTITY = 'bench-peers-server';
const POLICY = 'kubemcp-bench-peers';
const DEPLOYMENTS = 4;
const RSS_INTERVAL_MS = 250;
const IDLE_SETTLE_MS = 10_000;

const FLAGS = {
  pods: { type: 'string', default: '1000', about: 'pods in the listed namespace' },
  rounds: { type: 'string', default: '3', about: 'rounds, each running every phase for every system' },
  duration: { type: 'string', default: '8', value: 'SECONDS', about: 'timed part of each throughput phase' },
  warmup: { type: 'string', default: '2', value: 'SECONDS', about: 'warm-up before each throughput phase' },
  concurrency: { type: 'string', default: '32', about: 'virtual clients of the throughput phase' },
  'scale-calls': { type: 'string', default: '8', about: 'scale calls per system and round' },
  'spawn-max-buffer': {
    type: 'string',
    default: String(16 * 2 ** 20),
    value: 'BYTES',
    about: "mcp-server-kubernetes' SPAWN_MAX_BUFFER",
  },
  'pod-timeout': {
    type: 'string',
    default: '600',
    value: 'SECONDS',
    about: 'longest wait for the pods to be Ready',
  },
  'no-build': { type: 'boolean', default: false, about: 'run the dist/ already built' },
} as const satisfies Record<string, Flag>;
const USAGE = usageText('npm run bench:peers -- [options]', FLAGS);
const settings = readFlags(FLAGS, USAGE, (v) => ({
  pods: parseCount(v.pods, '--pods'),
  rounds: parseCount(v.rounds, '--rounds'),
  durationMs: parseDuration(v.duration, '--duration'),
  warmupMs: parseDuration(v.warmup, '--warmup'),
  concurrency: parseCount(v.concurrency, '--concurrency'),
  scaleCalls: parseCount(v['scale-calls'], '--scale-calls'),
  spawnMaxBuffer: parseCount(v['spawn-max-buffer'], '--spawn-max-buffer'),
  podTimeoutMs: parseDuration(v['pod-timeout'], '--pod-timeout'),
  build: !v['no-build'],
}));
const PODS = settings.pods;
const ROUNDS = settings.rounds;
const DURATION_MS = settings.durationMs;
const WARMUP_MS = settings.warmupMs;
const CONCURRENCY = settings.concurrency;
const SCALE_CALLS = settings.scaleCalls;
const SPAWN_MAX_BUFFER = settings.spawnMaxBuffer;

/** The peers act with this identity: everything the operations need, nothing guards it further. */
const PEER_RBAC = `apiVersion: v1
kind: ServiceAccount
metadata: {name: ${PEER_IDENTITY}, namespace: ${AGENTS_NS}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ${PEER_IDENTITY}}
rules:
  - apiGroups: [""]
    resources: ["pods", "namespaces", "events"]
    verbs: ["get", "list", "watch"]
  - apiGroups: ["apps"]
    resources: ["deployments", "replicasets", "statefulsets"]
    verbs: ["get", "list", "watch"]
  - apiGroups: ["apps"]
    resources: ["deployments/scale", "statefulsets/scale"]
    verbs: ["get", "update", "patch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ${PEER_IDENTITY}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ${PEER_IDENTITY}}
subjects: [{kind: ServiceAccount, name: ${PEER_IDENTITY}, namespace: ${AGENTS_NS}}]
`;

const KUBEMCP_POLICY = {
  subjects: [{ kind: 'ServiceAccount', name: KUBEMCP_AGENT, namespace: AGENTS_NS }],
  namespaces: { names: [NS, SCALE_NS] },
  tools: ['list_pods', 'scale_deployment'],
  replicas: { min: 0, max: 100 },
};

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

// ---------------------------------------------------------------------------------------------
// Systems

type SystemKey = 'kubemcp' | 'kubernetes-mcp-server' | 'mcp-server-kubernetes';

interface ToolContent {
  readonly content?: Array<{ type: string; text?: string }>;
  readonly structuredContent?: Record<string, unknown>;
  readonly isError?: boolean;
}

/** One whole listing as an agent receives it: every page's result. */
interface Listing {
  readonly items: number;
  readonly pages: readonly ToolContent[];
}

interface ListingCase {
  readonly key: string;
  readonly system: SystemKey;
  readonly label: string;
  /** The calls, as an agent makes them. */
  readonly how: string;
  list(client: Client): Promise<Listing>;
}

interface System {
  readonly key: SystemKey;
  readonly label: string;
  readonly version: string;
  readonly process: { pid: number; serverPid: number; url: string; stop(): Promise<void> };
  readonly configuration: Record<string, unknown>;
  readonly readySeconds: number;
  readonly clients: Client[];
  readonly sampler: RssSampler;
  readonly scaleHow: string;
  scale(client: Client, replicas: number): Promise<void>;
}

/** An error's message with its cause's (fetch hides what failed behind "fetch failed"). */
function messageOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as { message?: string; code?: string } | undefined;
  const detail = cause === undefined ? '' : (cause.code ?? cause.message ?? '');
  return detail === '' || err.message.includes(detail) ? err.message : `${err.message} (${detail})`;
}

function textOf(r: ToolContent): string {
  return (r.content ?? []).map((c) => c.text ?? '').join('\n');
}

/** Throws with the tool's own message when the result is an error. */
function check(r: ToolContent, what: string): ToolContent {
  if (r.isError) throw new Error(`${what}: isError: ${textOf(r).slice(0, 400)}`);
  return r;
}

/**
 * Per-call timeout. The SDK's default (60 s) is shorter than a listing can wait at a server that
 * answers one call at a time while 31 others are queued before it, and a client that gives up leaves
 * the server working on into the next phase.
 */
const CALL_TIMEOUT_MS = 300_000;

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<ToolContent> {
  return (await client.callTool({ name, arguments: args }, { timeout: CALL_TIMEOUT_MS })) as ToolContent;
}

function kubemcpListing(limit: number | undefined): ListingCase {
  return {
    key: limit === undefined ? 'kubemcp-default' : `kubemcp-${limit}`,
    system: 'kubemcp',
    label: limit === undefined ? 'KubeMCP (default page size)' : `KubeMCP (limit ${limit})`,
    how: `list_pods {namespace${limit === undefined ? '' : `, limit: ${limit}`}}, then again with continue=nextCursor until none`,
    async list(client) {
      const pages: ToolContent[] = [];
      let items = 0;
      let total = -1;
      let cursor: string | undefined;
      do {
        const r = check(
          await call(client, 'list_pods', {
            namespace: NS,
            ...(limit === undefined ? {} : { limit }),
            ...(cursor === undefined ? {} : { continue: cursor }),
          }),
          'list_pods',
        );
        pages.push(r);
        const sc = r.structuredContent as
          | { returned?: number; total?: number; nextCursor?: string }
          | undefined;
        items += sc?.returned ?? 0;
        total = sc?.total ?? -1;
        cursor = sc?.nextCursor;
        if (pages.length > 1000) throw new Error('list_pods: more than 1,000 pages');
      } while (cursor !== undefined);
      if (items !== total)
        throw new Error(`list_pods: ${items} rows over ${pages.length} pages, total says ${total}`);
      return { items, pages };
    },
  };
}

const KMS_LISTING: ListingCase = {
  key: 'kubernetes-mcp-server',
  system: 'kubernetes-mcp-server',
  label: `kubernetes-mcp-server ${KUBERNETES_MCP_SERVER.version}`,
  how: 'pods_list_in_namespace {namespace} (one call; the server does not paginate)',
  async list(client) {
    const r = check(
      await call(client, 'pods_list_in_namespace', { namespace: NS }),
      'pods_list_in_namespace',
    );
    // A table: a header line, then one line per pod.
    const lines = textOf(r)
      .split('\n')
      .filter((l) => l.trim() !== '');
    return { items: Math.max(0, lines.length - 1), pages: [r] };
  },
};

const MSK_LISTING: ListingCase = {
  key: 'mcp-server-kubernetes',
  system: 'mcp-server-kubernetes',
  label: `mcp-server-kubernetes ${MCP_SERVER_KUBERNETES.version}`,
  how: 'kubectl_get {resourceType: "pods", namespace} (one call, its default output "json"; no pagination)',
  async list(client) {
    const r = check(
      await call(client, 'kubectl_get', { resourceType: 'pods', namespace: NS }),
      'kubectl_get',
    );
    const text = textOf(r);
    let parsed: { items?: unknown[] };
    try {
      parsed = JSON.parse(text) as { items?: unknown[] };
    } catch {
      throw new Error(`kubectl_get: not JSON: ${text.slice(0, 300)}`);
    }
    return { items: parsed.items?.length ?? 0, pages: [r] };
  },
};

// ---------------------------------------------------------------------------------------------
// MCP clients

type FetchLike = (url: string | URL, init?: RequestInit) => Promise<Response>;

async function connect(
  url: string,
  token: string | undefined,
  fetchImpl?: FetchLike,
): Promise<{ client: Client; tools: Array<{ name: string }> }> {
  const client = new Client(
    { name: 'kubemcp-bench-peers', version: '1.0.0' },
    { versionNegotiation: { mode: 'auto' } },
  );
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      ...(token === undefined ? {} : { requestInit: { headers: { Authorization: `Bearer ${token}` } } }),
      ...(fetchImpl === undefined ? {} : { fetch: fetchImpl }),
    }),
  );
  // As an agent does before calling tools (and the SDK then checks structuredContent against the
  // tools' outputSchema on every call).
  const { tools } = await client.listTools();
  return { client, tools };
}

/** fetch that counts the bytes of every POST answer's body (the wire cost of a listing). */
function countingFetch(): { fetch: FetchLike; bytes: () => number; reset: () => void } {
  let bytes = 0;
  return {
    fetch: async (url, init) => {
      const res = await fetch(url, init);
      if ((init?.method ?? 'GET') !== 'POST' || res.body === null) return res;
      const buf = await res.arrayBuffer();
      bytes += buf.byteLength;
      return new Response(buf, { status: res.status, statusText: res.statusText, headers: res.headers });
    },
    bytes: () => bytes,
    reset: () => {
      bytes = 0;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Measurements

interface PhaseRun {
  /** Latencies of the successful listings started after the warm-up, ms. */
  readonly samples: number[];
  /** Successful listings over the whole phase (warm-up and drain included). */
  readonly completed: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly serverCpuSeconds: number;
  /** CPU of kube-apiserver over the phase (NaN when its pid is unknown: not the local control plane). */
  readonly apiserverCpuSeconds: number;
  readonly loadgenCpuSeconds: number;
  /** From the first call to the last answer (the drain of the calls in flight at the end included), s. */
  readonly wallSeconds: number;
}

/** At concurrency 1 a phase goes on past its duration until it has this many samples (at most MAX_EXTRA_MS). */
const MIN_SAMPLES_C1 = 20;
const MAX_EXTRA_MS = 60_000;

/**
 * Closed loop: `concurrency` clients, each listing again as soon as its last listing is in, until the
 * phase's time is up; then the calls in flight are waited for. Throughput is every successful listing
 * over the phase's wall time, so a server that is slower than the phase is long still gets its due.
 */
async function runPhase(
  sys: System,
  c: ListingCase,
  concurrency: number,
  apiserverPid: number | undefined,
): Promise<PhaseRun> {
  const samples: number[] = [];
  let completed = 0;
  let errors = 0;
  let firstError: string | undefined;
  const cpu0 = treeCpuSeconds(sys.process.pid);
  const api0 = apiserverPid === undefined ? Number.NaN : treeCpuSeconds(apiserverPid);
  const lg0 = process.cpuUsage();
  const t0 = performance.now();
  const from = t0 + WARMUP_MS;
  const end = from + DURATION_MS;
  let lastDone = t0;
  const more = (now: number): boolean =>
    now < end || (concurrency === 1 && samples.length < MIN_SAMPLES_C1 && now < end + MAX_EXTRA_MS);
  const worker = async (client: Client): Promise<void> => {
    while (more(performance.now())) {
      const start = performance.now();
      let ok = false;
      try {
        const l = await c.list(client);
        if (l.items < PODS) throw new Error(`${l.items} pods listed, expected at least ${PODS}`);
        ok = true;
      } catch (err) {
        if (start >= from) {
          errors++;
          firstError ??= messageOf(err);
        }
      }
      const done = performance.now();
      lastDone = Math.max(lastDone, done);
      if (!ok) continue;
      completed++;
      if (start >= from) samples.push(done - start);
    }
  };
  await Promise.all(sys.clients.slice(0, concurrency).map(worker));
  const lg = process.cpuUsage(lg0);
  return {
    samples,
    completed,
    errors,
    ...(firstError === undefined ? {} : { firstError }),
    serverCpuSeconds: treeCpuSeconds(sys.process.pid) - cpu0,
    apiserverCpuSeconds: apiserverPid === undefined ? Number.NaN : treeCpuSeconds(apiserverPid) - api0,
    loadgenCpuSeconds: (lg.user + lg.system) / 1e6,
    wallSeconds: (lastDone - t0) / 1000,
  };
}

/** Waits (at most 60 s) until the process tree uses under 10 % of a core over half a second. */
async function quiesce(pid: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last = treeCpuSeconds(pid);
  for (;;) {
    await sleep(500);
    const now = treeCpuSeconds(pid);
    if (now - last <= 0.05 || Date.now() > deadline) return;
    last = now;
  }
}

interface PhaseResult extends LatencySummary {
  readonly concurrency: number;
  readonly rounds: number;
  readonly listingsPerSec: number;
  readonly errors: number;
  readonly firstError?: string;
  /** Server CPU (whole process tree) per successful listing, ms. */
  readonly serverCpuMsPerListing: number;
  /** kube-apiserver CPU per successful listing, ms (NaN off the local control plane). */
  readonly apiserverCpuMsPerListing: number;
  /** CPU of the benchmark process (the MCP clients), % of one core. */
  readonly loadgenCpuPercent: number;
}

/** kube-apiserver's CPU rate when no listing runs (s of CPU per s), subtracted from every phase. */
let apiserverIdleRate = 0;

function pool(concurrency: number, runs: readonly PhaseRun[]): PhaseResult {
  const wall = runs.reduce((a, r) => a + r.wallSeconds, 0);
  const completed = runs.reduce((a, r) => a + r.completed, 0);
  const firstError = runs.find((r) => r.firstError !== undefined)?.firstError;
  return {
    ...summarise(runs.flatMap((r) => r.samples)),
    concurrency,
    rounds: runs.length,
    listingsPerSec: completed / wall,
    errors: runs.reduce((a, r) => a + r.errors, 0),
    ...(firstError === undefined ? {} : { firstError }),
    serverCpuMsPerListing: (1000 * runs.reduce((a, r) => a + r.serverCpuSeconds, 0)) / Math.max(1, completed),
    apiserverCpuMsPerListing:
      (1000 * (runs.reduce((a, r) => a + r.apiserverCpuSeconds, 0) - apiserverIdleRate * wall)) /
      Math.max(1, completed),
    loadgenCpuPercent: (100 * runs.reduce((a, r) => a + r.loadgenCpuSeconds, 0)) / wall,
  };
}

interface ScaleRun {
  readonly samples: number[];
  readonly errors: number;
  readonly firstError?: string;
}

async function readReplicas(kc: KubeConfig): Promise<number> {
  const d = await kc
    .makeApiClient(AppsV1Api)
    .readNamespacedDeployment({ namespace: SCALE_NS, name: SCALE_TARGET });
  return d.spec?.replicas ?? 1;
}

/** Waits (untimed) until the Deployment's controller has observed the last change and its pods are Ready. */
async function settle(kc: KubeConfig): Promise<number> {
  const apps = kc.makeApiClient(AppsV1Api);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const d = await apps.readNamespacedDeployment({ namespace: SCALE_NS, name: SCALE_TARGET });
    const want = d.spec?.replicas ?? 1;
    if (
      (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
      d.status?.replicas === want &&
      (d.status?.readyReplicas ?? 0) === want
    )
      return want;
    if (Date.now() > deadline) throw new Error(`${SCALE_NS}/${SCALE_TARGET} did not settle within 60 s`);
    await sleep(50);
  }
}

/** `n` sequential scales 1 ↔ 2, each on a settled Deployment, each verified by reading it back. */
async function runScale(kc: KubeConfig, sys: System, n: number): Promise<ScaleRun> {
  const samples: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const client = sys.clients[0] as Client;
  for (let i = 0; i < n; i++) {
    const current = await settle(kc);
    const want = current === 1 ? 2 : 1;
    const t = performance.now();
    try {
      await sys.scale(client, want);
      const ms = performance.now() - t;
      const got = await readReplicas(kc);
      if (got !== want)
        throw new Error(`the call returned but the Deployment has ${got} replicas, not ${want}`);
      samples.push(ms);
    } catch (err) {
      errors++;
      firstError ??= messageOf(err);
    }
  }
  return { samples, errors, ...(firstError === undefined ? {} : { firstError }) };
}

interface PayloadSize {
  readonly pages: number;
  readonly items: number;
  /** UTF-8 bytes of every text content item of every page. */
  readonly textBytes: number;
  readonly textTokens: number;
  /** UTF-8 bytes of JSON.stringify(structuredContent) of every page (0 when there is none). */
  readonly structuredBytes: number;
  readonly structuredTokens: number;
  /** Bytes of the HTTP answer bodies of the listing's calls (JSON-RPC envelope, SSE framing). */
  readonly wireBytes: number;
  /** The start of the first page's text, to show the format. */
  readonly textSample: string;
}

async function measurePayload(url: string, token: string | undefined, c: ListingCase): Promise<PayloadSize> {
  const counter = countingFetch();
  const { client } = await connect(url, token, counter.fetch);
  try {
    counter.reset();
    const l = await c.list(client);
    const wireBytes = counter.bytes();
    let textBytes = 0;
    let textTokens = 0;
    let structuredBytes = 0;
    let structuredTokens = 0;
    for (const p of l.pages) {
      for (const item of p.content ?? []) {
        const t = item.text ?? '';
        textBytes += Buffer.byteLength(t);
        textTokens += countTokens(t);
      }
      if (p.structuredContent !== undefined) {
        const s = JSON.stringify(p.structuredContent);
        structuredBytes += Buffer.byteLength(s);
        structuredTokens += countTokens(s);
      }
    }
    const first = l.pages[0];
    return {
      pages: l.pages.length,
      items: l.items,
      textBytes,
      textTokens,
      structuredBytes,
      structuredTokens,
      wireBytes,
      textSample: first === undefined ? '' : textOf(first).slice(0, 400),
    };
  } finally {
    await client.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Setup

function build(): void {
  log('▸ npm run build (KubeMCP runs from the compiled dist/, as the image does)');
  const res = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (res.status !== 0) throw new Error('npm run build failed');
}

function gitRevision(): string {
  const res = spawnSync('git', ['describe', '--always', '--dirty'], { cwd: ROOT, encoding: 'utf8' });
  return res.status === 0 ? `commit ${res.stdout.trim()}` : 'this checkout';
}

/** A path as recorded in the results: relative to the repository, or under ~. */
function relCache(p: string): string {
  if (p.startsWith(`${ROOT}${path.sep}`)) return path.relative(ROOT, p);
  const home = os.homedir();
  return p.startsWith(home) ? `~${p.slice(home.length)}` : p;
}

interface StartedSystem {
  readonly system?: System;
  readonly error?: string;
  readonly toolsListed?: string[];
  readonly toolsListBytes?: number;
  readonly toolsListTokens?: number;
  readonly protocolVersion?: string;
}

/** Connects CONCURRENCY clients (tokens[i] for KubeMCP); records tools/list and the negotiated revision. */
async function clientsFor(url: string, tokens: readonly (string | undefined)[]) {
  const clients: Client[] = [];
  let tools: Array<{ name: string }> = [];
  for (let i = 0; i < CONCURRENCY; i++) {
    const c = await connect(url, tokens[i % tokens.length]);
    clients.push(c.client);
    if (i === 0) tools = c.tools;
  }
  const s = JSON.stringify({ tools });
  return {
    clients,
    toolsListed: tools.map((t) => t.name).sort(),
    toolsListBytes: Buffer.byteLength(s),
    toolsListTokens: countTokens(s),
    protocolVersion: clients[0]?.getNegotiatedProtocolVersion() ?? 'unknown',
  };
}

async function startSystem(
  key: SystemKey,
  start: () => Promise<{
    proc: PeerProcess | System['process'];
    readySeconds: number;
    configuration: Record<string, unknown>;
  }>,
  tokens: readonly (string | undefined)[],
  scale: Pick<System, 'scale' | 'scaleHow'>,
  label: string,
  version: string,
): Promise<StartedSystem> {
  let proc: System['process'] | undefined;
  try {
    log(`▸ starting ${label}`);
    const s = await start();
    proc = s.proc;
    const sampler = new RssSampler(proc.pid, proc.serverPid);
    sampler.start(RSS_INTERVAL_MS);
    const c = await clientsFor(proc.url, tokens);
    log(
      `  ${label}: ready in ${fmt(s.readySeconds, 2)} s; ${c.protocolVersion}; ${c.toolsListed.length} tools`,
    );
    return {
      system: {
        key,
        label,
        version,
        process: proc,
        configuration: s.configuration,
        readySeconds: s.readySeconds,
        clients: c.clients,
        sampler,
        ...scale,
      },
      toolsListed: c.toolsListed,
      toolsListBytes: c.toolsListBytes,
      toolsListTokens: c.toolsListTokens,
      protocolVersion: c.protocolVersion,
    };
  } catch (err) {
    await proc?.stop();
    const error = messageOf(err);
    log(`  ✗ ${label} did not start: ${error}`);
    return { error };
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cols: string[]) =>
    cols.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const kib = (b: number) => fmt(b / 1024, 1);
const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  fs.mkdirSync(WORK, { recursive: true });
  for (const p of [KUBERNETES_MCP_SERVER, MCP_SERVER_KUBERNETES]) ensurePeerInstalled(p, log);
  if (settings.build) build();
  const nodeOptions = serverNodeOptions(undefined);
  const started = new Date();
  const loadBefore = os.loadavg();
  const live = await acquireLiveCluster();
  const systems: System[] = [];
  try {
    const kc = live.kc;
    // Workload and identities.
    log(`▸ ${PODS.toLocaleString('en-US')} pods in ${NS} …`);
    const podSetupSeconds = await ensurePodsInNamespace(kc, NS, PODS, {
      deployments: DEPLOYMENTS,
      timeoutMs: settings.podTimeoutMs,
      onProgress: (p, s) => log(`  ${fmt(s, 0)}s: ${p.ready}/${p.desired} ready`),
    });
    log(`  ready (${fmt(podSetupSeconds)} s)`);
    await ensureNamespace(kc, SCALE_NS, { 'kubemcp.io/bench': 'true' });
    await ensureDeployment(kc, SCALE_NS, SCALE_TARGET, 1);
    await ensureNamespace(kc, AGENTS_NS);
    await ensureServiceAccount(kc, AGENTS_NS, KUBEMCP_AGENT);
    kubectl(live.kubectl, live.kubeconfig, ['apply', '--server-side', '-f', '-'], PEER_RBAC);
    await applyPolicy(kc, POLICY, KUBEMCP_POLICY);
    const peerKubeconfig = await writeServiceAccountKubeconfig(
      kc,
      path.join(WORK, 'peer-kubeconfig'),
      AGENTS_NS,
      PEER_IDENTITY,
      3 * 3600,
    );
    const apiserverPid =
      live.cluster.dir === undefined
        ? undefined
        : readState(live.cluster.dir)?.processes.find((p) => p.name === 'kube-apiserver')?.pid;
    const kubectlDir = path.isAbsolute(live.kubectl) ? path.dirname(live.kubectl) : undefined;
    const kubectlVersion = spawnSync(live.kubectl, ['version', '--client', '-o', 'json'], {
      encoding: 'utf8',
    });
    const kubemcpTokens: string[] = [];
    for (let i = 0; i < CONCURRENCY; i++)
      kubemcpTokens.push(await mintToken(kc, AGENTS_NS, KUBEMCP_AGENT, { audiences: ['kubemcp'] }));

    // What mcp-server-kubernetes' kubectl_get reads from kubectl for the listing (its buffer must hold it).
    const kubectlJson = spawnSync(
      live.kubectl,
      [`--kubeconfig=${peerKubeconfig}`, 'get', 'pods', '-n', NS, '-o', 'json'],
      { maxBuffer: 1024 * 2 ** 20 },
    );
    const kubectlJsonBytes = kubectlJson.status === 0 ? kubectlJson.stdout.length : Number.NaN;

    // mcp-server-kubernetes with its default buffer: one listing, outcome recorded.
    const mskDefault = await (async () => {
      log('▸ mcp-server-kubernetes with its default SPAWN_MAX_BUFFER: one listing');
      let proc: PeerProcess | undefined;
      try {
        proc = await startMcpServerKubernetes({
          port: await freePort(),
          kubeconfig: peerKubeconfig,
          logFile: path.join(WORK, 'mcp-server-kubernetes-default.log'),
          ...(kubectlDir === undefined ? {} : { kubectlDir }),
        });
        const { client } = await connect(proc.url, undefined);
        try {
          const t = performance.now();
          const l = await MSK_LISTING.list(client);
          return { ok: true, items: l.items, ms: performance.now() - t };
        } catch (err) {
          return { ok: false, error: messageOf(err) };
        } finally {
          await client.close();
        }
      } catch (err) {
        return { ok: false, error: `did not start: ${messageOf(err)}` };
      } finally {
        await proc?.stop();
      }
    })();
    log(
      `  ${mskDefault.ok ? `listed ${mskDefault.items} pods` : `error: ${mskDefault.error?.slice(0, 300)}`}`,
    );

    // The three systems, all running for the whole measurement.
    const identity = {
      kind: 'ServiceAccount',
      name: `${AGENTS_NS}/${PEER_IDENTITY}`,
      clusterRole: PEER_RBAC,
      policyLayer: 'none: every MCP caller acts with this identity',
      authentication: 'none (no Authorization header is sent)',
    };
    const started3: Record<SystemKey, StartedSystem> = {
      kubemcp: await startSystem(
        'kubemcp',
        async () => {
          const t = performance.now();
          const serve = await startKubemcp({
            kc,
            dir: path.join(WORK, 'kubemcp'),
            entry: 'dist',
            nodeArgs: nodeOptions,
          });
          const readySeconds = (performance.now() - t) / 1000;
          // The controller has compiled the McpPolicy (status Ready) and the caller sees both tools.
          await waitPolicyReady(kc, POLICY);
          await waitToolVisible(serve.url, kubemcpTokens[0] as string, 'scale_deployment');
          return {
            proc: { pid: serve.pid, serverPid: serve.pid, url: serve.url, stop: serve.stop },
            readySeconds,
            configuration: {
              package: 'this repository (dist/, npm run build)',
              command: `node ${nodeOptions.join(' ')} dist/cli/main.js serve --kubeconfig=<operator kubeconfig> --mcp-port=<free> --health-port=<free> --bind-address=127.0.0.1 --leader-election-namespace=kubemcp-system --public-url=http://127.0.0.1:<port> --log-level=info`,
              identity:
                'ServiceAccount kubemcp-system/kubemcp-operator with the shipped ClusterRole (config/rbac)',
              policy: { name: POLICY, spec: KUBEMCP_POLICY },
              authentication: `each client sends its own ServiceAccount token (audience kubemcp; ${CONCURRENCY} tokens), validated with a TokenReview (cached)`,
            },
          };
        },
        kubemcpTokens,
        {
          scaleHow: `scale_deployment {namespace, name, replicas}`,
          async scale(client, replicas) {
            const r = check(
              await call(client, 'scale_deployment', { namespace: SCALE_NS, name: SCALE_TARGET, replicas }),
              'scale_deployment',
            );
            if ((r.structuredContent as { changed?: boolean } | undefined)?.changed !== true)
              throw new Error(`scale_deployment: changed is not true: ${textOf(r).slice(0, 200)}`);
          },
        },
        'KubeMCP',
        gitRevision(),
      ),
      'kubernetes-mcp-server': await startSystem(
        'kubernetes-mcp-server',
        async () => {
          const proc = await startKubernetesMcpServer({
            port: await freePort(),
            kubeconfig: peerKubeconfig,
            logFile: path.join(WORK, 'kubernetes-mcp-server.log'),
          });
          return {
            proc,
            readySeconds: proc.readySeconds,
            configuration: {
              package: `${KUBERNETES_MCP_SERVER.name}@${KUBERNETES_MCP_SERVER.version} (npm; installed in ${relCache(peerDir(KUBERNETES_MCP_SERVER))})`,
              command: `kubernetes-mcp-server --port <free> --bind-address 127.0.0.1 --kubeconfig <peer kubeconfig>`,
              argv: proc.argv.map(relCache),
              env: {},
              defaults:
                'toolsets core,config; list output "table"; multi-cluster on (one context); stateful sessions',
              identity,
            },
          };
        },
        [undefined],
        {
          scaleHow: 'resources_scale {apiVersion: "apps/v1", kind: "Deployment", namespace, name, scale}',
          async scale(client, replicas) {
            check(
              await call(client, 'resources_scale', {
                apiVersion: 'apps/v1',
                kind: 'Deployment',
                namespace: SCALE_NS,
                name: SCALE_TARGET,
                scale: replicas,
              }),
              'resources_scale',
            );
          },
        },
        `kubernetes-mcp-server ${KUBERNETES_MCP_SERVER.version}`,
        KUBERNETES_MCP_SERVER.version,
      ),
      'mcp-server-kubernetes': await startSystem(
        'mcp-server-kubernetes',
        async () => {
          const proc = await startMcpServerKubernetes({
            port: await freePort(),
            kubeconfig: peerKubeconfig,
            logFile: path.join(WORK, 'mcp-server-kubernetes.log'),
            spawnMaxBuffer: SPAWN_MAX_BUFFER,
            ...(kubectlDir === undefined ? {} : { kubectlDir }),
          });
          return {
            proc,
            readySeconds: proc.readySeconds,
            configuration: {
              package: `${MCP_SERVER_KUBERNETES.name}@${MCP_SERVER_KUBERNETES.version} (npm; installed in ${relCache(peerDir(MCP_SERVER_KUBERNETES))})`,
              command: `ENABLE_UNSAFE_STREAMABLE_HTTP_TRANSPORT=1 PORT=<free> HOST=127.0.0.1 KUBECONFIG=<peer kubeconfig> SPAWN_MAX_BUFFER=${SPAWN_MAX_BUFFER} PATH=<cluster kubectl dir>:$PATH mcp-server-kubernetes`,
              argv: proc.argv.map(relCache),
              env: Object.fromEntries(
                Object.entries(proc.env).map(([k, v]) => [
                  k,
                  k === 'PATH' ? `${relCache(kubectlDir ?? '')}:$PATH` : relCache(v),
                ]),
              ),
              kubectl: {
                path: relCache(live.kubectl),
                version:
                  kubectlVersion.status === 0 ? JSON.parse(kubectlVersion.stdout) : kubectlVersion.stderr,
              },
              identity,
            },
          };
        },
        [undefined],
        {
          scaleHow: 'kubectl_scale {namespace, name, replicas} (runs `kubectl scale deployment`)',
          async scale(client, replicas) {
            check(
              await call(client, 'kubectl_scale', { namespace: SCALE_NS, name: SCALE_TARGET, replicas }),
              'kubectl_scale',
            );
          },
        },
        `mcp-server-kubernetes ${MCP_SERVER_KUBERNETES.version}`,
        MCP_SERVER_KUBERNETES.version,
      ),
    };
    for (const s of Object.values(started3)) if (s.system) systems.push(s.system);
    const bySystem = (k: SystemKey) => systems.find((s) => s.key === k);
    const cases = [kubemcpListing(500), kubemcpListing(undefined), KMS_LISTING, MSK_LISTING].filter(
      (c) => bySystem(c.system) !== undefined,
    );

    // Idle memory before any listing (KubeMCP has its caches synced; clients connected).
    await sleep(2000);
    const idleBefore = Object.fromEntries(
      systems.map((s) => [s.key, treeMemory(s.process.pid, s.process.serverPid)]),
    );

    // What an agent receives for one whole listing.
    const payload: Record<string, PayloadSize | { error: string }> = {};
    for (const c of cases) {
      const sys = bySystem(c.system) as System;
      try {
        payload[c.key] = await measurePayload(
          sys.process.url,
          c.system === 'kubemcp' ? kubemcpTokens[0] : undefined,
          c,
        );
      } catch (err) {
        payload[c.key] = { error: messageOf(err) };
      }
    }

    // kube-apiserver's own background CPU (controllers, kwok's status updates), measured idle.
    if (apiserverPid !== undefined) {
      for (const s of systems) await quiesce(s.process.pid);
      const a0 = treeCpuSeconds(apiserverPid);
      await sleep(5000);
      apiserverIdleRate = (treeCpuSeconds(apiserverPid) - a0) / 5;
    }

    // The rounds: every phase for every system in turn, the order rotating per round.
    const c1 = new Map<string, PhaseRun[]>(cases.map((c) => [c.key, []]));
    const cN = new Map<string, PhaseRun[]>(cases.map((c) => [c.key, []]));
    const scales = new Map<SystemKey, ScaleRun[]>(systems.map((s) => [s.key, []]));
    const roundLoad: number[][] = [];
    const rotate = <T>(xs: readonly T[], r: number): T[] => xs.map((_, i) => xs[(i + r) % xs.length] as T);
    for (let r = 0; r < ROUNDS; r++) {
      roundLoad.push(os.loadavg());
      log(
        `\n▸ round ${r + 1}/${ROUNDS} (load average ${os
          .loadavg()
          .map((x) => fmt(x, 2))
          .join(' ')})`,
      );
      for (const c of rotate(cases, r)) {
        const sys = bySystem(c.system) as System;
        await quiesce(sys.process.pid);
        const run = await runPhase(sys, c, 1, apiserverPid);
        c1.get(c.key)?.push(run);
        log(
          `  ${c.label.padEnd(34)} c=1   p50 ${fmt(summarise(run.samples).p50, 1)} ms  errors ${run.errors}${run.firstError ? ` (${run.firstError.slice(0, 160)})` : ''}`,
        );
      }
      for (const c of rotate(cases, r)) {
        const sys = bySystem(c.system) as System;
        await quiesce(sys.process.pid);
        const run = await runPhase(sys, c, CONCURRENCY, apiserverPid);
        cN.get(c.key)?.push(run);
        log(
          `  ${c.label.padEnd(34)} c=${String(CONCURRENCY).padEnd(3)} ${fmt(run.completed / run.wallSeconds, 1)} listings/s  errors ${run.errors}${run.firstError ? ` (${run.firstError.slice(0, 160)})` : ''}`,
        );
      }
      for (const sys of rotate(systems, r)) {
        await quiesce(sys.process.pid);
        const run = await runScale(live.kc, sys, SCALE_CALLS);
        scales.get(sys.key)?.push(run);
        log(
          `  ${sys.label.padEnd(34)} scale p50 ${fmt(summarise(run.samples).p50, 1)} ms  errors ${run.errors}${run.firstError ? ` (${run.firstError.slice(0, 160)})` : ''}`,
        );
      }
    }
    const loadAfterRounds = os.loadavg();
    await sleep(IDLE_SETTLE_MS);
    const idleAfter = Object.fromEntries(
      systems.map((s) => [s.key, treeMemory(s.process.pid, s.process.serverPid)]),
    );
    for (const s of systems) s.sampler.stop();

    // ----- results
    const listing = cases.map((c) => ({
      case: c.key,
      system: c.system,
      label: c.label,
      how: c.how,
      concurrency1: pool(1, c1.get(c.key) ?? []),
      concurrencyN: pool(CONCURRENCY, cN.get(c.key) ?? []),
    }));
    const scale = systems.map((s) => {
      const runs = scales.get(s.key) ?? [];
      const firstError = runs.find((r) => r.firstError !== undefined)?.firstError;
      return {
        system: s.key,
        label: s.label,
        how: s.scaleHow,
        ...summarise(runs.flatMap((r) => r.samples)),
        errors: runs.reduce((a, r) => a + r.errors, 0),
        ...(firstError === undefined ? {} : { firstError }),
      };
    });
    const memory = systems.map((s) => ({
      system: s.key,
      label: s.label,
      idleBefore: idleBefore[s.key],
      peakTreeMiB: s.sampler.peakTreeMiB,
      peakServerMiB: s.sampler.peakServerMiB,
      samples: s.sampler.samples,
      idleAfter: idleAfter[s.key],
    }));
    const result = {
      benchmark: 'peers',
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        memGiB: os.totalmem() / 2 ** 30,
        node: process.version,
        loadAverageBefore: loadBefore,
        loadAveragePerRound: roundLoad,
        loadAverageAfter: loadAfterRounds,
      },
      cluster: live.cluster.mode,
      settings: {
        pods: PODS,
        namespace: NS,
        deployments: DEPLOYMENTS,
        rounds: ROUNDS,
        durationS: DURATION_MS / 1000,
        warmupS: WARMUP_MS / 1000,
        concurrency: CONCURRENCY,
        scaleCallsPerRound: SCALE_CALLS,
        rssIntervalMs: RSS_INTERVAL_MS,
        callTimeoutMs: CALL_TIMEOUT_MS,
        minSamplesAtConcurrency1: MIN_SAMPLES_C1,
        client: '@modelcontextprotocol/client (versionNegotiation auto), one client per virtual client',
        tokens: 'gpt-tokenizer o200k_base; bytes/4 also given',
      },
      podSetupSeconds,
      systems: Object.fromEntries(
        (Object.entries(started3) as [SystemKey, StartedSystem][]).map(([k, s]) => [
          k,
          s.system
            ? {
                label: s.system.label,
                version: s.system.version,
                protocolVersion: s.protocolVersion,
                readySeconds: s.system.readySeconds,
                tools: s.toolsListed,
                toolsListBytes: s.toolsListBytes,
                toolsListTokens: s.toolsListTokens,
                configuration: s.system.configuration,
              }
            : { error: s.error },
        ]),
      ),
      mcpServerKubernetesDefaultBuffer: { ...mskDefault, kubectlJsonBytes, defaultSpawnMaxBuffer: 1048577 },
      apiserverIdleCpuPercent: 100 * apiserverIdleRate,
      payload,
      listing,
      scale,
      memory,
    };
    const file = path.join(RESULTS, `peers-${started.toISOString().replace(/[:.]/g, '-')}.json`);
    fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);

    // ----- tables
    const out: string[] = [
      '',
      `=== ${PODS.toLocaleString('en-US')} pods in one namespace; ${ROUNDS} rounds × (${WARMUP_MS / 1000} s warm-up + ${DURATION_MS / 1000} s) per phase; load average before ${loadBefore.map((x) => fmt(x, 2)).join(' ')}, after ${loadAfterRounds.map((x) => fmt(x, 2)).join(' ')} ===`,
      table(
        [
          'whole listing',
          'c=1 p50 ms',
          'c=1 p99 ms',
          `c=${CONCURRENCY} listings/s`,
          `c=${CONCURRENCY} p50 ms (n)`,
          'server CPU ms/listing',
          'API server CPU ms/listing',
          'client CPU',
          'errors',
        ],
        listing.map((l) => [
          l.label,
          fmt(l.concurrency1.p50, 1),
          fmt(l.concurrency1.p99, 1),
          fmt(l.concurrencyN.listingsPerSec, 1),
          `${fmt(l.concurrencyN.p50, 0)} (${l.concurrencyN.n})`,
          fmt(l.concurrencyN.serverCpuMsPerListing, 1),
          fmt(l.concurrencyN.apiserverCpuMsPerListing, 1),
          `${fmt(l.concurrencyN.loadgenCpuPercent, 0)} %`,
          String(l.concurrency1.errors + l.concurrencyN.errors),
        ]),
      ),
      '',
      table(
        ['scale 1 ↔ 2 (sequential)', 'n', 'p50 ms', 'p90 ms', 'max ms', 'errors'],
        scale.map((s) => [
          s.label,
          String(s.n),
          fmt(s.p50, 1),
          fmt(s.p90, 1),
          fmt(s.max, 1),
          String(s.errors),
        ]),
      ),
      '',
      table(
        [
          'one whole listing, as received',
          'calls',
          'text KiB',
          'text tokens',
          'text bytes/4',
          'structured KiB',
          'structured tokens',
          'HTTP body KiB',
        ],
        cases.map((c) => {
          const p = payload[c.key];
          if (p === undefined || 'error' in p) return [c.label, 'error', '', '', '', '', '', ''];
          return [
            c.label,
            String(p.pages),
            kib(p.textBytes),
            int(p.textTokens),
            int(p.textBytes / 4),
            kib(p.structuredBytes),
            int(p.structuredTokens),
            kib(p.wireBytes),
          ];
        }),
      ),
      '',
      table(
        ['RSS MiB (process tree)', 'idle before', 'peak', 'idle after', 'server process peak'],
        memory.map((m) => [
          m.label,
          fmt(m.idleBefore?.treeMiB ?? Number.NaN),
          fmt(m.peakTreeMiB),
          fmt(m.idleAfter?.treeMiB ?? Number.NaN),
          fmt(m.peakServerMiB),
        ]),
      ),
      '',
      table(
        ['system', 'revision', 'tools', 'tools/list KiB', 'tools/list tokens'],
        systems.map((s) => {
          const st = started3[s.key];
          return [
            s.label,
            st.protocolVersion ?? '',
            String(st.toolsListed?.length ?? 0),
            kib(st.toolsListBytes ?? 0),
            int(st.toolsListTokens ?? 0),
          ];
        }),
      ),
      '',
      `mcp-server-kubernetes with its default SPAWN_MAX_BUFFER (1 MiB; kubectl's JSON for the listing is ${int(kubectlJsonBytes)} bytes): ${mskDefault.ok ? `listed ${mskDefault.items} pods` : `error: ${mskDefault.error}`}`,
      ...(Object.values(started3).some((s) => s.error)
        ? Object.entries(started3)
            .filter(([, s]) => s.error)
            .map(([k, s]) => `${k} did not start: ${s.error}`)
        : []),
      '',
      `Results: ${path.relative(ROOT, file)}`,
      '',
    ];
    process.stdout.write(out.join('\n'));
    return 0;
  } finally {
    for (const s of systems) {
      s.sampler.stop();
      await Promise.all(s.clients.map((c) => c.close().catch(() => undefined)));
      await s.process.stop();
    }
    await live.release();
  }
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
