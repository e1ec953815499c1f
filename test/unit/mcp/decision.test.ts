/**
 * One decision per call (issue 17, item 2): the engine judges a call once, with every argument
 * (replicas included); the rate limit, the RBAC second key, the answer and the audit all read it.
 * The measured cases of the issue, reproduced through the MCP endpoint.
 */

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PolicyObject } from '../../../src/policy/index.js';
import { call, connect, errorOf, type Harness, MODERN, NOW, startHarness, TOKENS } from './helpers.js';

const COPILOT = { kind: 'ServiceAccount', name: 'copilot', namespace: 'agents' };

/** A policy of the copilot in namespace web (and web-dev when asked). */
function policy(name: string, spec: Record<string, unknown>): PolicyObject {
  return {
    name,
    generation: 1,
    spec: {
      subjects: [COPILOT],
      namespaces: { names: ['web'] },
      tools: ['scale_deployment', 'list_pods'],
      ...spec,
    },
  };
}

function audits(h: Harness): Record<string, unknown>[] {
  return h
    .records()
    .filter((r) => r.component === 'audit')
    .map((r) => r.audit as Record<string, unknown>);
}

function lastAudit(h: Harness): Record<string, unknown> {
  const all = audits(h);
  const last = all[all.length - 1];
  if (last === undefined) throw new Error('no audit record');
  return last;
}

describe('one decision per call', () => {
  let h: Harness;
  let now = NOW;
  beforeEach(async () => {
    now = NOW;
    h = await startHarness({ now: () => now });
    h.backend.clock = () => now;
  });
  afterEach(async () => h.close());

  const scaleTo = (client: Client, replicas: number) =>
    call(client, 'scale_deployment', { namespace: 'web', name: 'web', replicas });

  it('A (0-2, no limit) and B (0-50, 2/min): scales to 40, 41, 42 are charged to B, the third refused', async () => {
    h.setPolicies([
      policy('a', { replicas: { min: 0, max: 2 } }),
      policy('b', { replicas: { min: 0, max: 50 }, rateLimit: { callsPerMinute: 2 } }),
    ]);
    const client = await connect(h, TOKENS.copilot);
    expect((await scaleTo(client, 40)).isError).toBeFalsy();
    expect(lastAudit(h)).toMatchObject({ decision: 'allow', policies: ['b'], outcome: 'ok' });
    expect((await scaleTo(client, 41)).isError).toBeFalsy();
    const third = await scaleTo(client, 42);
    expect(errorOf(third).code).toBe('RateLimited');
    expect(h.backend.writes.map((w) => w.replicas)).toEqual([40, 41]);
    // Audited with the real decision and the policy whose limit refused, not `none`.
    expect(lastAudit(h)).toMatchObject({ decision: 'deny', policies: ['b'], outcome: 'RateLimited' });
    // A scale within A's bounds is allowed by A too, which sets no limit: not refused.
    expect((await scaleTo(client, 1)).isError).toBeFalsy();
  });

  it('a malformed label selector is an invalid argument: not judged, not charged to a rate limit', async () => {
    h.setPolicies([policy('b', { replicas: { min: 0, max: 50 }, rateLimit: { callsPerMinute: 2 } })]);
    const client = await connect(h, TOKENS.copilot);
    for (let i = 0; i < 3; i++) {
      const bad = await call(client, 'list_pods', { namespace: 'web', labelSelector: 'a in (' });
      expect(errorOf(bad).code).toBe('Invalid');
      expect(errorOf(bad).reason).toContain('is not a valid label selector');
      expect(lastAudit(h)).toMatchObject({ decision: 'none', outcome: 'Invalid' });
    }
    // B's two calls a minute are all still there.
    expect((await call(client, 'list_pods', { namespace: 'web' })).isError).toBeFalsy();
    expect(
      (await call(client, 'list_pods', { namespace: 'web', labelSelector: 'app=web' })).isError,
    ).toBeFalsy();
    expect(errorOf(await call(client, 'list_pods', { namespace: 'web' })).code).toBe('RateLimited');
  });

  it('three overlapping policies: A (0-2, none), B (0-50, 2/min), C (0-100, 3/min)', async () => {
    h.setPolicies([
      policy('a', { replicas: { min: 0, max: 2 } }),
      policy('b', { replicas: { min: 0, max: 50 }, rateLimit: { callsPerMinute: 2 } }),
      policy('c', { replicas: { min: 0, max: 100 }, rateLimit: { callsPerMinute: 3 } }),
    ]);
    const client = await connect(h, TOKENS.copilot);
    // 70 is allowed by C only: three calls.
    for (const r of [70, 71, 72]) expect((await scaleTo(client, r)).isError).toBeFalsy();
    expect(errorOf(await scaleTo(client, 73)).code).toBe('RateLimited');
    expect(lastAudit(h)).toMatchObject({ decision: 'deny', policies: ['c'] });
    // 40 is allowed by B and C; C is spent, B has two calls.
    for (const r of [40, 41]) expect((await scaleTo(client, r)).isError).toBeFalsy();
    expect(errorOf(await scaleTo(client, 42)).code).toBe('RateLimited');
    expect(lastAudit(h)).toMatchObject({ decision: 'deny', policies: ['b', 'c'] });
    // 2 is allowed by A as well: no limit applies.
    expect((await scaleTo(client, 2)).isError).toBeFalsy();
    expect(lastAudit(h)).toMatchObject({ decision: 'allow', policies: ['a', 'b', 'c'] });
    now += 60_001;
    expect((await scaleTo(client, 42)).isError).toBeFalsy();
  });

  it('maxStep with three overlapping policies: the step limits of exactly the allowing policies apply', async () => {
    h.setPolicies([
      policy('a', { replicas: { min: 0, max: 2 } }),
      policy('b', { replicas: { min: 0, max: 50, maxStep: 5 } }),
      policy('c', { replicas: { min: 0, max: 100, maxStep: 20 } }),
    ]);
    const client = await connect(h, TOKENS.copilot);
    // 3 → 40: b and c allow 40, and neither lets a step of 37 through.
    expect(errorOf(await scaleTo(client, 40)).code).toBe('OutOfBounds');
    expect(lastAudit(h)).toMatchObject({ decision: 'deny', policies: ['b', 'c'], outcome: 'OutOfBounds' });
    // 3 → 20: c's step allows it; the audit names the policy that let it through.
    expect((await scaleTo(client, 20)).isError).toBeFalsy();
    expect(lastAudit(h)).toMatchObject({ decision: 'allow', policies: ['c'], outcome: 'ok' });
    // 20 → 2: a (no step limit) and c (18 ≤ 20) let it through; b (at most 5) does not.
    expect((await scaleTo(client, 2)).isError).toBeFalsy();
    expect(lastAudit(h)).toMatchObject({ decision: 'allow', policies: ['a', 'c'] });
  });

  it('two policies with limits on the same range: the call passes while either has a call left', async () => {
    h.setPolicies([
      policy('b', { replicas: { min: 0, max: 50 }, rateLimit: { callsPerMinute: 1 } }),
      policy('c', { replicas: { min: 0, max: 50 }, rateLimit: { callsPerMinute: 1 } }),
    ]);
    const client = await connect(h, TOKENS.copilot);
    for (const r of [10, 11]) expect((await scaleTo(client, r)).isError).toBeFalsy();
    expect(errorOf(await scaleTo(client, 12)).code).toBe('RateLimited');
  });

  it('C (0-2) and D (0-50, requireKubernetesRBAC): a scale to 30 is reviewed before RBAC is named', async () => {
    h.setPolicies([
      policy('c', { replicas: { min: 0, max: 2 } }),
      policy('d', { replicas: { min: 0, max: 50 }, requireKubernetesRBAC: true }),
    ]);
    const client = await connect(h, TOKENS.copilot);
    const denied = await scaleTo(client, 30);
    expect(errorOf(denied).code).toBe('PolicyDenied');
    expect(errorOf(denied).message).toContain('Your Kubernetes RBAC does not allow update deployments/scale');
    // The refusal names a check that ran: one SubjectAccessReview, for exactly this call.
    expect(h.backend.accessReviews).toEqual([
      expect.objectContaining({
        verb: 'update',
        resource: 'deployments',
        subresource: 'scale',
        namespace: 'web',
      }),
    ]);
    expect(lastAudit(h)).toMatchObject({ decision: 'deny', policies: ['d'], outcome: 'PolicyDenied' });
    expect(h.backend.writes).toEqual([]);
    // Within C's bounds C allows it without the second key: no review.
    expect((await scaleTo(client, 2)).isError).toBeFalsy();
    expect(h.backend.accessReviews).toHaveLength(1);
  });

  it('input_required is audited with the decision and the policies that want a human', async () => {
    h.setPolicies([policy('confirming', { replicas: { min: 0, max: 20 }, confirm: { above: 5 } })]);
    const client = new Client(
      { name: 'asking', version: '1' },
      { versionNegotiation: { mode: { pin: MODERN } }, capabilities: { elicitation: { form: {} } } },
    );
    client.setRequestHandler('elicitation/create', async () => ({ action: 'decline' }));
    await client.connect(
      new StreamableHTTPClientTransport(new URL(h.url), {
        requestInit: { headers: { Authorization: `Bearer ${TOKENS.copilot}` } },
      }),
    );
    await scaleTo(client, 6);
    const asked = audits(h).find((a) => a.outcome === 'InputRequired');
    expect(asked).toMatchObject({ decision: 'allow', policies: ['confirming'] });
  });

  it('a list across namespaces returns rows and charges budgets from the same grants', async () => {
    h.setPolicies([
      policy('limited', { tools: ['list_pods'], rateLimit: { callsPerMinute: 1 } }),
      policy('open', { tools: ['list_pods'], namespaces: { names: ['web-dev'] } }),
    ]);
    const client = await connect(h, TOKENS.copilot);
    const namespacesOf = async () => {
      const listed = await call(client, 'list_pods', {});
      expect(listed.isError).toBeFalsy();
      return new Set(
        ((listed.structuredContent?.items ?? []) as { namespace: string }[]).map((i) => i.namespace),
      );
    };
    expect(await namespacesOf()).toEqual(new Set(['web', 'web-dev']));
    expect(lastAudit(h)).toMatchObject({ decision: 'allow', policies: ['limited', 'open'] });
    // `limited` is spent: its rows are not returned, and only `open` served the call.
    expect(await namespacesOf()).toEqual(new Set(['web-dev']));
    expect(lastAudit(h)).toMatchObject({ decision: 'allow', policies: ['open'] });
    // With only the limited grant, the call is refused once it is spent.
    h.setPolicies([policy('limited', { tools: ['list_pods'], rateLimit: { callsPerMinute: 1 } })]);
    expect(errorOf(await call(client, 'list_pods', {})).code).toBe('RateLimited');
    expect(lastAudit(h)).toMatchObject({ decision: 'deny', policies: ['limited'], outcome: 'RateLimited' });
  });
});
