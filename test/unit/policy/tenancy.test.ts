/**
 * McpNamespacePolicy and McpDelegation in the one engine: nothing delegated by default, a policy
 * grants only in its own namespace and only within a covering ceiling (fail closed), and every
 * decision names the policy with its namespace.
 */

import { describe, expect, it } from 'vitest';
import {
  compile,
  type DelegationObject,
  decideCall,
  evaluate,
  type NamespacedPolicyObject,
  permissions,
} from '../../../src/policy/index.js';
import { as, NAMESPACES, policy, sa } from './fixtures.js';

const agent = as('system:serviceaccount:team-a:agent', 'system:serviceaccounts');

function nsPolicy(
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
  generation = 1,
): NamespacedPolicyObject {
  return { namespace, name, generation, spec };
}

const scaler = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  subjects: [sa('agent', 'team-a')],
  tools: ['list_deployments', 'scale_deployment'],
  replicas: { min: 1, max: 5, maxStep: 2 },
  confirm: { above: 4 },
  ...extra,
});

const delegation = (spec: Record<string, unknown>, name = 'teams'): DelegationObject => ({
  name,
  generation: 1,
  spec,
});

const TEAMS = delegation({
  namespaces: { names: ['team-a', 'team-ab'] },
  ceiling: { tools: ['list_*', 'scale_deployment'], maxReplicas: 5, maxStep: 2, confirmAbove: 4 },
});

describe('McpNamespacePolicy', () => {
  it('grants nothing without a delegation, and says why', () => {
    const index = compile({
      policies: [],
      namespaces: NAMESPACES,
      namespacePolicies: [nsPolicy('team-a', 'agent', scaler())],
    });
    const state = index.states.get('team-a/agent');
    expect(state).toMatchObject({ ready: false, reason: 'NotDelegated', namespace: 'team-a', name: 'agent' });
    expect(state?.message).toContain('namespace team-a does not accept McpNamespacePolicies');
    expect(evaluate(index, { caller: agent, tool: 'list_deployments', namespace: 'team-a' }).allowed).toBe(
      false,
    );
    expect(index.grants.size).toBe(0);
  });

  it('grants in its own namespace within the ceiling, and only there', () => {
    const index = compile({
      policies: [],
      namespaces: NAMESPACES,
      delegations: [TEAMS],
      namespacePolicies: [nsPolicy('team-a', 'agent', scaler())],
    });
    expect(index.states.get('team-a/agent')).toMatchObject({
      ready: true,
      reason: 'Accepted',
      matchedNamespaces: 1,
    });
    const ok = decideCall(index, {
      caller: agent,
      tool: 'scale_deployment',
      namespace: 'team-a',
      replicas: 3,
    });
    expect(ok).toMatchObject({ allowed: true, policies: ['team-a/agent'] });
    expect(ok.reason).toBe('McpNamespacePolicy team-a/agent grants scale_deployment in namespace team-a.');
    expect(ok.limited).toEqual([{ policy: 'team-a/agent', limits: { maxStep: 2, confirm: { above: 4 } } }]);
    // team-ab is delegated too, but the policy lives in team-a.
    expect(evaluate(index, { caller: agent, tool: 'list_deployments', namespace: 'team-ab' })).toMatchObject({
      allowed: false,
      code: 'PolicyDenied',
    });
    expect(
      evaluate(index, { caller: agent, tool: 'scale_deployment', namespace: 'team-a', replicas: 6 }),
    ).toMatchObject({
      allowed: false,
      code: 'OutOfBounds',
    });
  });

  it('names the policy and its namespace in get_permissions', () => {
    const index = compile({
      policies: [
        policy('web', {
          subjects: [sa('agent', 'team-a')],
          namespaces: { names: ['web'] },
          tools: ['list_pods'],
        }),
      ],
      namespaces: NAMESPACES,
      delegations: [TEAMS],
      namespacePolicies: [nsPolicy('team-a', 'agent', scaler())],
    });
    const grants = permissions(index, agent).grants;
    expect(grants.map((g) => [g.policy, g.policyNamespace, g.namespaces])).toEqual([
      ['team-a/agent', 'team-a', ['team-a']],
      ['web', undefined, ['web']],
    ]);
  });

  it.each([
    [
      'a tool beyond the ceiling',
      {
        tools: ['list_pods', 'scale_statefulset'],
        replicas: { min: 1, max: 5, maxStep: 2 },
        confirm: { above: 4 },
      },
      'tools scale_statefulset may not be granted in this namespace',
    ],
    [
      'a max above the ceiling',
      { replicas: { min: 1, max: 6, maxStep: 2 } },
      'replicas.max 6 is above 5, the most allowed in this namespace',
    ],
    [
      'no maxStep',
      { replicas: { min: 1, max: 5 } },
      'replicas.maxStep must be set to at most 2 in this namespace',
    ],
    [
      'a maxStep above the ceiling',
      { replicas: { min: 1, max: 5, maxStep: 3 } },
      'replicas.maxStep must be set to at most 2 in this namespace (it is 3)',
    ],
    [
      'no confirm.above',
      { confirm: { scaleToZero: true } },
      'confirm.above must be set to at most 4 in this namespace',
    ],
    ['a wildcard that reaches beyond', { tools: ['*'] }, 'may not be granted in this namespace'],
  ])('is ExceedsCeiling and grants nothing with %s', (_what, extra, message) => {
    const index = compile({
      policies: [],
      namespaces: NAMESPACES,
      delegations: [TEAMS],
      namespacePolicies: [nsPolicy('team-a', 'agent', scaler(extra))],
    });
    const state = index.states.get('team-a/agent');
    expect(state).toMatchObject({ ready: false, reason: 'ExceedsCeiling' });
    expect(state?.message).toContain(message);
    // Fail closed: not even the parts within the ceiling are granted.
    expect(evaluate(index, { caller: agent, tool: 'list_deployments', namespace: 'team-a' }).allowed).toBe(
      false,
    );
  });

  it('a tenant message names neither the delegation nor another namespace', () => {
    const index = compile({
      policies: [],
      namespaces: NAMESPACES,
      delegations: [
        delegation(
          { namespaces: { names: ['team-*', 'secret-ns'] }, ceiling: { tools: ['list_pods'] } },
          'secret-delegation',
        ),
      ],
      namespacePolicies: [nsPolicy('team-a', 'agent', scaler())],
    });
    const message = index.states.get('team-a/agent')?.message ?? '';
    expect(message).not.toContain('secret');
    expect(message).not.toContain('team-ab');
  });

  it('a narrowed ceiling withdraws the grant with the next compile', () => {
    const input = {
      policies: [],
      namespaces: NAMESPACES,
      namespacePolicies: [nsPolicy('team-a', 'agent', scaler())],
    };
    const before = compile({ ...input, delegations: [TEAMS] });
    expect(evaluate(before, { caller: agent, tool: 'list_deployments', namespace: 'team-a' }).allowed).toBe(
      true,
    );
    const narrowed = delegation({
      namespaces: { names: ['team-a'] },
      ceiling: { tools: ['list_*', 'scale_deployment'], maxReplicas: 4, maxStep: 2, confirmAbove: 4 },
    });
    const after = compile({ ...input, delegations: [narrowed] });
    expect(evaluate(after, { caller: agent, tool: 'list_deployments', namespace: 'team-a' }).allowed).toBe(
      false,
    );
    expect(after.states.get('team-a/agent')?.reason).toBe('ExceedsCeiling');
  });

  it('a delegation by label selector covers only the labelled namespaces', () => {
    const bySelector = delegation({
      namespaces: { selector: { matchLabels: { team: 'web' } } },
      ceiling: { tools: ['list_pods'] },
    });
    const spec = { subjects: [sa('agent', 'team-a')], tools: ['list_pods'] };
    const index = compile({
      policies: [],
      namespaces: NAMESPACES,
      delegations: [bySelector],
      namespacePolicies: [nsPolicy('web', 'p', spec), nsPolicy('db', 'p', spec)],
    });
    expect(index.states.get('web/p')?.ready).toBe(true);
    expect(index.states.get('db/p')?.reason).toBe('NotDelegated');
    expect(index.delegations.get('teams')).toMatchObject({ ready: true, matchedNamespaces: 2 });
  });

  it('fits one of several covering ceilings', () => {
    const narrow = delegation(
      { namespaces: { names: ['team-a'] }, ceiling: { tools: ['list_pods'] } },
      'a-narrow',
    );
    const index = compile({
      policies: [],
      namespaces: NAMESPACES,
      delegations: [narrow, TEAMS],
      namespacePolicies: [nsPolicy('team-a', 'agent', scaler())],
    });
    expect(index.states.get('team-a/agent')?.ready).toBe(true);
  });

  it('applies the validation, tool check and warnings of McpPolicy', () => {
    const index = compile({
      policies: [],
      namespaces: NAMESPACES,
      operatorNamespace: 'team-a',
      delegations: [TEAMS],
      namespacePolicies: [
        nsPolicy('team-a', 'bad', { subjects: [], tools: ['list_pods'] }),
        nsPolicy('team-a', 'scale-no-bounds', {
          subjects: [sa('agent', 'team-a')],
          tools: ['scale_deployment'],
        }),
        nsPolicy('team-a', 'has-namespaces', {
          subjects: [sa('agent', 'team-a')],
          tools: ['list_pods'],
          namespaces: { names: ['*'] },
        }),
        nsPolicy('team-a', 'unknown-tool', { subjects: [sa('agent', 'team-a')], tools: ['list_secrets'] }),
        nsPolicy('team-a', 'risky', {
          subjects: [{ kind: 'Group', name: 'system:authenticated' }],
          tools: ['list_pods'],
        }),
      ],
    });
    expect(index.states.get('team-a/bad')?.message).toContain(
      'spec.subjects: subjects needs at least one subject',
    );
    expect(index.states.get('team-a/scale-no-bounds')?.message).toContain('needs replicas bounds');
    expect(index.states.get('team-a/has-namespaces')?.message).toContain('unknown field "namespaces"');
    expect(index.states.get('team-a/unknown-tool')?.message).toContain('matches no known tool');
    expect(index.states.get('team-a/risky')?.warnings?.map((w) => w.code)).toEqual([
      'OperatorNamespace',
      'EveryoneSubject',
    ]);
  });

  it('an invalid delegation delegates nothing and says why', () => {
    const index = compile({
      policies: [],
      namespaces: NAMESPACES,
      delegations: [delegation({ namespaces: { names: ['team-a'] }, ceiling: { tools: ['scale_*'] } })],
      namespacePolicies: [
        nsPolicy('team-a', 'agent', { subjects: [sa('agent', 'team-a')], tools: ['list_pods'] }),
      ],
    });
    expect(index.delegations.get('teams')).toMatchObject({ ready: false, reason: 'Invalid' });
    expect(index.delegations.get('teams')?.message).toContain('needs maxReplicas');
    expect(index.states.get('team-a/agent')?.reason).toBe('NotDelegated');
  });

  it('policies of one shape share their bounds and limits; each message names its namespace', () => {
    const index = compile({
      policies: [],
      namespaces: NAMESPACES,
      delegations: [TEAMS],
      namespacePolicies: [
        nsPolicy('team-a', 'agent', scaler()),
        nsPolicy('team-ab', 'agent', scaler({ subjects: [sa('agent', 'team-ab')] })),
      ],
    });
    const a = index.grants.get('team-a/agent');
    const ab = index.grants.get('team-ab/agent');
    expect(a?.replicas).toEqual({ min: 1, max: 5 });
    // One object for every policy with the same values: 10,000 tenant policies do not hold 10,000 copies.
    expect(ab?.replicas).toBe(a?.replicas);
    expect(ab?.limits).toBe(a?.limits);
    expect(ab?.toolList).toBe(a?.toolList);
    for (const ns of ['team-a', 'team-ab'])
      expect(index.states.get(`${ns}/agent`)?.message).toBe(
        `Grants 1 subject 2 tools (list_deployments, scale_deployment) in namespace ${ns}, replicas 1 to 5; limits: at most 2 replicas of change per call; a human must confirm above 4.`,
      );
  });

  it('a cluster policy and a namespaced one both allowing are both named', () => {
    const index = compile({
      policies: [
        policy('all-teams', {
          subjects: [sa('agent', 'team-a')],
          namespaces: { names: ['team-*'] },
          tools: ['list_pods'],
        }),
      ],
      namespaces: NAMESPACES,
      delegations: [TEAMS],
      namespacePolicies: [
        nsPolicy('team-a', 'agent', { subjects: [sa('agent', 'team-a')], tools: ['list_pods'] }),
      ],
    });
    const d = evaluate(index, { caller: agent, tool: 'list_pods', namespace: 'team-a' });
    expect(d.policies).toEqual(['all-teams', 'team-a/agent']);
    expect(d.reason).toBe(
      'McpPolicy all-teams and McpNamespacePolicy team-a/agent grants list_pods in namespace team-a.',
    );
  });
});
