/**
 * A live KubeMCP for tools that talk to it over the network (the conformance suite, the MCP
 * Inspector, the MCP benchmarks): a real cluster (the e2e cluster rules of test/cluster/index.ts,
 * honouring KUBEMCP_CLUSTER_DIR), the operator's shipped CRD and least-privilege RBAC, and
 * `kubemcp serve` as a child process running as the operator ServiceAccount, exactly as in
 * scripts/demo.ts. Callers get audience-bound tokens through the TokenRequest API.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { freePort } from '../cluster/cluster.js';
import { acquireCluster, type E2ECluster } from '../cluster/index.js';
import { HarnessError } from '../cluster/log.js';
import { installOperatorManifests, mintToken, writeOperatorKubeconfig } from '../cluster/operator.js';
import { REPO_ROOT } from '../cluster/paths.js';
import { serveArgs } from '../serve-args.js';

export { freePort, mintToken };

export interface LiveCluster {
  readonly cluster: E2ECluster;
  readonly kc: KubeConfig;
  readonly kubeconfig: string;
  readonly kubectl: string;
  /** Stops the control plane when this run started it; no-op otherwise. */
  release(): Promise<void>;
}

/** The cluster (see test/cluster/index.ts) with the operator's CRD, namespace and RBAC installed. */
export async function acquireLiveCluster(): Promise<LiveCluster> {
  const { cluster, release } = await acquireCluster();
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    const kubectl = cluster.kubectl ?? 'kubectl';
    await installOperatorManifests(kc, kubectl, cluster.kubeconfig);
    return { cluster, kc, kubeconfig: cluster.kubeconfig, kubectl, release };
  } catch (err) {
    await release();
    throw err;
  }
}

function isConflict(err: unknown): boolean {
  return (err as { code?: number }).code === 409;
}

export async function ensureNamespace(
  kc: KubeConfig,
  name: string,
  labels: Record<string, string> = {},
): Promise<void> {
  try {
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name, labels } } });
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
}

export async function ensureServiceAccount(kc: KubeConfig, namespace: string, name: string): Promise<void> {
  try {
    await kc
      .makeApiClient(CoreV1Api)
      .createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
}

/** A Deployment of `replicas` pods of a fake image (kwok runs them). */
export function deploymentBody(name: string, namespace: string, replicas: number, labels = {}) {
  return {
    metadata: { name, namespace, labels: { app: name, ...labels } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, ...labels } },
        spec: { containers: [{ name: 'app', image: `registry.example/${name}:1.0` }] },
      },
    },
  };
}

export async function ensureDeployment(
  kc: KubeConfig,
  namespace: string,
  name: string,
  replicas: number,
): Promise<void> {
  const apps = kc.makeApiClient(AppsV1Api);
  try {
    await apps.createNamespacedDeployment({ namespace, body: deploymentBody(name, namespace, replicas) });
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
}

export interface McpPolicySpec {
  readonly subjects: ReadonlyArray<{ kind: string; name: string; namespace?: string }>;
  readonly namespaces: { names?: readonly string[]; selector?: unknown };
  readonly tools: readonly string[];
  readonly replicas?: { min: number; max: number };
}

/** Creates the McpPolicy, or replaces the spec of an existing one. */
export async function applyPolicy(kc: KubeConfig, name: string, spec: McpPolicySpec): Promise<void> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const ref = { group: 'kubemcp.io', version: 'v1alpha1', plural: 'mcppolicies' };
  const body = { apiVersion: 'kubemcp.io/v1alpha1', kind: 'McpPolicy', metadata: { name }, spec };
  try {
    await api.createClusterCustomObject({ ...ref, body });
  } catch (err) {
    if (!isConflict(err)) throw err;
    const current = (await api.getClusterCustomObject({ ...ref, name })) as {
      metadata: { resourceVersion: string };
    };
    await api.replaceClusterCustomObject({
      ...ref,
      name,
      body: { ...body, metadata: { name, resourceVersion: current.metadata.resourceVersion } },
    });
  }
}

export async function waitPolicyReady(kc: KubeConfig, name: string, timeoutMs = 30_000): Promise<void> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const obj = (await api.getClusterCustomObject({
      group: 'kubemcp.io',
      version: 'v1alpha1',
      plural: 'mcppolicies',
      name,
    })) as { status?: { conditions?: Array<{ type: string; status: string; message?: string }> } };
    const ready = obj.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.status === 'True') return;
    if (Date.now() > deadline) {
      throw new HarnessError(
        'kubemcp',
        `McpPolicy ${name} is not Ready after ${timeoutMs / 1000}s (${ready?.message ?? 'no status'})`,
      );
    }
    await sleep(200);
  }
}

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly healthPort: number;
  /** http://127.0.0.1:<port> */
  readonly base: string;
  /** http://127.0.0.1:<port>/mcp */
  readonly url: string;
  readonly logFile: string;
  /** SIGTERM, wait for the exit (SIGKILL after 15 s). Idempotent. */
  stop(): Promise<void>;
}

export interface StartServeOptions {
  readonly kc: KubeConfig;
  /** Where the operator kubeconfig and the log go. */
  readonly dir: string;
  /**
   * `tsx`: run src/ through tsx (no build needed); `dist`: run the compiled dist/cli/main.js (what the
   * image ships; `npm run build` first), so RSS and CPU profiles are not skewed by the TS loader.
   */
  readonly entry: 'tsx' | 'dist';
  /** Extra node flags, e.g. --cpu-prof. */
  readonly nodeArgs?: readonly string[];
  readonly logLevel?: string;
  readonly extraArgs?: readonly string[];
}

async function waitReady(
  url: string,
  child: ChildProcess,
  logFile: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const tail = fs.readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
      throw new HarnessError(
        'kubemcp serve',
        `exited (${child.exitCode ?? child.signalCode}); log: ${logFile}\n${tail}`,
      );
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new HarnessError('kubemcp serve', `${url} not ready after ${timeoutMs / 1000}s; log: ${logFile}`);
    await sleep(200);
  }
}

/** Starts `kubemcp serve` as the operator ServiceAccount on free loopback ports; resolves when /readyz is 200. */
export async function startKubemcp(opts: StartServeOptions): Promise<ServeProcess> {
  fs.mkdirSync(opts.dir, { recursive: true });
  const kubeconfig = await writeOperatorKubeconfig(opts.kc, path.join(opts.dir, 'operator-kubeconfig'));
  const port = await freePort();
  let healthPort = await freePort();
  while (healthPort === port) healthPort = await freePort();
  const logFile = path.join(opts.dir, 'kubemcp.log');
  const out = fs.openSync(logFile, 'w');
  if (opts.entry === 'dist' && !fs.existsSync(path.join(REPO_ROOT, 'dist', 'cli', 'main.js')))
    throw new HarnessError('kubemcp', 'dist/cli/main.js is missing: run `npm run build` first');
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    serveArgs({
      entry: opts.entry,
      nodeArgs: opts.nodeArgs,
      kubeconfig,
      mcpPort: port,
      healthPort,
      leaseNamespace: 'kubemcp-system',
      publicUrl: base,
      logLevel: opts.logLevel ?? 'info',
      extraArgs: opts.extraArgs,
    }),
    { cwd: REPO_ROOT, stdio: ['ignore', out, out] },
  );
  fs.closeSync(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.off('exit', onExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
    })();
    return stopping;
  };
  try {
    await waitReady(`http://127.0.0.1:${healthPort}/readyz`, child, logFile, 60_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { child, pid: child.pid ?? -1, port, healthPort, base, url: `${base}/mcp`, logFile, stop };
}

export const CURRENT_REVISION = '2026-07-28';

/** The JSON-RPC body and headers of one 2026-07-28 request (session-less; `_meta` and Mcp-* headers). */
export function mcpRequest(
  token: string | undefined,
  method: string,
  params: Record<string, unknown> = {},
  id: number | string = 1,
): { headers: Record<string, string>; body: string } {
  const name = method === 'tools/call' ? (params.name as string | undefined) : undefined;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': CURRENT_REVISION,
    'mcp-method': method,
    ...(name === undefined ? {} : { 'mcp-name': name }),
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
  };
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id,
    method,
    params: {
      ...params,
      _meta: {
        'io.modelcontextprotocol/protocolVersion': CURRENT_REVISION,
        'io.modelcontextprotocol/clientCapabilities': {},
        'io.modelcontextprotocol/clientInfo': { name: 'kubemcp-harness', version: '0.1.0' },
      },
    },
  });
  return { headers, body };
}

export interface McpAnswer {
  readonly status: number;
  readonly body: {
    result?: {
      isError?: boolean;
      structuredContent?: Record<string, unknown>;
      content?: Array<{ type: string; text?: string }>;
      tools?: Array<{ name: string }>;
    };
    error?: { code: number; message: string };
  };
}

/** One 2026-07-28 request with fetch; parses a JSON or single-event SSE answer. */
export async function mcpCall(
  url: string,
  token: string | undefined,
  method: string,
  params: Record<string, unknown> = {},
): Promise<McpAnswer> {
  const req = mcpRequest(token, method, params);
  const res = await fetch(url, {
    method: 'POST',
    headers: req.headers,
    body: req.body,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  const json = text.startsWith('{') ? text : (text.match(/^data: (.*)$/m)?.[1] ?? '{}');
  return { status: res.status, body: JSON.parse(json) as McpAnswer['body'] };
}

/** Polls until the caller's tools/list shows `tool` (its McpPolicy is compiled and in force). */
export async function waitToolVisible(url: string, token: string, tool: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const a = await mcpCall(url, token, 'tools/list');
      if (a.body.result?.tools?.some((t) => t.name === tool)) return;
      last = `HTTP ${a.status} ${JSON.stringify(a.body).slice(0, 200)}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline)
      throw new HarnessError(
        'kubemcp',
        `${tool} not visible to the test caller after ${timeoutMs / 1000}s (${last})`,
      );
    await sleep(200);
  }
}
