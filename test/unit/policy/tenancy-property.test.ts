/**
 * Property: a namespaced grant never allows a call its ceiling would deny. Over random delegations
 * (namespaces, tools, maxReplicas, maxStep, confirmAbove) and random McpNamespacePolicies, every call
 * the engine allows through namespaced policies alone is allowed by some covering ceiling read
 * literally: the namespace is covered, the tool is in the ceiling, the target is at most maxReplicas,
 * the step at most maxStep, and a target above confirmAbove needs a human.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Caller,
  compile,
  type DelegationObject,
  decideCall,
  decideScale,
  isAlwaysAllowedTool,
  isScaleTool,
  KNOWN_TOOLS,
  matchGlob,
  type NamespacedPolicyObject,
  type NamespaceInfo,
} from '../../../src/policy/index.js';

const NAMESPACES: NamespaceInfo[] = ['team-a', 'team-b', 'team-c', 'web'].map((name) => ({
  name,
  labels: name.startsWith('team-') ? { tenant: 'yes' } : ({} as Record<string, string>),
}));
const caller: Caller = { username: 'system:serviceaccount:team-a:agent', groups: ['system:authenticated'] };
const SUBJECT = { kind: 'ServiceAccount', name: 'agent', namespace: 'team-a' };
const TOOL_PATTERNS = [...KNOWN_TOOLS, 'list_*', 'scale_*', '*'];

interface RawCeiling {
  names?: string[];
  selector: boolean;
  tools: string[];
  maxReplicas?: number;
  maxStep?: number;
  confirmAbove?: number;
}

const small = fc.integer({ min: 0, max: 12 });
const ceilingArb: fc.Arbitrary<RawCeiling> = fc.record(
  {
    names: fc.uniqueArray(fc.constantFrom('team-a', 'team-b', 'team-*', 'web', '*'), {
      minLength: 1,
      maxLength: 3,
    }),
    selector: fc.boolean(),
    tools: fc.uniqueArray(fc.constantFrom(...TOOL_PATTERNS), { minLength: 1, maxLength: 3 }),
    maxReplicas: small,
    maxStep: fc.integer({ min: 1, max: 4 }),
    confirmAbove: small,
  },
  { requiredKeys: ['selector', 'tools'] },
);

function delegationOf(raw: RawCeiling, i: number): DelegationObject {
  const namespaces =
    raw.names === undefined && !raw.selector
      ? { names: ['team-a'] }
      : {
          ...(raw.names === undefined ? {} : { names: raw.names }),
          ...(raw.selector ? { selector: { matchLabels: { tenant: 'yes' } } } : {}),
        };
  return {
    name: `d${i}`,
    spec: {
      namespaces,
      ceiling: {
        tools: raw.tools,
        ...(raw.maxReplicas === undefined ? {} : { maxReplicas: raw.maxReplicas }),
        ...(raw.maxStep === undefined ? {} : { maxStep: raw.maxStep }),
        ...(raw.confirmAbove === undefined ? {} : { confirmAbove: raw.confirmAbove }),
      },
    },
  };
}

const policyArb = fc.record(
  {
    namespace: fc.constantFrom(...NAMESPACES.map((n) => n.name)),
    tools: fc.uniqueArray(fc.constantFrom(...TOOL_PATTERNS), { minLength: 1, maxLength: 3 }),
    min: fc.integer({ min: 0, max: 3 }),
    max: small,
    maxStep: fc.integer({ min: 1, max: 6 }),
    above: small,
  },
  { requiredKeys: ['namespace', 'tools', 'min', 'max'] },
);

type RawPolicy = typeof policyArb extends fc.Arbitrary<infer T> ? T : never;

function policyOf(raw: RawPolicy, i: number): NamespacedPolicyObject {
  const max = Math.max(raw.min, raw.max);
  return {
    namespace: raw.namespace,
    name: `p${i}`,
    spec: {
      subjects: [SUBJECT],
      tools: raw.tools,
      replicas: { min: raw.min, max, ...(raw.maxStep === undefined ? {} : { maxStep: raw.maxStep }) },
      // confirm is valid only next to a scale tool.
      ...(raw.above === undefined || !raw.tools.some((t) => t === '*' || t.startsWith('scale'))
        ? {}
        : { confirm: { above: raw.above } }),
    },
  };
}

/** A policy at the edge of a ceiling: within its tools, each number the ceiling's give or take 1. */
function nearArb(ceiling: RawCeiling): fc.Arbitrary<RawPolicy> {
  const near = (n: number | undefined, lo: number) =>
    n === undefined ? fc.integer({ min: lo, max: 12 }) : fc.integer({ min: Math.max(lo, n - 1), max: n + 1 });
  return fc.record({
    namespace: fc.constantFrom(...NAMESPACES.map((n) => n.name).filter((n) => covers(ceiling, n)), 'web'),
    tools: fc.subarray(ceiling.tools, { minLength: 1 }),
    min: fc.integer({ min: 0, max: 2 }),
    max: near(ceiling.maxReplicas, 0),
    maxStep: near(ceiling.maxStep, 1),
    above: near(ceiling.confirmAbove, 0),
  });
}

/** Ceilings, and policies of which about half sit at the edge of one of them. */
const worldArb = fc.array(ceilingArb, { maxLength: 3 }).chain((ceilings) =>
  fc.tuple(
    fc.constant(ceilings),
    fc.array(ceilings.length === 0 ? policyArb : fc.oneof(policyArb, ...ceilings.map(nearArb)), {
      minLength: 1,
      maxLength: 5,
    }),
  ),
);

function covers(raw: RawCeiling, namespace: string): boolean {
  const names = raw.names === undefined && !raw.selector ? ['team-a'] : (raw.names ?? []);
  if (names.some((p) => matchGlob(p, namespace))) return true;
  return raw.selector && namespace.startsWith('team-');
}

describe('a namespaced grant never widens its ceiling', () => {
  it('every allowed call (and scale verdict) is within some covering ceiling', () => {
    const seen = { allowed: 0, scaled: 0 };
    fc.assert(
      fc.property(
        worldArb,
        fc.oneof(
          fc.constantFrom(...KNOWN_TOOLS.filter((t) => !isAlwaysAllowedTool(t))),
          fc.constantFrom(...KNOWN_TOOLS.filter(isScaleTool)),
        ),
        // The call's namespace: mostly one a policy lives in, so that calls are often allowed.
        fc.oneof(fc.nat(), fc.constantFrom(...NAMESPACES.map((n) => n.name))),
        fc.integer({ min: 0, max: 14 }),
        // The step, small and near the step limits: from = to + delta (at least 0).
        fc.integer({ min: -5, max: 5 }),
        ([ceilings, policies], tool, pick, to, delta) => {
          const namespace =
            typeof pick === 'string' ? pick : (policies[pick % policies.length]?.namespace ?? 'web');
          const from = Math.max(0, to + delta);
          const index = compile({
            policies: [],
            namespaces: NAMESPACES,
            delegations: ceilings.map(delegationOf),
            namespacePolicies: policies.map(policyOf),
          });
          const scale = isScaleTool(tool);
          const d = decideCall(index, { caller, tool, namespace, ...(scale ? { replicas: to } : {}) });
          if (!d.allowed) return;
          seen.allowed++;
          // Every allowing policy lives in the namespace of the call.
          for (const id of d.policies) expect(id.startsWith(`${namespace}/`)).toBe(true);
          const within = ceilings.filter(
            (c) =>
              covers(c, namespace) &&
              c.tools.some((p) => matchGlob(p, tool)) &&
              (!scale || (c.maxReplicas !== undefined && to <= c.maxReplicas)),
          );
          expect(within.length).toBeGreaterThan(0);
          if (!scale) return;
          const verdict = decideScale(d.limited ?? d.policies.map((policy) => ({ policy })), {
            from,
            to,
            now: 0,
          });
          if (verdict.kind === 'deny') return;
          seen.scaled++;
          const step = Math.abs(to - from);
          const stepOk = within.filter((c) => c.maxStep === undefined || step <= c.maxStep);
          expect(stepOk.length).toBeGreaterThan(0);
          if (verdict.kind === 'allow') {
            expect(stepOk.some((c) => c.confirmAbove === undefined || to <= c.confirmAbove)).toBe(true);
          }
        },
      ),
      { numRuns: 3000 },
    );
    // The property is not vacuous: the generators reach allowed calls and allowed scales.
    expect(seen.allowed).toBeGreaterThan(50);
    expect(seen.scaled).toBeGreaterThan(8);
  });

  it('no policy is Ready in a namespace no delegation covers', () => {
    fc.assert(
      fc.property(
        fc.array(ceilingArb, { maxLength: 3 }),
        fc.array(policyArb, { minLength: 1, maxLength: 5 }),
        (ceilings, policies) => {
          const index = compile({
            policies: [],
            namespaces: NAMESPACES,
            delegations: ceilings.map(delegationOf),
            namespacePolicies: policies.map(policyOf),
          });
          for (const [id, state] of index.states) {
            const namespace = id.slice(0, id.indexOf('/'));
            if (!ceilings.some((c) => covers(c, namespace))) {
              expect(state.ready).toBe(false);
              expect(state.reason).toBe('NotDelegated');
              expect(state.message).toContain(`namespace ${namespace} does not accept`);
            }
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
