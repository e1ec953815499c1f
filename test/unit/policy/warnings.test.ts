/** Warnings for valid but risky grants: computed at compile time, pure. */
import { describe, expect, it } from 'vitest';
import { McpPolicyStatusSchema } from '../../../src/api/v1alpha1/index.js';
import { desiredStatus, stateEqual } from '../../../src/controller/status.js';
import {
  compile,
  cooldownsWithoutNamespace,
  evaluate,
  type PolicyObject,
} from '../../../src/policy/index.js';
import { group, policy, sa, user } from './fixtures.js';

const NAMESPACES = [
  { name: 'web', labels: { team: 'web' } },
  { name: 'kubemcp-system', labels: { team: 'platform' } },
];

function warningsOf(p: PolicyObject, operatorNamespace: string | null = 'kubemcp-system') {
  const index = compile({
    policies: [p],
    namespaces: NAMESPACES,
    ...(operatorNamespace === null ? {} : { operatorNamespace }),
  });
  const state = index.states.get(p.name);
  expect(state?.ready).toBe(true);
  return (state?.warnings ?? []).map((w) => w.code);
}

const base = {
  subjects: [sa('copilot', 'agents')],
  namespaces: { names: ['web'] },
  tools: ['list_pods'],
};

describe('policy warnings', () => {
  it('a narrow grant has none', () => {
    expect(warningsOf(policy('ok', base))).toEqual([]);
    expect(
      warningsOf(policy('ok', { ...base, tools: ['scale_deployment'], replicas: { min: 1, max: 3 } })),
    ).toEqual([]);
  });

  it("covering the operator's own namespace: by '*', a glob, the exact name or the selector", () => {
    for (const namespaces of [
      { names: ['*'] },
      { names: ['kubemcp-*'] },
      { names: ['kubemcp-system'] },
      { selector: { matchLabels: { team: 'platform' } } },
      { names: ['web'], selector: { matchLabels: { team: 'platform' } } },
    ]) {
      expect(warningsOf(policy('p', { ...base, namespaces })), JSON.stringify(namespaces)).toEqual([
        'OperatorNamespace',
      ]);
    }
    // A glob covers the namespace even before it exists.
    const index = compile({
      policies: [policy('p', { ...base, namespaces: { names: ['ops-*'] } })],
      namespaces: NAMESPACES,
      operatorNamespace: 'ops-kubemcp',
    });
    expect(index.states.get('p')?.warnings?.map((w) => w.code)).toEqual(['OperatorNamespace']);
    // Unknown operator namespace: no such warning.
    expect(warningsOf(policy('p', { ...base, namespaces: { names: ['*'] } }), null)).toEqual([]);
  });

  it('the message says a scale grant could scale the operator to 0', () => {
    const index = compile({
      policies: [
        policy('p', {
          ...base,
          namespaces: { names: ['*'] },
          tools: ['scale_*'],
          replicas: { min: 1, max: 3 },
        }),
      ],
      namespaces: NAMESPACES,
      operatorNamespace: 'kubemcp-system',
    });
    expect(index.states.get('p')?.warnings?.[0]?.message).toMatch(
      /operator's own namespace "kubemcp-system" with scale_deployment, scale_statefulset: an agent could scale the operator itself, e\.g\. to 0/,
    );
  });

  it('subjects meaning everyone, and every ServiceAccount of a namespace', () => {
    expect(warningsOf(policy('p', { ...base, subjects: [group('system:authenticated')] }))).toEqual([
      'EveryoneSubject',
    ]);
    expect(warningsOf(policy('p', { ...base, subjects: [group('system:serviceaccounts')] }))).toEqual([
      'EveryoneSubject',
    ]);
    expect(warningsOf(policy('p', { ...base, subjects: [group('system:unauthenticated')] }))).toEqual([
      'EveryoneSubject',
    ]);
    expect(warningsOf(policy('p', { ...base, subjects: [group('system:serviceaccounts:agents')] }))).toEqual([
      'NamespaceServiceAccounts',
    ]);
    // A user or ServiceAccount with such a name is not a group: no warning.
    expect(warningsOf(policy('p', { ...base, subjects: [user('system:authenticated')] }))).toEqual([]);
    expect(warningsOf(policy('p', { ...base, subjects: [group('sre')] }))).toEqual([]);
  });

  it('a scale grant whose min is 0, by default or written (the API server fills the default in)', () => {
    expect(warningsOf(policy('p', { ...base, tools: ['scale_deployment'], replicas: { max: 5 } }))).toEqual([
      'ScaleToZero',
    ]);
    expect(warningsOf(policy('p', { ...base, tools: ['*'], replicas: { max: 5 } }))).toEqual(['ScaleToZero']);
    expect(
      warningsOf(policy('p', { ...base, tools: ['scale_deployment'], replicas: { min: 0, max: 5 } })),
    ).toEqual(['ScaleToZero']);
    expect(
      warningsOf(policy('p', { ...base, tools: ['scale_deployment'], replicas: { min: 1, max: 5 } })),
    ).toEqual([]);
    // No scale tool: the bounds do not matter.
    expect(warningsOf(policy('p', { ...base, tools: ['list_*'], replicas: { max: 5 } }))).toEqual([]);
  });

  it('warnings change nothing a policy grants', () => {
    const p = policy('p', {
      ...base,
      namespaces: { names: ['*'] },
      subjects: [group('system:authenticated')],
    });
    const caller = { username: 'x', groups: ['system:authenticated'] };
    const withNs = compile({ policies: [p], namespaces: NAMESPACES, operatorNamespace: 'kubemcp-system' });
    const without = compile({ policies: [p], namespaces: NAMESPACES });
    for (const namespace of ['web', 'kubemcp-system']) {
      expect(evaluate(withNs, { caller, tool: 'list_pods', namespace })).toEqual(
        evaluate(without, { caller, tool: 'list_pods', namespace }),
      );
    }
  });

  it('become a Warnings condition next to Ready=True, valid per the CRD schema, removed when they go', () => {
    const risky = compile({
      policies: [
        policy('p', {
          subjects: [group('system:serviceaccounts')],
          namespaces: { names: ['*'] },
          tools: ['scale_deployment'],
          replicas: { max: 3 },
        }),
      ],
      namespaces: NAMESPACES,
      operatorNamespace: 'kubemcp-system',
    }).states.get('p');
    if (!risky) throw new Error('no state');
    const T0 = Date.UTC(2026, 0, 1);
    const s = desiredStatus(risky, undefined, T0);
    expect(McpPolicyStatusSchema.safeParse(s).success).toBe(true);
    expect(s.conditions?.map((c) => [c.type, c.status])).toEqual([
      ['Ready', 'True'],
      ['Warnings', 'True'],
    ]);
    const w = s.conditions?.[1];
    expect(w?.reason).toBe('OperatorNamespace,EveryoneSubject,ScaleToZero');
    expect(w?.message).toMatch(/^OperatorNamespace: .*\. EveryoneSubject: .*\. ScaleToZero: .*\.$/);
    // Unchanged warnings keep their transition time.
    expect(desiredStatus(risky, s, T0 + 60_000).conditions?.[1]?.lastTransitionTime).toBe(
      w?.lastTransitionTime,
    );

    const safe = compile({
      policies: [policy('p', { ...base, tools: ['scale_deployment'], replicas: { min: 1, max: 3 } })],
      namespaces: NAMESPACES,
      operatorNamespace: 'kubemcp-system',
    }).states.get('p');
    if (!safe) throw new Error('no state');
    expect(stateEqual(risky, { ...risky, warnings: [] })).toBe(false);
    expect(desiredStatus({ ...safe, generation: 2 }, s, T0).conditions?.map((c) => c.type)).toEqual([
      'Ready',
    ]);
  });
});

describe('kubemcp check shows the same warnings', () => {
  it('of the policies that allowed or were considered', async () => {
    const { decisionWarnings, renderDecision } = await import('../../../src/cli/check.js');
    const index = compile({
      policies: [
        policy('everyone', {
          ...base,
          subjects: [group('system:authenticated')],
          namespaces: { names: ['*'] },
        }),
        policy('narrow', base),
      ],
      namespaces: NAMESPACES,
      operatorNamespace: 'kubemcp-system',
    });
    const req = {
      caller: { username: 'alice', groups: ['system:authenticated'] },
      tool: 'list_pods',
      namespace: 'web',
    };
    const decision = evaluate(index, req);
    expect(decision.allowed).toBe(true);
    const warnings = decisionWarnings(index, decision);
    expect(warnings.map((w) => [w.policy, w.code])).toEqual([
      ['everyone', 'OperatorNamespace'],
      ['everyone', 'EveryoneSubject'],
    ]);
    const state = index.states.get('everyone');
    expect(warnings.map((w) => w.message)).toEqual(state?.warnings?.map((w) => w.message));
    const text = renderDecision(decision, req, [], warnings);
    expect(text).toContain(
      'warning: McpPolicy everyone: EveryoneSubject: subject Group system:authenticated',
    );
  });
});

describe('cooldownsWithoutNamespace', () => {
  const cooled = {
    name: 'cooled',
    generation: 1,
    spec: {
      subjects: [{ kind: 'User', name: 'u' }],
      namespaces: { names: ['web'] },
      tools: ['scale_deployment'],
      replicas: { min: 1, max: 5 },
      cooldownSeconds: 60,
    },
  };
  const plain = { ...cooled, name: 'plain', spec: { ...cooled.spec, cooldownSeconds: undefined } };
  const ns = (name: string) => ({ name, labels: {} });

  it('names the policies with a cool-down when the Lease namespace does not exist', () => {
    const index = compile({ policies: [cooled, plain], namespaces: [ns('web')] });
    expect(cooldownsWithoutNamespace(index, 'kubemcp-system')).toEqual(['cooled']);
  });

  it('is empty when the namespace exists or no policy sets a cool-down', () => {
    expect(
      cooldownsWithoutNamespace(
        compile({ policies: [cooled], namespaces: [ns('web'), ns('kubemcp-system')] }),
        'kubemcp-system',
      ),
    ).toEqual([]);
    expect(
      cooldownsWithoutNamespace(compile({ policies: [plain], namespaces: [ns('web')] }), 'kubemcp-system'),
    ).toEqual([]);
  });
});
