/**
 * One engine: for random McpPolicies, callers and calls, the verdict `kubemcp test` gives from
 * policy files equals the answer of `kubemcp serve` with the same policies applied to the local
 * control plane. Each fast-check run writes its policies to files and applies them to the cluster
 * (new names per run), waits until the server's get_permissions shows exactly the policies the
 * offline engine grants each caller, then sends every call to the server (scale calls as dry runs,
 * so the Deployments keep their count) and runs the same calls as cases of a kubemcp-test.yaml.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { DEFAULT_OPERATOR_NAMESPACE } from '../../src/cli/check.js';
import { permissions, serviceAccountUsername } from '../../src/policy/index.js';
import { callerFor } from '../../src/policyfile/caller.js';
import { compileSet, loadPolicyFiles } from '../../src/policyfile/policies.js';
import { runTests } from '../../src/policyfile/run.js';
import { mcpFixture } from './fixture.js';
import {
  connect,
  createPolicy,
  deletePolicy,
  dumpMcpDiagnostics,
  type McpCaller,
  uniqueSuffix,
  waitPolicyReady,
} from './mcp-support.js';
import { eventually } from './support.js';

const s = uniqueSuffix();
const LABEL = `oracle-${s}`;
const NS = { a: `e2e-oracle-a-${s}`, b: `e2e-oracle-b-${s}`, agents: `e2e-oracle-agents-${s}` } as const;
const BOTS = ['bot-0', 'bot-1', 'bot-2'] as const;
const DEPLOYMENT = 'web';
const CURRENT = 2;
const RUNS = 25;
const CALLS = 20;

const clients = new Map<string, McpCaller>();
const applied: string[] = [];

const subjectArb = fc.oneof(
  fc.constantFrom(...BOTS).map((name) => ({ kind: 'ServiceAccount', name, namespace: NS.agents })),
  fc.constant({ kind: 'Group', name: `system:serviceaccounts:${NS.agents}` }),
  fc.constant({ kind: 'User', name: serviceAccountUsername(NS.agents, 'bot-1') }),
);
const namespacesArb = fc.oneof(
  fc
    .subarray([NS.a, NS.b, `e2e-oracle-?-${s}`, `e2e-oracle-a-*`], { minLength: 1 })
    .map((names) => ({ names })),
  fc
    .constantFrom('a', 'b')
    .map((v) => ({ selector: { matchExpressions: [{ key: LABEL, operator: 'In', values: [v] }] } })),
);
const specArb = fc
  .record({
    subjects: fc.uniqueArray(subjectArb, { minLength: 1, maxLength: 2, selector: (x) => JSON.stringify(x) }),
    namespaces: namespacesArb,
    tools: fc.subarray(['list_pods', 'list_deployments', 'scale_deployment'], { minLength: 1 }),
    min: fc.integer({ min: 0, max: 3 }),
    span: fc.integer({ min: 0, max: 4 }),
    maxStep: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
  })
  .map(({ min, span, maxStep, ...rest }) => ({
    ...rest,
    ...(rest.tools.includes('scale_deployment')
      ? { replicas: { min, max: min + span, ...(maxStep === undefined ? {} : { maxStep }) } }
      : {}),
  }));
const callArb = fc.record({
  bot: fc.constantFrom(...BOTS),
  tool: fc.constantFrom('list_pods', 'list_deployments', 'scale_deployment'),
  ns: fc.constantFrom(NS.a, NS.b),
  replicas: fc.integer({ min: 0, max: 7 }),
});

function policyFile(name: string, spec: unknown): string {
  return stringify({ apiVersion: 'kubemcp.io/v1alpha1', kind: 'McpPolicy', metadata: { name }, spec });
}

function namespaceDocs(): string {
  return [NS.a, NS.b]
    .map((name) =>
      stringify({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name, labels: { [LABEL]: name === NS.a ? 'a' : 'b' } },
      }),
    )
    .join('---\n');
}

type Call = { bot: string; tool: string; ns: string; replicas: number };

function manifest(calls: readonly Call[]): string {
  return stringify({
    apiVersion: 'cli.kubemcp.io/v1alpha1',
    kind: 'PolicyTest',
    policies: ['policies'],
    cases: calls.map((c, i) => ({
      name: `call ${i}`,
      caller: { serviceAccount: `${NS.agents}/${c.bot}` },
      tool: c.tool,
      namespace: c.ns,
      ...(c.tool === 'scale_deployment' ? { replicas: c.replicas, currentReplicas: CURRENT } : {}),
      expect: 'allow',
    })),
  });
}

/** What the server answered: "allow", or the code of the refusal. */
async function serverAnswer(c: Call): Promise<string> {
  const client = clients.get(c.bot);
  if (!client) throw new Error(`no client for ${c.bot}`);
  const args =
    c.tool === 'scale_deployment'
      ? { namespace: c.ns, name: DEPLOYMENT, replicas: c.replicas, dryRun: true }
      : { namespace: c.ns };
  const result = await client.callTool(c.tool, args);
  if (result.isError !== true) return 'allow';
  return String((result.structuredContent?.error as { code?: string } | undefined)?.code);
}

mcpFixture({
  namespaces: [{ name: NS.a, labels: { [LABEL]: 'a' } }, { name: NS.b, labels: { [LABEL]: 'b' } }, NS.agents],
  deployments: [NS.a, NS.b].map((namespace) => ({ namespace, name: DEPLOYMENT, replicas: CURRENT })),
  serviceAccounts: BOTS.map((name) => ({ namespace: NS.agents, name })),
  serve: [{ identity: `oracle-${s}` }],
  tokens: Object.fromEntries(BOTS.map((name) => [name, { namespace: NS.agents, name }])) as Record<
    (typeof BOTS)[number],
    { namespace: string; name: string }
  >,
  afterSetup: async (fx) => {
    for (const bot of BOTS) clients.set(bot, await connect('v2', fx.serve.url, fx.tokens[bot]));
  },
  onFailure: () => dumpMcpDiagnostics(undefined, [], applied),
  cleanup: async () => {
    for (const c of clients.values()) await c.close().catch(() => undefined);
    for (const name of applied) await deletePolicy(name);
  },
});

describe('kubemcp test and kubemcp serve, one engine', () => {
  it('give the same answer for random policies, callers and calls', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(specArb, { minLength: 1, maxLength: 3 }),
        fc.array(callArb, { minLength: CALLS, maxLength: CALLS }),
        async (specs, calls) => {
          run++;
          for (const name of applied.splice(0)) await deletePolicy(name);
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubemcp-oracle-'));
          fs.mkdirSync(path.join(dir, 'policies'));
          fs.writeFileSync(path.join(dir, 'policies', 'namespaces.yaml'), namespaceDocs());
          const names = specs.map((_, i) => `e2e-oracle-${s}-${run}-${i}`);
          for (const [i, spec] of specs.entries()) {
            const name = names[i] as string;
            fs.writeFileSync(path.join(dir, 'policies', `${name}.yaml`), policyFile(name, spec));
            await createPolicy(name, spec);
            applied.push(name);
          }
          for (const name of names) await waitPolicyReady(name);

          // The server has the new policies, and no old ones, when get_permissions says what the
          // offline engine says, for every caller.
          const loaded = loadPolicyFiles(['policies'], dir, dir);
          const offline = compileSet(loaded, DEFAULT_OPERATOR_NAMESPACE).index;
          for (const bot of BOTS) {
            const caller = callerFor(serviceAccountUsername(NS.agents, bot), []);
            const want = permissions(offline, caller).grants.map((g) => g.policy);
            await eventually(`get_permissions of ${bot} = ${want.join(',')}`, async () => {
              const r = await clients.get(bot)?.callTool('get_permissions', {});
              const got = ((r?.structuredContent?.grants ?? []) as { policy: string }[]).map((g) => g.policy);
              return JSON.stringify(got) === JSON.stringify(want);
            });
          }

          fs.writeFileSync(path.join(dir, 'kubemcp-test.yaml'), manifest(calls));
          const tested = runTests({
            paths: [dir],
            cwd: dir,
            defaultOperatorNamespace: DEFAULT_OPERATOR_NAMESPACE,
          });
          expect(tested.problems).toEqual([]);
          const offlineAnswers = tested.results.map((r) =>
            r.verdict?.allowed ? 'allow' : String(r.verdict?.code ?? r.message),
          );
          const serverAnswers: string[] = [];
          for (const c of calls) serverAnswers.push(await serverAnswer(c));
          expect(serverAnswers).toEqual(offlineAnswers);
          fs.rmSync(dir, { recursive: true, force: true });
        },
      ),
      { numRuns: RUNS, endOnFailure: true },
    );
  });
});
