/**
 * The many-agents plan (bench/lib/agents-plan.ts) checked with the pure policy engine: every policy
 * compiles Ready, each caller's grant covers the namespaces the plan says (a few), and every call the
 * benchmark sends is one the policies allow, so a refusal during the run is a real error. Also the
 * tool mix of both phases, which the throughput comparison depends on.
 */
import { describe, expect, it } from 'vitest';
import {
  BASELINE_SCALE_EVERY,
  BLOCK,
  CALLERS_NS,
  callOf,
  distinctCalls,
  FULL,
  makePlan,
  type Plan,
  type PlanCaller,
  QUICK,
  roundRobin,
} from '../../../bench/lib/agents-plan.js';
import { metricSum, parseMetrics } from '../../../bench/lib/metrics.js';
import {
  type Caller,
  compile,
  evaluate,
  grantedTools,
  type PolicyIndex,
  permissions,
  serviceAccountUsername,
} from '../../../src/policy/index.js';

function indexOf(plan: Plan): PolicyIndex {
  return compile({
    policies: [plan.baseline, ...plan.callers].map((c) => ({ name: c.policy, spec: c.spec })),
    namespaces: [
      ...plan.namespaces,
      { name: CALLERS_NS, labels: {} },
      { name: 'default', labels: {} },
      { name: 'kubemcp-system', labels: {} },
    ],
  });
}

const callerOf = (c: PlanCaller): Caller => ({
  username: serviceAccountUsername(CALLERS_NS, c.sa),
  groups: ['system:serviceaccounts', `system:serviceaccounts:${CALLERS_NS}`, 'system:authenticated'],
});

/** Calls n = 0 … count−1 of a caller, tool by tool. */
function mix(c: PlanCaller, count: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let n = 0; n < count; n++) {
    const t = callOf(c, n).tool;
    m.set(t, (m.get(t) ?? 0) + 1);
  }
  return m;
}

describe.each([
  ['full', FULL],
  ['quick', QUICK],
])('the %s plan', (_, sizes) => {
  const plan = makePlan(sizes);
  const index = indexOf(plan);

  it('has the sizes asked for and unique names', () => {
    expect(plan.namespaces).toHaveLength(sizes.namespaces);
    expect(plan.callers).toHaveLength(sizes.callers);
    expect(new Set(plan.namespaces.map((n) => n.name)).size).toBe(sizes.namespaces);
    const sas = [plan.baseline, ...plan.callers].map((c) => c.sa);
    expect(new Set(sas).size).toBe(sas.length);
  });

  it('every policy is Ready, and each grant covers exactly the namespaces the plan uses (3 or 4)', () => {
    for (const c of [plan.baseline, ...plan.callers]) {
      const state = index.states.get(c.policy);
      expect(state?.ready, `${c.policy}: ${state?.message}`).toBe(true);
      const p = permissions(index, callerOf(c));
      expect(p.grants).toHaveLength(1);
      expect(p.grants[0]?.namespaces, c.policy).toEqual([...c.covers].sort());
      expect(c.covers.length).toBeGreaterThanOrEqual(3);
      expect(c.covers.length).toBeLessThanOrEqual(4);
    }
  });

  it('mixes names, globs and selectors, with a scale grant for one caller in ten', () => {
    const kinds = new Set(plan.callers.map((c) => c.kind));
    expect(kinds).toEqual(new Set(['names', 'glob', 'selector', 'names+selector']));
    const scaling = plan.callers.filter((c) => c.scaleEvery > 0);
    expect(scaling.length / plan.callers.length).toBeCloseTo(0.1, 1);
    for (const c of scaling) expect(c.spec.tools).toContain('scale_deployment');
  });

  it('every call the benchmark sends is allowed by the policies', () => {
    for (const c of [plan.baseline, ...plan.callers]) {
      const who = callerOf(c);
      const granted = grantedTools(index, who);
      // Two full rounds of every target's 1 → 2 → 1 cycle.
      const count = BLOCK * Math.max(1, c.scaleEvery) * Math.max(1, c.scaleTargets.length) * 4;
      for (let n = 0; n < count; n++) {
        const call = callOf(c, n);
        const ns = call.args.namespace as string | undefined;
        if (call.tool === 'get_permissions') continue;
        if (ns === undefined) {
          expect(granted.has(call.tool), `${c.sa} ${call.tool}`).toBe(true);
          continue;
        }
        const d = evaluate(index, {
          caller: who,
          tool: call.tool,
          namespace: ns,
          ...(call.tool === 'scale_deployment' ? { replicas: call.args.replicas as number } : {}),
        });
        expect(d.allowed, `${c.sa} ${call.tool} ${JSON.stringify(call.args)}: ${d.reason}`).toBe(true);
      }
    }
  }, 30_000); // about 80,000 decisions: seconds on a busy 2-core machine

  it('prebuilt requests are keyed consistently: one key, one call', () => {
    for (const c of [plan.baseline, plan.callers[0] as PlanCaller, plan.callers[1] as PlanCaller]) {
      const byKey = new Map<number, string>();
      for (let n = 0; n < BLOCK * BASELINE_SCALE_EVERY * 8; n++) {
        const call = callOf(c, n);
        expect(call.key).toBeLessThan(distinctCalls(c));
        const text = `${call.tool} ${JSON.stringify(call.args)}`;
        expect(byKey.get(call.key) ?? text).toBe(text);
        byKey.set(call.key, text);
      }
    }
  });
});

describe('the tool mix', () => {
  const plan = makePlan(FULL);

  it('is the same for one caller and for 1,000 callers round-robin', () => {
    const base = mix(plan.baseline, BLOCK * BASELINE_SCALE_EVERY * 10);
    const total = [...base.values()].reduce((a, b) => a + b, 0);
    const many = new Map<string, number>();
    for (const c of plan.callers)
      for (const [tool, count] of mix(c, BLOCK * 10)) many.set(tool, (many.get(tool) ?? 0) + count);
    const manyTotal = [...many.values()].reduce((a, b) => a + b, 0);
    const shares = {
      list_pods: 0.45,
      list_deployments: 0.25,
      get_permissions: 0.295,
      scale_deployment: 0.005,
    };
    for (const [tool, share] of Object.entries(shares)) {
      expect((base.get(tool) ?? 0) / total, `baseline ${tool}`).toBeCloseTo(share, 4);
      expect((many.get(tool) ?? 0) / manyTotal, `many ${tool}`).toBeCloseTo(share, 4);
    }
  });

  it('round-robin over 1,000 callers sends the same mix in every round, scales included', () => {
    const n = plan.callers.length;
    for (let round = 0; round < 2 * BLOCK; round++) {
      const tools = new Map<string, number>();
      for (let i = round * n; i < (round + 1) * n; i++) {
        const next = roundRobin(n, i);
        const t = callOf(plan.callers[next.caller] as PlanCaller, next.n).tool;
        tools.set(t, (tools.get(t) ?? 0) + 1);
      }
      expect(tools.get('scale_deployment'), `round ${round}`).toBe(5);
      expect(tools.get('list_pods'), `round ${round}`).toBe(450);
    }
  });

  it('scales each target 1 → 2 → 1, within the bounds', () => {
    const c = plan.callers[0] as PlanCaller;
    const replicas = Array.from({ length: BLOCK * 4 }, (_, n) => callOf(c, n))
      .filter((x) => x.tool === 'scale_deployment')
      .map((x) => x.args.replicas);
    expect(replicas).toEqual([1, 2, 1, 2]);
  });
});

describe('metricSum', () => {
  const m = parseMetrics(
    [
      '# HELP kubemcp_tokenreviews_total TokenReviews sent',
      '# TYPE kubemcp_tokenreviews_total counter',
      'kubemcp_tokenreviews_total{result="authenticated"} 1000',
      'kubemcp_tokenreviews_total{result="rejected"} 3',
      'kubemcp_tokenreviews_total_extra 7',
      'nodejs_heap_size_used_bytes 2097152',
      '',
    ].join('\n'),
  );

  it('sums a metric over its label sets, or those with the labels asked for', () => {
    expect(metricSum(m, 'kubemcp_tokenreviews_total')).toBe(1003);
    expect(metricSum(m, 'kubemcp_tokenreviews_total', { result: 'rejected' })).toBe(3);
    expect(metricSum(m, 'kubemcp_tokenreviews_avoided_total')).toBe(0);
    expect(m.get('nodejs_heap_size_used_bytes')).toBe(2097152);
  });
});
