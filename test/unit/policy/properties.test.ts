/**
 * Property tests: the engine against an independent, deliberately naive reference that reads the
 * rules of docs/contract.md literally (scan every policy; backtracking globs; selectors by hand).
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type McpPolicySpec, McpPolicySpecSchema } from '../../../src/api/v1alpha1/index.js';
import {
  type Caller,
  compile,
  type DecisionRequest,
  evaluate,
  grantedTools,
  KNOWN_TOOLS,
  type NamespaceInfo,
  namespaceFilter,
  type PolicyIndex,
  type PolicyObject,
  permissions,
} from '../../../src/policy/index.js';

// ---------------------------------------------------------------------------------------------
// The reference.

function refGlob(pattern: string, value: string): boolean {
  if (pattern === '') return value === '';
  const head = pattern[0];
  const rest = pattern.slice(1);
  if (head === '*') {
    for (let i = 0; i <= value.length; i++) if (refGlob(rest, value.slice(i))) return true;
    return false;
  }
  return value !== '' && (head === '?' || head === value[0]) && refGlob(rest, value.slice(1));
}

type Selector = NonNullable<McpPolicySpec['namespaces']['selector']>;

function refSelector(selector: Selector, labels: Record<string, string>): boolean {
  const has = (k: string) => Object.keys(labels).includes(k);
  for (const [k, v] of Object.entries(selector.matchLabels ?? {}))
    if (!has(k) || labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const values = e.values ?? [];
    if (e.operator === 'In' && !(has(e.key) && values.includes(labels[e.key] as string))) return false;
    if (e.operator === 'NotIn' && has(e.key) && values.includes(labels[e.key] as string)) return false;
    if (e.operator === 'Exists' && !has(e.key)) return false;
    if (e.operator === 'DoesNotExist' && has(e.key)) return false;
  }
  return true;
}

/** The valid specs, by policy name (what a correct compile would make Ready). */
function refValid(policies: readonly PolicyObject[]): Map<string, McpPolicySpec> {
  const out = new Map<string, McpPolicySpec>();
  for (const p of policies) {
    const parsed = McpPolicySpecSchema.safeParse(p.spec);
    if (!parsed.success) continue;
    if (!parsed.data.tools.every((t) => KNOWN_TOOLS.some((k) => refGlob(t, k)))) continue;
    out.set(p.name, parsed.data);
  }
  return out;
}

function refSubject(spec: McpPolicySpec, caller: Caller): boolean {
  return spec.subjects.some((s) =>
    s.kind === 'User'
      ? s.name === caller.username
      : s.kind === 'Group'
        ? caller.groups.includes(s.name)
        : `system:serviceaccount:${s.namespace}:${s.name}` === caller.username,
  );
}

function refCovers(spec: McpPolicySpec, ns: string, known: readonly NamespaceInfo[]): boolean {
  if ((spec.namespaces.names ?? []).some((p) => refGlob(p, ns))) return true;
  const info = known.find((n) => n.name === ns);
  return (
    info !== undefined &&
    spec.namespaces.selector !== undefined &&
    refSelector(spec.namespaces.selector, info.labels)
  );
}

interface RefDecision {
  allowed: boolean;
  code?: 'PolicyDenied' | 'OutOfBounds';
  policies: string[];
}

function refDecide(
  valid: Map<string, McpPolicySpec>,
  known: readonly NamespaceInfo[],
  req: DecisionRequest,
): RefDecision {
  const { caller, tool, namespace, replicas } = req;
  if (!(KNOWN_TOOLS as readonly string[]).includes(tool))
    return { allowed: false, code: 'PolicyDenied', policies: [] };
  if (replicas !== undefined && !(Number.isInteger(replicas) && replicas >= 0 && replicas <= 10_000)) {
    return { allowed: false, code: 'OutOfBounds', policies: [] };
  }
  if (tool === 'get_permissions') return { allowed: true, policies: [] };
  const covering = [...valid].filter(
    ([, spec]) =>
      refSubject(spec, caller) &&
      spec.tools.some((t) => refGlob(t, tool)) &&
      (namespace === undefined || refCovers(spec, namespace, known)),
  );
  if (covering.length === 0) return { allowed: false, code: 'PolicyDenied', policies: [] };
  const fits =
    replicas === undefined || !tool.startsWith('scale_')
      ? covering
      : covering.filter(
          ([, s]) => s.replicas !== undefined && s.replicas.min <= replicas && replicas <= s.replicas.max,
        );
  if (fits.length === 0)
    return { allowed: false, code: 'OutOfBounds', policies: covering.map(([n]) => n).sort() };
  return { allowed: true, policies: fits.map(([n]) => n).sort() };
}

// ---------------------------------------------------------------------------------------------
// Generators.

const POOL = ['web', 'web-1', 'web-2', 'shop', 'db', 'team-a', 'team-ab', 'kube-system'];
const UNKNOWN = ['web-new', 'new-x', 'zzz'];
const ALL_NAMES = [...POOL, ...UNKNOWN];

const labelsArb = fc.dictionary(
  fc.constantFrom('team', 'env', 'frozen'),
  fc.constantFrom('web', 'shop', 'prod', 'dev'),
  {
    maxKeys: 3,
  },
);
const namespacesArb: fc.Arbitrary<NamespaceInfo[]> = fc
  .subarray(POOL)
  .chain((names) => fc.tuple(...names.map((name) => labelsArb.map((labels) => ({ name, labels })))));

const subjectArb = fc.oneof(
  fc.record({
    kind: fc.constant('ServiceAccount'),
    name: fc.constantFrom('copilot', 'robot'),
    namespace: fc.constantFrom('agents', 'web'),
  }),
  fc.record({
    kind: fc.constant('User'),
    name: fc.constantFrom('alice', 'bob', 'system:serviceaccount:agents:copilot'),
  }),
  fc.record({
    kind: fc.constant('Group'),
    name: fc.constantFrom('sre', 'dev', 'system:serviceaccounts:agents'),
  }),
);
const expressionArb = fc.oneof(
  fc.record({
    key: fc.constantFrom('team', 'env', 'frozen'),
    operator: fc.constantFrom('In', 'NotIn'),
    values: fc.subarray(['web', 'shop', 'prod', 'dev'], { minLength: 1 }),
  }),
  fc.record({
    key: fc.constantFrom('team', 'env', 'frozen'),
    operator: fc.constantFrom('Exists', 'DoesNotExist'),
  }),
);
const selectorArb = fc.record(
  {
    matchLabels: fc.dictionary(
      fc.constantFrom('team', 'env'),
      fc.constantFrom('web', 'shop', 'prod', 'dev'),
      { maxKeys: 2 },
    ),
    matchExpressions: fc.array(expressionArb, { maxLength: 2 }),
  },
  { requiredKeys: [] },
);
const specArb = fc.record(
  {
    subjects: fc.array(subjectArb, { minLength: 1, maxLength: 3 }),
    namespaces: fc.oneof(
      fc.record({
        names: fc.subarray(['web', 'web-*', '*', 'team-?', '?b', 'db', 'new-*', 'kube-*'], {
          minLength: 1,
          maxLength: 3,
        }),
      }),
      fc.record({ selector: selectorArb }),
      fc.record({
        names: fc.subarray(['web', 'web-*', 'team-?', 'new-*'], { minLength: 1, maxLength: 2 }),
        selector: selectorArb,
      }),
    ),
    tools: fc.subarray(
      [
        'list_pods',
        'list_*',
        '*',
        'scale_deployment',
        'scale_*',
        's*',
        'get_permissions',
        'list_services',
        '?ist_pods',
        'list_namespaces',
        'delete_*',
      ],
      { minLength: 1, maxLength: 3 },
    ),
    // Usually present so that scale grants are valid; sometimes min > max (invalid).
    replicas: fc.record({ min: fc.integer({ min: 0, max: 4 }), max: fc.integer({ min: 3, max: 9 }) }),
  },
  { requiredKeys: ['subjects', 'namespaces', 'tools'] },
);
const policiesArb: fc.Arbitrary<PolicyObject[]> = fc
  .array(
    fc.oneof(
      { weight: 9, arbitrary: specArb },
      { weight: 1, arbitrary: specArb.map((s) => ({ ...s, extra: true })) },
    ),
    {
      maxLength: 12,
    },
  )
  .map((specs) => specs.map((spec, i) => ({ name: `p${i}`, generation: i + 1, spec })));

const callerArb: fc.Arbitrary<Caller> = fc.record({
  username: fc.constantFrom(
    'alice',
    'bob',
    'system:serviceaccount:agents:copilot',
    'system:serviceaccount:web:robot',
    'nobody',
  ),
  groups: fc.subarray(['sre', 'dev', 'system:serviceaccounts:agents']),
});
const requestArb: fc.Arbitrary<DecisionRequest> = fc.record(
  {
    caller: callerArb,
    tool: fc.constantFrom(...KNOWN_TOOLS, 'delete_pod'),
    namespace: fc.constantFrom(...ALL_NAMES),
    replicas: fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0, max: 9 }) },
      { weight: 1, arbitrary: fc.constantFrom(-1, Number.NaN, 1.5, 10_001, Number.POSITIVE_INFINITY) },
    ),
  },
  { requiredKeys: ['caller', 'tool'] },
);

const RUNS = { numRuns: 400 };

function decide(index: PolicyIndex, req: DecisionRequest) {
  const d = evaluate(index, req);
  return { allowed: d.allowed, code: d.code, policies: [...d.policies].sort() };
}

// ---------------------------------------------------------------------------------------------

describe('evaluate agrees with the naive reference', () => {
  it('on allow/deny, the denial code and the allowing policies', () => {
    fc.assert(
      fc.property(
        policiesArb,
        namespacesArb,
        fc.array(requestArb, { minLength: 1, maxLength: 20 }),
        (policies, namespaces, reqs) => {
          const index = compile({ policies, namespaces });
          const valid = refValid(policies);
          for (const req of reqs) {
            const got = decide(index, req);
            const want = refDecide(valid, namespaces, req);
            expect({ allowed: got.allowed, code: got.code }).toEqual({
              allowed: want.allowed,
              code: want.code,
            });
            if (want.allowed) expect(got.policies).toEqual(want.policies);
          }
        },
      ),
      RUNS,
    );
  });

  it('never allows a namespace, tool or replica count outside some matching grant', () => {
    fc.assert(
      fc.property(
        policiesArb,
        namespacesArb,
        fc.array(requestArb, { maxLength: 20 }),
        (policies, namespaces, reqs) => {
          const index = compile({ policies, namespaces });
          const valid = refValid(policies);
          for (const req of reqs) {
            const d = evaluate(index, req);
            if (!d.allowed) continue;
            if (req.tool === 'get_permissions') continue;
            expect(d.policies.length).toBeGreaterThan(0);
            for (const name of d.policies) {
              const spec = valid.get(name);
              expect(spec, `${name} allowed but is not valid`).toBeDefined();
              if (!spec) continue;
              expect(index.states.get(name)?.ready).toBe(true);
              expect(refSubject(spec, req.caller)).toBe(true);
              expect(spec.tools.some((t) => refGlob(t, req.tool))).toBe(true);
              if (req.namespace !== undefined) expect(refCovers(spec, req.namespace, namespaces)).toBe(true);
              if (req.replicas !== undefined && req.tool.startsWith('scale_')) {
                expect(
                  spec.replicas && spec.replicas.min <= req.replicas && req.replicas <= spec.replicas.max,
                ).toBe(true);
              }
            }
          }
        },
      ),
      RUNS,
    );
  });

  it('a denial never names a namespace other than the one asked about', () => {
    fc.assert(
      fc.property(
        policiesArb,
        namespacesArb,
        fc.array(requestArb, { maxLength: 20 }),
        (policies, namespaces, reqs) => {
          const index = compile({ policies, namespaces });
          for (const req of reqs) {
            const d = evaluate(index, req);
            if (d.allowed) continue;
            const words = new Set([d.reason, ...d.suggestions].join(' ').split(/[\s,.;()"]+/));
            for (const ns of ALL_NAMES)
              if (ns !== req.namespace) expect(words.has(ns), `${ns}: ${d.reason}`).toBe(false);
          }
        },
      ),
      RUNS,
    );
  });
});

describe('the helpers agree with evaluate', () => {
  it('namespaceFilter(caller, tool)(ns) === evaluate(caller, tool, ns).allowed', () => {
    fc.assert(
      fc.property(
        policiesArb,
        namespacesArb,
        callerArb,
        fc.constantFrom(...KNOWN_TOOLS, 'nope'),
        (policies, namespaces, caller, tool) => {
          const index = compile({ policies, namespaces });
          const filter = namespaceFilter(index, caller, tool);
          for (const namespace of ALL_NAMES) {
            expect(filter(namespace), namespace).toBe(evaluate(index, { caller, tool, namespace }).allowed);
          }
        },
      ),
      RUNS,
    );
  });

  it('grantedTools holds exactly the tools evaluate allows somewhere', () => {
    fc.assert(
      fc.property(policiesArb, namespacesArb, callerArb, (policies, namespaces, caller) => {
        const index = compile({ policies, namespaces });
        const granted = grantedTools(index, caller);
        for (const tool of KNOWN_TOOLS)
          expect(granted.has(tool), tool).toBe(evaluate(index, { caller, tool }).allowed);
      }),
      RUNS,
    );
  });

  it('permissions lists the valid policies of the caller with the namespaces they cover now', () => {
    fc.assert(
      fc.property(policiesArb, namespacesArb, callerArb, (policies, namespaces, caller) => {
        const index = compile({ policies, namespaces });
        const valid = refValid(policies);
        const p = permissions(index, caller);
        const mine = [...valid].filter(([, spec]) => refSubject(spec, caller));
        expect(p.grants.map((g) => g.policy)).toEqual(mine.map(([n]) => n).sort());
        for (const grant of p.grants) {
          const spec = valid.get(grant.policy) as McpPolicySpec;
          expect(grant.tools).toEqual(
            KNOWN_TOOLS.filter((k) => spec.tools.some((t) => refGlob(t, k))).sort(),
          );
          expect(grant.allNamespaces).toBe((spec.namespaces.names ?? []).includes('*'));
          if (!grant.allNamespaces) {
            const covered = namespaces.filter((n) => refCovers(spec, n.name, namespaces)).map((n) => n.name);
            expect(grant.namespaces).toEqual(covered.sort());
          }
        }
      }),
      RUNS,
    );
  });
});

describe('compile is order-independent', () => {
  it('shuffled policies and namespaces give the same states, decisions and permissions', () => {
    const shuffle = <T>(items: readonly T[], keys: readonly number[]): T[] =>
      items
        .map((item, i) => ({ item, key: keys[i % keys.length] ?? 0 }))
        .sort((a, b) => a.key - b.key)
        .map((x) => x.item);
    fc.assert(
      fc.property(
        policiesArb,
        namespacesArb,
        fc.array(fc.integer(), { minLength: 1, maxLength: 16 }),
        fc.array(requestArb, { maxLength: 20 }),
        (policies, namespaces, keys, reqs) => {
          const a = compile({ policies, namespaces });
          const b = compile({
            policies: shuffle(policies, keys),
            namespaces: shuffle(namespaces, [...keys].reverse()),
          });
          const states = (i: PolicyIndex) =>
            [...i.states.values()].sort((x, y) => x.name.localeCompare(y.name));
          expect(states(b)).toEqual(states(a));
          for (const req of reqs) {
            expect(evaluate(b, req)).toEqual(evaluate(a, req));
            expect(permissions(b, req.caller)).toEqual(permissions(a, req.caller));
          }
        },
      ),
      RUNS,
    );
  });
});
