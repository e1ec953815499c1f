/**
 * A compile with a memo reuses the results of policies whose spec object and generation are
 * unchanged, within an unchanged context (namespaces, delegations, operator namespace), and always
 * answers what a compile without one answers.
 */

import { describe, expect, it } from 'vitest';
import {
  type CompileInput,
  CompileMemo,
  compile,
  type DelegationObject,
  type NamespacedPolicyObject,
  type PolicyIndex,
} from '../../../src/policy/index.js';
import { NAMESPACES, POLICIES, policy, sa } from './fixtures.js';

const delegation = (maxReplicas: number): DelegationObject => ({
  name: 'teams',
  generation: 1,
  spec: {
    namespaces: { names: ['team-a', 'team-ab'] },
    ceiling: { tools: ['list_*', 'scale_deployment'], maxReplicas },
  },
});

const tenant = (namespace: string, name: string, max: number, generation = 1): NamespacedPolicyObject => ({
  namespace,
  name,
  generation,
  spec: {
    subjects: [sa(name, namespace)],
    tools: ['list_pods', 'scale_deployment'],
    replicas: { min: 1, max },
  },
});

const BASE: CompileInput = {
  policies: POLICIES,
  namespaces: NAMESPACES,
  delegations: [delegation(5)],
  namespacePolicies: [tenant('team-a', 'bot', 4), tenant('team-ab', 'bot', 5)],
  operatorNamespace: 'kube-system',
};

/** The index as plain data, to compare a memoized compile with a fresh one. */
function plain(index: PolicyIndex) {
  return {
    states: [...index.states],
    delegations: [...index.delegations],
    grants: [...index.grants.keys()],
    byUser: [...index.grantsByUser].map(([k, v]) => [k, v.map((g) => g.policy)]),
    byGroup: [...index.grantsByGroup].map(([k, v]) => [k, v.map((g) => g.policy)]),
  };
}

function both(input: CompileInput, memo: CompileMemo): PolicyIndex {
  const index = compile({ ...input, memo });
  expect(plain(index)).toEqual(plain(compile(input)));
  return index;
}

describe('CompileMemo', () => {
  it('reuses every unchanged result, and recompiles only the edited policy', () => {
    const memo = new CompileMemo();
    const first = both(BASE, memo);
    const again = both({ ...BASE, namespaces: NAMESPACES.map((n) => ({ ...n })) }, memo);
    for (const [id, state] of first.states) expect(again.states.get(id), id).toBe(state);

    const edited = tenant('team-a', 'bot', 3, 2);
    const after = both({ ...BASE, namespacePolicies: [edited, tenant('team-ab', 'bot', 5)] }, memo);
    expect(after.states.get('team-a/bot')).toMatchObject({ generation: 2, ready: true });
    expect(after.grants.get('team-a/bot')?.replicas).toEqual({ min: 1, max: 3 });
    for (const [id, state] of first.states)
      if (id !== 'team-a/bot' && id !== 'team-ab/bot') expect(after.states.get(id), id).toBe(state);
  });

  it('a new generation of the same spec object is compiled again', () => {
    const memo = new CompileMemo();
    const p = policy('p', {
      subjects: [sa('a', 'agents')],
      namespaces: { names: ['web'] },
      tools: ['list_pods'],
    });
    both({ policies: [p], namespaces: NAMESPACES }, memo);
    const next = both({ policies: [{ ...p, generation: 2 }], namespaces: NAMESPACES }, memo);
    expect(next.states.get('p')?.generation).toBe(2);
  });

  it('forgets everything when a delegation, a namespace label or the operator namespace changes', () => {
    const memo = new CompileMemo();
    const first = both(BASE, memo);
    const narrowed = both({ ...BASE, delegations: [delegation(4)] }, memo);
    expect(narrowed.states.get('team-ab/bot')).toMatchObject({ ready: false, reason: 'ExceedsCeiling' });
    expect(narrowed.states.get('team-a/bot')).not.toBe(first.states.get('team-a/bot'));

    const relabelled = NAMESPACES.map((n) => (n.name === 'db' ? { ...n, labels: { team: 'web' } } : n));
    const byLabel = both({ ...BASE, namespaces: relabelled }, memo);
    const selector = POLICIES.find((p) => JSON.stringify(p.spec).includes('selector'));
    expect(selector).toBeDefined();
    const name = selector?.name ?? '';
    expect(byLabel.states.get(name)).not.toBe(first.states.get(name));

    both({ ...BASE, namespaces: relabelled, operatorNamespace: 'web' }, memo);
    both({ ...BASE, namespaces: NAMESPACES.slice(1) }, memo);
  });
});
