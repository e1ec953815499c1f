/**
 * Per-call cost of the guarded client's admit: the call's one policy decision (which the handler
 * then reuses instead of judging again), plus the rate limits and the RBAC key's gate. With none of
 * the limits set (the fast path: one evaluation, as a handler's own check cost before), with a
 * rate-limited policy, and with requireKubernetesRBAC answered from the review cache (the review
 * itself is an API call: bench:mcp -- --require-rbac counts those).
 *
 *   npm run bench:policy
 */

import { bench, describe } from 'vitest';
import type { ClusterBackend } from '../src/kube/types.js';
import { GuardedClient } from '../src/mcp/guarded.js';
import { AccessReviewer } from '../src/mcp/safety/access.js';
import { RateLimiter } from '../src/mcp/safety/ratelimit.js';
import { type Caller, compile, type PolicyObject } from '../src/policy/index.js';

const namespaces = Array.from({ length: 100 }, (_, i) => ({ name: `team-${i}`, labels: {} }));
const caller: Caller = { username: 'system:serviceaccount:agents:agent-0', groups: ['system:authenticated'] };

function policy(extra: Record<string, unknown>): PolicyObject[] {
  return [
    {
      name: 'agent-0',
      generation: 1,
      spec: {
        subjects: [{ kind: 'ServiceAccount', name: 'agent-0', namespace: 'agents' }],
        namespaces: { names: ['team-*'] },
        tools: ['list_*', 'scale_deployment'],
        replicas: { min: 1, max: 10 },
        ...extra,
      },
    },
  ];
}

// admit() never touches the backend.
const backend = {} as ClusterBackend;
const plain = compile({ policies: policy({}), namespaces });
const limited = compile({ policies: policy({ rateLimit: { callsPerMinute: 10_000 } }), namespaces });
const keyed = compile({ policies: policy({ requireKubernetesRBAC: true }), namespaces });
const rateLimiter = new RateLimiter();
let clock = 0;
const now = () => (clock += 7); // 10,000 calls per minute never run out at this pace
// A review answered at once: one per 10 s of the bench clock (about every 1,400 calls), the rest cached.
const access = new AccessReviewer(async () => ({ allowed: true }), { now: () => clock });

describe('GuardedClient.admit (per tool call)', () => {
  bench('no limits set (fast path)', async () => {
    await new GuardedClient(caller, plain, backend, { safety: { rateLimiter }, now }).admit('list_pods', {
      namespace: 'team-1',
    });
  });
  bench('rateLimit set', async () => {
    await new GuardedClient(caller, limited, backend, { safety: { rateLimiter }, now }).admit('list_pods', {
      namespace: 'team-1',
    });
  });
  bench('requireKubernetesRBAC set (answer cached)', async () => {
    await new GuardedClient(caller, keyed, backend, { safety: { rateLimiter, access }, now }).admit(
      'list_pods',
      { namespace: 'team-1' },
    );
  });
  bench('baseline: constructing the GuardedClient only', () => {
    new GuardedClient(caller, plain, backend, { safety: { rateLimiter }, now });
  });
});
