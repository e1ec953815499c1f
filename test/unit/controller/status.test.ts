import { describe, expect, it } from 'vitest';
import type { McpPolicyStatus } from '../../../src/api/v1alpha1/index.js';
import { McpPolicyStatusSchema } from '../../../src/api/v1alpha1/index.js';
import {
  desiredStatus,
  kubeTime,
  readStatus,
  stateEqual,
  statusEqual,
  validityEvent,
} from '../../../src/controller/status.js';
import { PolicyStore } from '../../../src/controller/store.js';
import { compile } from '../../../src/policy/index.js';
import type { PolicyState } from '../../../src/policy/types.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0, 500);
const T1 = T0 + 60_000;

const ready: PolicyState = {
  name: 'p',
  generation: 3,
  ready: true,
  reason: 'Accepted',
  message: 'Grants 1 subject 1 tool (list_pods) in 2 existing namespaces.',
  matchedNamespaces: 2,
};
const invalid: PolicyState = {
  name: 'p',
  generation: 4,
  ready: false,
  reason: 'Invalid',
  message: 'spec.tools[0]: "delete_pods" matches no known tool',
  matchedNamespaces: 0,
};

describe('desiredStatus', () => {
  it('reports Ready with reason, message, observedGeneration and matchedNamespaces, valid per the CRD schema', () => {
    const s = desiredStatus(ready, undefined, T0);
    expect(s).toEqual({
      observedGeneration: 3,
      matchedNamespaces: 2,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Accepted',
          message: ready.message,
          observedGeneration: 3,
          lastTransitionTime: '2026-01-01T12:00:00Z',
        },
      ],
    });
    expect(McpPolicyStatusSchema.safeParse(s).success).toBe(true);
  });

  it('keeps lastTransitionTime while the condition status stays, and moves it when it flips', () => {
    const first = desiredStatus(ready, undefined, T0);
    const later = desiredStatus({ ...ready, matchedNamespaces: 5, generation: 4 }, first, T1);
    expect(later.conditions?.[0]?.lastTransitionTime).toBe(kubeTime(T0));
    expect(later.matchedNamespaces).toBe(5);
    const flipped = desiredStatus(invalid, later, T1);
    expect(flipped.conditions?.[0]).toMatchObject({
      status: 'False',
      reason: 'Invalid',
      lastTransitionTime: kubeTime(T1),
    });
    expect(flipped.matchedNamespaces).toBe(0);
  });

  it('keeps conditions of other types untouched', () => {
    const other = {
      type: 'Audited',
      status: 'True' as const,
      reason: 'Yes',
      message: '',
      lastTransitionTime: '2025-01-01T00:00:00Z',
    };
    const s = desiredStatus(ready, { conditions: [other] }, T0);
    expect(s.conditions).toHaveLength(2);
    expect(s.conditions).toContainEqual(other);
  });
});

describe('statusEqual (write only on change)', () => {
  it('is true for the status the object already shows, whatever the condition order or time format', () => {
    const s = desiredStatus(ready, undefined, T0);
    const fromServer = readStatus(JSON.parse(JSON.stringify(s)));
    expect(statusEqual(fromServer, desiredStatus(ready, fromServer, T1))).toBe(true);
    const withMillis: McpPolicyStatus = {
      ...s,
      conditions: s.conditions?.map((c) => ({ ...c, lastTransitionTime: '2026-01-01T12:00:00.000Z' })),
    };
    expect(statusEqual(s, withMillis)).toBe(true);
  });

  it('is false when anything a reader sees differs', () => {
    const s = desiredStatus(ready, undefined, T0);
    expect(statusEqual(undefined, s)).toBe(false);
    expect(statusEqual(s, desiredStatus({ ...ready, matchedNamespaces: 3 }, s, T0))).toBe(false);
    expect(statusEqual(s, desiredStatus({ ...ready, generation: 4 }, s, T0))).toBe(false);
    expect(statusEqual(s, desiredStatus({ ...ready, message: 'other' }, s, T0))).toBe(false);
    expect(statusEqual(s, desiredStatus(invalid, s, T0))).toBe(false);
    expect(statusEqual(s, { ...s, conditions: [] })).toBe(false);
  });

  it('reads junk leniently', () => {
    expect(readStatus(undefined)).toBeUndefined();
    expect(readStatus({ conditions: [1, { type: 'Ready' }], observedGeneration: 'x' })).toEqual({
      conditions: [{ type: 'Ready' }],
    });
  });
});

describe('validityEvent', () => {
  const accepted = desiredStatus(ready, undefined, T0);
  const rejected = desiredStatus(invalid, accepted, T1);

  it('fires on the first status and on each change of validity', () => {
    expect(validityEvent(undefined, accepted)).toEqual({
      type: 'Normal',
      reason: 'Accepted',
      note: ready.message,
    });
    expect(validityEvent(accepted, rejected)).toEqual({
      type: 'Warning',
      reason: 'Invalid',
      note: invalid.message,
    });
    expect(validityEvent(rejected, desiredStatus(ready, rejected, T1))?.reason).toBe('Accepted');
  });

  it('stays quiet when validity does not change', () => {
    expect(
      validityEvent(accepted, desiredStatus({ ...ready, matchedNamespaces: 9 }, accepted, T1)),
    ).toBeUndefined();
    expect(validityEvent(rejected, desiredStatus(invalid, rejected, T1))).toBeUndefined();
  });

  it('warns again when a new generation is invalid for another reason', () => {
    const again = desiredStatus({ ...invalid, generation: 5, message: 'another problem' }, rejected, T1);
    expect(validityEvent(rejected, again)).toEqual({
      type: 'Warning',
      reason: 'Invalid',
      note: 'another problem',
    });
  });
});

describe('stateEqual', () => {
  it('compares every field a status is made of', () => {
    expect(stateEqual(ready, { ...ready })).toBe(true);
    expect(stateEqual(ready, { ...ready, matchedNamespaces: 1 })).toBe(false);
    expect(stateEqual(ready, undefined)).toBe(false);
    expect(stateEqual(undefined, undefined)).toBe(true);
  });
});

describe('PolicyStore', () => {
  it('starts denying everything, publishes atomically with a version, and tells listeners', async () => {
    const store = new PolicyStore();
    expect(store.ready).toBe(false);
    expect(store.version).toBe(0);
    expect(store.current().grants.size).toBe(0);
    const seen: number[] = [];
    const off = store.onChange((_i, v) => seen.push(v));
    const waiting = store.waitFor((i) => i.states.has('p'));
    const index = compile({
      policies: [
        {
          name: 'p',
          generation: 1,
          spec: {
            subjects: [{ kind: 'User', name: 'alice' }],
            namespaces: { names: ['*'] },
            tools: ['list_pods'],
          },
        },
      ],
      namespaces: [],
    });
    expect(store.publish(index)).toBe(1);
    expect(store.current()).toBe(index);
    expect(store.ready).toBe(true);
    expect(await waiting).toBe(index);
    off();
    store.publish(index);
    expect(seen).toEqual([1]);
    expect(store.version).toBe(2);
    await expect(store.waitFor(() => false, 20)).rejects.toThrow(/no matching policy index/);
  });
});
