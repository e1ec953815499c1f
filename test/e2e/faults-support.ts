/**
 * Helpers of the fault tests (faults.test.ts): a TCP proxy that cuts long-lived connections, the
 * soak's mixed load with every answer kept and judged, a churn of object changes, and the check that
 * every operator cache equals a fresh LIST (through the MCP list tools, against client-node).
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AppsV1Api,
  CoreV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
} from '@kubernetes/client-node';
import { runCalls } from '../../bench/lib/loadgen.js';
import { judge, type Verdict, type World } from '../../bench/lib/soak-oracle.js';
import { type SoakCall, soakNext } from '../../bench/lib/soak-workload.js';
import type { McpCaller } from './mcp-support.js';

// ---------------------------------------------------------------------------------------------
// A proxy that cuts connections

export interface Cut {
  /** Date.now() of the cut. */
  readonly at: number;
  /** Connections destroyed by it. */
  readonly destroyed: number;
}

export interface CuttingProxy {
  /** https://127.0.0.1:<port>: the API server's certificate (IP SAN 127.0.0.1) still validates. */
  readonly url: string;
  /** Connections accepted so far. */
  accepted(): number;
  readonly cuts: readonly Cut[];
  /**
   * Cuts, at random intervals of minMs–maxMs, every connection open for at least minAgeMs (watch
   * streams and idle keep-alive connections; TLS is not looked into), with a TCP reset.
   */
  startCutting(opts: { minMs: number; maxMs: number; minAgeMs: number }): void;
  stopCutting(): void;
  close(): Promise<void>;
}

/** A plain TCP forwarder to `target` (the TLS bytes pass unchanged) on a free port of 127.0.0.1. */
export async function startCuttingProxy(target: URL): Promise<CuttingProxy> {
  const open = new Map<net.Socket, { upstream: net.Socket; since: number }>();
  let accepted = 0;
  const cuts: Cut[] = [];
  let timer: NodeJS.Timeout | undefined;
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect({ host: target.hostname, port: Number(target.port) });
    open.set(client, { upstream, since: Date.now() });
    client.pipe(upstream);
    upstream.pipe(client);
    const drop = (): void => {
      open.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  const cut = (minAgeMs: number): void => {
    const now = Date.now();
    let destroyed = 0;
    for (const [client, { upstream, since }] of open) {
      if (now - since < minAgeMs) continue;
      open.delete(client);
      client.resetAndDestroy();
      upstream.resetAndDestroy();
      destroyed++;
    }
    cuts.push({ at: now, destroyed });
  };
  const stopCutting = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  return {
    url: `https://127.0.0.1:${port}`,
    accepted: () => accepted,
    cuts,
    startCutting: ({ minMs, maxMs, minAgeMs }) => {
      stopCutting();
      const schedule = (): void => {
        timer = setTimeout(
          () => {
            cut(minAgeMs);
            schedule();
          },
          minMs + Math.random() * (maxMs - minMs),
        );
      };
      schedule();
    },
    stopCutting,
    close: async () => {
      stopCutting();
      for (const [client, { upstream }] of open) {
        client.destroy();
        upstream.destroy();
      }
      open.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The soak's mixed load, every answer kept

export interface LoadAnswer {
  /** Date.now() when the call was sent and when it was answered. */
  readonly sentAt: number;
  readonly at: number;
  readonly client: number;
  readonly caller: string;
  readonly tool: string;
  readonly args: Record<string, unknown>;
  /** The soak oracle's verdict (the pure policy engine on the same policies and namespaces). */
  readonly verdict: Verdict;
  /** structuredContent.error.code of an isError answer. */
  readonly code?: string;
  /** The answer carries the staleness warning. */
  readonly warning: boolean;
  /** The start of the answer (or the transport error) when the oracle did not find it good. */
  readonly detail?: string;
}

export interface MixedLoad {
  readonly answers: LoadAnswer[];
  /** Stops sending; resolves once every call in flight is answered. */
  stop(): Promise<void>;
}

/** The soak's call mix (bench/lib/soak-oracle.ts) from `clients` against `url`, until stopped. */
export function startMixedLoad(opts: {
  readonly url: string;
  readonly clients: ReadonlyArray<{ caller: string; token: string }>;
  readonly world: World;
  readonly seed: number;
}): MixedLoad {
  const answers: LoadAnswer[] = [];
  const abort = new AbortController();
  const epoch = performance.timeOrigin;
  const done = runCalls<SoakCall>({
    url: opts.url,
    concurrency: opts.clients.length,
    signal: abort.signal,
    next: soakNext(opts.clients, opts.seed),
    onAnswer: (o) => {
      const { caller, call } = o.call;
      let verdict: Verdict;
      let code: string | undefined;
      let warning = false;
      let detail: string | undefined;
      if (o.status === undefined || o.body === undefined) {
        verdict = { kind: 'error', detail: `transport: ${o.error}` };
        detail = o.error;
      } else {
        verdict = judge(opts.world, caller, call, o.status, o.body);
        // Cheap probes of the raw answer (the oracle has parsed it already).
        warning = o.body.includes('"warning":"');
        if (o.body.includes('"isError":true')) {
          code = /"error":\{"code":"(\w+)"/.exec(o.body.toString('utf8'))?.[1] ?? '(no code)';
        }
        if (verdict.kind !== 'ok') detail = o.body.subarray(0, 2000).toString('utf8');
      }
      answers.push({
        sentAt: epoch + o.start,
        at: epoch + o.end,
        client: o.client,
        caller: caller.username,
        tool: call.tool,
        args: call.args,
        verdict,
        ...(code === undefined ? {} : { code }),
        warning,
        ...(detail === undefined ? {} : { detail }),
      });
    },
  });
  return {
    answers,
    stop: async () => {
      abort.abort();
      await done;
    },
  };
}

/** Counts answers by a key, e.g. `${tool} ${verdict.kind} ${code}`. */
export function tally(
  answers: readonly LoadAnswer[],
  key: (a: LoadAnswer) => string,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of answers) {
    const k = key(a);
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** The distinct error messages of isError answers (their start), with counts: what callers were told. */
export function errorMessages(answers: readonly LoadAnswer[]): Record<string, number> {
  return tally(
    answers.filter((a) => a.code !== undefined),
    (a) =>
      `${a.code}: ${/"message":"((?:[^"\\]|\\.){0,100})/.exec(a.detail ?? '')?.[1]?.replaceAll('\\"', '"') ?? '?'}`,
  );
}

/** One line per answer, for failure messages (the first `n`). */
export function show(answers: readonly LoadAnswer[], n = 5): string {
  return answers
    .slice(0, n)
    .map(
      (a) =>
        `${new Date(a.at).toISOString()} ${a.caller} ${a.tool} ${JSON.stringify(a.args)}: ${a.verdict.kind}${'detail' in a.verdict ? ` (${a.verdict.detail})` : ''} ${a.detail ?? ''}`,
    )
    .join('\n');
}

// ---------------------------------------------------------------------------------------------
// Every operator cache against a fresh LIST

/** The label the churn sets on its pods and namespace (values a and b). */
export const CHURN_LABEL = 'kubemcp.io/faults-churn';

type Rows = Record<string, string[]>;

interface Page {
  items?: Array<Record<string, unknown>>;
  nextCursor?: string;
  warning?: string;
}

/** Every row of one list tool, all pages; throws on a staleness warning or an error. */
async function listAll(caller: McpCaller, tool: string, args: Record<string, unknown> = {}) {
  const rows: Array<Record<string, unknown>> = [];
  let cursor: string | undefined;
  do {
    const r = await caller.callTool(tool, { ...args, limit: 500, ...(cursor ? { continue: cursor } : {}) });
    if (r.isError === true) throw new Error(`${tool}: ${JSON.stringify(r.structuredContent)}`);
    const page = r.structuredContent as Page;
    if (page.warning !== undefined) throw new Error(`${tool}: stale (${page.warning})`);
    rows.push(...(page.items ?? []));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return rows;
}

const sorted = (xs: string[]): string[] => xs.sort();
const labelsText = (labels: Record<string, string> | undefined): string =>
  JSON.stringify(Object.entries(labels ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)));

/** What the MCP list tools show (namespaces, pods, pods by the churn label, workloads, services), as comparable lines. */
async function toolRows(caller: McpCaller): Promise<Rows> {
  const pod = (r: Record<string, unknown>) =>
    `${r.namespace}/${r.name} ${r.phase} ${r.ready}${r.status === 'Terminating' ? ' Terminating' : ''}`;
  const workload = (r: Record<string, unknown>) =>
    `${r.namespace}/${r.name} ${r.replicas} ${r.readyReplicas} ${r.updatedReplicas} ${r.availableReplicas}`;
  return {
    namespaces: sorted(
      (await listAll(caller, 'list_namespaces')).map(
        (r) => `${r.name} ${r.phase} ${labelsText(r.labels as Record<string, string>)}`,
      ),
    ),
    pods: sorted((await listAll(caller, 'list_pods')).map(pod)),
    'pods labelled a': sorted(
      (await listAll(caller, 'list_pods', { labelSelector: `${CHURN_LABEL}=a` })).map(pod),
    ),
    deployments: sorted((await listAll(caller, 'list_deployments')).map(workload)),
    statefulsets: sorted((await listAll(caller, 'list_statefulsets')).map(workload)),
    services: sorted(
      (await listAll(caller, 'list_services')).map(
        (r) => `${r.namespace}/${r.name} ${r.type} ${r.clusterIP ?? ''} ${r.selector ?? ''}`,
      ),
    ),
  };
}

/** The same lines from a fresh LIST of every kind (client-node, as the cluster admin). */
async function listRows(kc: KubeConfig): Promise<Rows> {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const pod = (p: V1Pod) => {
    const statuses = p.status?.containerStatuses ?? [];
    const ready = `${statuses.filter((c) => c.ready).length}/${p.spec?.containers?.length ?? statuses.length}`;
    return `${p.metadata?.namespace}/${p.metadata?.name} ${p.status?.phase ?? 'Unknown'} ${ready}${p.metadata?.deletionTimestamp ? ' Terminating' : ''}`;
  };
  const workload = (w: {
    metadata?: { namespace?: string; name?: string };
    spec?: { replicas?: number };
    status?: { readyReplicas?: number; updatedReplicas?: number; availableReplicas?: number };
  }) =>
    `${w.metadata?.namespace}/${w.metadata?.name} ${w.spec?.replicas ?? 1} ${w.status?.readyReplicas ?? 0} ${w.status?.updatedReplicas ?? 0} ${w.status?.availableReplicas ?? 0}`;
  return {
    namespaces: sorted(
      (await core.listNamespace()).items.map(
        (n) => `${n.metadata?.name} ${n.status?.phase ?? 'Active'} ${labelsText(n.metadata?.labels)}`,
      ),
    ),
    pods: sorted((await core.listPodForAllNamespaces()).items.map(pod)),
    'pods labelled a': sorted(
      (await core.listPodForAllNamespaces({ labelSelector: `${CHURN_LABEL}=a` })).items.map(pod),
    ),
    deployments: sorted((await apps.listDeploymentForAllNamespaces()).items.map(workload)),
    statefulsets: sorted((await apps.listStatefulSetForAllNamespaces()).items.map(workload)),
    services: sorted(
      (await core.listServiceForAllNamespaces()).items.map((s) => {
        const selector = Object.entries(s.spec?.selector ?? {})
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([k, v]) => `${k}=${v}`)
          .join(',');
        return `${s.metadata?.namespace}/${s.metadata?.name} ${s.spec?.type ?? 'ClusterIP'} ${s.spec?.clusterIP ?? ''} ${selector}`;
      }),
    ),
  };
}

/** The differences between two row sets (empty when equal), at most a few lines per kind. */
function diff(cache: Rows, fresh: Rows): string[] {
  const out: string[] = [];
  for (const kind of Object.keys(fresh)) {
    const a = new Set(cache[kind] ?? []);
    const b = new Set(fresh[kind] ?? []);
    const missing = [...b].filter((x) => !a.has(x));
    const extra = [...a].filter((x) => !b.has(x));
    if (missing.length || extra.length)
      out.push(
        `${kind}: cache lacks [${missing.slice(0, 5).join('; ')}]${missing.length > 5 ? ` +${missing.length - 5}` : ''}, cache has extra [${extra.slice(0, 5).join('; ')}]${extra.length > 5 ? ` +${extra.length - 5}` : ''}`,
      );
  }
  return out;
}

/**
 * Waits until what the MCP list tools show for `caller` (who may list every kind in every
 * namespace) equals a fresh LIST of the cluster, for every cached kind, and no answer is stale.
 * Each round takes a fresh LIST first, then asks the tools. Resolves with when the matching round
 * started (ms after the call; a round takes a while on a busy machine), how many rounds it took and
 * what the first round found different; throws with the last difference when no round started
 * within `timeoutMs` matched.
 */
export async function waitCachesMatchList(
  caller: McpCaller,
  kc: KubeConfig,
  timeoutMs: number,
): Promise<{ ms: number; roundMs: number; rounds: number; objects: number; firstDiff: string[] }> {
  const t0 = Date.now();
  let rounds = 0;
  let last: string[] = [];
  let firstDiff: string[] | undefined;
  for (;;) {
    const started = Date.now();
    if (started - t0 > timeoutMs) {
      throw new Error(
        `the caches did not equal a fresh LIST within ${timeoutMs} ms (${rounds} rounds):\n${last.join('\n')}`,
      );
    }
    rounds++;
    try {
      const fresh = await listRows(kc);
      const cache = await toolRows(caller);
      last = diff(cache, fresh);
      if (last.length === 0) {
        const objects = Object.values(fresh).reduce((n, rows) => n + rows.length, 0);
        return {
          ms: started - t0,
          roundMs: Date.now() - started,
          rounds,
          objects,
          firstDiff: firstDiff ?? [],
        };
      }
    } catch (err) {
      last = [err instanceof Error ? err.message : String(err)];
    }
    firstDiff ??= last;
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------------------------
// Churn: object changes while the faults happen

export interface ChurnTarget {
  /** Namespaces to create, relabel and delete bare pods in. */
  readonly podNamespaces: readonly string[];
  /** A Deployment to scale (0–4) and a Service whose selector changes, in `namespace`, whose labels change too. */
  readonly namespace: string;
  readonly deployment: string;
  readonly service: string;
}

export interface Churn {
  /** Stops after the change in progress; resolves with the changes made by kind. */
  stop(): Promise<Record<string, number>>;
}

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const MAX_CHURN_PODS = 12;

/**
 * Changes objects one after another, every ~`intervalMs`, as the cluster admin (straight to the API
 * server): creates, relabels and deletes pods, scales a Deployment, changes a Service's selector and a
 * Namespace's labels. A failure other than NotFound/Conflict (objects the cluster changed meanwhile)
 * stops the churn and is thrown by stop().
 */
export function startChurn(kc: KubeConfig, target: ChurnTarget, intervalMs = 250): Churn {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const counts: Record<string, number> = {};
  const pods: Array<{ namespace: string; name: string }> = [];
  let n = 0;
  let stopped = false;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)] as T;
  const flip = () => (Math.random() < 0.5 ? 'a' : 'b');
  const actions: Record<string, () => Promise<unknown>> = {
    'create pod': async () => {
      const namespace = pick(target.podNamespaces);
      const name = `churn-${++n}`;
      await core.createNamespacedPod({
        namespace,
        body: {
          metadata: { name, labels: { [CHURN_LABEL]: flip() } },
          spec: { containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.10' }] },
        },
      });
      pods.push({ namespace, name });
    },
    'delete pod': async () => {
      const p = pods.splice(Math.floor(Math.random() * pods.length), 1)[0];
      if (p) await core.deleteNamespacedPod({ ...p, gracePeriodSeconds: 0 });
    },
    'relabel pod': async () => {
      const p = pods.length ? pick(pods) : undefined;
      if (p)
        await core.patchNamespacedPod(
          { ...p, body: { metadata: { labels: { [CHURN_LABEL]: flip() } } } },
          MERGE,
        );
    },
    'scale deployment': () =>
      apps.patchNamespacedDeployment(
        {
          namespace: target.namespace,
          name: target.deployment,
          body: { spec: { replicas: Math.floor(Math.random() * 5) } },
        },
        MERGE,
      ),
    'change service selector': () =>
      core.patchNamespacedService(
        {
          namespace: target.namespace,
          name: target.service,
          body: { spec: { selector: { app: target.deployment, [CHURN_LABEL]: flip() } } },
        },
        MERGE,
      ),
    'relabel namespace': () =>
      core.patchNamespace(
        { name: target.namespace, body: { metadata: { labels: { [CHURN_LABEL]: flip() } } } },
        MERGE,
      ),
  };
  const run = (async () => {
    while (!stopped) {
      const kind =
        pods.length >= MAX_CHURN_PODS
          ? 'delete pod'
          : pods.length === 0
            ? 'create pod'
            : pick(Object.keys(actions));
      try {
        await (actions[kind] as () => Promise<unknown>)();
        counts[kind] = (counts[kind] ?? 0) + 1;
      } catch (err) {
        const code = (err as { code?: number }).code;
        if (code !== 404 && code !== 409) throw err;
      }
      await sleep(intervalMs * (0.5 + Math.random()));
    }
  })();
  // A failure is thrown by stop(); until then it must not count as an unhandled rejection.
  run.catch(() => undefined);
  return {
    stop: async () => {
      stopped = true;
      await run;
      return counts;
    },
  };
}
