/**
 * Bounded SubjectAccessReviews (issue 17, item 3): reviews only for the (kind, namespace) a call
 * touches, once its arguments parse; a per-call cap for calls across namespaces. The case:
 * a resources/read by a caller whose RBAC-keyed grant covers 41 namespaces sent 164 reviews (4 per
 * namespace), and so did a read of an invalid URI.
 */

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_REVIEWS_PER_CALL } from '../../../src/mcp/safety/access.js';
import { call, connect, type Harness, startHarness, TOKENS } from './helpers.js';

const COPILOT = 'system:serviceaccount:agents:copilot';
const TEAMS = Array.from({ length: 41 }, (_, i) => `team-${String(i).padStart(2, '0')}`);

describe('SubjectAccessReviews are bounded', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    for (const name of TEAMS) {
      h.backend.objects.namespace.push({ metadata: { name, labels: {} }, status: { phase: 'Active' } });
    }
    h.backend.objects.pod.push({ metadata: { namespace: 'team-03', name: 'p', labels: {} }, status: {} });
    h.setPolicies([
      {
        name: 'keyed',
        generation: 1,
        spec: {
          subjects: [{ kind: 'ServiceAccount', name: 'copilot', namespace: 'agents' }],
          namespaces: { names: ['team-*'] },
          tools: ['list_*'],
          requireKubernetesRBAC: true,
        },
      },
    ]);
  });
  afterEach(async () => h.close());

  it('a resources/read over 41 RBAC-keyed namespaces sends one review, for its kind and namespace', async () => {
    const client = await connect(h, TOKENS.copilot);
    await expect(client.readResource({ uri: 'k8s://pod/team-03/p' })).rejects.toBeDefined();
    expect(h.backend.accessReviews).toEqual([
      expect.objectContaining({ user: COPILOT, verb: 'list', resource: 'pods', namespace: 'team-03' }),
    ]);
    h.backend.rbac.add(`${COPILOT} list pods team-04`);
    h.backend.objects.pod.push({ metadata: { namespace: 'team-04', name: 'q', labels: {} }, status: {} });
    const { contents } = await client.readResource({ uri: 'k8s://pod/team-04/q' });
    expect(contents).toHaveLength(1);
    expect(h.backend.accessReviews).toHaveLength(2);
  });

  it('a read of an invalid URI sends none', async () => {
    const client = await connect(h, TOKENS.copilot);
    await expect(client.readResource({ uri: 'k8s://pod/NOT A NAMESPACE/x' })).rejects.toBeDefined();
    await expect(client.readResource({ uri: 'nonsense' })).rejects.toBeDefined();
    expect(h.backend.accessReviews).toEqual([]);
  });

  it('resources/list and a list across namespaces ask one cluster-wide review per kind, then at most the per-call cap', async () => {
    const client = await connect(h, TOKENS.copilot);
    await client.listResources();
    // 4 kinds: one cluster-wide review each, then per-namespace ones sharing one budget.
    expect(h.backend.accessReviews.length).toBeLessThanOrEqual(4 + MAX_REVIEWS_PER_CALL);
    expect(h.backend.accessReviews.filter((q) => q.namespace === undefined)).toHaveLength(4);
    const before = h.backend.accessReviews.length;
    // Cached answers (10 s): the same list again sends none.
    await client.listResources();
    expect(h.backend.accessReviews.length).toBe(before);
  });

  it('a list across namespaces allowed cluster-wide costs one review; refused, at most the per-call cap', async () => {
    const client = await connect(h, TOKENS.copilot);
    h.backend.rbac.add(`${COPILOT} list services *`);
    expect((await call(client, 'list_services', {})).isError).toBeFalsy();
    expect(h.backend.accessReviews).toHaveLength(1);
    const listed = await call(client, 'list_pods', {});
    expect(listed.structuredContent?.items).toEqual([]);
    expect(h.backend.accessReviews).toHaveLength(2 + MAX_REVIEWS_PER_CALL);
  });
});
