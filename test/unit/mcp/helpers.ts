import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import pino, { type Level } from 'pino';
import { Registry } from 'prom-client';
import type { AccessAnswer, AccessQuestion } from '../../../src/kube/access.js';
import type { ScaleClaim, ScaleHistory } from '../../../src/kube/scalehistory.js';
import type { Deployment, Namespace, Pod, Service, StatefulSet } from '../../../src/kube/types.js';
import {
  BackendError,
  type CachedKind,
  type CacheHealth,
  type ClusterBackend,
  type KindMap,
  type ListSnapshot,
  type ScalableKind,
  type ScaleEvent,
  type ScaleInfo,
  type WriteScaleOptions,
} from '../../../src/kube/types.js';
import {
  type Authenticator,
  createTokenReviewAuthenticator,
  type ReviewResult,
  type TokenReviewAuthenticatorOptions,
} from '../../../src/mcp/auth.js';
import { createMcpApp, type McpAppOptions } from '../../../src/mcp/http.js';
import { compile, type PolicyIndex, type PolicyObject } from '../../../src/policy/index.js';
import type { Tracing } from '../../../src/telemetry/index.js';

/** Fixed "now" of every MCP test: ages and token lifetimes are computed from it. */
export const NOW = Date.parse('2026-11-01T12:00:00Z');
export const AUDIENCE = 'kubemcp';

const ago = (seconds: number): string => new Date(NOW - seconds * 1000).toISOString().replace('.000Z', 'Z');

// ---------------------------------------------------------------------------------------------
// Tokens and a fake TokenReview

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** A JWT-shaped token (unsigned: the fake review decides validity), with `exp` in seconds. */
export function makeToken(sub: string, expSeconds: number, salt = ''): string {
  return `${b64url({ alg: 'RS256', kid: 'test' })}.${b64url({ sub, exp: expSeconds, aud: [AUDIENCE], salt })}.c2lnbmF0dXJl${salt}`;
}

export const IDENTITIES = {
  alice: { username: 'alice', groups: ['system:authenticated'] },
  copilot: {
    username: 'system:serviceaccount:agents:copilot',
    groups: ['system:serviceaccounts', 'system:serviceaccounts:agents', 'system:authenticated'],
  },
  bob: { username: 'bob', groups: ['sre', 'system:authenticated'] },
  mallory: { username: 'mallory', groups: ['system:authenticated'] },
} as const;
export type Who = keyof typeof IDENTITIES;

const LONG_LIFE = Math.floor(NOW / 1000) + 3600;
export const TOKENS: Readonly<Record<Who | 'wrongAudience' | 'bad', string>> = {
  alice: makeToken('alice', LONG_LIFE),
  copilot: makeToken('copilot', LONG_LIFE),
  bob: makeToken('bob', LONG_LIFE),
  mallory: makeToken('mallory', LONG_LIFE),
  wrongAudience: makeToken('alice', LONG_LIFE, 'aud'),
  bad: makeToken('nobody', LONG_LIFE, 'bad'),
};

/** A TokenReview stand-in: knows the TOKENS above (plus any added), records every call. */
export class FakeReview {
  readonly calls: { token: string; audiences: readonly string[] }[] = [];
  private readonly known = new Map<string, ReviewResult>();

  constructor() {
    for (const who of Object.keys(IDENTITIES) as Who[]) {
      this.add(TOKENS[who], IDENTITIES[who]);
    }
    this.known.set(TOKENS.wrongAudience, {
      authenticated: true,
      user: IDENTITIES.alice,
      audiences: ['https://kubernetes.default.svc.cluster.local'],
    });
  }

  add(token: string, user: { username: string; groups: readonly string[] }): void {
    this.known.set(token, { authenticated: true, user, audiences: [AUDIENCE] });
  }

  readonly review = async (token: string, audiences: readonly string[]): Promise<ReviewResult> => {
    this.calls.push({ token, audiences });
    const known = this.known.get(token);
    if (known === undefined) return { authenticated: false, error: 'invalid bearer token' };
    // Like the API server: the answer's audiences are the intersection with those asked for.
    return { ...known, audiences: (known.audiences ?? []).filter((a) => audiences.includes(a)) };
  };
}

// ---------------------------------------------------------------------------------------------
// Policies

export const POLICIES: readonly PolicyObject[] = [
  {
    name: 'admins',
    generation: 1,
    spec: {
      subjects: [{ kind: 'User', name: 'alice' }],
      namespaces: { names: ['*'] },
      tools: ['*'],
      replicas: { min: 0, max: 20 },
    },
  },
  {
    name: 'web-agents',
    generation: 1,
    spec: {
      subjects: [{ kind: 'ServiceAccount', name: 'copilot', namespace: 'agents' }],
      namespaces: { names: ['web', 'web-*'] },
      tools: ['list_namespaces', 'list_pods', 'list_deployments', 'scale_deployment'],
      replicas: { min: 1, max: 10 },
    },
  },
  {
    name: 'sre-readers',
    generation: 1,
    spec: {
      subjects: [{ kind: 'Group', name: 'sre' }],
      namespaces: { selector: { matchLabels: { team: 'platform' } } },
      tools: ['list_*'],
    },
  },
];

// ---------------------------------------------------------------------------------------------
// A fake in-memory cluster

function ns(name: string, labels: Record<string, string>): Namespace {
  return { metadata: { name, labels, creationTimestamp: ago(86400 * 30) }, status: { phase: 'Active' } };
}

function pod(
  namespace: string,
  name: string,
  opts: { app: string; ready?: boolean; restarts?: number; phase?: string; waiting?: string },
): Pod {
  const ready = opts.ready ?? true;
  return {
    metadata: {
      namespace,
      name,
      labels: { app: opts.app, tier: opts.app === 'db' ? 'data' : 'frontend' },
      creationTimestamp: ago(600),
      resourceVersion: '1',
      managedFields: [{ manager: 'kubelet', operation: 'Update' }],
    },
    spec: { nodeName: 'node-1', containers: [{ name: 'main', image: `${opts.app}:1.0` }] },
    status: {
      phase: opts.phase ?? 'Running',
      podIP: '10.0.0.10',
      containerStatuses: [
        {
          name: 'main',
          image: `${opts.app}:1.0`,
          imageID: '',
          ready,
          restartCount: opts.restarts ?? 0,
          ...(opts.waiting === undefined ? {} : { state: { waiting: { reason: opts.waiting } } }),
        },
      ],
    },
  };
}

function workload(namespace: string, name: string, replicas: number, ready: number) {
  return {
    metadata: {
      namespace,
      name,
      uid: `uid-${namespace}-${name}`,
      labels: { app: name },
      creationTimestamp: ago(86400 * 3),
      resourceVersion: '100',
      managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
    },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { spec: { containers: [{ name: 'main', image: `${name}:1.0` }] } },
    },
    status: { replicas, readyReplicas: ready, updatedReplicas: replicas, availableReplicas: ready },
  };
}
const deployment = (namespace: string, name: string, replicas: number, ready: number): Deployment =>
  workload(namespace, name, replicas, ready);
const statefulSet = (namespace: string, name: string, replicas: number, ready: number): StatefulSet => ({
  ...workload(namespace, name, replicas, ready),
  spec: { ...workload(namespace, name, replicas, ready).spec, serviceName: name },
});

function service(namespace: string, name: string): Service {
  return {
    metadata: { namespace, name, creationTimestamp: ago(86400 * 3) },
    spec: {
      type: 'ClusterIP',
      clusterIP: '10.96.0.10',
      ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }],
      selector: { app: name },
    },
  };
}

export function fixtureObjects(): { [K in CachedKind]: KindMap[K][] } {
  return {
    namespace: [
      ns('web', { team: 'web' }),
      ns('web-dev', { team: 'web' }),
      ns('production', { team: 'platform' }),
      ns('payments', { team: 'payments' }),
      ns('kube-system', {}),
    ],
    pod: [
      pod('web', 'web-7d8f9c-aaaaa', { app: 'web' }),
      pod('web', 'web-7d8f9c-bbbbb', { app: 'web', restarts: 2 }),
      pod('web', 'web-7d8f9c-ccccc', {
        app: 'web',
        ready: false,
        phase: 'Pending',
        waiting: 'ContainerCreating',
      }),
      pod('web-dev', 'api-dev-5c6d7-xxxxx', { app: 'api-dev' }),
      pod('production', 'frontend-6b7c8-yyyyy', { app: 'frontend' }),
      pod('production', 'db-0', { app: 'db' }),
      pod('payments', 'billing-8f9a1-zzzzz', { app: 'billing' }),
      pod('kube-system', 'coredns-1a2b3-qqqqq', { app: 'coredns' }),
    ],
    deployment: [
      deployment('web', 'web', 3, 2),
      deployment('web', 'api', 2, 2),
      deployment('web-dev', 'api-dev', 1, 1),
      deployment('production', 'frontend', 4, 4),
      deployment('payments', 'billing', 2, 2),
    ],
    statefulset: [statefulSet('production', 'db', 3, 3)],
    service: [service('web', 'web'), service('production', 'frontend'), service('payments', 'billing')],
  };
}

/** An in-memory ClusterBackend: the cache and the /scale subresource, with knobs for failures. */
export class FakeBackend implements ClusterBackend {
  readonly objects = fixtureObjects();
  health: CacheHealth = { connected: true, synced: true, lastGoodAt: NOW };
  readonly events: ScaleEvent[] = [];
  readonly writes: {
    kind: ScalableKind;
    namespace: string;
    name: string;
    replicas: number;
    resourceVersion: string;
    dryRun?: boolean;
  }[] = [];
  /** Every call that reached the backend, in order ("list pod", "readScale deployment web/web", ...). */
  readonly calls: string[] = [];
  /**
   * Before each of the next N writes, another writer changes the object (to `replicas`), so the
   * write's resourceVersion is stale and the API answers Conflict.
   */
  concurrentWriters: { replicas: number }[] = [];

  list<K extends CachedKind>(kind: K): ListSnapshot<K> {
    this.calls.push(`list ${kind}`);
    return { items: this.objects[kind], health: this.health };
  }

  get<K extends CachedKind>(kind: K, namespace: string, name: string): KindMap[K] | undefined {
    this.calls.push(`get ${kind} ${namespace}/${name}`);
    return this.find(kind, namespace, name);
  }

  private find<K extends CachedKind>(kind: K, namespace: string, name: string): KindMap[K] | undefined {
    return (this.objects[kind] as KindMap[K][]).find(
      (o) => o.metadata?.name === name && (kind === 'namespace' || o.metadata?.namespace === namespace),
    );
  }

  private workload(kind: ScalableKind, namespace: string, name: string): Deployment | StatefulSet {
    if (!this.health.connected) throw new BackendError('Unavailable', 'connection refused');
    const obj = this.find(kind, namespace, name);
    if (obj === undefined) throw new BackendError('NotFound', `${kind}s "${name}" not found`);
    return obj;
  }

  private info(obj: Deployment | StatefulSet): ScaleInfo {
    return {
      replicas: obj.spec?.replicas ?? 1,
      readyReplicas: obj.status?.readyReplicas ?? 0,
      resourceVersion: obj.metadata?.resourceVersion ?? '0',
      ...(obj.metadata?.uid === undefined ? {} : { uid: obj.metadata.uid }),
    };
  }

  private bump(obj: Deployment | StatefulSet, replicas: number): void {
    if (obj.spec !== undefined) obj.spec.replicas = replicas;
    if (obj.metadata !== undefined) {
      obj.metadata.resourceVersion = String(Number(obj.metadata.resourceVersion) + 1);
      // Like the API server: a change of the spec (replicas) is a new generation.
      obj.metadata.generation = (obj.metadata.generation ?? 1) + 1;
    }
  }

  async readScale(kind: ScalableKind, namespace: string, name: string): Promise<ScaleInfo> {
    this.calls.push(`readScale ${kind} ${namespace}/${name}`);
    return this.info(this.workload(kind, namespace, name));
  }

  async writeScale(
    kind: ScalableKind,
    namespace: string,
    name: string,
    replicas: number,
    resourceVersion: string,
    options: WriteScaleOptions = {},
  ): Promise<ScaleInfo> {
    const dryRun = options.dryRun === true;
    this.calls.push(`writeScale ${kind} ${namespace}/${name} ${replicas}${dryRun ? ' dryRun' : ''}`);
    this.writes.push({ kind, namespace, name, replicas, resourceVersion, ...(dryRun ? { dryRun } : {}) });
    const obj = this.workload(kind, namespace, name);
    const other = this.concurrentWriters.shift();
    if (other !== undefined) this.bump(obj, other.replicas);
    if (obj.metadata?.resourceVersion !== resourceVersion) {
      throw new BackendError(
        'Conflict',
        'the object has been modified; please apply your changes to the latest version',
      );
    }
    if (this.refuseAbove !== undefined && replicas > this.refuseAbove) {
      throw new BackendError('Invalid', `admission denied: replicas must be at most ${this.refuseAbove}`);
    }
    if (dryRun) return { ...this.info(obj), replicas };
    this.bump(obj, replicas);
    return this.info(obj);
  }

  /** Like the API server's admission: writes above this count are refused (dry runs too). */
  refuseAbove: number | undefined;
  /** The clock of lastScaledAt (ms since epoch). */
  clock: () => number = () => NOW;
  /** When each object was last scaled through writeScale (or set by a test). */
  readonly lastScaled = new Map<string, number>();

  /** RBAC of the fake cluster: "user verb resource[/subresource] namespace" lines that are allowed. */
  readonly rbac = new Set<string>();
  readonly accessReviews: AccessQuestion[] = [];

  async reviewAccess(q: AccessQuestion): Promise<AccessAnswer> {
    this.accessReviews.push(q);
    const resource = q.subresource === undefined ? q.resource : `${q.resource}/${q.subresource}`;
    const allowed = this.rbac.has(`${q.user} ${q.verb} ${resource} ${q.namespace ?? '*'}`);
    return allowed ? { allowed } : { allowed, reason: 'no RBAC rule allows it' };
  }

  async readScaleHistory(kind: ScalableKind, namespace: string, name: string): Promise<ScaleHistory> {
    this.calls.push(`readScaleHistory ${kind} ${namespace}/${name}`);
    const info = this.info(this.workload(kind, namespace, name));
    const object = `${kind}/${namespace}/${name}`;
    const at = this.lastScaled.get(object);
    return {
      ...info,
      ...(at === undefined ? {} : { lastScaledAt: at }),
      claim: { namespace: 'kubemcp-system', leaseName: `kubemcp-scale-${object}`, object },
    };
  }

  /** The next N claims lose to another replica, which records a scale at the current clock. */
  lostClaims = 0;

  async claimScale(claim: ScaleClaim, at: number): Promise<void> {
    this.calls.push(`claimScale ${claim.object}`);
    if (this.lostClaims > 0) {
      this.lostClaims--;
      this.lastScaled.set(claim.object, this.clock());
      throw new BackendError('Conflict', 'another scale was recorded first');
    }
    this.lastScaled.set(claim.object, at);
  }

  async recordScaleEvent(event: ScaleEvent): Promise<void> {
    this.events.push(event);
  }
}

// ---------------------------------------------------------------------------------------------
// The app under test on 127.0.0.1:0

export interface Harness {
  readonly base: string;
  readonly url: string;
  readonly backend: FakeBackend;
  readonly review: FakeReview;
  readonly registry: Registry;
  readonly authenticator: Authenticator;
  /** Raw log lines written by the app (JSON). */
  readonly logs: string[];
  records(): Record<string, unknown>[];
  setPolicies(policies: readonly PolicyObject[]): void;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly logLevel?: Level | 'silent';
  readonly options?: Partial<McpAppOptions>;
  readonly now?: () => number;
  /** Overrides of the authenticator's options (concurrency caps, a review that hangs, ...). */
  readonly auth?: Partial<TokenReviewAuthenticatorOptions>;
  /** Tracing (default off). */
  readonly tracing?: Tracing;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const logs: string[] = [];
  const logger = pino({ level: opts.logLevel ?? 'info' }, { write: (line: string) => void logs.push(line) });
  const registry = new Registry();
  const backend = new FakeBackend();
  const review = new FakeReview();
  const now = opts.now ?? (() => NOW);
  const namespaces = () =>
    backend.objects.namespace.map((n) => ({
      name: n.metadata?.name ?? '',
      labels: n.metadata?.labels ?? {},
    }));
  let index: PolicyIndex = compile({ policies: POLICIES, namespaces: namespaces() });
  const authenticator = createTokenReviewAuthenticator({
    review: review.review,
    audience: AUDIENCE,
    registry,
    logger,
    now,
    ...opts.auth,
  });
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  const app = createMcpApp({
    authenticator,
    getIndex: () => index,
    backend,
    logger,
    registry,
    ...(opts.tracing === undefined ? {} : { tracing: opts.tracing }),
    options: { publicUrl: base, now, ...opts.options },
  });
  server.on('request', app);
  return {
    base,
    url: `${base}/mcp`,
    backend,
    review,
    registry,
    authenticator,
    logs,
    records: () => logs.map((l) => JSON.parse(l) as Record<string, unknown>),
    setPolicies: (policies) => {
      index = compile({ policies, namespaces: namespaces() });
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Talking to it

export const MODERN = '2026-07-28';
export const LEGACY = '2024-11-05';

/** The v2 SDK client, pinned to the 2026-07-28 revision (or the legacy initialize handshake). */
export async function connect(
  h: Harness,
  token: string,
  era: 'modern' | 'legacy' = 'modern',
): Promise<Client> {
  const client = new Client(
    { name: 'kubemcp-test', version: '1.0.0' },
    era === 'modern' ? { versionNegotiation: { mode: { pin: MODERN } } } : {},
  );
  const transport = new StreamableHTTPClientTransport(new URL(h.url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return client;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The JSON body, or the first JSON-RPC message of an SSE body. */
  readonly json: unknown;
}

/** Parses a JSON or SSE (data: lines) body into its first message. */
export function firstMessage(contentType: string | null, text: string): unknown {
  if (contentType?.includes('text/event-stream')) {
    const line = text.split('\n').find((l) => l.startsWith('data:') && l.slice(5).trim() !== '');
    return line === undefined ? undefined : JSON.parse(line.slice(5));
  }
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A raw POST with legacy (2025-era) headers. */
export async function post(
  h: Harness,
  body: unknown,
  opts: { token?: string; headers?: Record<string, string>; raw?: string; path?: string } = {},
): Promise<RawResponse> {
  const res = await fetch(`${h.base}${opts.path ?? '/mcp'}`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      ...(opts.token === undefined ? {} : { Authorization: `Bearer ${opts.token}` }),
      ...opts.headers,
    },
    body: opts.raw ?? JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    json: firstMessage(res.headers.get('content-type'), text),
  };
}

export function toolCall(name: string, args: Record<string, unknown>, id = 1): unknown {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } };
}

interface StructuredResult {
  isError?: boolean;
  structuredContent?: Record<string, unknown>;
  content?: { type: string; text?: string }[];
}

/** A tool call through the SDK client, typed loosely for assertions. */
export async function call(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<StructuredResult> {
  return (await client.callTool({ name, arguments: args })) as StructuredResult;
}

export function errorOf(result: StructuredResult): {
  code: string;
  message: string;
  reason: string;
  suggestions: string[];
} {
  const error = result.structuredContent?.error as
    | { code: string; message: string; reason: string; suggestions: string[] }
    | undefined;
  if (error === undefined) throw new Error(`expected an error result, got ${JSON.stringify(result)}`);
  return error;
}

export function textOf(result: StructuredResult): string {
  return (result.content ?? []).map((c) => c.text ?? '').join('\n');
}
