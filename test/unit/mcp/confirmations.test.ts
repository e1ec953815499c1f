/**
 * Confirmations (issue 17, item 6): an answer is single-use and bound to the object's state; the
 * client's own clientInfo is labelled, sanitised and capped; a cool-down without its Lease
 * namespace names that namespace.
 */

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LeaseNamespaceMissing } from '../../../src/kube/scalehistory.js';
import type { PolicyObject } from '../../../src/policy/index.js';
import { call, connect, errorOf, type Harness, MODERN, NOW, startHarness, TOKENS } from './helpers.js';

const CONFIRM_ABOVE_10: PolicyObject = {
  name: 'confirming',
  generation: 1,
  spec: {
    subjects: [{ kind: 'ServiceAccount', name: 'copilot', namespace: 'agents' }],
    namespaces: { names: ['web'] },
    tools: ['scale_deployment'],
    replicas: { min: 0, max: 20 },
    confirm: { above: 10 },
  },
};

type Rpc = { result?: Record<string, unknown>; error?: unknown };

describe('confirmations', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    h.setPolicies([CONFIRM_ABOVE_10]);
  });
  afterEach(async () => h.close());

  const raw = async (params: Record<string, unknown>, clientInfo: unknown = { name: 'raw', version: '1' }) =>
    (await (
      await fetch(h.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json, text/event-stream',
          Authorization: `Bearer ${TOKENS.copilot}`,
          'MCP-Protocol-Version': MODERN,
          'Mcp-Method': 'tools/call',
          'Mcp-Name': 'scale_deployment',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: {
            name: 'scale_deployment',
            _meta: {
              'io.modelcontextprotocol/protocolVersion': MODERN,
              'io.modelcontextprotocol/clientInfo': clientInfo,
              'io.modelcontextprotocol/clientCapabilities': { elicitation: { form: {} } },
            },
            ...params,
          },
        }),
      })
    ).json()) as Rpc;
  const accept = { confirm: { action: 'accept', content: { confirm: true } } };
  const to12 = { namespace: 'web', name: 'web', replicas: 12 };

  it('an accepted state cannot be replayed after the object changed (3 → 12, 12 → 3, replay)', async () => {
    const first = await raw({ arguments: to12 });
    expect(first.result?.resultType).toBe('input_required');
    const state = first.result?.requestState;
    const confirmed = await raw({ arguments: to12, requestState: state, inputResponses: accept });
    expect(confirmed.result?.isError).toBeFalsy();
    expect(h.backend.writes.map((w) => w.replicas)).toEqual([12]);
    const back = await raw({ arguments: { ...to12, replicas: 3 } });
    expect(back.result?.isError).toBeFalsy();
    expect(h.backend.writes.map((w) => w.replicas)).toEqual([12, 3]);
    // 3 → 12 again with the old state and answer: the object changed since, so the person is asked again.
    const replay = await raw({ arguments: to12, requestState: state, inputResponses: accept });
    expect(replay.result?.resultType).toBe('input_required');
    expect(h.backend.writes.map((w) => w.replicas)).toEqual([12, 3]);
  });

  it('labels, sanitises and caps the clientInfo the client reports (2026-07-28)', async () => {
    const clientInfo = { name: `evil\u001b[31m\n${'x'.repeat(500)}`, version: 'v\u0000'.repeat(100) };
    const first = await raw({ arguments: to12 }, clientInfo);
    const done = await raw(
      { arguments: to12, requestState: first.result?.requestState, inputResponses: accept },
      clientInfo,
    );
    expect(done.result?.isError).toBeFalsy();
    const audit = h
      .records()
      .filter((r) => r.component === 'audit')
      .map((r) => r.audit as { confirmation?: { client?: string }; confirmedVia?: string });
    const last = audit[audit.length - 1];
    const client = last?.confirmation?.client ?? '';
    expect(client).toMatch(/^[\x20-\x7e]+$/);
    expect(client.length).toBeLessThanOrEqual(141);
    expect(last?.confirmedVia).toMatch(/\(client-reported name\)$/);
    expect(last?.confirmedVia).toMatch(/^[\x20-\x7e]+$/);
  });
});

describe('a cool-down without its Lease namespace', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ now: () => NOW });
  });
  afterEach(async () => h.close());

  it('names the missing namespace, not the Deployment', async () => {
    h.setPolicies([
      {
        ...CONFIRM_ABOVE_10,
        spec: { ...(CONFIRM_ABOVE_10.spec as object), confirm: undefined, cooldownSeconds: 60 },
      },
    ]);
    h.backend.claimScale = async (claim) => {
      throw new LeaseNamespaceMissing('kubemcp-system', claim.object, undefined);
    };
    const client = await connect(h, TOKENS.copilot);
    const result = await call(client, 'scale_deployment', { namespace: 'web', name: 'web', replicas: 4 });
    expect(errorOf(result).code).toBe('Unavailable');
    expect(errorOf(result).reason).toContain('namespace "kubemcp-system"');
    expect(errorOf(result).message).not.toContain('was not found');
    expect(h.backend.writes).toEqual([]);
  });
});
