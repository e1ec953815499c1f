/**
 * The audit says what the engine decided: for random policies and random tool calls, the audit
 * record's decision and policies equal those of evaluate() on the same call (replicas included).
 */

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile, evaluate, type PolicyObject } from '../../../src/policy/index.js';
import { call, connect, type Harness, IDENTITIES, startHarness, TOKENS } from './helpers.js';

const NAMESPACES = ['web', 'web-dev', 'production', 'payments', 'kube-system', 'not-yet'];
const LIST_TOOLS = ['list_pods', 'list_deployments', 'list_statefulsets', 'list_services'];
const TOOLS = [...LIST_TOOLS, 'list_namespaces', 'scale_deployment', 'scale_statefulset', 'get_permissions'];

const policyArb = (name: string) =>
  fc
    .record({
      group: fc.boolean(),
      tools: fc.subarray(
        TOOLS.filter((t) => t !== 'get_permissions'),
        { minLength: 1 },
      ),
      namespaces: fc.oneof(
        fc.constant(['*']),
        fc.subarray(NAMESPACES, { minLength: 1 }),
        fc.constant(['web-*']),
      ),
      min: fc.integer({ min: 0, max: 10 }),
      span: fc.integer({ min: 0, max: 20 }),
    })
    .map(
      (p): PolicyObject => ({
        name,
        generation: 1,
        spec: {
          subjects: [
            p.group
              ? { kind: 'Group', name: 'system:serviceaccounts:agents' }
              : { kind: 'ServiceAccount', name: 'copilot', namespace: 'agents' },
          ],
          tools: p.tools,
          namespaces: { names: p.namespaces },
          replicas: { min: p.min, max: p.min + p.span },
        },
      }),
    );

const policiesArb = fc
  .integer({ min: 0, max: 3 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => policyArb(`p${i}`))));

const callArb = fc.record({
  tool: fc.constantFrom(...TOOLS),
  namespace: fc.option(fc.constantFrom(...NAMESPACES), { nil: undefined }),
  replicas: fc.integer({ min: 0, max: 35 }),
});

function argumentsOf(c: { tool: string; namespace: string | undefined; replicas: number }) {
  if (c.tool.startsWith('scale_'))
    return { namespace: c.namespace ?? 'web', name: 'web', replicas: c.replicas };
  if (LIST_TOOLS.includes(c.tool)) return c.namespace === undefined ? {} : { namespace: c.namespace };
  return {};
}

describe('the audit records the engine’s decision', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('decision and policies equal evaluate() for random policies and calls', async () => {
    const client = await connect(h, TOKENS.copilot);
    const namespaces = h.backend.objects.namespace.map((n) => ({
      name: n.metadata?.name ?? '',
      labels: n.metadata?.labels ?? {},
    }));
    await fc.assert(
      fc.asyncProperty(
        policiesArb,
        fc.array(callArb, { minLength: 1, maxLength: 4 }),
        async (policies, calls) => {
          h.setPolicies(policies);
          const index = compile({ policies, namespaces });
          for (const c of calls) {
            const args = argumentsOf(c);
            const before = h.records().length;
            await call(client, c.tool, args);
            const audit = h
              .records()
              .slice(before)
              .find((r) => r.component === 'audit')?.audit as
              | { decision: string; policies: string[] }
              | undefined;
            const a = args as { namespace?: string; replicas?: number };
            const engine = evaluate(index, {
              caller: IDENTITIES.copilot,
              tool: c.tool,
              ...(a.namespace === undefined ? {} : { namespace: a.namespace }),
              ...(a.replicas === undefined ? {} : { replicas: a.replicas }),
            });
            expect(audit?.decision).toBe(engine.allowed ? 'allow' : 'deny');
            expect([...(audit?.policies ?? [])].sort()).toEqual([...engine.policies].sort());
          }
        },
      ),
      { numRuns: 60 },
    );
    // Each run makes up to four HTTP calls: give the whole property room on a busy machine.
  }, 60_000);
});
