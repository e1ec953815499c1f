import { describe, expect, it } from 'vitest';
import type { AccessQuestion } from '../../../src/kube/access.js';
import { AccessReviewer, describeAction, TOOL_ACTIONS } from '../../../src/mcp/safety/access.js';

const caller = { username: 'u', groups: ['g'] };
const pods = TOOL_ACTIONS.list_pods;
if (pods === undefined) throw new Error('list_pods has no action');

describe('AccessReviewer', () => {
  it('shares one review among concurrent questions and caches it for at most 10 s', async () => {
    let now = 0;
    const asked: AccessQuestion[] = [];
    const lookups: string[] = [];
    const reviewer = new AccessReviewer(
      async (q) => {
        asked.push(q);
        return { allowed: true };
      },
      { ttlMs: 60_000, now: () => now, onLookup: (r) => lookups.push(r) },
    );
    await Promise.all([1, 2, 3].map(() => reviewer.allowed(caller, pods, 'web')));
    expect(asked).toHaveLength(1);
    // The metric counts one review sent, not one per question that waited for it.
    expect(lookups.sort()).toEqual(['allowed', 'shared', 'shared']);
    now = 9_999;
    await reviewer.allowed(caller, pods, 'web');
    expect(asked).toHaveLength(1);
    now = 10_000; // the TTL is capped at 10 s even when more is asked
    await reviewer.allowed(caller, pods, 'web');
    expect(asked).toHaveLength(2);
    await reviewer.allowed(caller, pods, 'other');
    await reviewer.allowed({ ...caller, groups: ['h'] }, pods, 'web');
    expect(asked).toHaveLength(4);
  });

  it('does not cache failures, and refuses with Unavailable', async () => {
    let calls = 0;
    const reviewer = new AccessReviewer(async () => {
      calls++;
      throw new Error('down');
    });
    await expect(reviewer.allowed(caller, pods, 'web')).rejects.toMatchObject({ code: 'Unavailable' });
    await expect(reviewer.allowed(caller, pods, 'web')).rejects.toMatchObject({ code: 'Unavailable' });
    expect(calls).toBe(2);
  });

  it('refuses when it cannot ask (fail closed)', async () => {
    await expect(new AccessReviewer(undefined).allowed(caller, pods, 'web')).rejects.toMatchObject({
      code: 'Unavailable',
    });
  });

  it('describes actions as a person would ask for them', () => {
    expect(describeAction(pods, 'web')).toBe('list pods in namespace web');
    const scale = TOOL_ACTIONS.scale_statefulset;
    if (scale === undefined) throw new Error('no action');
    expect(describeAction(scale, 'db')).toBe('update statefulsets/scale (API group apps) in namespace db');
  });
});
