/**
 * The operational side of agent safety on a real cluster, with `kubemcp serve` running AS the
 * operator ServiceAccount under the shipped RBAC:
 * - the confirmation key is shared through the Secret kubemcp-system/kubemcp-confirmation-key, which
 *   the first of two replicas started together creates: an answer to a confirmation that replica A
 *   asked for is accepted by replica B; a replica with another key refuses it;
 * - the leader's sweep deletes cool-down Leases too old to refuse a scale and keeps the others;
 * - with requireKubernetesRBAC, many calls of one caller on one namespace and action within the
 *   cache period cost exactly one SubjectAccessReview.
 */

import { CoordinationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { microTime } from '../../src/kube/microtime.js';
import { mcpFixture } from './fixture.js';
import {
  dumpMcpDiagnostics,
  MODERN,
  permissionProblems,
  readDeployment,
  runKubectl,
  type ServeProcess,
  startServe,
  uniqueSuffix,
} from './mcp-support.js';
import { eventually, kubeConfig } from './support.js';

const s = uniqueSuffix();
const NS = { web: `e2e-safetyops-web-${s}`, agents: `e2e-safetyops-agents-${s}` } as const;
const OPERATOR_NS = 'kubemcp-system';
const SECRET = 'kubemcp-confirmation-key';
const POLICY = `e2e-safetyops-${s}`;
const AGENT = 'confirmer';
const KEYED = 'keyed';
const KEYED_POLICY = `e2e-safetyops-${s}-keyed`;
const DEPLOYMENT = 'confirm';
// The sweep runs every second here (default 10 minutes), so the test need not wait.
const FAST_SWEEP = ['--scale-lease-sweep-interval', '1'];

let serveOther: ServeProcess | undefined;
let token = '';
let keyedToken = '';
const createdLeases: string[] = [];

const core = () => kubeConfig().makeApiClient(CoreV1Api);
const coordination = () => kubeConfig().makeApiClient(CoordinationV1Api);

function running(serve: ServeProcess | undefined, name: string): ServeProcess {
  if (!serve) throw new Error(`kubemcp serve ${name} is not running`);
  return serve;
}

interface RpcAnswer {
  result?: {
    resultType?: string;
    requestState?: string;
    isError?: boolean;
    structuredContent?: Record<string, unknown>;
  };
  error?: { code: number; message: string };
}

const META = {
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientInfo': { name: 'e2e-raw', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': { elicitation: { form: {} } },
};

/** One raw 2026-07-28 tools/call. */
async function rawCall(
  serve: ServeProcess,
  bearer: string,
  tool: string,
  args: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Promise<RpcAnswer> {
  const res = await fetch(serve.url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      Authorization: `Bearer ${bearer}`,
      'MCP-Protocol-Version': MODERN,
      'Mcp-Method': 'tools/call',
      'Mcp-Name': tool,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: tool, arguments: args, _meta: META, ...extra },
    }),
  });
  return JSON.parse(await res.text()) as RpcAnswer;
}

/** A scale_deployment call of the confirming agent, optionally carrying a confirmation answer. */
function scaleCall(
  serve: ServeProcess,
  replicas: number,
  answer?: { requestState: string; accept: boolean },
): Promise<RpcAnswer> {
  return rawCall(
    serve,
    token,
    'scale_deployment',
    { namespace: NS.web, name: DEPLOYMENT, replicas },
    answer === undefined
      ? {}
      : {
          requestState: answer.requestState,
          inputResponses: {
            confirm: answer.accept ? { action: 'accept', content: { confirm: true } } : { action: 'decline' },
          },
        },
  );
}

/** Asks `serve` for the scale and returns the signed requestState of its input_required answer. */
async function askedBy(serve: ServeProcess, replicas: number): Promise<string> {
  const first = await scaleCall(serve, replicas);
  expect(first.result?.resultType).toBe('input_required');
  const state = first.result?.requestState;
  if (typeof state !== 'string') throw new Error(`no requestState: ${JSON.stringify(first)}`);
  return state;
}

async function replicas(): Promise<number | undefined> {
  return (await readDeployment(NS.web, DEPLOYMENT)).spec?.replicas;
}

/** A metric's value (`name` may carry labels, e.g. `x_total{result="allowed"}`); 0 when not exported yet. */
async function metric(serve: ServeProcess, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${serve.healthPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

async function secretKey(): Promise<string | undefined> {
  try {
    const secret = await core().readNamespacedSecret({ namespace: OPERATOR_NS, name: SECRET });
    return secret.data?.key;
  } catch {
    return undefined;
  }
}

const fx = mcpFixture({
  namespaces: [NS.web, NS.agents],
  deployments: [{ namespace: NS.web, name: DEPLOYMENT, replicas: 1 }],
  serviceAccounts: [
    { namespace: NS.agents, name: AGENT },
    { namespace: NS.agents, name: KEYED },
  ],
  policies: {
    [KEYED_POLICY]: {
      subjects: [{ kind: 'ServiceAccount', name: KEYED, namespace: NS.agents }],
      namespaces: { names: [NS.web] },
      tools: ['list_deployments', 'list_pods'],
      requireKubernetesRBAC: true,
    },
    [POLICY]: {
      subjects: [{ kind: 'ServiceAccount', name: AGENT, namespace: NS.agents }],
      namespaces: { names: [NS.web] },
      tools: ['list_deployments', 'scale_deployment'],
      replicas: { min: 0, max: 10 },
      confirm: { above: 2 },
    },
  },
  beforeServe: async () => {
    // The keyed agent's own RBAC allows what its policy grants, so its reviews are answered "allowed".
    runKubectl(['create', 'role', KEYED, '-n', NS.web, '--verb=list', '--resource=deployments.apps,pods']);
    runKubectl([
      'create',
      'rolebinding',
      KEYED,
      '-n',
      NS.web,
      `--role=${KEYED}`,
      `--serviceaccount=${NS.agents}:${KEYED}`,
    ]);
    // Start from no Secret, so that the replicas below create it (e2e files run one at a time).
    await core()
      .deleteNamespacedSecret({ namespace: OPERATOR_NS, name: SECRET })
      .catch(() => undefined);
    await eventually('the old Secret to be gone', async () => (await secretKey()) === undefined);
  },
  // Two replicas started together race to create the Secret.
  serve: [
    { identity: `e2e-safetyops-a-${s}`, extraArgs: FAST_SWEEP },
    { identity: `e2e-safetyops-b-${s}`, extraArgs: FAST_SWEEP },
  ],
  startTogether: true,
  tokens: { agent: { namespace: NS.agents, name: AGENT }, keyed: { namespace: NS.agents, name: KEYED } },
  afterSetup: async (f) => {
    token = f.tokens.agent;
    keyedToken = f.tokens.keyed;
    // Both replicas' indexes hold the policy.
    for (const serve of f.serves) {
      // 1 → 1 needs no confirmation and changes nothing.
      await eventually('the policy to grant scale_deployment', async () => {
        const a = await scaleCall(serve, 1);
        return (
          a.result !== undefined && a.result.isError !== true && a.result.resultType !== 'input_required'
        );
      });
    }
  },
  onFailure: () => dumpMcpDiagnostics(serveOther, [], []),
  cleanup: async () => {
    await serveOther?.stop();
    for (const name of createdLeases)
      await coordination()
        .deleteNamespacedLease({ namespace: OPERATOR_NS, name })
        .catch(() => undefined);
  },
  timeoutMs: 240_000,
});
const serveA = (): ServeProcess | undefined => fx.serves[0];
const serveB = (): ServeProcess | undefined => fx.serves[1];

describe('the confirmation key, shared through a Secret', () => {
  it('is created once, by one of two replicas started together, and never logged', async () => {
    const a = running(serveA(), 'A');
    const b = running(serveB(), 'B');
    const secret = await core().readNamespacedSecret({ namespace: OPERATOR_NS, name: SECRET });
    expect(secret.type).toBe('Opaque');
    expect(secret.immutable).toBe(true);
    const key = secret.data?.key ?? '';
    expect(Buffer.from(key, 'base64')).toHaveLength(32);
    const created = [a, b].flatMap((r) =>
      r.records().filter((l) => String(l.msg).startsWith('created the confirmation key Secret')),
    );
    const loaded = [a, b].flatMap((r) =>
      r.records().filter((l) => l.msg === 'loaded the confirmation key from its Secret'),
    );
    expect(created).toHaveLength(1);
    expect(loaded).toHaveLength(1);
    for (const r of [a, b]) {
      expect(await metric(r, 'kubemcp_confirmation_key_shared')).toBe(1);
      expect(r.lines.join('\n')).not.toContain(key);
      expect(permissionProblems(r)).toEqual([]);
    }
  });

  it('an answer to a confirmation replica A asked for is accepted by replica B', async () => {
    const a = running(serveA(), 'A');
    const b = running(serveB(), 'B');
    const state = await askedBy(a, 3);
    expect(await replicas()).toBe(1);
    const answered = await scaleCall(b, 3, { requestState: state, accept: true });
    expect(answered.error).toBeUndefined();
    expect(answered.result?.isError).not.toBe(true);
    expect(answered.result?.structuredContent).toMatchObject({ from: 1, to: 3, changed: true });
    expect(await replicas()).toBe(3);
    const audit = b.audits().filter((r) => r.tool === 'scale_deployment' && r.outcome === 'ok');
    expect(audit.at(-1)).toMatchObject({
      confirmedVia: 'elicitation through e2e-raw 1 (client-reported name)',
    });
  });

  it('a replica with another key refuses that answer (fail closed) and changes nothing', async () => {
    const a = running(serveA(), 'A');
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubemcp-key-'));
    const file = path.join(dir, 'key');
    // A key of its own (random: a low-entropy key is refused at start).
    const { randomBytes } = await import('node:crypto');
    fs.writeFileSync(file, randomBytes(32), { mode: 0o600 });
    try {
      serveOther = await startServe({
        identity: `e2e-safetyops-other-${s}`,
        extraArgs: ['--confirmation-key-file', file],
      });
      const other = serveOther;
      const state = await askedBy(a, 4);
      const refused = await scaleCall(other, 4, { requestState: state, accept: true });
      expect(refused.error?.code).toBe(-32602);
      expect(await replicas()).toBe(3);
      // The same replica accepts an answer to its own question: the refusal was the key's.
      const own = await askedBy(other, 4);
      const accepted = await scaleCall(other, 4, { requestState: own, accept: true });
      expect(accepted.result?.structuredContent).toMatchObject({ from: 3, to: 4, changed: true });
      expect(await replicas()).toBe(4);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the sweep of cool-down Leases', () => {
  async function createLease(
    name: string,
    ageSeconds: number,
    durationSeconds: number,
    labelled: boolean,
  ): Promise<void> {
    runKubectl(
      ['create', '-f', '-'],
      JSON.stringify({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          name,
          namespace: OPERATOR_NS,
          ...(labelled
            ? {
                labels: {
                  'app.kubernetes.io/managed-by': 'kubemcp',
                  'kubemcp.io/purpose': 'scale-cooldown',
                },
              }
            : {}),
        },
        spec: {
          holderIdentity: 'e2e',
          renewTime: microTime(Date.now() - ageSeconds * 1000),
          leaseDurationSeconds: durationSeconds,
        },
      }),
    );
    createdLeases.push(name);
  }

  async function exists(name: string): Promise<boolean> {
    try {
      await coordination().readNamespacedLease({ namespace: OPERATOR_NS, name });
      return true;
    } catch {
      return false;
    }
  }

  it('the leader deletes Leases too old to refuse any scale, labelled or not, and keeps live ones', async () => {
    const a = running(serveA(), 'A');
    const b = running(serveB(), 'B');
    const deletedBefore =
      (await metric(a, 'kubemcp_scale_leases_deleted_total')) +
      (await metric(b, 'kubemcp_scale_leases_deleted_total'));
    const day = 86_400;
    const old = `kubemcp-scale-e2e-old-${s}`;
    const unlabelled = `kubemcp-scale-e2e-unlabelled-${s}`;
    const live = `kubemcp-scale-e2e-live-${s}`;
    const recentShort = `kubemcp-scale-e2e-recent-${s}`;
    const notOurs = `e2e-other-${s}`;
    await createLease(old, 2 * day, 60, true);
    await createLease(unlabelled, 3 * day, 120, false);
    await createLease(live, 10, 300, true); // in its cool-down
    await createLease(recentShort, 600, 5, true); // its 5 s hold expired, but a raised policy could still use it
    await createLease(notOurs, 3 * day, 60, false);
    await eventually(
      'the expired cool-down Leases to be deleted',
      async () => !(await exists(old)) && !(await exists(unlabelled)),
      30_000,
    );
    // A few more sweeps (one per second) leave the others alone.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await exists(live)).toBe(true);
    expect(await exists(recentShort)).toBe(true);
    expect(await exists(notOurs)).toBe(true);
    expect(await exists('kubemcp-operator')).toBe(true);
    const deletedAfter =
      (await metric(a, 'kubemcp_scale_leases_deleted_total')) +
      (await metric(b, 'kubemcp_scale_leases_deleted_total'));
    expect(deletedAfter - deletedBefore).toBe(2);
    // Only the leader sweeps.
    const leader = (await metric(a, 'kubemcp_leader')) === 1 ? a : b;
    const follower = leader === a ? b : a;
    expect(await metric(follower, 'kubemcp_scale_leases_deleted_total')).toBe(0);
    for (const r of [a, b]) {
      expect(await metric(r, 'kubemcp_scale_lease_sweep_errors_total')).toBe(0);
      expect(permissionProblems(r)).toEqual([]);
    }
  });
});

describe('requireKubernetesRBAC: the cost of the second key', () => {
  const lookups = async (serve: ServeProcess) => {
    const of = (result: string) =>
      metric(serve, `kubemcp_subjectaccessreview_lookups_total{result="${result}"}`);
    return {
      sent: (await of('allowed')) + (await of('denied')) + (await of('error')),
      // Answered without a review of their own: from the cache, or by joining one in flight.
      saved: (await of('cache_hit')) + (await of('shared')),
    };
  };

  it('30 calls of one caller on one namespace and action within the cache period send exactly one SubjectAccessReview', async () => {
    const b = running(serveB(), 'B');
    // The policy is in B's index once list_pods (another action, so another cache entry) answers.
    await eventually('replica B to grant list_pods', async () => {
      const r = await rawCall(b, keyedToken, 'list_pods', { namespace: NS.web });
      return r.result !== undefined && r.result.isError !== true;
    });
    const before = await lookups(b);
    const started = Date.now();
    const call = () => rawCall(b, keyedToken, 'list_deployments', { namespace: NS.web });
    // 8 at once (the per-caller in-flight limit: a ninth would be refused with 429), then one by one.
    const answers = [...(await Promise.all(Array.from({ length: 8 }, call)))];
    for (let i = 0; i < 22; i++) answers.push(await call());
    const elapsed = Date.now() - started;
    const after = await lookups(b);
    expect(elapsed).toBeLessThan(10_000); // within one cache period, or the count below means nothing
    expect(answers.filter((r) => r.result === undefined || r.result.isError === true)).toEqual([]);
    expect(after.sent - before.sent).toBe(1);
    expect(after.saved - before.saved).toBe(29);
  });
});
