import { describe, expect, it } from 'vitest';
import { compile, KNOWN_TOOLS, type PolicyState } from '../../../src/policy/index.js';
import { group, NAMESPACES, POLICIES, policy, sa, user } from './fixtures.js';

function stateOf(spec: unknown, namespaces = NAMESPACES, generation?: number): PolicyState {
  const index = compile({
    policies: [{ name: 'p', spec, ...(generation === undefined ? {} : { generation }) }],
    namespaces,
  });
  const state = index.states.get('p');
  if (!state) throw new Error('no state');
  return state;
}

const valid = { subjects: [user('alice')], namespaces: { names: ['web'] }, tools: ['list_pods'] };

describe('compile: Ready policies', () => {
  it('reports Accepted with a summary, the generation and the namespaces covered', () => {
    const state = stateOf(
      {
        subjects: [sa('copilot', 'agents'), group('sre')],
        namespaces: { names: ['web', 'web-*'], selector: { matchLabels: { env: 'prod' } } },
        tools: ['list_pods', 'scale_*'],
        replicas: { min: 1, max: 10 },
      },
      NAMESPACES,
      7,
    );
    expect(state).toEqual({
      name: 'p',
      generation: 7,
      ready: true,
      reason: 'Accepted',
      // web, web-1 by name; shop, db (and web again) by selector.
      matchedNamespaces: 4,
      message:
        'Grants 2 subjects 3 tools (list_pods, scale_deployment, scale_statefulset) in 4 existing namespaces, replicas 1 to 10.',
    });
  });

  it('counts every namespace for "*"', () => {
    const state = stateOf({ ...valid, namespaces: { names: ['*'] } });
    expect(state.matchedNamespaces).toBe(NAMESPACES.length);
    expect(state.message).toContain('in every namespace');
  });

  it('generation defaults to 0', () => {
    expect(stateOf(valid).generation).toBe(0);
  });

  it('counts exact names only when the namespace exists', () => {
    expect(stateOf({ ...valid, namespaces: { names: ['web', 'not-yet'] } }).matchedNamespaces).toBe(1);
  });

  it('is Ready but says so when the selector matches no namespace', () => {
    const state = stateOf({ ...valid, namespaces: { selector: { matchLabels: { team: 'nobody' } } } });
    expect(state.ready).toBe(true);
    expect(state.reason).toBe('Accepted');
    expect(state.matchedNamespaces).toBe(0);
    expect(state.message).toContain('The namespace selector matches no namespace yet.');
  });

  it('says so even when names cover namespaces', () => {
    const state = stateOf({
      ...valid,
      namespaces: { names: ['web'], selector: { matchLabels: { team: 'nobody' } } },
    });
    expect(state.matchedNamespaces).toBe(1);
    expect(state.message).toContain('selector matches no namespace');
  });

  it('does not say so when the selector matches', () => {
    expect(
      stateOf({ ...valid, namespaces: { selector: { matchLabels: { team: 'web' } } } }).message,
    ).not.toContain('no namespace');
  });
});

describe('compile: Invalid policies say why in plain words and grant nothing', () => {
  const cases: [string, unknown, string[]][] = [
    [
      'a tool pattern matching no known tool',
      { ...valid, tools: ['list_pods', 'delete_*'] },
      ['spec.tools[1]: "delete_*" matches no known tool', `known tools are: ${KNOWN_TOOLS.join(', ')}`],
    ],
    ['a misspelt tool', { ...valid, tools: ['list_pod'] }, ['"list_pod" matches no known tool']],
    [
      'a bad glob',
      { ...valid, namespaces: { names: ['web-[12]'] } },
      ['spec.namespaces.names[0]', 'no [ ] classes'],
    ],
    ['a bad tool glob', { ...valid, tools: ['list_{pods}'] }, ['spec.tools[0]', 'may contain only']],
    // Policies that bypassed the CRD's caps (an older CRD, or none): the controller refuses them too.
    [
      'a namespace glob with more than 8 stars',
      { ...valid, namespaces: { names: ['*a*a*a*a*a*a*a*a*a*b'] } },
      ['spec.namespaces.names[0]: a pattern has at most 8 * wildcards'],
    ],
    [
      'a namespace pattern longer than 63 characters',
      { ...valid, namespaces: { names: [`*-*-${'-'.repeat(100_000)}prod`] } },
      ['spec.namespaces.names[0]: a namespace pattern has at most 63 characters'],
    ],
    [
      'a tool glob with more than 8 stars',
      { ...valid, tools: ['*l*i*s*t*_*p*o*d*s'] },
      ['spec.tools[0]: a pattern has at most 8 * wildcards'],
    ],
    [
      'a ServiceAccount without namespace',
      { ...valid, subjects: [{ kind: 'ServiceAccount', name: 'copilot' }] },
      ['spec.subjects[0].namespace: a ServiceAccount subject needs a namespace'],
    ],
    [
      'scale tools without replicas',
      { ...valid, tools: ['*'] },
      ['spec.replicas: a policy whose tools can match a scale_* tool'],
    ],
    [
      'min above max',
      { ...valid, replicas: { min: 3, max: 2 } },
      ['replicas.min must not be greater than replicas.max'],
    ],
    ['an unknown field', { ...valid, verbs: ['*'] }, ['spec: unknown field "verbs"']],
    ['no spec at all', undefined, ['spec: is required']],
    [
      'a spec of the wrong type',
      'grant everything',
      ['spec: must be an object, not the string "grant everything"'],
    ],
    [
      'several problems at once',
      { subjects: [], namespaces: {}, tools: ['nope'] },
      [
        'spec.subjects: subjects needs at least one subject',
        'spec.namespaces: namespaces needs names, a selector, or both',
      ],
    ],
  ];

  it.each(cases)('%s', (_name, spec, fragments) => {
    const index = compile({ policies: [{ name: 'p', generation: 4, spec }], namespaces: NAMESPACES });
    const state = index.states.get('p');
    expect(state?.ready).toBe(false);
    expect(state?.reason).toBe('Invalid');
    expect(state?.generation).toBe(4);
    expect(state?.matchedNamespaces).toBe(0);
    for (const fragment of fragments) expect(state?.message).toContain(fragment);
    expect(state?.message.length).toBeLessThan(1000);
    expect(index.grants.size).toBe(0);
    expect(index.grantsByUser.size + index.grantsByGroup.size).toBe(0);
  });
});

describe('compile: the index is keyed by subject', () => {
  const index = compile({ policies: POLICIES, namespaces: NAMESPACES });

  it('has a state for every policy, Ready or not', () => {
    expect([...index.states.keys()].sort()).toEqual(POLICIES.map((p) => p.name).sort());
    expect([...index.states.values()].filter((s) => !s.ready).map((s) => s.name)).toEqual([
      'dave-bad-field',
      'dave-no-bounds',
      'dave-unknown-tool',
    ]);
  });

  it('files ServiceAccounts under their user name, users under theirs, groups apart', () => {
    expect(index.grantsByUser.get('system:serviceaccount:agents:copilot')?.map((g) => g.policy)).toEqual([
      'copilot-web',
    ]);
    expect(index.grantsByUser.get('copilot')?.map((g) => g.policy)).toEqual(['user-named-copilot']);
    expect(index.grantsByUser.get('bob')?.map((g) => g.policy)).toEqual([
      'bob-exists',
      'bob-labels',
      'bob-notin',
    ]);
    expect(index.grantsByGroup.get('sre')?.map((g) => g.policy)).toEqual(['sre-prod']);
    expect(index.grantsByUser.has('sre')).toBe(false);
    expect(index.grantsByUser.has('dave')).toBe(false);
  });

  it('files a policy once per subject, even when a subject repeats', () => {
    const repeated = compile({
      policies: [policy('p', { ...valid, subjects: [user('alice'), group('sre'), user('alice')] })],
      namespaces: [],
    });
    expect(repeated.grantsByUser.get('alice')).toHaveLength(1);
    expect(repeated.grantsByGroup.get('sre')).toHaveLength(1);
    expect(repeated.grantsByUser.get('alice')?.[0]).toBe(repeated.grantsByGroup.get('sre')?.[0]);
  });

  it('expands tool patterns to known tools', () => {
    expect([...(index.grants.get('carol-small')?.tools ?? [])].sort()).toEqual([
      'scale_deployment',
      'scale_statefulset',
    ]);
  });

  it('precomputes the namespaces a selector covers, shared between policies with the same selector', () => {
    const selector = { matchLabels: { env: 'prod' } };
    const shared = compile({
      policies: [
        policy('a', { ...valid, namespaces: { selector } }),
        policy('b', { ...valid, subjects: [user('bob')], namespaces: { selector } }),
      ],
      namespaces: NAMESPACES,
    });
    const a = shared.grants.get('a')?.coveredNamespaces;
    expect([...(a ?? [])].sort()).toEqual(['db', 'shop', 'web']);
    expect(shared.grants.get('b')?.coveredNamespaces).toBe(a);
  });

  it('refuses a policy or namespace name given twice (a caller bug)', () => {
    expect(() => compile({ policies: [policy('p', valid), policy('p', valid)], namespaces: [] })).toThrow(
      /twice/,
    );
    expect(() =>
      compile({
        policies: [],
        namespaces: [
          { name: 'web', labels: {} },
          { name: 'web', labels: { a: 'b' } },
        ],
      }),
    ).toThrow(/twice/);
  });

  it('an empty input is an empty index', () => {
    const empty = compile({ policies: [], namespaces: [] });
    expect(empty.states.size).toBe(0);
    expect(empty.grants.size).toBe(0);
  });
});
