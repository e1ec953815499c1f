/**
 * Property: a compile that reuses results through a memo kept across rebuilds decides every call as
 * a fresh compile does. Over random histories of edits (a tenant policy's bounds and tools, a
 * namespace's labels, a delegation's ceiling, nothing), the same memo follows the history while every
 * other object stays the same object, as the controller's watch cache keeps them; after each step
 * the memoized index and a fresh one answer a grid of calls alike.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Caller,
  type CompileInput,
  CompileMemo,
  compile,
  type DelegationObject,
  decideCall,
  KNOWN_TOOLS,
  type NamespacedPolicyObject,
  type NamespaceInfo,
  type PolicyIndex,
} from '../../../src/policy/index.js';
import { POLICIES, sa } from './fixtures.js';

const NS = ['team-a', 'team-b', 'web'] as const;
const TOOLS = ['list_pods', 'list_deployments', 'scale_deployment', 'list_*'] as const;
const callers: Caller[] = NS.map((ns) => ({
  username: `system:serviceaccount:${ns}:bot`,
  groups: ['system:authenticated', `system:serviceaccounts:${ns}`],
}));

const step = fc.oneof(
  fc.record({
    kind: fc.constant('edit' as const),
    ns: fc.constantFrom(...NS),
    max: fc.integer({ min: 1, max: 8 }),
    tools: fc.uniqueArray(fc.constantFrom(...TOOLS), { minLength: 1, maxLength: 3 }),
  }),
  fc.record({ kind: fc.constant('label' as const), ns: fc.constantFrom(...NS), on: fc.boolean() }),
  fc.record({ kind: fc.constant('ceiling' as const), maxReplicas: fc.integer({ min: 0, max: 8 }) }),
  fc.record({ kind: fc.constant('same' as const) }),
);
type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

function tenant(
  ns: string,
  max: number,
  tools: readonly string[],
  generation: number,
): NamespacedPolicyObject {
  return {
    namespace: ns,
    name: 'bot',
    generation,
    spec: { subjects: [sa('bot', ns)], tools: [...tools], replicas: { min: 0, max } },
  };
}

function delegation(maxReplicas: number, generation: number): DelegationObject {
  return {
    name: 'teams',
    generation,
    spec: {
      namespaces: { selector: { matchLabels: { tenant: 'yes' } } },
      ceiling: { tools: ['list_*', 'scale_deployment'], maxReplicas },
    },
  };
}

/** Applies one step, replacing only the objects it changes (the others stay the same objects). */
function apply(input: CompileInput, s: Step): CompileInput {
  switch (s.kind) {
    case 'edit': {
      const others = (input.namespacePolicies ?? []).filter((p) => p.namespace !== s.ns);
      const old = (input.namespacePolicies ?? []).find((p) => p.namespace === s.ns);
      return {
        ...input,
        namespacePolicies: [...others, tenant(s.ns, s.max, s.tools, (old?.generation ?? 0) + 1)],
      };
    }
    case 'label':
      return {
        ...input,
        namespaces: input.namespaces.map(
          (n): NamespaceInfo =>
            n.name === s.ns ? { name: n.name, labels: s.on ? { tenant: 'yes' } : {} } : n,
        ),
      };
    case 'ceiling': {
      const old = input.delegations?.[0];
      return { ...input, delegations: [delegation(s.maxReplicas, (old?.generation ?? 0) + 1)] };
    }
    case 'same':
      return { ...input };
  }
}

/** Every verdict of a grid of calls: each tenant's agent, each tool, each namespace, 0–9 replicas. */
function verdicts(index: PolicyIndex): string[] {
  const out: string[] = [];
  for (const caller of callers)
    for (const tool of KNOWN_TOOLS)
      for (const namespace of NS)
        for (const replicas of tool.startsWith('scale') ? [3, 6] : [undefined]) {
          const d = decideCall(index, {
            caller,
            tool,
            namespace,
            ...(replicas === undefined ? {} : { replicas }),
          });
          out.push(
            `${caller.username} ${tool} ${namespace} ${replicas} ${d.allowed} ${d.allowed ? d.policies.join(',') : d.code}`,
          );
        }
  return out;
}

describe('the compile memo', () => {
  it('decides every call as a fresh compile does, over random histories of edits', () => {
    let compared = 0;
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 8 }), (history) => {
        const memo = new CompileMemo();
        let input: CompileInput = {
          policies: POLICIES,
          namespaces: NS.map(
            (name): NamespaceInfo => ({ name, labels: name === 'web' ? {} : { tenant: 'yes' } }),
          ),
          delegations: [delegation(5, 1)],
          namespacePolicies: NS.map((ns) => tenant(ns, 4, ['list_*', 'scale_deployment'], 1)),
        };
        for (const s of [{ kind: 'same' } as const, ...history]) {
          input = apply(input, s);
          const memoized = compile({ ...input, memo });
          const fresh = compile(input);
          expect([...memoized.states]).toEqual([...fresh.states]);
          expect([...memoized.delegations]).toEqual([...fresh.delegations]);
          expect(verdicts(memoized)).toEqual(verdicts(fresh));
          compared++;
        }
      }),
      { numRuns: 100 },
    );
    expect(compared).toBeGreaterThan(100);
  }, 60_000);
});
