/**
 * Agent safety on a real cluster: dry runs (admission included), replicas.maxStep, cooldownSeconds
 * across two `kubemcp serve` replicas, rateLimit per replica, and fail-closed confirmation. Both
 * serve processes run AS the operator ServiceAccount with the shipped ClusterRole; agents talk through
 * the v2 SDK client (2026-07-28) and the v1 SDK client (legacy revisions). The two replicas share a
 * confirmation key (--confirmation-key-file), as the shipped Deployment's replicas should.
 */

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
} from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema, type ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { mcpFixture } from './fixture.js';
import {
  type ClientKind,
  connect,
  errorOf,
  type McpCaller,
  MODERN,
  okOf,
  readDeployment,
  runKubectl,
  type ServeProcess,
  scaledEvents,
  type ToolResult,
  uniqueSuffix,
} from './mcp-support.js';
import { eventually } from './support.js';

const s = uniqueSuffix();
const NS = { web: `e2e-safety-web-${s}`, agents: `e2e-safety-agents-${s}` } as const;
const AGENTS = ['dry', 'stepper', 'cooler', 'limited', 'confirmer', 'keyed', 'overlap'] as const;
type Agent = (typeof AGENTS)[number];
const policyName = (agent: Agent) => `e2e-safety-${s}-${agent}`;
/** The second policy of `overlap`: wider bounds, with the RBAC second key. */
const OVERLAP_KEYED = `e2e-safety-${s}-overlap-keyed`;
const ADMISSION = `e2e-safety-${s}-max4`;
const ADMISSION_LIMIT = 4;

const clients: McpCaller[] = [];

function replica(which: 'A' | 'B'): ServeProcess {
  const serve = fx.serves[which === 'A' ? 0 : 1];
  if (!serve) throw new Error(`kubemcp serve ${which} is not running`);
  return serve;
}

async function client(kind: ClientKind, agent: Agent, which: 'A' | 'B' = 'A'): Promise<McpCaller> {
  const c = await connect(kind, replica(which).url, tokens[agent]);
  clients.push(c);
  return c;
}

async function replicasOf(name: string): Promise<number | undefined> {
  return (await readDeployment(NS.web, name)).spec?.replicas;
}

const sa = (name: string) => ({ kind: 'ServiceAccount', name, namespace: NS.agents });
const base = {
  namespaces: { names: [NS.web] },
  tools: ['list_deployments', 'scale_deployment'],
};
const DEPLOYMENTS = ['dry', 'step', 'cool', 'confirm', 'confirm-v1'];
let keyFile = '';

const fx = mcpFixture({
  namespaces: [NS.web, NS.agents],
  deployments: DEPLOYMENTS.map((name) => ({ namespace: NS.web, name, replicas: 1 })),
  serviceAccounts: AGENTS.map((name) => ({ namespace: NS.agents, name })),
  policies: {
    [policyName('dry')]: { ...base, subjects: [sa('dry')], replicas: { min: 0, max: 10 } },
    [policyName('stepper')]: {
      ...base,
      subjects: [sa('stepper')],
      replicas: { min: 0, max: 10, maxStep: 2 },
    },
    [policyName('cooler')]: {
      ...base,
      subjects: [sa('cooler')],
      replicas: { min: 0, max: 10 },
      cooldownSeconds: 300,
    },
    [policyName('limited')]: {
      ...base,
      subjects: [sa('limited')],
      replicas: { min: 0, max: 10 },
      rateLimit: { callsPerMinute: 3 },
    },
    [policyName('confirmer')]: {
      ...base,
      subjects: [sa('confirmer')],
      replicas: { min: 0, max: 10 },
      confirm: { above: 2, scaleToZero: true },
    },
    [policyName('keyed')]: {
      ...base,
      subjects: [sa('keyed')],
      replicas: { min: 0, max: 10 },
      requireKubernetesRBAC: true,
    },
    // Two overlapping policies of one caller: 0-2 without the RBAC key, 0-10 with it (issue 17's C and D).
    [policyName('overlap')]: { ...base, subjects: [sa('overlap')], replicas: { min: 0, max: 2 } },
    [OVERLAP_KEYED]: {
      ...base,
      subjects: [sa('overlap')],
      replicas: { min: 0, max: 10 },
      requireKubernetesRBAC: true,
    },
  },
  beforeServe: async () => {
    // What the API server's admission refuses: more than 4 replicas through /scale in NS.web.
    runKubectl(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'List',
        items: [
          {
            apiVersion: 'admissionregistration.k8s.io/v1',
            kind: 'ValidatingAdmissionPolicy',
            metadata: { name: ADMISSION },
            spec: {
              failurePolicy: 'Fail',
              matchConstraints: {
                resourceRules: [
                  {
                    apiGroups: ['apps'],
                    apiVersions: ['v1'],
                    operations: ['UPDATE'],
                    resources: ['deployments/scale'],
                  },
                ],
              },
              validations: [
                {
                  expression: `object.spec.replicas <= ${ADMISSION_LIMIT}`,
                  message: `at most ${ADMISSION_LIMIT} replicas in this namespace`,
                },
              ],
            },
          },
          {
            apiVersion: 'admissionregistration.k8s.io/v1',
            kind: 'ValidatingAdmissionPolicyBinding',
            metadata: { name: ADMISSION },
            spec: {
              policyName: ADMISSION,
              validationActions: ['Deny'],
              matchResources: {
                namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NS.web } },
              },
            },
          },
        ],
      }),
    );
    keyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kubemcp-e2e-key-')), 'confirmation.key');
    fs.writeFileSync(keyFile, randomBytes(32), { mode: 0o600 });
  },
  serve: () => [
    { identity: `e2e-safety-a-${s}`, extraArgs: ['--confirmation-key-file', keyFile] },
    { identity: `e2e-safety-b-${s}`, extraArgs: ['--confirmation-key-file', keyFile] },
  ],
  tokens: Object.fromEntries(AGENTS.map((name) => [name, { namespace: NS.agents, name }])) as Record<
    Agent,
    { namespace: string; name: string }
  >,
  afterSetup: async () => {
    // Both replicas' indexes hold the policies (each compiles them itself).
    for (const which of ['A', 'B'] as const) {
      const probe = await client('v2', 'dry', which);
      await eventually(`replica ${which} to grant list_deployments`, async () => {
        const result = await probe.callTool('list_deployments', { namespace: NS.web });
        return result.isError !== true;
      });
    }
  },
  cleanup: async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    runKubectl([
      'delete',
      'validatingadmissionpolicybinding,validatingadmissionpolicy',
      ADMISSION,
      '--ignore-not-found',
    ]);
  },
  timeoutMs: 240_000,
});
const tokens = fx.tokens;

describe.each(['v2', 'v1'] as const)('dryRun (%s client)', (kind) => {
  it('checks everything, changes nothing, records no Event, and is audited as a dry run', async () => {
    const c = await client(kind, 'dry');
    const out = okOf(
      await c.callTool('scale_deployment', { namespace: NS.web, name: 'dry', replicas: 3, dryRun: true }),
    );
    expect(out).toMatchObject({ from: 1, to: 3, changed: false, dryRun: true });
    expect(await replicasOf('dry')).toBe(1);
    expect(await scaledEvents(NS.web, 'Deployment', 'dry')).toEqual([]);
    const audit = replica('A')
      .audits()
      .filter((a) => a.tool === 'scale_deployment' && a.arguments.name === 'dry');
    expect(audit.at(-1)).toMatchObject({ decision: 'allow', outcome: 'ok', dryRun: true });
  });

  it('reports a change the API server would refuse (admission) as refused', async () => {
    const c = await client(kind, 'dry');
    const result = await c.callTool('scale_deployment', {
      namespace: NS.web,
      name: 'dry',
      replicas: ADMISSION_LIMIT + 1,
      dryRun: true,
    });
    expect(errorOf(result).code).toBe('Invalid');
    expect(errorOf(result).reason).toContain(`at most ${ADMISSION_LIMIT} replicas in this namespace`);
    expect(await replicasOf('dry')).toBe(1);
  });

  it('is refused by the policy before the API server is asked', async () => {
    const c = await client(kind, 'dry');
    const result = await c.callTool('scale_deployment', {
      namespace: NS.web,
      name: 'dry',
      replicas: 11,
      dryRun: true,
    });
    expect(errorOf(result).code).toBe('OutOfBounds');
  });
});

describe('replicas.maxStep', () => {
  it.each(['v2', 'v1'] as const)(
    'refuses a larger step and allows one within it (%s client)',
    async (kind) => {
      const c = await client(kind, 'stepper');
      const from = (await replicasOf('step')) ?? 1;
      const jump = await c.callTool('scale_deployment', {
        namespace: NS.web,
        name: 'step',
        replicas: from + 3,
      });
      expect(errorOf(jump).code).toBe('OutOfBounds');
      expect(errorOf(jump).suggestions.join(' ')).toContain(`scale to ${from + 2} first`);
      expect(await replicasOf('step')).toBe(from);
      okOf(await c.callTool('scale_deployment', { namespace: NS.web, name: 'step', replicas: from + 1 }));
      expect(await replicasOf('step')).toBe(from + 1);
    },
  );
});

describe('cooldownSeconds across two replicas', () => {
  it('a scale through replica A puts the object in its cool-down for replica B too', async () => {
    const a = await client('v2', 'cooler', 'A');
    const b = await client('v1', 'cooler', 'B');
    okOf(await a.callTool('scale_deployment', { namespace: NS.web, name: 'cool', replicas: 2 }));
    const refused = await b.callTool('scale_deployment', { namespace: NS.web, name: 'cool', replicas: 3 });
    const error = errorOf(refused) as ReturnType<typeof errorOf> & { retryAfterSeconds?: number };
    expect(error.code).toBe('RateLimited');
    expect(error.retryAfterSeconds).toBeGreaterThan(200);
    expect(error.retryAfterSeconds).toBeLessThanOrEqual(301);
    expect(error.suggestions.length).toBeGreaterThan(0);
    // And for A itself, from the cluster state.
    expect(
      errorOf(await a.callTool('scale_deployment', { namespace: NS.web, name: 'cool', replicas: 3 })).code,
    ).toBe('RateLimited');
    expect(await replicasOf('cool')).toBe(2);
    // A dry run is checked the same way.
    expect(
      errorOf(
        await b.callTool('scale_deployment', { namespace: NS.web, name: 'cool', replicas: 3, dryRun: true }),
      ).code,
    ).toBe('RateLimited');
  });
});

describe('rateLimit', () => {
  it('refuses with retryAfterSeconds; each replica counts its own calls', async () => {
    const a = await client('v2', 'limited', 'A');
    const b = await client('v1', 'limited', 'B');
    for (let i = 0; i < 3; i++) okOf(await a.callTool('list_deployments', { namespace: NS.web }));
    const refused = await a.callTool('list_deployments', { namespace: NS.web });
    const error = errorOf(refused) as ReturnType<typeof errorOf> & { retryAfterSeconds?: number };
    expect(error.code).toBe('RateLimited');
    expect(error.retryAfterSeconds).toBeGreaterThan(0);
    expect(error.retryAfterSeconds).toBeLessThanOrEqual(60);
    expect(error.suggestions.length).toBeGreaterThan(0);
    // Per replica (documented): replica B has its own window of 3.
    for (let i = 0; i < 3; i++) okOf(await b.callTool('list_deployments', { namespace: NS.web }));
    expect(errorOf(await b.callTool('list_deployments', { namespace: NS.web })).code).toBe('RateLimited');
  });
});

describe('requireKubernetesRBAC', () => {
  it.each(['v2', 'v1'] as const)(
    'denies a caller with the McpPolicy but no RBAC, and allows it once a RoleBinding grants it (%s client)',
    async (kind) => {
      const c = await client(kind, 'keyed');
      const denied = errorOf(await c.callTool('list_deployments', { namespace: NS.web }));
      expect(denied.code).toBe('PolicyDenied');
      expect(denied.message).toContain(`list deployments (API group apps) in namespace ${NS.web}`);
      const role = `e2e-safety-keyed-${kind}`;
      runKubectl(['create', 'role', role, '-n', NS.web, '--verb=list', '--resource=deployments.apps']);
      runKubectl([
        'create',
        'rolebinding',
        role,
        '-n',
        NS.web,
        `--role=${role}`,
        `--serviceaccount=${NS.agents}:keyed`,
      ]);
      try {
        // The denial is cached for at most 10 s.
        await eventually(
          'the RoleBinding to let the call through',
          async () => (await c.callTool('list_deployments', { namespace: NS.web })).isError !== true,
          30_000,
        );
        // list is not update deployments/scale: the scale is still refused.
        const scale = errorOf(
          await c.callTool('scale_deployment', { namespace: NS.web, name: 'dry', replicas: 2 }),
        );
        expect(scale.message).toContain('update deployments/scale');
      } finally {
        runKubectl(['delete', 'rolebinding,role', role, '-n', NS.web, '--ignore-not-found']);
      }
      await eventually(
        'the removed RoleBinding to deny again',
        async () => (await c.callTool('list_deployments', { namespace: NS.web })).isError === true,
        30_000,
      );
    },
  );
});

describe('one decision per call', () => {
  /** SubjectAccessReviews replica A sent and the API server denied. */
  async function deniedReviews(): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${replica('A').healthPort}/metrics`)).text();
    const m = /kubemcp_subjectaccessreview_lookups_total\{result="denied"\} (\d+)/.exec(text);
    return m ? Number(m[1]) : 0;
  }

  it('a scale only the RBAC-keyed policy allows is reviewed before RBAC is named, and audited with that policy', async () => {
    const c = await client('v2', 'overlap');
    const before = await deniedReviews();
    const denied = errorOf(
      await c.callTool('scale_deployment', { namespace: NS.web, name: 'dry', replicas: 8, dryRun: true }),
    );
    expect(denied.code).toBe('PolicyDenied');
    expect(denied.message).toContain('Your Kubernetes RBAC does not allow update deployments/scale');
    expect(await deniedReviews()).toBe(before + 1);
    const audit = replica('A')
      .audits()
      .filter((a) => a.tool === 'scale_deployment' && a.caller.user.endsWith(':overlap'));
    expect(audit.at(-1)).toMatchObject({
      decision: 'deny',
      policies: [OVERLAP_KEYED],
      outcome: 'PolicyDenied',
    });
    // Within the bounds of the policy without the key: allowed, and no review is sent.
    okOf(await c.callTool('scale_deployment', { namespace: NS.web, name: 'dry', replicas: 2, dryRun: true }));
    expect(await deniedReviews()).toBe(before + 1);
    // Both policies allow a scale to 2: the engine's decision names both; the key is not needed.
    const allowed = replica('A').audits().at(-1);
    expect(allowed?.decision).toBe('allow');
    expect([...(allowed?.policies ?? [])].sort()).toEqual([policyName('overlap'), OVERLAP_KEYED].sort());
  });
});

describe('confirm', () => {
  it.each(['v2', 'v1'] as const)(
    'a client that cannot ask a human is refused with ConfirmationRequired (%s client)',
    async (kind) => {
      const c = await client(kind, 'confirmer');
      const result = await c.callTool('scale_deployment', {
        namespace: NS.web,
        name: 'confirm',
        replicas: 3,
      });
      expect(errorOf(result).code).toBe('ConfirmationRequired');
      expect(await replicasOf('confirm')).toBe(1);
      // A change no rule matches needs no confirmation.
      okOf(await c.callTool('scale_deployment', { namespace: NS.web, name: 'confirm', replicas: 2 }));
      okOf(await c.callTool('scale_deployment', { namespace: NS.web, name: 'confirm', replicas: 1 }));
    },
  );

  /** The v2 SDK client (2026-07-28) with the elicitation capability, answering every form with `answer`. */
  async function askingClient(answer: 'accept' | 'decline', asked: string[]): Promise<ClientV2> {
    const c = new ClientV2(
      { name: 'kubemcp-e2e-confirming', version: '1.0.0' },
      { versionNegotiation: { mode: { pin: MODERN } }, capabilities: { elicitation: { form: {} } } },
    );
    c.setRequestHandler('elicitation/create', async (request) => {
      asked.push(String((request.params as { message?: unknown }).message));
      return answer === 'accept' ? { action: 'accept', content: { confirm: true } } : { action: 'decline' };
    });
    await c.connect(
      new TransportV2(new URL(replica('A').url), {
        requestInit: { headers: { Authorization: `Bearer ${tokens.confirmer}` } },
      }),
    );
    return c;
  }

  it('an elicitation-capable client (2026-07-28) asks; declined changes nothing, accepted scales', async () => {
    const asked: string[] = [];
    const declining = await askingClient('decline', asked);
    try {
      const declined = (await declining.callTool({
        name: 'scale_deployment',
        arguments: { namespace: NS.web, name: 'confirm', replicas: 3 },
      })) as ToolResult;
      expect(errorOf(declined).code).toBe('ConfirmationRequired');
      expect(await replicasOf('confirm')).toBe(1);
    } finally {
      await declining.close();
    }
    const accepting = await askingClient('accept', asked);
    try {
      const accepted = okOf(
        (await accepting.callTool({
          name: 'scale_deployment',
          arguments: { namespace: NS.web, name: 'confirm', replicas: 3 },
        })) as ToolResult,
      );
      expect(accepted).toMatchObject({ from: 1, to: 3, changed: true });
      expect(await replicasOf('confirm')).toBe(3);
    } finally {
      await accepting.close();
    }
    expect(asked).toHaveLength(2);
    expect(asked[0]).toContain('from 1 to 3 replicas');
    const audit = replica('A')
      .audits()
      .filter((a) => a.tool === 'scale_deployment' && a.arguments.name === 'confirm' && a.outcome === 'ok');
    expect(audit.at(-1)).toMatchObject({
      confirmedVia: 'elicitation through kubemcp-e2e-confirming 1.0.0 (client-reported name)',
      confirmation: { answer: 'accepted', flow: 'input_required', revision: MODERN },
    });
  });

  /** The v1 SDK client (2025-era initialize) with the elicitation capability; `answer` decides. */
  async function askingV1(
    answer: (id: string | number, message: string) => Promise<ElicitResult>,
  ): Promise<{ client: ClientV1; transport: TransportV1 }> {
    const client = new ClientV1(
      { name: 'kubemcp-e2e-v1-confirming', version: '1.0.0' },
      { capabilities: { elicitation: { form: {} } } },
    );
    client.setRequestHandler(ElicitRequestSchema, (request, extra) =>
      answer(extra.requestId, String(request.params.message)),
    );
    const transport = new TransportV1(new URL(replica('A').url), {
      requestInit: { headers: { Authorization: `Bearer ${tokens.confirmer}` } },
    });
    await client.connect(transport);
    clients.push({ close: () => client.close() } as McpCaller);
    return { client, transport };
  }

  const scaleV1 = async (client: ClientV1, replicas: number) =>
    (await client.callTool({
      name: 'scale_deployment',
      arguments: { namespace: NS.web, name: 'confirm-v1', replicas },
    })) as ToolResult;

  /** A raw 2025-era POST of an answer to elicitation/create. */
  async function answerPost(
    which: 'A' | 'B',
    id: string | number,
    token: string,
    sessionId: string | undefined,
  ): Promise<{ status: number; body: string }> {
    const res = await fetch(replica(which).url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        Authorization: `Bearer ${token}`,
        'MCP-Protocol-Version': '2025-06-18',
        ...(sessionId === undefined ? {} : { 'Mcp-Session-Id': sessionId }),
      },
      body: JSON.stringify({ jsonrpc: '2.0', id, result: { action: 'accept', content: { confirm: true } } }),
    });
    return { status: res.status, body: await res.text() };
  }

  it('an elicitation-capable v1 client (2025-era) is asked within the call; declined changes nothing, accepted scales', async () => {
    const asked: string[] = [];
    const declining = await askingV1(async (_id, message) => {
      asked.push(message);
      return { action: 'decline' };
    });
    expect(declining.transport.sessionId).toMatch(/^kmcs1\./);
    const declined = errorOf(await scaleV1(declining.client, 3));
    expect(declined.code).toBe('ConfirmationRequired');
    expect(declined.reason).toContain('declined or cancelled');
    expect(await replicasOf('confirm-v1')).toBe(1);
    await declining.client.close();

    const accepting = await askingV1(async (_id, message) => {
      asked.push(message);
      return { action: 'accept', content: { confirm: true } };
    });
    expect(okOf(await scaleV1(accepting.client, 3))).toMatchObject({ from: 1, to: 3, changed: true });
    expect(await replicasOf('confirm-v1')).toBe(3);
    await accepting.client.close();

    expect(asked).toHaveLength(2);
    expect(asked[0]).toContain(`Deployment ${NS.web}/confirm-v1 from 1 to 3 replicas`);
    const audit = replica('A')
      .audits()
      .filter((a) => a.tool === 'scale_deployment' && a.arguments.name === 'confirm-v1');
    const revision = accepting.transport.protocolVersion;
    expect(revision).toMatch(/^2025-/);
    expect(audit.map((a) => [a.outcome, a.confirmation])).toEqual([
      [
        'ConfirmationRequired',
        {
          answer: 'declined',
          flow: 'elicitation/create',
          revision,
          client: 'kubemcp-e2e-v1-confirming 1.0.0',
        },
      ],
      [
        'ok',
        {
          answer: 'accepted',
          flow: 'elicitation/create',
          revision,
          client: 'kubemcp-e2e-v1-confirming 1.0.0',
        },
      ],
    ]);
    expect(audit.at(-1)).toMatchObject({
      caller: { user: `system:serviceaccount:${NS.agents}:confirmer` },
      confirmedVia: 'elicitation through kubemcp-e2e-v1-confirming 1.0.0 (client-reported name)',
    });
  });

  it('a v1 answer counts once, from the caller asked, at the replica that asked', async () => {
    const from = (await replicasOf('confirm-v1')) ?? 3;
    const tries: { id: string | number; foreign: number; misrouted: number }[] = [];
    let sessionId: string | undefined;
    const { client, transport } = await askingV1(async (id) => {
      // Another agent holding the id: refused, the question stays open.
      const foreign = await answerPost('A', id, tokens.dry, sessionId);
      // The right caller, at the other replica: refused there as misrouted (fail closed).
      const misrouted = await answerPost('B', id, tokens.confirmer, sessionId);
      tries.push({ id, foreign: foreign.status, misrouted: misrouted.status });
      return { action: 'accept', content: { confirm: true } };
    });
    sessionId = transport.sessionId;
    okOf(await scaleV1(client, from + 1));
    expect(await replicasOf('confirm-v1')).toBe(from + 1);
    expect(tries).toHaveLength(1);
    expect(tries[0]).toMatchObject({ foreign: 400, misrouted: 409 });
    // Replayed after it counted, and a forged id: nothing is waiting for either.
    const replay = await answerPost('A', tries[0]?.id ?? '', tokens.confirmer, sessionId);
    expect(replay.status).toBe(400);
    expect(replay.body).toContain('no question with this id is waiting for your answer');
    // A made-up id in the shape of A's own ids (same process tag).
    const tag = String(tries[0]?.id).split('.')[1];
    const forged = await answerPost('A', `kmce1.${tag}.${'A'.repeat(43)}`, tokens.confirmer, sessionId);
    expect(forged.status).toBe(400);
    expect(await replicasOf('confirm-v1')).toBe(from + 1);
    expect(
      replica('B')
        .records()
        .some((r) =>
          String(r.msg).includes('an answer to a confirmation reached a replica that did not ask it'),
        ),
    ).toBe(true);
  });
});
