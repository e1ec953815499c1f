/**
 * Acceptance of the MCP server on a real cluster (issue 4) and the proof that the operator needs no
 * more than its shipped least-privilege RBAC (issue 5, part 3).
 *
 * beforeAll installs what ships (a server-side dry run of config/default, then config/crd, the
 * namespace and config/rbac for real) and starts `kubemcp serve` as a child process authenticated AS
 * the operator ServiceAccount kubemcp-system/kubemcp-operator: any permission the ClusterRole lacks
 * breaks a scenario here. Agents are ServiceAccounts with TokenRequest tokens for the audience kubemcp;
 * they talk to /mcp through the official v2 SDK client (pinned to 2026-07-28) and the v1 SDK client
 * (the legacy initialize handshake). serve's log, the policies and the Events are printed on failure.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  AppsV1Api,
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  type V1ResourceAttributes,
  Watch,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { DEFAULT_FIELD_MANAGER } from '../../src/controller/controller.js';
import {
  OPERATOR_NAMESPACE,
  OPERATOR_SERVICE_ACCOUNT,
  writeOperatorKubeconfig,
} from '../cluster/operator.js';
import { mcpFixture } from './fixture.js';
import {
  agentToken,
  apiServerReview,
  type ClientKind,
  connect,
  createService,
  errorOf,
  type McpCaller,
  MODERN,
  OPERATOR_LEASE,
  okOf,
  patchPolicySpec,
  permissionProblems,
  policyEvents,
  ROOT,
  rawPost,
  readDeployment,
  rpcErrorOf,
  type ServeProcess,
  scaledEvents,
  type ToolResult,
  uniqueSuffix,
  waitPolicyReady,
  waitReady,
} from './mcp-support.js';
import { eventually, kubeConfig } from './support.js';

const s = uniqueSuffix();
const NS = {
  web: `e2e-mcp-web-${s}`,
  api: `e2e-mcp-api-${s}`,
  secret: `e2e-mcp-secret-${s}`,
  agents: `e2e-mcp-agents-${s}`,
} as const;
/** A namespace that does not exist: denials must read the same as for NS.secret. */
const MISSING_NS = `e2e-mcp-nowhere-${s}`;
const POLICY = {
  reader: `e2e-mcp-${s}-reader`,
  scaler: `e2e-mcp-${s}-scaler`,
  scaler2: `e2e-mcp-${s}-scaler2`,
} as const;
const AGENTS = ['reader', 'scaler', 'scaler2', 'nobody'] as const;
type Agent = (typeof AGENTS)[number];
const BOUNDS = { min: 1, max: 5 };
const LIST_TOOLS = ['list_deployments', 'list_namespaces', 'list_pods', 'list_services', 'list_statefulsets'];

const userOf = (agent: string) => `system:serviceaccount:${NS.agents}:${agent}`;

const clients: McpCaller[] = [];

function server(): ServeProcess {
  return fx.serve;
}

async function client(kind: ClientKind, agent: Agent): Promise<McpCaller> {
  const c = await connect(kind, server().url, tokens[agent]);
  clients.push(c);
  return c;
}

/** The error body with one namespace name replaced, to compare denials across namespaces. */
function anonymised(result: ToolResult, namespace: string): string {
  return JSON.stringify(errorOf(result)).split(namespace).join('<ns>');
}

const sa = (name: string) => ({ kind: 'ServiceAccount', name, namespace: NS.agents });
const fx = mcpFixture({
  namespaces: [{ name: NS.web, labels: { team: 'web' } }, NS.api, NS.secret, NS.agents],
  deployments: [
    { namespace: NS.web, name: 'web', replicas: 1 },
    { namespace: NS.web, name: 'bounds', replicas: 2 },
    { namespace: NS.web, name: 'race', replicas: 1 },
    { namespace: NS.api, name: 'orders', replicas: 1 },
    { namespace: NS.secret, name: 'vault', replicas: 1 },
  ],
  serviceAccounts: [...AGENTS, 'doomed'].map((name) => ({ namespace: NS.agents, name })),
  policies: {
    [POLICY.reader]: { subjects: [sa('reader')], namespaces: { names: [NS.web, NS.api] }, tools: ['list_*'] },
    [POLICY.scaler]: {
      subjects: [sa('scaler')],
      namespaces: { names: [NS.web] },
      tools: ['list_pods', 'list_deployments', 'scale_deployment', 'scale_statefulset'],
      replicas: BOUNDS,
    },
    [POLICY.scaler2]: {
      subjects: [sa('scaler2')],
      namespaces: { names: [NS.web] },
      tools: ['list_deployments', 'scale_deployment'],
      replicas: BOUNDS,
    },
  },
  beforeServe: async () => {
    await createService(NS.web, 'web', 80);
    await kubeConfig()
      .makeApiClient(AppsV1Api)
      .createNamespacedStatefulSet({
        namespace: NS.web,
        body: {
          metadata: { name: 'db' },
          spec: {
            replicas: 1,
            serviceName: 'db',
            selector: { matchLabels: { app: 'db' } },
            template: {
              metadata: { labels: { app: 'db' } },
              spec: { containers: [{ name: 'db', image: 'registry.k8s.io/pause:3.10' }] },
            },
          },
        },
      });
    await createService(NS.api, 'orders', 8080);
    await createService(NS.secret, 'vault', 8200);
  },
  serve: [{ identity: `e2e-mcp-${s}` }],
  tokens: Object.fromEntries(AGENTS.map((name) => [name, { namespace: NS.agents, name }])) as Record<
    Agent,
    { namespace: string; name: string }
  >,
  // The policies are Ready (the status comes from serve itself, which holds the Lease, so they are in
  // its index) and the workloads ready; then the watch caches have seen the pods become ready.
  afterSetup: async () => {
    const probe = await connect('v2', server().url, tokens.reader);
    clients.push(probe);
    await eventually('the caches to show every workload ready', async () => {
      const rows = okOf<{ items: Array<{ readyReplicas: number; replicas: number }> }>(
        await probe.callTool('list_deployments', {}),
      ).items;
      return rows.length === 4 && rows.every((r) => r.readyReplicas === r.replicas);
    });
  },
  cleanup: async () => {
    for (const c of clients) await c.close().catch(() => undefined);
  },
  afterStop: async () => {
    await kubeConfig()
      .makeApiClient(CoordinationV1Api)
      .deleteNamespacedLease({ name: OPERATOR_LEASE, namespace: OPERATOR_NAMESPACE })
      .catch(() => undefined);
  },
});
const tokens = fx.tokens;

// ---------------------------------------------------------------------------------------------

describe.each(['v2', 'v1'] as const)('with the %s SDK client', (kind) => {
  const as = {} as Record<Agent, McpCaller>;
  beforeAll(async () => {
    for (const agent of AGENTS) as[agent] = await client(kind, agent);
  });

  it('negotiates the expected protocol revision', () => {
    const version = as.reader.protocolVersion();
    if (kind === 'v2') expect(version).toBe(MODERN);
    else expect(version).toMatch(/^2025-/);
  });

  it('tools/list shows each agent only what its policies grant, plus get_permissions', async () => {
    const names = async (a: Agent) => (await as[a].listTools()).map((t) => t.name).sort();
    expect(await names('reader')).toEqual([...LIST_TOOLS, 'get_permissions'].sort());
    expect(await names('scaler')).toEqual(
      ['get_permissions', 'list_deployments', 'list_pods', 'scale_deployment', 'scale_statefulset'].sort(),
    );
    expect(await names('nobody')).toEqual(['get_permissions']);
    const scale = (await as.scaler.listTools()).find((t) => t.name === 'scale_deployment');
    expect(scale?.description).toContain(`between ${BOUNDS.min} and ${BOUNDS.max}`);
    expect(scale?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
  });

  it('lists only rows from allowed namespaces', async () => {
    const deployments = okOf<{ items: Array<{ namespace: string; name: string; summary: string }> }>(
      await as.reader.callTool('list_deployments', {}),
    );
    expect(deployments.items.map((r) => `${r.namespace}/${r.name}`).sort()).toEqual(
      [`${NS.api}/orders`, `${NS.web}/bounds`, `${NS.web}/race`, `${NS.web}/web`].sort(),
    );
    expect(deployments.items.find((r) => r.name === 'orders')?.summary).toBe('orders (1/1 ready)');

    const pods = okOf<{ items: Array<{ namespace: string; status: string }> }>(
      await as.reader.callTool('list_pods', { limit: 500 }),
    );
    expect(pods.items.length).toBeGreaterThanOrEqual(4);
    expect(new Set(pods.items.map((p) => p.namespace))).toEqual(new Set([NS.web, NS.api]));

    const services = okOf<{ items: Array<{ namespace: string; name: string }> }>(
      await as.reader.callTool('list_services', {}),
    );
    expect(services.items.map((r) => `${r.namespace}/${r.name}`).sort()).toEqual(
      [`${NS.api}/orders`, `${NS.web}/web`].sort(),
    );
    const sets = okOf<{ items: Array<{ name: string }> }>(await as.reader.callTool('list_statefulsets', {}));
    expect(sets.items.map((r) => r.name)).toEqual(['db']);

    const namespaces = okOf<{ items: Array<{ name: string }> }>(
      await as.reader.callTool('list_namespaces', {}),
    );
    expect(namespaces.items.map((r) => r.name).sort()).toEqual([NS.api, NS.web].sort());

    const one = okOf<{ items: Array<{ namespace: string }> }>(
      await as.reader.callTool('list_deployments', { namespace: NS.api }),
    );
    expect(one.items.map((r) => r.namespace)).toEqual([NS.api]);
    // The API server does have objects in the namespace the reader may not see.
    expect((await readDeployment(NS.secret, 'vault')).metadata?.name).toBe('vault');
  });

  it('denies a namespace with PolicyDenied, the same whether it exists or not', async () => {
    const existing = await as.reader.callTool('list_deployments', { namespace: NS.secret });
    const missing = await as.reader.callTool('list_deployments', { namespace: MISSING_NS });
    expect(errorOf(existing).code).toBe('PolicyDenied');
    expect(anonymised(existing, NS.secret)).toBe(anonymised(missing, MISSING_NS));
    expect(JSON.stringify(existing)).not.toContain('vault');

    const scaleExisting = await as.scaler.callTool('scale_deployment', {
      namespace: NS.secret,
      name: 'vault',
      replicas: 2,
    });
    const scaleMissing = await as.scaler.callTool('scale_deployment', {
      namespace: MISSING_NS,
      name: 'vault',
      replicas: 2,
    });
    expect(errorOf(scaleExisting).code).toBe('PolicyDenied');
    expect(anonymised(scaleExisting, NS.secret)).toBe(anonymised(scaleMissing, MISSING_NS));
    expect((await readDeployment(NS.secret, 'vault')).spec?.replicas).toBe(1);

    // A tool that exists but is not granted is a denial too, not a protocol error.
    expect(
      errorOf(await as.reader.callTool('scale_deployment', { namespace: NS.web, name: 'web', replicas: 2 }))
        .code,
    ).toBe('PolicyDenied');
    expect(errorOf(await as.nobody.callTool('list_pods', {})).code).toBe('PolicyDenied');
  });

  it('answers an unknown tool with a JSON-RPC error', async () => {
    const error = await rpcErrorOf(as.reader.callTool('delete_namespace', { namespace: NS.web }));
    expect(error.code).toBe(-32602);
    expect(error.message).toContain('delete_namespace');
  });

  it('answers invalid arguments with an isError result, code Invalid', async () => {
    const cases: Array<[Agent, string, Record<string, unknown>]> = [
      ['reader', 'list_pods', { namespace: 42 }],
      ['reader', 'list_pods', { namespace: 'Not_A_Namespace' }],
      ['reader', 'list_pods', { limit: 0 }],
      ['reader', 'list_pods', { bogus: true }],
      ['reader', 'list_pods', { labelSelector: 'app in (' }],
      ['scaler', 'scale_deployment', { namespace: NS.web, name: 'web' }],
      ['scaler', 'scale_deployment', { namespace: NS.web, name: 'web', replicas: '3' }],
    ];
    for (const [agent, tool, args] of cases) {
      const error = errorOf(await as[agent].callTool(tool, args));
      expect(error.code, `${tool} ${JSON.stringify(args)}`).toBe('Invalid');
      expect(error.reason.length).toBeGreaterThan(0);
    }
  });

  it('get_permissions tells each agent what it may do', async () => {
    type Perms = {
      caller: { username: string; groups: string[] };
      tools: string[];
      grants: Array<{ policy: string; tools: string[]; namespaces: string[]; replicas?: typeof BOUNDS }>;
    };
    const reader = okOf<Perms>(await as.reader.callTool('get_permissions', {}));
    expect(reader.caller.username).toBe(userOf('reader'));
    expect(reader.caller.groups).toContain(`system:serviceaccounts:${NS.agents}`);
    expect(reader.tools).toEqual([...LIST_TOOLS, 'get_permissions'].sort());
    expect(reader.grants).toHaveLength(1);
    expect(reader.grants[0]).toMatchObject({ policy: POLICY.reader, namespaces: [NS.api, NS.web].sort() });
    expect(reader.grants[0]?.replicas).toBeUndefined();

    const scaler = okOf<Perms>(await as.scaler.callTool('get_permissions', {}));
    expect(scaler.caller.username).toBe(userOf('scaler'));
    expect(scaler.grants).toEqual([
      expect.objectContaining({ policy: POLICY.scaler, namespaces: [NS.web], replicas: BOUNDS }),
    ]);
    const scaler2 = okOf<Perms>(await as.scaler2.callTool('get_permissions', {}));
    expect(scaler2.tools).toEqual(['get_permissions', 'list_deployments', 'scale_deployment']);
    expect(scaler2.grants.map((g) => g.policy)).toEqual([POLICY.scaler2]);

    const nobody = okOf<Perms>(await as.nobody.callTool('get_permissions', {}));
    expect(nobody).toMatchObject({
      caller: { username: userOf('nobody') },
      tools: ['get_permissions'],
      grants: [],
    });
  });

  it('resources/list and resources/read serve k8s:// URIs of what the agent may read', async () => {
    const uris: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await as.reader.listResources(cursor);
      uris.push(...page.resources.map((r) => r.uri));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    expect(uris).toContain(`k8s://deployment/${NS.web}/web`);
    expect(uris).toContain(`k8s://statefulset/${NS.web}/db`);
    expect(uris).toContain(`k8s://service/${NS.api}/orders`);
    expect(uris.some((u) => u.startsWith(`k8s://pod/${NS.web}/web-`))).toBe(true);
    expect(uris.filter((u) => u.includes(NS.secret))).toEqual([]);
    expect(new Set(uris.map((u) => u.split('/')[3]))).toEqual(new Set([NS.web, NS.api]));

    const page = await as.reader.listResources();
    const orders = page.resources.find((r) => r.uri === `k8s://deployment/${NS.api}/orders`);
    expect(orders).toMatchObject({
      name: `orders (1/1 replicas ready) in ${NS.api}`,
      mimeType: 'application/json',
    });

    const templates = await as.reader.listResourceTemplates();
    expect(templates.map((t) => t.uriTemplate).sort()).toEqual(
      ['deployment', 'pod', 'service', 'statefulset'].map((k) => `k8s://${k}/{namespace}/{name}`),
    );

    const [content] = await as.reader.readResource(`k8s://deployment/${NS.web}/web`);
    expect(content?.mimeType).toBe('application/json');
    const obj = JSON.parse(content?.text ?? '{}') as {
      kind: string;
      metadata: { name: string; namespace: string; managedFields?: unknown };
    };
    expect(obj).toMatchObject({ kind: 'Deployment', metadata: { name: 'web', namespace: NS.web } });
    expect(obj.metadata.managedFields).toBeUndefined();

    // Forbidden and missing read the same.
    const forbidden = await rpcErrorOf(as.reader.readResource(`k8s://deployment/${NS.secret}/vault`));
    const missing = await rpcErrorOf(as.reader.readResource(`k8s://deployment/${MISSING_NS}/vault`));
    const absent = await rpcErrorOf(as.reader.readResource(`k8s://deployment/${NS.web}/nothing-here`));
    expect(forbidden.code).toBe(-32602);
    expect(missing.code).toBe(forbidden.code);
    expect(absent.code).toBe(forbidden.code);
    expect(forbidden.message.split(NS.secret).join('<ns>')).toBe(
      missing.message.split(MISSING_NS).join('<ns>'),
    );
    expect(forbidden.message).not.toContain('Forbidden');
  });
});

// ---------------------------------------------------------------------------------------------

describe('scaling', () => {
  let scaler: McpCaller;
  let scalerV1: McpCaller;
  let scaler2: McpCaller;
  beforeAll(async () => {
    scaler = await client('v2', 'scaler');
    scalerV1 = await client('v1', 'scaler');
    scaler2 = await client('v1', 'scaler2');
  });

  it('refuses replicas out of bounds, negative, non-integer or absurd, and changes nothing', async () => {
    const before = await readDeployment(NS.web, 'bounds');
    const cases: Array<[unknown, string]> = [
      [BOUNDS.max + 1, 'OutOfBounds'],
      [0, 'OutOfBounds'],
      [1e9, 'OutOfBounds'],
      [-1, 'Invalid'],
      [2.5, 'Invalid'],
      [1e12, 'Invalid'],
      [Number.MAX_SAFE_INTEGER, 'Invalid'],
      [null, 'Invalid'],
    ];
    for (const c of [scaler, scalerV1]) {
      for (const [replicas, code] of cases) {
        const result = await c.callTool('scale_deployment', { namespace: NS.web, name: 'bounds', replicas });
        expect(errorOf(result).code, `replicas ${String(replicas)} via ${c.label}`).toBe(code);
      }
    }
    const out = errorOf(
      await scaler.callTool('scale_deployment', {
        namespace: NS.web,
        name: 'bounds',
        replicas: BOUNDS.max + 1,
      }),
    );
    expect(out.message).toContain(`${BOUNDS.max + 1} replicas`);
    // The answer says what would be allowed.
    expect([out.reason, ...out.suggestions].join(' ')).toMatch(
      new RegExp(`\\b${BOUNDS.min}\\b.*\\b${BOUNDS.max}\\b`),
    );

    const after = await readDeployment(NS.web, 'bounds');
    expect(after.spec?.replicas).toBe(2);
    expect(after.metadata?.generation).toBe(before.metadata?.generation);
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect(await scaledEvents(NS.web, 'Deployment', 'bounds')).toEqual([]);

    // A missing workload in an allowed namespace is NotFound.
    expect(
      errorOf(await scaler.callTool('scale_deployment', { namespace: NS.web, name: 'ghost', replicas: 2 }))
        .code,
    ).toBe('NotFound');
  });

  it('scales within bounds: spec.replicas changes, the pods follow, an Event and an audit record say who', async () => {
    const t0 = Date.now();
    const result = okOf<{ from: number; to: number; changed: boolean; policies: string[]; message: string }>(
      await scaler.callTool('scale_deployment', { namespace: NS.web, name: 'web', replicas: 3 }),
    );
    expect(result).toMatchObject({ from: 1, to: 3, changed: true, policies: [POLICY.scaler] });
    expect(result.message).toMatch(/^scaled web from 1 to 3 \(\d\/3 ready\)$/);
    expect((await readDeployment(NS.web, 'web')).spec?.replicas).toBe(3);

    // kwok makes the new pods Ready; the MCP lists see them through the watch caches.
    await waitReady(NS.web, 'web', 3);
    const row = await eventually('list_deployments to show web 3/3 ready', async () => {
      const rows = okOf<{ items: Array<{ name: string; summary: string; readyReplicas: number }> }>(
        await scaler.callTool('list_deployments', { namespace: NS.web }),
      ).items;
      return rows.find((r) => r.name === 'web' && r.readyReplicas === 3);
    });
    expect(row.summary).toBe('web (3/3 ready)');
    const pods = okOf<{ items: Array<{ name: string; status: string; ready: string }> }>(
      await scaler.callTool('list_pods', { namespace: NS.web, labelSelector: 'app=web' }),
    ).items;
    expect(pods).toHaveLength(3);
    expect(pods.every((p) => p.status === 'Running' && p.ready === '1/1')).toBe(true);

    // Scaling to the current count changes nothing (and records no Event).
    const again = okOf<{ changed: boolean; message: string }>(
      await scaler.callTool('scale_deployment', { namespace: NS.web, name: 'web', replicas: 3 }),
    );
    expect(again.changed).toBe(false);
    expect(again.message).toContain('nothing changed');

    const deployment = await readDeployment(NS.web, 'web');
    const events = await eventually('the Scaled Event', async () => {
      const list = await scaledEvents(NS.web, 'Deployment', 'web');
      return list.length > 0 ? list : undefined;
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'Normal',
      reason: 'Scaled',
      reportingController: 'kubemcp.io/operator',
      reportingInstance: server().identity,
      regarding: { kind: 'Deployment', name: 'web', namespace: NS.web, uid: deployment.metadata?.uid },
      note: `scaled by ${userOf('scaler')} via McpPolicy ${POLICY.scaler} from 1 to 3`,
    });

    const audit = await eventually('the audit record', async () =>
      server()
        .audits()
        .find(
          (a) => a.tool === 'scale_deployment' && a.arguments.name === 'web' && a.arguments.replicas === 3,
        ),
    );
    expect(audit).toMatchObject({
      caller: { user: userOf('scaler') },
      arguments: { namespace: NS.web, name: 'web', replicas: 3 },
      decision: 'allow',
      policies: [POLICY.scaler],
      outcome: 'ok',
    });
    expect(audit.caller.groups).toContain('system:serviceaccounts');
    expect(audit.requestId.length).toBeGreaterThan(0);
    const line = server()
      .records()
      .find((r) => (r.audit as { requestId?: string } | undefined)?.requestId === audit.requestId);
    expect(line).toMatchObject({ component: 'audit', msg: 'tool call' });
    const time = typeof line?.time === 'number' ? line.time : Date.parse(String(line?.time));
    expect(time).toBeGreaterThanOrEqual(t0 - 1000);
    // Denials and invalid calls are audited too.
    expect(
      server()
        .audits()
        .some(
          (a) => a.decision === 'deny' && a.outcome === 'PolicyDenied' && a.caller.user === userOf('reader'),
        ),
    ).toBe(true);
    expect(
      server()
        .audits()
        .some((a) => a.decision === 'none' && a.outcome === 'Invalid'),
    ).toBe(true);
    expect(
      server()
        .audits()
        .some((a) => a.decision === 'deny' && a.outcome === 'OutOfBounds' && a.arguments.name === 'bounds'),
    ).toBe(true);

    // The StatefulSet's /scale subresource works as well.
    const sts = okOf<{ from: number; to: number }>(
      await scalerV1.callTool('scale_statefulset', { namespace: NS.web, name: 'db', replicas: 2 }),
    );
    expect(sts).toMatchObject({ from: 1, to: 2 });
    await eventually('db to have 2 ready replicas', async () => {
      const set = await kubeConfig()
        .makeApiClient(AppsV1Api)
        .readNamespacedStatefulSet({ namespace: NS.web, name: 'db' });
      return set.spec?.replicas === 2 && set.status?.readyReplicas === 2;
    });
  });

  it('loses no update when two agents scale the same Deployment concurrently', async () => {
    const name = 'race';
    const initial = await readDeployment(NS.web, name);
    expect(initial.spec?.replicas).toBe(1);

    // The serialized history of spec.replicas, as the API server committed it (a watch delivers every
    // change of one object in order).
    const history: number[] = [initial.spec?.replicas ?? -1];
    let watchError: unknown;
    let stopping = false;
    const watch = await new Watch(kubeConfig()).watch(
      `/apis/apps/v1/namespaces/${NS.web}/deployments`,
      { fieldSelector: `metadata.name=${name}`, resourceVersion: initial.metadata?.resourceVersion },
      (phase, obj: { spec?: { replicas?: number } }) => {
        const replicas = obj.spec?.replicas;
        if (phase === 'MODIFIED' && replicas !== undefined && replicas !== history.at(-1))
          history.push(replicas);
      },
      (err) => {
        if (err && !stopping) watchError = err;
      },
    );

    // "Scale to N" is absolute: scaler sets 2 or 3, scaler2 sets 4 or 5, two requests in flight each.
    interface Call {
      readonly agent: 'scaler' | 'scaler2';
      readonly target: number;
      readonly result: ToolResult;
    }
    const calls: Call[] = [];
    const worker = async (agent: Call['agent'], c: McpCaller, targets: number[], rounds: number) => {
      for (let i = 0; i < rounds; i++) {
        const target = targets[i % targets.length] as number;
        calls.push({
          agent,
          target,
          result: await c.callTool('scale_deployment', { namespace: NS.web, name, replicas: target }),
        });
      }
    };
    const rounds = 10;
    await Promise.all([
      worker('scaler', scaler, [2, 3], rounds),
      worker('scaler', scalerV1, [3, 2], rounds),
      worker('scaler2', scaler2, [4, 5], rounds),
      worker('scaler2', scaler2, [5, 4], rounds),
    ]);

    // Every call either succeeded or was refused as Conflict (after its retries); nothing else.
    type Scaled = { from: number; to: number; changed: boolean };
    const ok = calls.filter((c) => c.result.isError !== true);
    const conflicts = calls.filter((c) => c.result.isError === true);
    for (const c of conflicts) expect(errorOf(c.result).code).toBe('Conflict');
    const writes = ok.map((c) => ({ ...c, out: okOf<Scaled>(c.result) }));
    for (const w of writes) expect(w.out.to).toBe(w.target);
    for (const w of writes.filter((x) => !x.out.changed)) expect(w.out.from).toBe(w.out.to);
    const changed = writes.filter((w) => w.out.changed);
    console.log(
      `concurrent scale: ${calls.length} calls, ${changed.length} writes, ${writes.length - changed.length} no-ops, ${conflicts.length} Conflict`,
    );
    // Enough real writes from both agents to make the check mean something. (Conflicts are expected:
    // besides the other writers, the Deployment controller's status updates move the resourceVersion.)
    expect(changed.length).toBeGreaterThanOrEqual(8);
    expect(new Set(changed.map((w) => w.agent))).toEqual(new Set(['scaler', 'scaler2']));

    const final = await readDeployment(NS.web, name);
    await eventually(
      'the watch to reach the final state',
      async () => history.at(-1) === final.spec?.replicas,
    );
    stopping = true;
    watch.abort();
    expect(watchError).toBeUndefined();

    // No lost update: the writes the agents were told about are exactly the transitions the API server
    // serialized, so every write's "from" is the previous write's "to", and the final count is the
    // "to" of the last write.
    const key = (from: number, to: number) => `${from}->${to}`;
    const committed = history.slice(1).map((to, i) => key(history[i] as number, to));
    const reported = changed.map((w) => key(w.out.from, w.out.to));
    expect([...reported].sort()).toEqual([...committed].sort());
    expect(final.spec?.replicas).toBe(history.at(-1));

    // The Events tell the same history, each naming the agent that made the write.
    const events = await eventually('one Scaled Event per write', async () => {
      const list = await scaledEvents(NS.web, 'Deployment', name);
      return list.length >= changed.length ? list : undefined;
    });
    expect(events).toHaveLength(changed.length);
    const fromEvents = events.map((e) => {
      const m = /^scaled by (\S+) via McpPolicy (\S+) from (\d+) to (\d+)$/.exec(e.note ?? '');
      if (!m) throw new Error(`unexpected Event note: ${e.note}`);
      const to = Number(m[4]);
      expect(m[1]).toBe(userOf(to <= 3 ? 'scaler' : 'scaler2'));
      expect(m[2]).toBe(to <= 3 ? POLICY.scaler : POLICY.scaler2);
      return key(Number(m[3]), to);
    });
    expect(fromEvents.sort()).toEqual([...committed].sort());

    // And the audit log has one record per call, with its outcome.
    const audits = await eventually('one audit record per call', async () => {
      const list = server()
        .audits()
        .filter((a) => a.tool === 'scale_deployment' && a.arguments.name === name);
      return list.length >= calls.length ? list : undefined;
    });
    expect(audits).toHaveLength(calls.length);
    expect(audits.filter((a) => a.outcome === 'ok')).toHaveLength(ok.length);
    expect(audits.filter((a) => a.outcome === 'Conflict')).toHaveLength(conflicts.length);
    for (const a of audits) {
      expect(a.caller.user).toBe(userOf((a.arguments.replicas as number) <= 3 ? 'scaler' : 'scaler2'));
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('authentication', () => {
  const challenge = () =>
    `Bearer realm="kubemcp", resource_metadata="${server().base}/.well-known/oauth-protected-resource"`;

  async function expect401(authorization: string | undefined, what: string) {
    const res = await rawPost(server().url, authorization);
    expect(res.status, what).toBe(401);
    expect(res.headers.get('www-authenticate'), what).toMatch(
      new RegExp(`^${challenge().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
    );
    return JSON.parse(res.body) as { error: string; error_description: string };
  }

  it('serves the protected-resource metadata the challenge points at', async () => {
    const res = await fetch(`${server().base}/.well-known/oauth-protected-resource`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ resource: server().url, bearer_methods_supported: ['header'] });
    // A valid token gets in (the control for the refusals below).
    expect((await rawPost(server().url, `Bearer ${tokens.reader}`)).status).toBe(200);
  });

  it('answers 401 with WWW-Authenticate for no token, a garbage token or a non-Bearer header', async () => {
    expect((await expect401(undefined, 'no token')).error).toBe('unauthorized');
    expect((await expect401('Bearer not-a-real-token', 'garbage')).error).toBe('invalid_token');
    expect((await expect401('Basic dXNlcjpwYXNz', 'basic')).error).toBe('invalid_token');
  });

  it('answers 401 for a valid token minted for another audience', async () => {
    const other = await agentToken(NS.agents, 'reader', ['someone-else']);
    expect(await apiServerReview(other, ['someone-else'])).toBe(true);
    // The API server's TokenReview for audience kubemcp refuses it outright (authenticated: false).
    expect(await apiServerReview(other)).toBe(false);
    expect((await expect401(`Bearer ${other}`, 'audience someone-else')).error).toBe('invalid_token');

    // The API server's own audience (the default of a TokenRequest): fine for kubectl, not for us.
    const apiToken = await agentToken(NS.agents, 'reader', []);
    expect(await apiServerReview(apiToken, [])).toBe(true);
    await expect401(`Bearer ${apiToken}`, 'API server audience');
  });

  it('answers 401 for the token of a deleted ServiceAccount (tried fresh: its first use is after the deletion)', async () => {
    const token = await agentToken(NS.agents, 'doomed');
    expect(await apiServerReview(token)).toBe(true);
    // Not used against kubemcp before the deletion: TokenReview results are cached for up to 60 s, so a
    // token kubemcp had already accepted would keep working until its cached review expires (by design,
    // see docs/security.md). Its first use after the deletion must be refused.
    await kubeConfig()
      .makeApiClient(CoreV1Api)
      .deleteNamespacedServiceAccount({ namespace: NS.agents, name: 'doomed' });
    // The API server caches its own token authentications for a few seconds, so wait for it to refuse.
    await eventually('the API server to refuse the token', async () => !(await apiServerReview(token)));
    const body = await expect401(`Bearer ${token}`, 'deleted ServiceAccount');
    expect(body.error).toBe('invalid_token');
  });
});

// ---------------------------------------------------------------------------------------------

describe('policy changes', () => {
  it('an edited McpPolicy takes effect on the next call within 1 s, both ways', async () => {
    const reader = await client('v2', 'reader');
    const denied = async () =>
      (await reader.callTool('list_deployments', { namespace: NS.secret })).isError === true;
    expect(await denied()).toBe(true);

    const measure = async (spec: Record<string, unknown>, wantDenied: boolean): Promise<number> => {
      const t0 = performance.now();
      await patchPolicySpec(POLICY.reader, spec);
      for (;;) {
        if ((await denied()) === wantDenied) return performance.now() - t0;
        if (performance.now() - t0 > 10_000) throw new Error('the policy change never took effect');
      }
    };
    const grant = await measure({ namespaces: { names: [NS.web, NS.api, NS.secret] } }, false);
    const rows = okOf<{ items: Array<{ name: string }> }>(
      await reader.callTool('list_deployments', { namespace: NS.secret }),
    ).items;
    expect(rows.map((r) => r.name)).toEqual(['vault']);
    const revoke = await measure({ namespaces: { names: [NS.web, NS.api] } }, true);
    console.log(`policy edit → enforced: grant ${grant.toFixed(0)} ms, revoke ${revoke.toFixed(0)} ms`);
    expect(grant).toBeLessThanOrEqual(1000);
    expect(revoke).toBeLessThanOrEqual(1000);
    await waitPolicyReady(POLICY.reader);
  });
});

// ---------------------------------------------------------------------------------------------

describe('probes and metrics', () => {
  it('/readyz and /healthz answer 200; /metrics counts the tool calls', async () => {
    const health = `http://127.0.0.1:${server().healthPort}`;
    expect((await fetch(`${health}/readyz`)).status).toBe(200);
    expect((await fetch(`${health}/healthz`)).status).toBe(200);
    const res = await fetch(`${health}/metrics`);
    expect(res.status).toBe(200);
    const samples = (await res.text())
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => {
        const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(l);
        const labels = Object.fromEntries(
          [...(m?.[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]),
        );
        return { name: m?.[1] ?? '', labels, value: Number(m?.[3]) };
      });
    const value = (name: string, labels: Record<string, string>) =>
      samples
        .filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))
        .reduce((n, x) => n + x.value, 0);
    // Every audit record has reached the log we read (pino writes asynchronously).
    const audits = await eventually('every tool call in the audit log', async () => {
      const list = server().audits();
      return list.length === value('kubemcp_mcp_tool_calls_total', {}) ? list : undefined;
    });
    const okScales = audits.filter((a) => a.tool === 'scale_deployment' && a.outcome === 'ok').length;
    expect(okScales).toBeGreaterThan(0);
    expect(
      value('kubemcp_mcp_tool_calls_total', { tool: 'scale_deployment', decision: 'allow', outcome: 'ok' }),
    ).toBe(okScales);
    expect(
      value('kubemcp_mcp_tool_calls_total', {
        tool: 'list_deployments',
        decision: 'deny',
        outcome: 'PolicyDenied',
      }),
    ).toBeGreaterThan(0);
    expect(value('kubemcp_tokenreview_cache_lookups_total', { result: 'hit' })).toBeGreaterThan(0);
    expect(value('kubemcp_mcp_auth_failures_total', { reason: 'missing' })).toBeGreaterThan(0);
    expect(value('kubemcp_mcp_auth_failures_total', { reason: 'invalid_token' })).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe('least privilege of the operator ServiceAccount', () => {
  const OPERATOR = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SERVICE_ACCOUNT}`;
  let operatorApi: AuthorizationV1Api;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubemcp-e2e-rbac-'));
    const file = await writeOperatorKubeconfig(kubeConfig(), path.join(dir, 'kubeconfig'), 600);
    const kc = new KubeConfig();
    kc.loadFromFile(file);
    operatorApi = kc.makeApiClient(AuthorizationV1Api);
  });
  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Asked AS the operator ServiceAccount (SelfSubjectAccessReview), so the answer is its real RBAC. */
  const can = async (attrs: V1ResourceAttributes): Promise<boolean> => {
    const res = await operatorApi.createSelfSubjectAccessReview({
      body: { spec: { resourceAttributes: attrs } },
    });
    return res.status?.allowed === true;
  };

  it('may do every rule of the shipped roles', async () => {
    const docs = ['role.yaml', 'leader_election_role.yaml', 'confirmation_key_role.yaml'].flatMap((f) =>
      parseAllDocuments(fs.readFileSync(path.join(ROOT, 'config/rbac', f), 'utf8')).map(
        (d) =>
          d.toJS() as {
            kind: string;
            metadata: { namespace?: string };
            rules?: Array<{
              apiGroups: string[];
              resources: string[];
              resourceNames?: string[];
              verbs: string[];
            }>;
          },
      ),
    );
    let checked = 0;
    for (const role of docs.filter((d) => d.kind === 'ClusterRole' || d.kind === 'Role')) {
      for (const rule of role.rules ?? []) {
        for (const group of rule.apiGroups) {
          for (const res of rule.resources) {
            const [resource, subresource] = res.split('/');
            for (const verb of rule.verbs) {
              for (const name of rule.resourceNames ?? [undefined]) {
                const attrs: V1ResourceAttributes = {
                  group,
                  resource,
                  verb,
                  ...(name === undefined ? {} : { name }),
                  ...(subresource === undefined ? {} : { subresource }),
                  ...(role.metadata.namespace === undefined ? {} : { namespace: role.metadata.namespace }),
                };
                expect(await can(attrs), JSON.stringify(attrs)).toBe(true);
                checked++;
              }
            }
          }
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(20);
  });

  it('may do nothing else that matters', async () => {
    const forbidden: V1ResourceAttributes[] = [
      { group: '', resource: 'secrets', verb: 'get' },
      { group: '', resource: 'secrets', verb: 'list' },
      { group: '', resource: 'secrets', verb: 'get', namespace: OPERATOR_NAMESPACE },
      { group: '', resource: 'configmaps', verb: 'list' },
      { group: '', resource: 'pods', verb: 'create' },
      { group: '', resource: 'pods', verb: 'delete' },
      { group: '', resource: 'pods', subresource: 'exec', verb: 'create' },
      { group: '', resource: 'pods', subresource: 'log', verb: 'get' },
      { group: '', resource: 'serviceaccounts', subresource: 'token', verb: 'create' },
      { group: '', resource: 'events', verb: 'create' },
      { group: '', resource: 'nodes', verb: 'list' },
      { group: '', resource: 'namespaces', verb: 'delete' },
      { group: '', resource: 'users', verb: 'impersonate' },
      { group: 'apps', resource: 'deployments', verb: 'update' },
      { group: 'apps', resource: 'deployments', verb: 'patch' },
      { group: 'apps', resource: 'deployments', verb: 'delete' },
      { group: 'apps', resource: 'deployments', verb: 'create' },
      { group: 'apps', resource: 'deployments', subresource: 'scale', verb: 'patch' },
      { group: 'apps', resource: 'daemonsets', verb: 'list' },
      { group: 'kubemcp.io', resource: 'mcppolicies', verb: 'create' },
      { group: 'kubemcp.io', resource: 'mcppolicies', verb: 'update' },
      { group: 'kubemcp.io', resource: 'mcppolicies', verb: 'patch' },
      { group: 'kubemcp.io', resource: 'mcppolicies', verb: 'delete' },
      { group: 'kubemcp.io', resource: 'mcppolicies', subresource: 'status', verb: 'update' },
      // Secrets: only get on the confirmation key, and create, in its own namespace (checked above).
      { group: '', resource: 'secrets', verb: 'get', namespace: OPERATOR_NAMESPACE, name: 'other' },
      {
        group: '',
        resource: 'secrets',
        verb: 'update',
        namespace: OPERATOR_NAMESPACE,
        name: 'kubemcp-confirmation-key',
      },
      {
        group: '',
        resource: 'secrets',
        verb: 'delete',
        namespace: OPERATOR_NAMESPACE,
        name: 'kubemcp-confirmation-key',
      },
      { group: '', resource: 'secrets', verb: 'watch', namespace: OPERATOR_NAMESPACE },
      { group: '', resource: 'secrets', verb: 'create', namespace: 'default' },
      // Leases only in its own namespace (leader election, cool-down records and their sweep), never elsewhere.
      { group: 'coordination.k8s.io', resource: 'leases', verb: 'create', namespace: 'default' },
      { group: 'coordination.k8s.io', resource: 'leases', verb: 'get', namespace: 'kube-system' },
      { group: 'coordination.k8s.io', resource: 'leases', verb: 'update', namespace: 'kube-system' },
      { group: 'coordination.k8s.io', resource: 'leases', verb: 'list', namespace: 'kube-system' },
      { group: 'coordination.k8s.io', resource: 'leases', verb: 'delete', namespace: 'kube-system' },
      { group: 'coordination.k8s.io', resource: 'leases', verb: 'watch', namespace: OPERATOR_NAMESPACE },
      { group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings', verb: 'create' },
      { group: 'rbac.authorization.k8s.io', resource: 'clusterroles', verb: 'escalate' },
      { group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', verb: 'update' },
    ];
    const granted: string[] = [];
    for (const attrs of forbidden) if (await can(attrs)) granted.push(JSON.stringify(attrs));
    expect(granted).toEqual([]);
  });

  it('used its grants for real, and the API server refused it nothing (serve logged no Forbidden)', async () => {
    // Lease (leader election in kubemcp-system).
    const lease = await kubeConfig()
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: server().leaseName, namespace: OPERATOR_NAMESPACE });
    expect(lease.spec?.holderIdentity).toBe(server().identity);
    // mcppolicies/status, patched by serve's controller under its field manager.
    const policy = await waitPolicyReady(POLICY.scaler);
    expect(
      policy.metadata.managedFields?.some(
        (f) => f.manager === DEFAULT_FIELD_MANAGER && f.subresource === 'status',
      ),
    ).toBe(true);
    // events.k8s.io Events about McpPolicies, created by serve.
    const accepted = (await policyEvents(POLICY.scaler)).filter((e) => e.reason === 'Accepted');
    expect(accepted.map((e) => e.reportingInstance)).toContain(server().identity);
    // TokenReviews, list/watch and /scale were exercised by the scenarios above.
    expect(
      server()
        .audits()
        .some((a) => a.tool === 'scale_statefulset' && a.outcome === 'ok'),
    ).toBe(true);
    expect(
      server()
        .audits()
        .some((a) => a.caller.user === OPERATOR),
    ).toBe(false);

    expect(permissionProblems(server())).toEqual([]);
    expect(server().child.exitCode).toBeNull();
  });
});
