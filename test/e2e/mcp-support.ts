/**
 * Helpers of the MCP e2e suites (mcp*.test.ts): the shipped manifests on the cluster, `kubemcp serve`
 * as a child process authenticated AS the operator ServiceAccount (so the shipped least-privilege RBAC
 * is what it runs with), agents as ServiceAccounts with audience-bound tokens, and the two official MCP
 * clients (the v2 SDK pinned to 2026-07-28, the v1 SDK speaking the legacy revisions) behind one
 * small interface.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  AppsV1Api,
  AuthenticationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  type EventsV1Event,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
} from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { GROUP, PLURAL, VERSION } from '../../src/api/v1alpha1/index.js';
import { CLUSTER_SCOPED_EVENT_NAMESPACE, REPORTING_CONTROLLER } from '../../src/kube/events.js';
import { freePort } from '../cluster/cluster.js';
import {
  installOperatorManifests,
  kubectl,
  mintToken,
  OPERATOR_NAMESPACE,
  writeOperatorKubeconfig,
} from '../cluster/operator.js';
import { serveArgs } from '../serve-args.js';
import { cluster, dumpDiagnostics, eventually, kubeConfig } from './support.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const AUDIENCE = 'kubemcp';
export const MODERN = '2026-07-28';

// ---------------------------------------------------------------------------------------------
// Cluster plumbing

/** kubectl of the run's cluster (the harness's own binary when it is the local control plane). */
export function runKubectl(args: string[], input?: string): string {
  return kubectl(cluster().kubectl ?? 'kubectl', cluster().kubeconfig, args, input);
}

/**
 * Puts the shipped manifests on the cluster as an install would: first a server-side dry run of all
 * of config/default (CRD, RBAC, namespace, Deployment, Service, PDB, NetworkPolicy: the API server
 * validates every object), then for real only config/crd, the namespace and config/rbac (the manager
 * Deployment cannot run on a fake node; `kubemcp serve` runs as a child process instead).
 *
 * A server-side dry run does not create the namespace its namespaced objects live in, so the
 * namespace itself is applied first.
 */
export async function installShippedManifests(): Promise<void> {
  runKubectl(['apply', '--server-side', '-f', 'config/manager/namespace.yaml']);
  const dryRun = runKubectl(['apply', '--dry-run=server', '-k', 'config/default']);
  for (const kind of ['customresourcedefinition', 'clusterrole', 'deployment', 'service', 'networkpolicy']) {
    if (!new RegExp(`^${kind}(\\.[a-z0-9.]+)?/\\S+ \\w+ \\(server dry run\\)$`, 'm').test(dryRun)) {
      throw new Error(`the server-side dry run of config/default applied no ${kind}:\n${dryRun}`);
    }
  }
  await installOperatorManifests(kubeConfig(), cluster().kubectl ?? 'kubectl', cluster().kubeconfig);
  // The samples pass the CRD's schema and CEL rules (dry run: they grant nothing here).
  runKubectl(['apply', '--dry-run=server', '-k', 'config/samples']);
}

export async function createNamespace(name: string, labels: Record<string, string> = {}): Promise<void> {
  await kubeConfig()
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name, labels: { 'kubemcp.io/e2e': 'true', ...labels } } } });
}

export async function deleteNamespace(name: string): Promise<void> {
  await kubeConfig()
    .makeApiClient(CoreV1Api)
    .deleteNamespace({ name })
    .catch(() => undefined);
}

export async function createDeployment(namespace: string, name: string, replicas: number): Promise<void> {
  await kubeConfig()
    .makeApiClient(AppsV1Api)
    .createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name, labels: { app: name } },
        spec: {
          replicas,
          selector: { matchLabels: { app: name } },
          template: {
            metadata: { labels: { app: name } },
            spec: { containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.10' }] },
          },
        },
      },
    });
}

export async function createService(namespace: string, name: string, port: number): Promise<void> {
  await kubeConfig()
    .makeApiClient(CoreV1Api)
    .createNamespacedService({
      namespace,
      body: { metadata: { name }, spec: { selector: { app: name }, ports: [{ port }] } },
    });
}

export async function readDeployment(namespace: string, name: string) {
  return kubeConfig().makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace, name });
}

export async function waitReady(namespace: string, name: string, replicas: number): Promise<void> {
  await eventually(`${namespace}/${name} to have ${replicas} ready replicas`, async () => {
    const d = await readDeployment(namespace, name);
    return (
      d.spec?.replicas === replicas &&
      (d.status?.readyReplicas ?? 0) === replicas &&
      (d.status?.replicas ?? 0) === replicas
    );
  });
}

/**
 * Waits until the cluster's own controllers work end to end again (e.g. after an API server restart,
 * which they recover from with their own backoff): in a new namespace, the default ServiceAccount
 * appears and a Deployment's pod becomes Ready. Later test files then start from a healthy cluster.
 */
export async function waitClusterUsable(prefix: string, timeoutMs = 120_000): Promise<void> {
  const ns = `${prefix}-probe`;
  await createNamespace(ns);
  try {
    await eventually(
      `the default ServiceAccount in ${ns}`,
      async () => {
        await kubeConfig()
          .makeApiClient(CoreV1Api)
          .readNamespacedServiceAccount({ namespace: ns, name: 'default' });
        return true;
      },
      timeoutMs,
    );
    await createDeployment(ns, 'probe', 1);
    await eventually(
      `${ns}/probe to be ready`,
      async () => (await readDeployment(ns, 'probe')).status?.readyReplicas === 1,
      timeoutMs,
    );
  } finally {
    await deleteNamespace(ns);
  }
}

export async function createServiceAccount(namespace: string, name: string): Promise<void> {
  await kubeConfig()
    .makeApiClient(CoreV1Api)
    .createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
}

/** A TokenRequest token for an agent ServiceAccount, bound to `audiences` (default: kubemcp). */
export function agentToken(
  namespace: string,
  name: string,
  audiences: string[] = [AUDIENCE],
): Promise<string> {
  return mintToken(kubeConfig(), namespace, name, { audiences, seconds: 3600 });
}

/**
 * Whether the API server itself accepts a token for `audiences` (asked as admin, so kubemcp's cache is
 * not involved); no audiences means the API server's own.
 */
export async function apiServerReview(token: string, audiences: string[] = [AUDIENCE]): Promise<boolean> {
  const res = await kubeConfig()
    .makeApiClient(AuthenticationV1Api)
    .createTokenReview({ body: { spec: { token, ...(audiences.length ? { audiences } : {}) } } });
  return res.status?.authenticated === true;
}

export interface PolicyObject {
  metadata: {
    name: string;
    generation?: number;
    managedFields?: Array<{ manager?: string; subresource?: string; operation?: string }>;
  };
  spec: Record<string, unknown>;
  status?: {
    observedGeneration?: number;
    conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
  };
}

const custom = () => kubeConfig().makeApiClient(CustomObjectsApi);

export async function createPolicy(name: string, spec: Record<string, unknown>): Promise<void> {
  await custom().createClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'McpPolicy', metadata: { name }, spec },
  });
}

export async function getPolicy(name: string): Promise<PolicyObject> {
  return (await custom().getClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    name,
  })) as PolicyObject;
}

export async function patchPolicySpec(name: string, spec: Record<string, unknown>): Promise<PolicyObject> {
  return (await custom().patchClusterCustomObject(
    { group: GROUP, version: VERSION, plural: PLURAL, name, body: { spec } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  )) as PolicyObject;
}

export async function deletePolicy(name: string): Promise<void> {
  await custom()
    .deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name })
    .catch(() => undefined);
}

/** Waits until the policy's current generation is Ready=True (status written by the serving leader). */
export async function waitPolicyReady(name: string): Promise<PolicyObject> {
  return eventually(`McpPolicy ${name} Ready`, async () => {
    const p = await getPolicy(name);
    const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
    return ready?.status === 'True' && p.status?.observedGeneration === p.metadata.generation ? p : undefined;
  });
}

/** The Events kubemcp recorded (reportingController kubemcp.io/operator) about one object. */
async function kubemcpEvents(namespace: string, kind: string, name: string): Promise<EventsV1Event[]> {
  const list = await kubeConfig().makeApiClient(EventsV1Api).listNamespacedEvent({ namespace });
  return list.items.filter(
    (e) =>
      e.regarding?.kind === kind &&
      e.regarding?.name === name &&
      e.reportingController === REPORTING_CONTROLLER,
  );
}

/** kubemcp's Scaled Events on a workload (the Deployment controller's own Events are left out). */
export async function scaledEvents(namespace: string, kind: string, name: string): Promise<EventsV1Event[]> {
  return (await kubemcpEvents(namespace, kind, name)).filter((e) => e.reason === 'Scaled');
}

/** kubemcp's Events on a (cluster-scoped) McpPolicy. */
export function policyEvents(name: string): Promise<EventsV1Event[]> {
  return kubemcpEvents(CLUSTER_SCOPED_EVENT_NAMESPACE, 'McpPolicy', name);
}

// ---------------------------------------------------------------------------------------------
// kubemcp serve as the operator ServiceAccount

export interface ServeProcess {
  readonly identity: string;
  readonly leaseName: string;
  readonly mcpPort: number;
  readonly healthPort: number;
  /** http://127.0.0.1:<mcpPort> */
  readonly base: string;
  /** <base>/mcp */
  readonly url: string;
  readonly child: ChildProcess;
  /** Every line it wrote (stdout and stderr), in order. */
  readonly lines: string[];
  readonly exited: Promise<number | null>;
  /** The JSON log records (pino), skipping lines that are not JSON. */
  records(): Array<Record<string, unknown>>;
  /** The audit records (`component: "audit"`, message "tool call"). */
  audits(): AuditRecord[];
  stop(): Promise<void>;
}

export interface AuditRecord {
  readonly requestId: string;
  readonly caller: { readonly user: string; readonly groups: readonly string[] };
  readonly tool: string;
  readonly arguments: Record<string, unknown>;
  readonly decision: string;
  readonly policies: readonly string[];
  readonly outcome: string;
  readonly durationMs: number;
  readonly dryRun?: true;
  readonly confirmedVia?: string;
  readonly confirmation?: {
    readonly answer: string;
    readonly flow: string;
    readonly revision: string;
    readonly client?: string;
    readonly reason?: string;
  };
}

/**
 * The Lease the shipped Role lets the operator use (its get and update are scoped to this name), so
 * every serve started AS the operator ServiceAccount elects on it; each serve releases it on stop.
 */
export const OPERATOR_LEASE = 'kubemcp-operator';

export interface ServeOptions {
  readonly identity: string;
  readonly extraArgs?: readonly string[];
  /** The API server URL in its kubeconfig (default: the cluster's), e.g. a proxy's. */
  readonly server?: string;
  /** Extra environment variables (e.g. OTEL_* to turn tracing on). */
  readonly env?: Readonly<Record<string, string>>;
}

function lineCollector(into: string[]): (chunk: Buffer) => void {
  let partial = '';
  return (chunk) => {
    const text = partial + chunk.toString('utf8');
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    into.push(...parts.filter((l) => l !== ''));
  };
}

/**
 * Starts `kubemcp serve` authenticated AS kubemcp-system/kubemcp-operator (a TokenRequest token in a
 * kubeconfig of its own), with leader election on its Lease in kubemcp-system (the shipped Role), and
 * waits until /readyz answers 200.
 */
export async function startServe(opts: ServeOptions): Promise<ServeProcess> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubemcp-e2e-'));
  const operatorKubeconfig = await writeOperatorKubeconfig(
    kubeConfig(),
    path.join(dir, 'operator-kubeconfig'),
    3600,
    opts.server,
  );
  const [mcpPort, healthPort] = [await freePort(), await freePort()];
  const base = `http://127.0.0.1:${mcpPort}`;
  const child = spawn(
    process.execPath,
    serveArgs({
      kubeconfig: operatorKubeconfig,
      mcpPort,
      healthPort,
      publicUrl: base,
      leaseNamespace: OPERATOR_NAMESPACE,
      leaseName: OPERATOR_LEASE,
      identity: opts.identity,
      logLevel: 'info',
      extraArgs: opts.extraArgs,
    }),
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Only the flags (and opts.env) configure it: no KUBECONFIG, KUBEMCP_* or OTEL_* from the
      // developer's shell.
      env: {
        ...Object.fromEntries(
          Object.entries(process.env).filter(
            ([k]) => k !== 'KUBECONFIG' && !k.startsWith('KUBEMCP_') && !k.startsWith('OTEL_'),
          ),
        ),
        ...opts.env,
      },
    },
  );
  const lines: string[] = [];
  child.stdout?.on('data', lineCollector(lines));
  child.stderr?.on('data', lineCollector(lines));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const records = () =>
    lines.flatMap((l) => {
      try {
        const v: unknown = JSON.parse(l);
        return typeof v === 'object' && v !== null ? [v as Record<string, unknown>] : [];
      } catch {
        return [];
      }
    });
  const proc: ServeProcess = {
    identity: opts.identity,
    leaseName: OPERATOR_LEASE,
    mcpPort,
    healthPort,
    base,
    url: `${base}/mcp`,
    child,
    lines,
    exited,
    records,
    audits: () =>
      records()
        .filter((r) => r.component === 'audit' && r.msg === 'tool call')
        .map((r) => r.audit as AuditRecord),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await eventually(
      'kubemcp serve /readyz',
      async () => {
        if (child.exitCode !== null) throw new Error(`kubemcp serve exited with code ${child.exitCode}`);
        return (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status === 200;
      },
      60_000,
    );
  } catch (err) {
    process.stderr.write(`── kubemcp serve ──\n${lines.slice(-40).join('\n')}\n`);
    await proc.stop();
    throw err;
  }
  return proc;
}

/** Prints what a failed MCP test needs: serve's log, the policies, Events of the namespaces. */
export async function dumpMcpDiagnostics(
  serve: ServeProcess | undefined,
  namespaces: readonly string[],
  policies: readonly string[],
): Promise<void> {
  if (serve) {
    process.stderr.write(
      `── kubemcp serve (${serve.identity}, last 80 lines) ──\n${serve.lines.slice(-80).join('\n')}\n`,
    );
  }
  for (const name of policies) {
    try {
      process.stderr.write(`── McpPolicy ${name} ──\n${runKubectl(['get', 'mcpp', name, '-o', 'yaml'])}\n`);
    } catch (err) {
      process.stderr.write(`(McpPolicy ${name}: ${err instanceof Error ? err.message : String(err)})\n`);
    }
  }
  for (const ns of namespaces) await dumpDiagnostics(ns);
}

/** Log lines that show the operator's identity was refused something by the API server. */
export function permissionProblems(serve: ServeProcess): string[] {
  return serve.lines.filter((l) =>
    /forbidden|HTTP-Code: 403|\(403\)|HTTP 403|could not record Event/i.test(l),
  );
}

// ---------------------------------------------------------------------------------------------
// MCP clients

export interface ToolResult {
  readonly isError?: boolean;
  readonly content: ReadonlyArray<{ readonly type: string; readonly text?: string }>;
  readonly structuredContent?: Record<string, unknown>;
}

export interface ToolErrorBody {
  readonly code: string;
  readonly message: string;
  readonly reason: string;
  readonly suggestions: readonly string[];
}

export interface ListedTool {
  readonly name: string;
  readonly description?: string;
  readonly inputSchema: Record<string, unknown>;
  readonly annotations?: Record<string, unknown>;
}

export interface ListedResource {
  readonly uri: string;
  readonly name: string;
  readonly description?: string;
  readonly mimeType?: string;
}

/** The part of an MCP client the suites use; both official SDK lines implement it. */
export interface McpCaller {
  readonly label: string;
  /** The revision the connection negotiated. */
  protocolVersion(): string | undefined;
  listTools(): Promise<ListedTool[]>;
  callTool(name: string, args?: Record<string, unknown>): Promise<ToolResult>;
  listResources(cursor?: string): Promise<{ resources: ListedResource[]; nextCursor?: string }>;
  listResourceTemplates(): Promise<Array<{ uriTemplate: string; name: string }>>;
  readResource(uri: string): Promise<Array<{ uri: string; mimeType?: string; text?: string }>>;
  close(): Promise<void>;
}

export type ClientKind = 'v2' | 'v1';

/** What the tests need of either SDK's Client; both lines share these method names and shapes. */
interface SdkClient {
  listTools(): Promise<{ tools: unknown[] }>;
  callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown>;
  listResources(params: { cursor?: string }): Promise<unknown>;
  listResourceTemplates(): Promise<{ resourceTemplates: Array<{ uriTemplate: string; name: string }> }>;
  readResource(params: { uri: string }): Promise<{ contents: unknown[] }>;
  close(): Promise<void>;
}

function callerOf(label: string, protocolVersion: () => string | undefined, client: SdkClient): McpCaller {
  return {
    label,
    protocolVersion,
    listTools: async () => (await client.listTools()).tools as ListedTool[],
    callTool: async (name, args) => (await client.callTool({ name, arguments: args ?? {} })) as ToolResult,
    listResources: async (cursor) =>
      (await client.listResources(cursor === undefined ? {} : { cursor })) as {
        resources: ListedResource[];
        nextCursor?: string;
      },
    listResourceTemplates: async () => (await client.listResourceTemplates()).resourceTemplates,
    readResource: async (uri) =>
      (await client.readResource({ uri })).contents as Array<{
        uri: string;
        mimeType?: string;
        text?: string;
      }>,
    close: () => client.close(),
  };
}

/** The v2 SDK client (`@modelcontextprotocol/client`), pinned to the 2026-07-28 revision. */
export async function connectV2(url: string, token: string): Promise<McpCaller> {
  // The v2 client's default negotiation is 'legacy' (the 2025 initialize handshake): pin the revision.
  const client = new ClientV2(
    { name: 'kubemcp-e2e-v2', version: '1.0.0' },
    { versionNegotiation: { mode: { pin: MODERN } } },
  );
  await client.connect(
    new TransportV2(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }),
  );
  return callerOf(`v2 SDK (${MODERN})`, () => client.getNegotiatedProtocolVersion(), client);
}

/** The v1 SDK client (`@modelcontextprotocol/sdk`): the legacy `initialize` handshake. */
export async function connectV1(url: string, token: string): Promise<McpCaller> {
  const client = new ClientV1({ name: 'kubemcp-e2e-v1', version: '1.0.0' });
  const transport = new TransportV1(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return callerOf(
    `v1 SDK (${transport.protocolVersion ?? 'legacy'})`,
    () => transport.protocolVersion,
    client,
  );
}

export function connect(kind: ClientKind, url: string, token: string): Promise<McpCaller> {
  return kind === 'v2' ? connectV2(url, token) : connectV1(url, token);
}

/** structuredContent.error of an isError result (fails the test when the result is not an error). */
export function errorOf(result: ToolResult): ToolErrorBody {
  if (result.isError !== true) {
    throw new Error(`expected an isError result, got ${JSON.stringify(result.structuredContent)}`);
  }
  const error = result.structuredContent?.error as ToolErrorBody | undefined;
  if (error === undefined)
    throw new Error(`isError result without structuredContent.error: ${JSON.stringify(result)}`);
  return error;
}

/** structuredContent of a successful result (fails the test on an isError result). */
export function okOf<T = Record<string, unknown>>(result: ToolResult): T {
  if (result.isError === true) {
    throw new Error(`expected success, got ${JSON.stringify(result.structuredContent ?? result.content)}`);
  }
  if (result.structuredContent === undefined) throw new Error('success without structuredContent');
  return result.structuredContent as T;
}

/** The JSON-RPC error a rejected client call carried. */
export async function rpcErrorOf(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    if (typeof e.code === 'number') return { code: e.code, message: String(e.message) };
    throw err;
  }
  throw new Error('expected a JSON-RPC error');
}

export interface RawAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

/** A raw 2025-era POST to /mcp (tools/list), with whatever Authorization header is given. */
export async function rawPost(url: string, authorization?: string): Promise<RawAnswer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      'MCP-Protocol-Version': '2025-11-25',
      ...(authorization === undefined ? {} : { Authorization: authorization }),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
  });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

export function uniqueSuffix(): string {
  return randomBytes(3).toString('hex');
}
