/**
 * Puts the many-agents plan (bench/lib/agents-plan.ts) on a cluster, idempotently: what already
 * matches is kept, so a second run on the same control plane skips the slow part (10,000 pods).
 *
 * Pods are bare Pods bound to a kwok fake node (spec.nodeName), created in parallel with bounded
 * concurrency: no controller manager or scheduler work, only kwok making them Running and Ready.
 * McpPolicies carry a hash of their spec in an annotation; one whose hash matches is left alone (its
 * generation and status stay), any other is replaced. Bench objects the plan does not name (a larger
 * earlier run's namespaces and policies) are deleted, so the server caches what the plan says.
 */
import { createHash } from 'node:crypto';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
} from '@kubernetes/client-node';
import { FAKE_NODE_ANNOTATION } from '../../test/cluster/cluster.js';
import { mintToken } from '../../test/conformance/live.js';
import {
  BENCH_LABEL,
  BENCH_VALUE,
  CALLERS_NS,
  IDLE_DEPLOYMENTS,
  type Plan,
  type PlanCaller,
  POD_APP,
} from './agents-plan.js';

const SPEC_HASH = 'kubemcp.io/bench-spec-sha256';
const SELECT = `${BENCH_LABEL}=${BENCH_VALUE}`;
const POLICY_REF = { group: 'kubemcp.io', version: 'v1alpha1', plural: 'mcppolicies' };
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

const code = (err: unknown): number | undefined => (err as { code?: number }).code;

/** Runs fn over items with at most `limit` at once. */
export async function pool<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** The first kwok fake node (the local control plane has one); pods bound to it need no scheduler. */
export async function fakeNodeName(kc: KubeConfig): Promise<string> {
  const nodes = await kc.makeApiClient(CoreV1Api).listNode();
  const node = nodes.items.find((n) => n.metadata?.annotations?.[FAKE_NODE_ANNOTATION] === 'fake');
  if (!node?.metadata?.name)
    throw new Error(
      `no kwok fake node (annotation ${FAKE_NODE_ANNOTATION}=fake): this benchmark binds its pods to one; use the local control plane`,
    );
  return node.metadata.name;
}

/** Creates the plan's namespaces (and the callers' one), fixes labels, deletes unplanned bench namespaces. */
export async function ensureNamespaces(kc: KubeConfig, plan: Plan, concurrency: number): Promise<number> {
  const core = kc.makeApiClient(CoreV1Api);
  const existing = new Map(
    (await core.listNamespace({ labelSelector: SELECT })).items.map((n) => [n.metadata?.name ?? '', n]),
  );
  const wanted = new Set(plan.namespaces.map((n) => n.name));
  let deleted = 0;
  for (const name of existing.keys()) {
    if (wanted.has(name) || existing.get(name)?.metadata?.deletionTimestamp) continue;
    await core.deleteNamespace({ name }).catch((err: unknown) => {
      if (code(err) !== 404) throw err;
    });
    deleted++;
  }
  // An earlier run's --cleanup may still be deleting some: wait until they are gone.
  const terminating = plan.namespaces.filter((ns) => existing.get(ns.name)?.metadata?.deletionTimestamp);
  if (terminating.length > 0) {
    const deadline = Date.now() + 600_000;
    for (;;) {
      const left = (await core.listNamespace({ labelSelector: SELECT })).items.filter((n) =>
        terminating.some((t) => t.name === n.metadata?.name),
      ).length;
      if (left === 0) break;
      if (Date.now() > deadline)
        throw new Error(`${left} bench namespaces still terminating after 10 minutes`);
      await sleep(2000);
    }
    for (const ns of terminating) existing.delete(ns.name);
  }
  await pool(plan.namespaces, concurrency, async (ns) => {
    const have = existing.get(ns.name);
    if (have === undefined) {
      await core.createNamespace({ body: { metadata: { name: ns.name, labels: ns.labels } } });
    } else if (Object.entries(ns.labels).some(([k, v]) => have.metadata?.labels?.[k] !== v)) {
      await core.patchNamespace({ name: ns.name, body: { metadata: { labels: ns.labels } } }, merge);
    }
  });
  try {
    await core.createNamespace({ body: { metadata: { name: CALLERS_NS } } });
  } catch (err) {
    if (code(err) !== 409) throw err;
  }
  return deleted;
}

function podName(k: number, width: number): string {
  return `pod-${String(k).padStart(width, '0')}`;
}

function podBody(namespace: string, name: string, node: string): V1Pod {
  return {
    metadata: { name, namespace, labels: { app: POD_APP, [BENCH_LABEL]: BENCH_VALUE } },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 0,
      containers: [{ name: 'app', image: 'registry.example/agent:1.0' }],
    },
  };
}

/**
 * POSTs of JSON bodies straight to the API server over keep-alive HTTPS with the kubeconfig's
 * credentials: for the 10,000 pod creations, where client-node's own per-request work (about 5 ms of
 * CPU each) would take a noticeable share of the two cores from the API server and kwok.
 */
async function rawPoster(
  kc: KubeConfig,
  concurrency: number,
): Promise<{ post: (path: string, body: unknown) => Promise<number>; close: () => void }> {
  const server = kc.getCurrentCluster()?.server;
  if (server === undefined) throw new Error('the kubeconfig has no current cluster');
  const base = new URL(server);
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const agent = new https.Agent({
    ...(opts.ca === undefined ? {} : { ca: opts.ca }),
    ...(opts.cert === undefined ? {} : { cert: opts.cert }),
    ...(opts.key === undefined ? {} : { key: opts.key }),
    ...(opts.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: opts.rejectUnauthorized }),
    keepAlive: true,
    maxSockets: concurrency,
  });
  const headers = (opts.headers ?? {}) as Record<string, string>;
  const post = (path: string, body: unknown): Promise<number> =>
    new Promise((resolve, reject) => {
      const data = Buffer.from(JSON.stringify(body));
      const req = https.request(
        {
          agent,
          host: base.hostname,
          port: base.port,
          path: `${base.pathname.replace(/\/$/, '')}${path}`,
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json', 'content-length': data.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 300 && status !== 409)
              reject(
                new Error(
                  `POST ${path}: HTTP ${status} ${Buffer.concat(chunks).toString('utf8').slice(0, 300)}`,
                ),
              );
            else resolve(status);
          });
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  return { post, close: () => agent.destroy() };
}

const isReady = (p: V1Pod): boolean =>
  p.status?.phase === 'Running' &&
  (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

export interface PodProgress {
  readonly desired: number;
  readonly ready: number;
  readonly created: number;
}

/**
 * Makes exactly the plan's bare pods exist in each namespace (bound to `node`) and waits until every
 * one is Running and Ready. Returns how many it created.
 */
export async function ensurePods(
  kc: KubeConfig,
  plan: Plan,
  node: string,
  opts: { concurrency: number; timeoutMs: number; onProgress: (p: PodProgress, seconds: number) => void },
): Promise<number> {
  const core = kc.makeApiClient(CoreV1Api);
  const per = plan.sizes.podsPerNamespace;
  const width = String(Math.max(0, per - 1)).length;
  const desired = plan.namespaces.length * per;
  const started = Date.now();
  let created = 0;
  let last = started;
  for (;;) {
    let ready = 0;
    const toCreate: Array<{ namespace: string; name: string }> = [];
    const toDelete: Array<{ namespace: string; name: string }> = [];
    await pool(plan.namespaces, 8, async (ns) => {
      const list = await core.listNamespacedPod({
        namespace: ns.name,
        labelSelector: `app=${POD_APP},${SELECT}`,
      });
      const have = new Map(list.items.map((p) => [p.metadata?.name ?? '', p]));
      for (let k = 0; k < per; k++) {
        const name = podName(k, width);
        const p = have.get(name);
        if (p === undefined) toCreate.push({ namespace: ns.name, name });
        else if (p.spec?.nodeName !== node && !p.metadata?.deletionTimestamp)
          toDelete.push({ namespace: ns.name, name }); // bound elsewhere (another cluster's node name)
        else if (isReady(p)) ready++;
        have.delete(name);
      }
      for (const [name, p] of have)
        if (!p.metadata?.deletionTimestamp) toDelete.push({ namespace: ns.name, name });
    });
    if (ready === desired && toCreate.length === 0 && toDelete.length === 0) return created;
    await pool(toDelete, opts.concurrency, async (p) => {
      await core.deleteNamespacedPod({ ...p, gracePeriodSeconds: 0 }).catch((err: unknown) => {
        if (code(err) !== 404) throw err;
      });
    });
    const raw = toCreate.length > 0 ? await rawPoster(kc, opts.concurrency) : undefined;
    await pool(toCreate, opts.concurrency, async (p) => {
      // 409: still terminating from a delete above; the next pass creates it again.
      const status = await (raw as { post: (path: string, body: unknown) => Promise<number> }).post(
        `/api/v1/namespaces/${p.namespace}/pods`,
        podBody(p.namespace, p.name, node),
      );
      if (status !== 409) created++;
      if (Date.now() - last > 15_000) {
        last = Date.now();
        opts.onProgress({ desired, ready, created }, (Date.now() - started) / 1000);
      }
    });
    raw?.close();
    const seconds = (Date.now() - started) / 1000;
    if (Date.now() - last > 15_000) {
      last = Date.now();
      opts.onProgress({ desired, ready, created }, seconds);
    }
    if (Date.now() - started > opts.timeoutMs)
      throw new Error(
        `${ready} of ${desired} bench pods Ready after ${(opts.timeoutMs / 1000).toFixed(0)} s (see the kwok log)`,
      );
    if (toCreate.length === 0 && toDelete.length === 0) await sleep(2000);
  }
}

function deploymentBody(namespace: string, name: string, replicas: number, node: string) {
  return {
    metadata: { name, namespace, labels: { app: name, [BENCH_LABEL]: BENCH_VALUE } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, [BENCH_LABEL]: BENCH_VALUE } },
        // Bound to the fake node: the controller manager creates the pods, kwok runs them.
        spec: {
          nodeName: node,
          terminationGracePeriodSeconds: 0,
          containers: [{ name: 'app', image: `registry.example/${name}:1.0` }],
        },
      },
    },
  };
}

/**
 * The idle Deployments (0 replicas) of every namespace and one scale target per scaling caller (1
 * replica; put back to 1 when an earlier run left it elsewhere); waits until the targets are Ready.
 */
export async function ensureDeployments(
  kc: KubeConfig,
  plan: Plan,
  node: string,
  concurrency: number,
  timeoutMs = 300_000,
): Promise<void> {
  const apps = kc.makeApiClient(AppsV1Api);
  const want: Array<{ namespace: string; name: string; replicas: number }> = [];
  for (const ns of plan.namespaces)
    for (const name of IDLE_DEPLOYMENTS) want.push({ namespace: ns.name, name, replicas: 0 });
  for (const c of [plan.baseline, ...plan.callers])
    for (const t of c.scaleTargets) want.push({ ...t, replicas: 1 });
  const key = (d: { metadata?: { namespace?: string; name?: string } }) =>
    `${d.metadata?.namespace}/${d.metadata?.name}`;
  const list = async () =>
    new Map(
      (await apps.listDeploymentForAllNamespaces({ labelSelector: SELECT })).items.map((d) => [key(d), d]),
    );
  const have = await list();
  await pool(want, concurrency, async (d) => {
    const cur = have.get(`${d.namespace}/${d.name}`);
    if (cur === undefined) {
      await apps.createNamespacedDeployment({
        namespace: d.namespace,
        body: deploymentBody(d.namespace, d.name, d.replicas, node),
      });
    } else if (cur.spec?.replicas !== d.replicas) {
      await apps.patchNamespacedDeployment(
        { namespace: d.namespace, name: d.name, body: { spec: { replicas: d.replicas } } },
        merge,
      );
    }
  });
  const targets = want.filter((d) => d.replicas > 0);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await list();
    const settled = targets.filter((t) => {
      const d = now.get(`${t.namespace}/${t.name}`);
      return (
        d !== undefined &&
        (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
        d.status?.replicas === t.replicas &&
        d.status?.readyReplicas === t.replicas
      );
    }).length;
    if (settled === targets.length) return;
    if (Date.now() > deadline)
      throw new Error(`${settled} of ${targets.length} scale targets Ready after ${timeoutMs / 1000} s`);
    await sleep(1000);
  }
}

/** The callers' ServiceAccounts (baseline included). */
export async function ensureServiceAccounts(
  kc: KubeConfig,
  plan: Plan,
  concurrency: number,
): Promise<number> {
  const core = kc.makeApiClient(CoreV1Api);
  const have = new Set(
    (await core.listNamespacedServiceAccount({ namespace: CALLERS_NS })).items.map((s) => s.metadata?.name),
  );
  const missing = [plan.baseline, ...plan.callers].filter((c) => !have.has(c.sa));
  await pool(missing, concurrency, async (c) => {
    try {
      await core.createNamespacedServiceAccount({
        namespace: CALLERS_NS,
        body: { metadata: { name: c.sa } },
      });
    } catch (err) {
      if (code(err) !== 409) throw err;
    }
  });
  return missing.length;
}

/** One audience-bound token per caller (TokenRequest), in the order of `callers`. */
export async function mintTokens(
  kc: KubeConfig,
  callers: readonly PlanCaller[],
  audience: string,
  concurrency: number,
): Promise<string[]> {
  const tokens: string[] = new Array(callers.length);
  await pool(
    callers.map((c, i) => ({ c, i })),
    concurrency,
    async ({ c, i }) => {
      tokens[i] = await mintToken(kc, CALLERS_NS, c.sa, { audiences: [audience], seconds: 3600 });
    },
  );
  return tokens;
}

const specHash = (spec: unknown): string => createHash('sha256').update(JSON.stringify(spec)).digest('hex');

interface PolicyObject {
  metadata: {
    name: string;
    generation?: number;
    resourceVersion?: string;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
  };
  status?: {
    observedGeneration?: number;
    conditions?: Array<{ type: string; status: string; observedGeneration?: number; message?: string }>;
  };
}

async function listPolicies(kc: KubeConfig): Promise<PolicyObject[]> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const list = (await api.listClusterCustomObject({ ...POLICY_REF, labelSelector: SELECT })) as {
    items: PolicyObject[];
  };
  return list.items;
}

/**
 * The plan's McpPolicies: created when missing, replaced when their spec hash differs, left alone
 * when it matches; bench policies the plan does not name are deleted. Returns what it changed.
 */
export async function ensurePolicies(
  kc: KubeConfig,
  plan: Plan,
  concurrency: number,
): Promise<{ created: number; replaced: number; deleted: number }> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const existing = new Map((await listPolicies(kc)).map((p) => [p.metadata.name, p]));
  const callers = [plan.baseline, ...plan.callers];
  const planned = new Set(callers.map((c) => c.policy));
  const stale = [...existing.keys()].filter((name) => !planned.has(name));
  await pool(stale, concurrency, async (name) => {
    await api.deleteClusterCustomObject({ ...POLICY_REF, name }).catch((err: unknown) => {
      if (code(err) !== 404) throw err;
    });
  });
  let created = 0;
  let replaced = 0;
  await pool(callers, concurrency, async (c) => {
    const hash = specHash(c.spec);
    const have = existing.get(c.policy);
    if (have?.metadata.annotations?.[SPEC_HASH] === hash) return;
    const metadata = {
      name: c.policy,
      labels: { [BENCH_LABEL]: BENCH_VALUE },
      annotations: { [SPEC_HASH]: hash },
    };
    const body = { apiVersion: 'kubemcp.io/v1alpha1', kind: 'McpPolicy', metadata, spec: c.spec };
    if (have === undefined) {
      await api.createClusterCustomObject({ ...POLICY_REF, body });
      created++;
    } else {
      await api.replaceClusterCustomObject({
        ...POLICY_REF,
        name: c.policy,
        body: { ...body, metadata: { ...metadata, resourceVersion: have.metadata.resourceVersion } },
      });
      replaced++;
    }
  });
  return { created, replaced, deleted: stale.length };
}

/**
 * Waits until every planned McpPolicy shows status.observedGeneration = metadata.generation and a
 * Ready=True condition for that generation (the operator has compiled it and written its status).
 */
export async function waitPoliciesCompiled(
  kc: KubeConfig,
  plan: Plan,
  timeoutMs: number,
  onProgress: (compiled: number, total: number) => void,
): Promise<void> {
  const names = new Set([plan.baseline, ...plan.callers].map((c) => c.policy));
  const deadline = Date.now() + timeoutMs;
  let last = Date.now();
  for (;;) {
    let compiled = 0;
    let invalid: string | undefined;
    for (const p of await listPolicies(kc)) {
      if (!names.has(p.metadata.name)) continue;
      const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
      const gen = p.metadata.generation;
      if (p.status?.observedGeneration !== gen || ready?.observedGeneration !== gen) continue;
      if (ready?.status === 'True') compiled++;
      else invalid ??= `${p.metadata.name}: ${ready?.message ?? 'no message'}`;
    }
    if (invalid !== undefined) throw new Error(`a bench McpPolicy is not Ready: ${invalid}`);
    if (compiled === names.size) return;
    if (Date.now() > deadline)
      throw new Error(`${compiled} of ${names.size} bench McpPolicies compiled after ${timeoutMs / 1000} s`);
    if (Date.now() - last > 10_000) {
      last = Date.now();
      onProgress(compiled, names.size);
    }
    await sleep(500);
  }
}

/** Pods in the whole cluster (one list call with limit 1 and its remainingItemCount). */
export async function clusterPodCount(kc: KubeConfig): Promise<number> {
  const list = await kc.makeApiClient(CoreV1Api).listPodForAllNamespaces({ limit: 1 });
  return list.items.length + (list.metadata?.remainingItemCount ?? 0);
}

/**
 * Deletes whatever many-agents workload a cluster holds (namespaces and McpPolicies labelled
 * kubemcp.io/bench=agents), not waiting for the pods to go. Returns whether there was any. Other
 * benchmarks call it so the server under test does not also cache its 10,000 pods.
 */
export async function removeAgentsWorkload(kc: KubeConfig): Promise<boolean> {
  const core = kc.makeApiClient(CoreV1Api);
  const api = kc.makeApiClient(CustomObjectsApi);
  const namespaces = (await core.listNamespace({ labelSelector: SELECT })).items
    .filter((n) => !n.metadata?.deletionTimestamp)
    .map((n) => n.metadata?.name ?? '');
  const policies = (await listPolicies(kc)).map((p) => p.metadata.name);
  await pool(namespaces, 8, async (name) => {
    await core.deleteNamespace({ name }).catch((err: unknown) => {
      if (code(err) !== 404 && code(err) !== 409) throw err;
    });
  });
  await pool(policies, 16, async (name) => {
    await api.deleteClusterCustomObject({ ...POLICY_REF, name }).catch((err: unknown) => {
      if (code(err) !== 404) throw err;
    });
  });
  return namespaces.length + policies.length > 0;
}
