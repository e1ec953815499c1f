import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call, connect, type Harness, startHarness, TOKENS } from './helpers.js';

/** One JSON audit record per tool call, and the matching metrics. */

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

function audits(): Record<string, unknown>[] {
  return h
    .records()
    .filter((r) => r.component === 'audit')
    .map((r) => ({ time: r.time, msg: r.msg, ...(r.audit as Record<string, unknown>) }));
}

describe('audit records', () => {
  it('writes one record per call with caller, tool, arguments, decision, policies, outcome and duration', async () => {
    const c = await connect(h, TOKENS.copilot);
    await call(c, 'scale_deployment', { namespace: 'web', name: 'web', replicas: 5 });
    await call(c, 'scale_deployment', { namespace: 'production', name: 'frontend', replicas: 2 });
    await call(c, 'scale_deployment', { namespace: 'web', name: 'web', replicas: 50 });
    await call(c, 'list_pods', { limit: 'many' });
    await c.listTools(); // not a tool call: no audit record
    await c.close();

    const records = audits();
    expect(records).toHaveLength(4);
    const caller = {
      user: 'system:serviceaccount:agents:copilot',
      groups: ['system:serviceaccounts', 'system:serviceaccounts:agents', 'system:authenticated'],
    };
    expect(records[0]).toEqual({
      time: expect.any(Number),
      msg: 'tool call',
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      caller,
      tool: 'scale_deployment',
      arguments: { namespace: 'web', name: 'web', replicas: 5 },
      decision: 'allow',
      policies: ['web-agents'],
      outcome: 'ok',
      durationMs: expect.any(Number),
    });
    expect(records[1]).toMatchObject({ decision: 'deny', outcome: 'PolicyDenied' });
    expect(records[2]).toMatchObject({ decision: 'deny', outcome: 'OutOfBounds', policies: ['web-agents'] });
    expect(records[3]).toMatchObject({ decision: 'none', outcome: 'Invalid', arguments: { limit: 'many' } });
    // Each HTTP request has its own id.
    expect(new Set(records.map((r) => r.requestId)).size).toBe(4);
  });

  it('uses the caller-supplied X-Request-Id when it is sane', async () => {
    const res = await fetch(h.url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        Authorization: `Bearer ${TOKENS.alice}`,
        'X-Request-Id': 'trace-abc-123',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'get_permissions' },
      }),
    });
    expect(res.headers.get('x-request-id')).toBe('trace-abc-123');
    await res.text();
    expect(audits()[0]).toMatchObject({
      requestId: 'trace-abc-123',
      tool: 'get_permissions',
      decision: 'allow',
    });
  });

  it('counts calls by tool and decision and observes latency', async () => {
    const c = await connect(h, TOKENS.copilot);
    await call(c, 'list_pods', { namespace: 'web' });
    await call(c, 'list_pods', { namespace: 'web' });
    await call(c, 'list_pods', { namespace: 'production' });
    await c.close();
    const calls = await h.registry.getSingleMetricAsString('kubemcp_mcp_tool_calls_total');
    expect(calls).toContain('kubemcp_mcp_tool_calls_total{tool="list_pods",decision="allow",outcome="ok"} 2');
    expect(calls).toContain(
      'kubemcp_mcp_tool_calls_total{tool="list_pods",decision="deny",outcome="PolicyDenied"} 1',
    );
    const latency = await h.registry.getSingleMetricAsString('kubemcp_mcp_tool_call_duration_seconds');
    expect(latency).toContain('kubemcp_mcp_tool_call_duration_seconds_count{tool="list_pods"} 3');
  });
});
