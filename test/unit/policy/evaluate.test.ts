import { describe, expect, it } from 'vitest';
import {
  type Caller,
  compile,
  type DecisionRequest,
  evaluate,
  grantedTools,
  namespaceFilter,
  permissions,
} from '../../../src/policy/index.js';
import { as, copilot, NAMESPACES, POLICIES } from './fixtures.js';

const index = compile({ policies: POLICIES, namespaces: NAMESPACES });
const alice = as('alice', 'sre');
const bob = as('bob');
const carol = as('carol');
const dave = as('dave', 'system:authenticated');
const eve = as('eve');
const frank = as('frank');
const nobody = as('nobody');

interface Row {
  readonly name: string;
  readonly caller: Caller;
  readonly req: Omit<DecisionRequest, 'caller'>;
  readonly allowed: boolean;
  readonly code?: 'PolicyDenied' | 'OutOfBounds';
  readonly policies?: readonly string[];
  readonly suggestion?: string;
}

const rows: Row[] = [
  // ServiceAccount subjects match system:serviceaccount:<ns>:<name>; exact names and globs.
  {
    name: 'SA, exact name',
    caller: copilot,
    req: { tool: 'list_pods', namespace: 'web' },
    allowed: true,
    policies: ['copilot-web'],
  },
  { name: 'SA, glob web-*', caller: copilot, req: { tool: 'list_pods', namespace: 'web-1' }, allowed: true },
  {
    name: 'SA, glob matches unknown namespace',
    caller: copilot,
    req: { tool: 'list_pods', namespace: 'web-new' },
    allowed: true,
  },
  {
    name: 'SA, namespace not covered',
    caller: copilot,
    req: { tool: 'list_pods', namespace: 'shop' },
    allowed: false,
    code: 'PolicyDenied',
    policies: ['copilot-web'],
  },
  {
    name: 'a User named like the SA does not match the SA',
    caller: copilot,
    req: { tool: 'list_services', namespace: 'web' },
    allowed: false,
    code: 'PolicyDenied',
    policies: [],
  },
  {
    name: 'the User named copilot is not the SA',
    caller: as('copilot'),
    req: { tool: 'list_pods', namespace: 'web' },
    allowed: false,
    code: 'PolicyDenied',
  },
  {
    name: 'User named copilot',
    caller: as('copilot'),
    req: { tool: 'list_services', namespace: 'shop' },
    allowed: true,
  },
  {
    name: 'SA via its namespace group',
    caller: copilot,
    req: { tool: 'list_statefulsets', namespace: 'web' },
    allowed: true,
    policies: ['agents-namespace-group'],
  },
  {
    name: 'tool not granted',
    caller: copilot,
    req: { tool: 'scale_statefulset', namespace: 'web', replicas: 2 },
    allowed: false,
    code: 'PolicyDenied',
    policies: [],
  },
  // Non-namespaced tools and "*".
  { name: 'Group, "*" and no namespace', caller: copilot, req: { tool: 'list_namespaces' }, allowed: true },
  {
    name: '"*" covers an unknown namespace',
    caller: copilot,
    req: { tool: 'list_namespaces', namespace: 'zzz' },
    allowed: true,
  },
  // Replica bounds.
  {
    name: 'scale within bounds',
    caller: copilot,
    req: { tool: 'scale_deployment', namespace: 'web', replicas: 5 },
    allowed: true,
  },
  {
    name: 'scale at min',
    caller: copilot,
    req: { tool: 'scale_deployment', namespace: 'web', replicas: 1 },
    allowed: true,
  },
  {
    name: 'scale at max',
    caller: copilot,
    req: { tool: 'scale_deployment', namespace: 'web', replicas: 10 },
    allowed: true,
  },
  {
    name: 'scale above max',
    caller: copilot,
    req: { tool: 'scale_deployment', namespace: 'web', replicas: 11 },
    allowed: false,
    code: 'OutOfBounds',
    policies: ['copilot-web'],
    suggestion: 'replicas must be between 1 and 10',
  },
  {
    name: 'scale below min',
    caller: copilot,
    req: { tool: 'scale_deployment', namespace: 'web', replicas: 0 },
    allowed: false,
    code: 'OutOfBounds',
  },
  {
    name: 'scale in an uncovered namespace is PolicyDenied, not OutOfBounds',
    caller: copilot,
    req: { tool: 'scale_deployment', namespace: 'shop', replicas: 50 },
    allowed: false,
    code: 'PolicyDenied',
  },
  {
    name: 'scale without replicas',
    caller: copilot,
    req: { tool: 'scale_deployment', namespace: 'web' },
    allowed: true,
  },
  {
    name: 'replicas on a list tool are ignored',
    caller: copilot,
    req: { tool: 'list_pods', namespace: 'web', replicas: 50 },
    allowed: true,
  },
  ...[Number.NaN, -1, 1.5, Number.POSITIVE_INFINITY, 10_001, 2 ** 53].map(
    (replicas): Row => ({
      name: `replicas ${replicas} is never allowed`,
      caller: copilot,
      req: { tool: 'scale_deployment', namespace: 'web', replicas },
      allowed: false,
      code: 'OutOfBounds',
      suggestion: 'replicas must be a whole number between 0 and 10000',
    }),
  ),
  // Union of grants with different bounds.
  {
    name: 'union: first range',
    caller: carol,
    req: { tool: 'scale_deployment', namespace: 'web', replicas: 2 },
    allowed: true,
    policies: ['carol-small'],
  },
  {
    name: 'union: second range',
    caller: carol,
    req: { tool: 'scale_deployment', namespace: 'web', replicas: 6 },
    allowed: true,
    policies: ['carol-large'],
  },
  {
    name: 'union: between the ranges',
    caller: carol,
    req: { tool: 'scale_deployment', namespace: 'web', replicas: 4 },
    allowed: false,
    code: 'OutOfBounds',
    policies: ['carol-large', 'carol-small'],
    suggestion: 'replicas must be between 1 and 3 or between 5 and 8',
  },
  {
    name: 'union: only the ranges of grants covering the namespace',
    caller: carol,
    req: { tool: 'scale_deployment', namespace: 'shop', replicas: 2 },
    allowed: false,
    code: 'OutOfBounds',
    policies: ['carol-large'],
    suggestion: 'replicas must be between 5 and 8',
  },
  {
    name: 'union: only the ranges of grants with the tool',
    caller: carol,
    req: { tool: 'scale_statefulset', namespace: 'web', replicas: 6 },
    allowed: false,
    code: 'OutOfBounds',
    suggestion: 'replicas must be between 1 and 3',
  },
  {
    name: 'union: two tools in two namespaces (1)',
    caller: frank,
    req: { tool: 'list_pods', namespace: 'web' },
    allowed: true,
  },
  {
    name: 'union: two tools in two namespaces (2)',
    caller: frank,
    req: { tool: 'list_deployments', namespace: 'shop' },
    allowed: true,
  },
  {
    name: 'union: no cross product (1)',
    caller: frank,
    req: { tool: 'list_pods', namespace: 'shop' },
    allowed: false,
    code: 'PolicyDenied',
  },
  {
    name: 'union: no cross product (2)',
    caller: frank,
    req: { tool: 'list_deployments', namespace: 'web' },
    allowed: false,
    code: 'PolicyDenied',
  },
  {
    name: 'every allowing policy is named, user and group',
    caller: as('frank', 'frank-team'),
    req: { tool: 'list_pods', namespace: 'web' },
    allowed: true,
    policies: ['frank-team', 'frank-web-pods'],
  },
  // Globs with ?.
  {
    name: 'team-? matches team-a',
    caller: alice,
    req: { tool: 'list_pods', namespace: 'team-a' },
    allowed: true,
  },
  {
    name: 'team-? does not match team-ab',
    caller: alice,
    req: { tool: 'list_pods', namespace: 'team-ab' },
    allowed: false,
    code: 'PolicyDenied',
  },
  {
    name: 'list_* does not match scale',
    caller: alice,
    req: { tool: 'scale_deployment', namespace: 'team-a', replicas: 1 },
    allowed: false,
  },
  // Selectors.
  {
    name: 'In + DoesNotExist: match',
    caller: alice,
    req: { tool: 'list_services', namespace: 'web' },
    allowed: true,
    policies: ['sre-prod'],
  },
  {
    name: 'In + DoesNotExist: another match',
    caller: alice,
    req: { tool: 'list_services', namespace: 'db' },
    allowed: true,
  },
  {
    name: 'DoesNotExist fails',
    caller: alice,
    req: { tool: 'list_services', namespace: 'shop' },
    allowed: false,
    code: 'PolicyDenied',
  },
  { name: 'In fails', caller: alice, req: { tool: 'list_services', namespace: 'web-1' }, allowed: false },
  {
    name: 'a group the caller lacks',
    caller: as('alice'),
    req: { tool: 'list_services', namespace: 'web' },
    allowed: false,
  },
  { name: 'NotIn: other value', caller: bob, req: { tool: 'list_pods', namespace: 'web-1' }, allowed: true },
  {
    name: 'NotIn: absent label',
    caller: bob,
    req: { tool: 'list_pods', namespace: 'team-a' },
    allowed: true,
  },
  {
    name: 'NotIn: excluded value',
    caller: bob,
    req: { tool: 'list_pods', namespace: 'web' },
    allowed: false,
  },
  {
    name: 'a selector never covers an unknown namespace',
    caller: bob,
    req: { tool: 'list_pods', namespace: 'zzz' },
    allowed: false,
  },
  {
    name: 'Exists: present',
    caller: bob,
    req: { tool: 'list_deployments', namespace: 'shop' },
    allowed: true,
  },
  {
    name: 'Exists: absent',
    caller: bob,
    req: { tool: 'list_deployments', namespace: 'web' },
    allowed: false,
  },
  {
    name: 'matchLabels: match',
    caller: bob,
    req: { tool: 'list_statefulsets', namespace: 'web-1' },
    allowed: true,
  },
  {
    name: 'matchLabels: mismatch',
    caller: bob,
    req: { tool: 'list_statefulsets', namespace: 'shop' },
    allowed: false,
  },
  {
    name: 'empty selector: every known namespace',
    caller: eve,
    req: { tool: 'list_pods', namespace: 'kube-system' },
    allowed: true,
  },
  {
    name: 'unknown namespace by glob',
    caller: eve,
    req: { tool: 'list_pods', namespace: 'new-thing' },
    allowed: true,
  },
  {
    name: 'unknown namespace by exact name',
    caller: eve,
    req: { tool: 'list_pods', namespace: 'exact-new' },
    allowed: true,
  },
  {
    name: 'unknown namespace, selector only',
    caller: eve,
    req: { tool: 'list_pods', namespace: 'other-new' },
    allowed: false,
  },
  // Invalid policies grant nothing.
  {
    name: 'invalid: unknown tool',
    caller: dave,
    req: { tool: 'list_pods', namespace: 'web' },
    allowed: false,
    code: 'PolicyDenied',
    policies: [],
  },
  {
    name: 'invalid: scale without bounds',
    caller: dave,
    req: { tool: 'scale_deployment', namespace: 'web', replicas: 1 },
    allowed: false,
  },
  {
    name: 'dave still gets his valid group grant',
    caller: dave,
    req: { tool: 'list_namespaces' },
    allowed: true,
  },
  // Always and never.
  {
    name: 'get_permissions for anyone',
    caller: nobody,
    req: { tool: 'get_permissions' },
    allowed: true,
    policies: [],
  },
  {
    name: 'deny by default',
    caller: nobody,
    req: { tool: 'list_pods', namespace: 'web' },
    allowed: false,
    code: 'PolicyDenied',
    policies: [],
  },
  {
    name: 'unknown tool',
    caller: copilot,
    req: { tool: 'delete_pod', namespace: 'web' },
    allowed: false,
    code: 'PolicyDenied',
  },
  {
    name: 'tool names are exact',
    caller: copilot,
    req: { tool: 'list_pods ', namespace: 'web' },
    allowed: false,
  },
];

describe('evaluate', () => {
  it.each(rows)('$name', (row) => {
    const decision = evaluate(index, { caller: row.caller, ...row.req });
    expect(decision.allowed, decision.reason).toBe(row.allowed);
    expect(decision.code).toBe(row.allowed ? undefined : (row.code ?? decision.code));
    if (!row.allowed) expect(decision.code).toBeDefined();
    if (row.policies) expect([...decision.policies].sort()).toEqual(row.policies);
    if (row.suggestion) expect(decision.suggestions).toContain(row.suggestion);
    expect(decision.reason.length).toBeGreaterThan(10);
  });

  it.each(rows.filter((r) => !r.allowed))('denial never names another namespace: $name', (row) => {
    const decision = evaluate(index, { caller: row.caller, ...row.req });
    const text = [decision.reason, ...decision.suggestions].join(' ');
    const words = new Set(text.split(/[\s,.;()"]+/));
    for (const ns of NAMESPACES.map((n) => n.name).filter((n) => n !== row.req.namespace)) {
      expect(words.has(ns), `${ns} in: ${text}`).toBe(false);
    }
    for (const pattern of ['web-*', 'team-?', 'new-*', 'exact-new']) expect(text).not.toContain(pattern);
  });

  it('a denial with matching grants elsewhere says so without naming them', () => {
    const decision = evaluate(index, { caller: copilot, tool: 'list_pods', namespace: 'shop' });
    expect(decision.reason).toBe(
      'The McpPolicies that grant system:serviceaccount:agents:copilot list_pods do not cover namespace shop.',
    );
    expect(decision.suggestions[0]).toMatch(/get_permissions/);
  });

  it.each([
    [
      [
        [1, 3],
        [4, 8],
      ],
      'replicas must be between 1 and 8',
    ],
    [
      [
        [1, 5],
        [3, 8],
        [20, 30],
      ],
      'replicas must be between 1 and 8 or between 20 and 30',
    ],
    [
      [
        [20, 30],
        [1, 2],
        [2, 2],
      ],
      'replicas must be between 1 and 2 or between 20 and 30',
    ],
  ])('OutOfBounds merges the ranges %j into one hint', (ranges, hint) => {
    const scalers = compile({
      policies: ranges.map(([min, max], i) => ({
        name: `r${i}`,
        spec: {
          subjects: [{ kind: 'User', name: 'u' }],
          namespaces: { names: ['web'] },
          tools: ['scale_*'],
          replicas: { min, max },
        },
      })),
      namespaces: NAMESPACES,
    });
    const decision = evaluate(scalers, {
      caller: as('u'),
      tool: 'scale_deployment',
      namespace: 'web',
      replicas: 10,
    });
    expect(decision.code).toBe('OutOfBounds');
    expect(decision.suggestions).toEqual([hint]);
  });

  it('an allow names the policy, the tool and the namespace', () => {
    expect(evaluate(index, { caller: copilot, tool: 'list_pods', namespace: 'web' }).reason).toBe(
      'McpPolicy copilot-web grants list_pods in namespace web.',
    );
  });
});

describe('grantedTools', () => {
  it.each([
    [
      copilot,
      [
        'get_permissions',
        'list_deployments',
        'list_namespaces',
        'list_pods',
        'list_statefulsets',
        'scale_deployment',
      ],
    ],
    [
      alice,
      [
        'get_permissions',
        'list_deployments',
        'list_namespaces',
        'list_pods',
        'list_services',
        'list_statefulsets',
      ],
    ],
    [carol, ['get_permissions', 'scale_deployment', 'scale_statefulset']],
    [as('dave'), ['get_permissions']],
    [nobody, ['get_permissions']],
  ] as const)('%j', (caller, tools) => {
    expect([...grantedTools(index, caller)].sort()).toEqual(tools);
  });
});

describe('namespaceFilter', () => {
  const probe = [...NAMESPACES.map((n) => n.name), 'web-new', 'new-thing', 'exact-new', 'zzz'];

  it.each([
    [copilot, 'list_pods', ['web', 'web-1', 'web-new']],
    [copilot, 'list_namespaces', probe],
    [copilot, 'get_permissions', probe],
    [copilot, 'list_services', []],
    [copilot, 'delete_pod', []],
    [alice, 'list_services', ['web', 'db', 'team-a']],
    [bob, 'list_pods', ['web-1', 'team-a', 'team-ab', 'kube-system']],
    [eve, 'list_pods', [...NAMESPACES.map((n) => n.name), 'new-thing', 'exact-new']],
    [as('frank', 'frank-team'), 'list_pods', ['web']],
  ] as const)('%j may %s in the expected namespaces', (caller, tool, expected) => {
    const filter = namespaceFilter(index, caller, tool);
    expect(probe.filter(filter).sort()).toEqual([...expected].sort());
  });

  it('agrees with evaluate on every caller, tool and namespace of the fixtures', () => {
    const callers = [copilot, alice, bob, carol, dave, eve, frank, nobody, as('frank', 'frank-team')];
    const tools = [
      'list_namespaces',
      'list_pods',
      'list_deployments',
      'list_services',
      'list_statefulsets',
      'scale_deployment',
      'get_permissions',
    ];
    for (const caller of callers) {
      for (const tool of tools) {
        const filter = namespaceFilter(index, caller, tool);
        for (const namespace of probe) {
          expect(filter(namespace), `${caller.username} ${tool} ${namespace}`).toBe(
            evaluate(index, { caller, tool, namespace }).allowed,
          );
        }
      }
    }
  });
});

describe('permissions', () => {
  it('lists each grant once with tools, namespaces, patterns, selector and bounds', () => {
    const p = permissions(index, as('copilot-and-bob', 'sre'));
    expect(p.grants).toEqual([
      {
        policy: 'sre-prod',
        tools: ['list_services'],
        allNamespaces: false,
        namespaces: ['db', 'web'],
        namespacePatterns: [],
        namespaceSelector: 'env in (prod),!kubemcp.io/frozen',
      },
    ]);
    expect(p.tools).toEqual(['get_permissions', 'list_services']);
  });

  it('shows every grant of a ServiceAccount, sorted by policy', () => {
    const p = permissions(index, copilot);
    expect(p.caller).toBe(copilot);
    expect(p.grants.map((g) => g.policy)).toEqual([
      'agents-namespace-group',
      'copilot-web',
      'everyone-lists-namespaces',
    ]);
    const web = p.grants.find((g) => g.policy === 'copilot-web');
    expect(web).toEqual({
      policy: 'copilot-web',
      tools: ['list_deployments', 'list_pods', 'scale_deployment'],
      allNamespaces: false,
      namespaces: ['web', 'web-1'],
      namespacePatterns: ['web', 'web-*'],
      replicas: { min: 1, max: 10 },
    });
    const everyone = p.grants.find((g) => g.policy === 'everyone-lists-namespaces');
    expect(everyone?.allNamespaces).toBe(true);
    expect(everyone?.namespaces).toEqual([]);
  });

  it('lists a policy matched through user and group once', () => {
    const doubly = compile({
      policies: [
        {
          name: 'both',
          spec: {
            subjects: [
              { kind: 'User', name: 'u' },
              { kind: 'Group', name: 'g' },
            ],
            namespaces: { names: ['web'] },
            tools: ['list_pods'],
          },
        },
      ],
      namespaces: NAMESPACES,
    });
    expect(permissions(doubly, as('u', 'g')).grants.map((g) => g.policy)).toEqual(['both']);
    expect(evaluate(doubly, { caller: as('u', 'g'), tool: 'list_pods', namespace: 'web' }).policies).toEqual([
      'both',
    ]);
  });

  it('is empty for a caller without grants, apart from get_permissions', () => {
    expect(permissions(index, nobody)).toEqual({ caller: nobody, tools: ['get_permissions'], grants: [] });
  });
});

describe('hostile namespace strings', () => {
  const globIndex = compile({
    policies: [
      {
        name: 'prod-readers',
        spec: {
          subjects: [{ kind: 'User', name: 'eve' }],
          namespaces: { names: ['*-*-prod'] },
          tools: ['list_pods'],
        },
      },
    ],
    namespaces: [{ name: 'web-a-prod', labels: {} }],
  });

  it('a 100,000-character namespace is refused as a name, briefly, without matching it against globs', () => {
    // With backtracking regular expressions this one decision took about 15 s (quadratic in the input).
    const namespace = `a${'-'.repeat(100_000)}b`;
    const d = evaluate(globIndex, { caller: eve, tool: 'list_pods', namespace });
    expect(d).toMatchObject({ allowed: false, code: 'PolicyDenied', policies: [] });
    expect(d.reason).toContain('is not a valid namespace name');
    expect(d.reason.length).toBeLessThan(200);
  });

  it.each([['UPPER'], ['-dash'], ['dot.ted'], ['a'.repeat(64)], ['']])(
    '%s is not a namespace name',
    (namespace) => {
      expect(evaluate(globIndex, { caller: eve, tool: 'list_pods', namespace }).allowed).toBe(false);
    },
  );

  it('names that may exist still match the globs', () => {
    expect(evaluate(globIndex, { caller: eve, tool: 'list_pods', namespace: 'web-a-prod' }).allowed).toBe(
      true,
    );
    expect(evaluate(globIndex, { caller: eve, tool: 'list_pods', namespace: 'x-y-prod' }).allowed).toBe(true);
    expect(
      evaluate(globIndex, { caller: eve, tool: 'list_pods', namespace: `a${'-'.repeat(60)}prod` }).allowed,
    ).toBe(false);
    expect(
      evaluate(globIndex, { caller: eve, tool: 'list_pods', namespace: `a${'-'.repeat(57)}prod` }).allowed,
    ).toBe(true);
  });
});
