import { describe, expect, it } from 'vitest';
import { McpPolicySpecSchema } from '../../../src/api/v1alpha1/schema.js';
import { compile } from '../../../src/policy/compile.js';
import { confirmReasons, decideScale, describeLimits, limitsOf } from '../../../src/policy/limits.js';

const NOW = 1_000_000;
const base = {
  subjects: [{ kind: 'User', name: 'alice' }],
  namespaces: { names: ['web'] },
  tools: ['scale_deployment'],
  replicas: { min: 0, max: 20 },
};

describe('McpPolicy safety fields', () => {
  it('accepts every field and compiles them into the grant', () => {
    const spec = {
      ...base,
      replicas: { min: 0, max: 20, maxStep: 3 },
      cooldownSeconds: 60,
      rateLimit: { callsPerMinute: 30 },
      confirm: { scaleToZero: true, above: 10, stepAbove: 2 },
      requireKubernetesRBAC: true,
    };
    expect(McpPolicySpecSchema.safeParse(spec).success).toBe(true);
    const index = compile({ policies: [{ name: 'p', spec }], namespaces: [{ name: 'web', labels: {} }] });
    expect(index.grants.get('p')?.limits).toEqual({
      maxStep: 3,
      cooldownSeconds: 60,
      callsPerMinute: 30,
      confirm: { scaleToZero: true, above: 10, stepAbove: 2 },
      requireKubernetesRBAC: true,
    });
    expect(index.states.get('p')?.message).toMatch(/at most 3 replicas of change per call/);
  });

  it('a policy without them has no limits (the fast path)', () => {
    const index = compile({ policies: [{ name: 'p', spec: base }], namespaces: [] });
    expect(index.grants.get('p')?.limits).toBeUndefined();
    expect(limitsOf(McpPolicySpecSchema.parse({ ...base, requireKubernetesRBAC: false }))).toBeUndefined();
  });

  it.each([
    [{ replicas: { max: 5, maxStep: 0 } }, /maxStep must be at least 1/],
    [{ cooldownSeconds: 0 }, /cooldownSeconds must be at least 1/],
    [{ rateLimit: { callsPerMinute: 0 } }, /callsPerMinute must be at least 1/],
    [{ rateLimit: {} }, /callsPerMinute/],
    [{ confirm: {} }, /confirm needs at least one of/],
    [{ tools: ['list_pods'], replicas: undefined, cooldownSeconds: 30 }, /limit scale tools/],
    [{ tools: ['list_pods'], replicas: undefined, confirm: { above: 3 } }, /limit scale tools/],
  ])('refuses %j', (patch, message) => {
    const parsed = McpPolicySpecSchema.safeParse({ ...base, ...patch });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toMatch(message);
  });
});

describe('decideScale', () => {
  it('allows within maxStep, refuses beyond it with the next step', () => {
    const grants = [{ policy: 'p', limits: { maxStep: 3 } }];
    expect(decideScale(grants, { from: 2, to: 5, now: NOW })).toEqual({ kind: 'allow', policies: ['p'] });
    const down = decideScale(grants, { from: 10, to: 2, now: NOW });
    expect(down).toMatchObject({ kind: 'deny', code: 'OutOfBounds', policies: ['p'] });
    expect(down.kind === 'deny' && down.suggestions[0]).toMatch(/scale to 7 first/);
  });

  it('refuses within the cool-down with the seconds left, allows after it', () => {
    const grants = [{ policy: 'p', limits: { cooldownSeconds: 30 } }];
    expect(decideScale(grants, { from: 1, to: 2, now: NOW, lastScaledAt: NOW - 10_500 })).toMatchObject({
      kind: 'deny',
      code: 'RateLimited',
      retryAfterSeconds: 20,
    });
    expect(decideScale(grants, { from: 1, to: 2, now: NOW, lastScaledAt: NOW - 30_000 })).toMatchObject({
      kind: 'allow',
    });
    expect(decideScale(grants, { from: 1, to: 2, now: NOW })).toMatchObject({ kind: 'allow' });
  });

  it('grants add up: an unlimited policy allows what a limited one refuses', () => {
    const grants = [{ policy: 'strict', limits: { maxStep: 1, confirm: { above: 2 } } }, { policy: 'open' }];
    expect(decideScale(grants, { from: 1, to: 9, now: NOW })).toEqual({ kind: 'allow', policies: ['open'] });
  });

  it('asks for confirmation only when no policy allows without it', () => {
    const grants = [
      { policy: 'a', limits: { confirm: { above: 5 } } },
      { policy: 'b', limits: { maxStep: 1 } },
    ];
    expect(decideScale(grants, { from: 3, to: 6, now: NOW })).toEqual({
      kind: 'confirm',
      policies: ['a'],
      reasons: ['it sets more than 5 replicas (policy a)'],
    });
    expect(decideScale(grants, { from: 3, to: 4, now: NOW })).toMatchObject({
      kind: 'allow',
      policies: ['a', 'b'],
    });
  });

  it('prefers the refusal waiting can cure', () => {
    const grants = [
      { policy: 'a', limits: { maxStep: 1 } },
      { policy: 'b', limits: { cooldownSeconds: 60 } },
    ];
    expect(decideScale(grants, { from: 1, to: 5, now: NOW, lastScaledAt: NOW })).toMatchObject({
      code: 'RateLimited',
      policies: ['b'],
    });
  });
});

describe('confirmReasons and describeLimits', () => {
  it('names each matching rule', () => {
    expect(confirmReasons({ scaleToZero: true, above: 10, stepAbove: 2 }, 3, 0)).toEqual([
      'it scales to zero',
      'it changes the count by more than 2',
    ]);
    expect(confirmReasons({ above: 10 }, 3, 10)).toEqual([]);
    expect(confirmReasons(undefined, 3, 0)).toEqual([]);
  });

  it('describes limits in one sentence', () => {
    expect(describeLimits({ maxStep: 3, confirm: { above: 10 } })).toBe(
      'at most 3 replicas of change per call; a human must confirm above 10',
    );
    expect(describeLimits(undefined)).toBeUndefined();
  });
});
