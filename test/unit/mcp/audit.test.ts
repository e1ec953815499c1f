import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cappedJson } from '../../../src/mcp/audit.js';
import { call, connect, type Harness, post, startHarness, TOKENS, toolCall } from './helpers.js';

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
      method: 'tools/call',
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

  it('keeps the caller-supplied X-Request-Id as a labelled field, never as the request id', async () => {
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
    const ours = res.headers.get('x-request-id');
    expect(ours).toMatch(/^[0-9a-f-]{36}$/);
    await res.text();
    expect(audits()[0]).toMatchObject({
      requestId: ours,
      clientRequestId: 'trace-abc-123',
      tool: 'get_permissions',
      decision: 'allow',
    });
  });

  it('sanitises and caps a hostile X-Request-Id', async () => {
    const hostile = `evil"} <x>${'y'.repeat(400)}`;
    await post(
      h,
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'get_permissions' } },
      { token: TOKENS.alice, headers: { 'X-Request-Id': hostile } },
    );
    const [record] = audits();
    expect(record?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(record?.clientRequestId).toMatch(/^evil____x_y+$/);
    expect(String(record?.clientRequestId)).toHaveLength(128);
  });

  it('audits resources/read and resources/list, one record per request, with decision and outcome', async () => {
    const c = await connect(h, TOKENS.copilot);
    await c.readResource({ uri: 'k8s://deployment/web/web' });
    await expect(c.readResource({ uri: 'k8s://deployment/production/frontend' })).rejects.toThrow();
    await expect(c.readResource({ uri: 'k8s://nothing/at/all' })).rejects.toThrow();
    await c.listResources();
    await c.close();
    const records = audits();
    expect(records.map((r) => [r.method, r.uri, r.decision, r.outcome])).toEqual([
      ['resources/read', 'k8s://deployment/web/web', 'allow', 'ok'],
      ['resources/read', 'k8s://deployment/production/frontend', 'deny', 'NotFound'],
      ['resources/read', 'k8s://nothing/at/all', 'none', 'Invalid'],
      ['resources/list', undefined, 'allow', 'ok'],
    ]);
    expect(records[0]).toMatchObject({ msg: 'resource read', policies: ['web-agents'] });
    expect(records[3]).toMatchObject({ msg: 'resource list', cursor: false, policies: ['web-agents'] });
    const counted = await h.registry.getSingleMetricAsString('kubemcp_mcp_resource_requests_total');
    expect(counted).toContain(
      'kubemcp_mcp_resource_requests_total{method="resources/read",decision="deny",outcome="NotFound"} 1',
    );
  });

  it('audits a call of an unknown tool without making its name a metric label', async () => {
    const name = `probe-${'x'.repeat(300)}`;
    const res = await post(h, toolCall(name, {}), { token: TOKENS.copilot });
    expect(res.json).toMatchObject({ error: { code: -32602 } });
    const [record] = audits();
    expect(record).toMatchObject({ method: 'tools/call', decision: 'none', outcome: 'UnknownTool' });
    expect(String(record?.tool).length).toBeLessThanOrEqual(129);
    const calls = await h.registry.getSingleMetricAsString('kubemcp_mcp_tool_calls_total');
    expect(calls).toContain('tool="(unknown)",decision="none",outcome="UnknownTool"} 1');
    expect(calls).not.toContain('probe-');
  });

  it('has its own switch: a silent general log still audits, and audit off writes no records', async () => {
    const silent = await startHarness({ logLevel: 'silent' });
    const off = await startHarness({ options: { audit: false } });
    try {
      for (const target of [silent, off]) {
        await post(
          target,
          { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'get_permissions' } },
          { token: TOKENS.alice },
        );
      }
      expect(silent.records().filter((r) => r.component === 'audit')).toHaveLength(1);
      expect(off.records().filter((r) => r.component === 'audit')).toHaveLength(0);
      // Metrics are counted either way.
      expect(await off.registry.getSingleMetricAsString('kubemcp_mcp_tool_calls_total')).toContain(
        'tool="get_permissions",decision="allow",outcome="ok"} 1',
      );
    } finally {
      await silent.close();
      await off.close();
    }
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

  it('gives every call of a JSON-RPC batch its own decision (an allowed scale next to a denied list)', async () => {
    const res = await post(
      h,
      [
        toolCall('scale_deployment', { namespace: 'web', name: 'web', replicas: 4 }, 1),
        toolCall('list_pods', { namespace: 'production' }, 2),
      ],
      { token: TOKENS.copilot },
    );
    expect(res.status).toBe(200);
    const records = audits();
    expect(records).toHaveLength(2);
    const scale = records.find((r) => r.tool === 'scale_deployment');
    const list = records.find((r) => r.tool === 'list_pods');
    expect(scale).toMatchObject({ decision: 'allow', outcome: 'ok', policies: ['web-agents'] });
    expect(list).toMatchObject({ decision: 'deny', outcome: 'PolicyDenied' });
    const calls = await h.registry.getSingleMetricAsString('kubemcp_mcp_tool_calls_total');
    expect(calls).toContain(
      'kubemcp_mcp_tool_calls_total{tool="scale_deployment",decision="allow",outcome="ok"} 1',
    );
    expect(calls).not.toContain('tool="scale_deployment",decision="deny"');
  });
});

describe('the audit serialiser', () => {
  it('writes exactly the first max characters of JSON.stringify, and says whether that is all', () => {
    fc.assert(
      fc.property(
        fc.jsonValue(),
        fc.oneof(fc.string({ unit: 'binary' }), fc.string()),
        fc.integer({ min: 0, max: 300 }),
        (value, text, max) => {
          for (const v of [value, { text, value }, [text, value, text]]) {
            const full = JSON.stringify(v);
            expect(cappedJson(v, max)).toEqual({ text: full.slice(0, max), complete: full.length <= max });
          }
        },
      ),
      { numRuns: 200 },
    );
    expect(cappedJson({ a: undefined, b: () => 1, c: [undefined, Number.NaN] }, 100).text).toBe(
      JSON.stringify({ a: undefined, b: () => 1, c: [undefined, Number.NaN] }),
    );
    expect(() => cappedJson({ n: 1n }, 100)).toThrow(TypeError);
  });

  it('stops at its cap: a 350,000-element argument is read only as far as 4096 characters go', () => {
    let reads = 0;
    const items = new Proxy(
      Array.from({ length: 350_000 }, () => ({})),
      {
        get(target, key, receiver) {
          if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
          return Reflect.get(target, key, receiver);
        },
      },
    );
    const json = cappedJson({ namespace: 'web', items }, 4096);
    expect(json.complete).toBe(false);
    expect(json.text).toHaveLength(4096);
    expect(reads).toBeLessThan(2000);
  });

  it('audits a large argument as its first 4096 characters of JSON, marked truncated', async () => {
    const c = await connect(h, TOKENS.alice);
    await call(c, 'list_pods', { namespace: 'a'.repeat(900_000) });
    await c.close();
    const [record] = audits();
    expect(record?.arguments).toEqual({
      truncated: true,
      json: JSON.stringify({ namespace: 'a'.repeat(900_000) }).slice(0, 4096),
    });
  });
});
