import { describe, expect, it } from 'vitest';
import type { AccessQuestion } from '../../../src/kube/access.js';
import {
  AccessReviewer,
  describeAction,
  FAILURE_TTL_MS,
  MAX_REVIEWS_PER_CALL,
  TOOL_ACTIONS,
} from '../../../src/mcp/safety/access.js';

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

  it('remembers a failure for 1 s (a retry within it sends no review), and refuses with Unavailable', async () => {
    let calls = 0;
    let now = 0;
    const reviewer = new AccessReviewer(
      async () => {
        calls++;
        throw new Error('down');
      },
      { now: () => now },
    );
    await expect(reviewer.allowed(caller, pods, 'web')).rejects.toMatchObject({ code: 'Unavailable' });
    now = FAILURE_TTL_MS - 1;
    await expect(reviewer.allowed(caller, pods, 'web')).rejects.toMatchObject({ code: 'Unavailable' });
    expect(calls).toBe(1);
    now = FAILURE_TTL_MS;
    await expect(reviewer.allowed(caller, pods, 'web')).rejects.toMatchObject({ code: 'Unavailable' });
    expect(calls).toBe(2);
  });

  it('keeps at most maxConcurrent reviews in flight; the others wait their turn', async () => {
    let inFlight = 0;
    let peak = 0;
    const reviewer = new AccessReviewer(
      async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return { allowed: true };
      },
      { maxConcurrent: 3 },
    );
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => reviewer.allowed(caller, pods, `ns-${i}`)),
    );
    expect(answers.every((a) => a.allowed)).toBe(true);
    expect(reviewer.reviews).toBe(20);
    expect(peak).toBe(3);
  });

  it('allowedIn: one cluster-wide review when it allows, else at most MAX_REVIEWS_PER_CALL per-namespace ones', async () => {
    const namespaces = Array.from({ length: 41 }, (_, i) => `team-${String(i).padStart(2, '0')}`);
    const clusterWide = new AccessReviewer(async () => ({ allowed: true }));
    const everywhere = await clusterWide.allowedIn(caller, pods, namespaces);
    expect(clusterWide.reviews).toBe(1);
    expect(everywhere.allowed.size).toBe(41);

    const asked: (string | undefined)[] = [];
    const perNamespace = new AccessReviewer(async (q) => {
      asked.push(q.namespace);
      return { allowed: q.namespace !== undefined && q.namespace < 'team-05' };
    });
    const some = await perNamespace.allowedIn(caller, pods, namespaces);
    expect(perNamespace.reviews).toBe(1 + MAX_REVIEWS_PER_CALL);
    expect(asked[0]).toBeUndefined();
    expect([...some.allowed].sort()).toEqual(['team-00', 'team-01', 'team-02', 'team-03', 'team-04']);
    expect(some.unchecked).toBe(41 - MAX_REVIEWS_PER_CALL);
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
