import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { jsonShapeProblem } from '../../../src/mcp/http.js';
import {
  answerBeforeRouting,
  HOSTILE_TARGETS,
  MALFORMED_MCP_TARGETS,
  NOT_A_PATH,
} from '../../hostile-targets.js';
import { rawRequest } from '../../rawhttp.js';
import { connect, type Harness, LEGACY, MODERN, post, startHarness, TOKENS, toolCall } from './helpers.js';

/** The transport surface: both protocol generations, and every malformed request answered as JSON-RPC. */

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

describe('legacy revisions (initialize handshake, answered statelessly)', () => {
  it('answers a raw 2024-11-05 initialize and then tools/list on a fresh request', async () => {
    const init = await post(
      h,
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: LEGACY, capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
      },
      { token: TOKENS.alice },
    );
    expect(init.status).toBe(200);
    expect(init.headers.get('mcp-session-id')).toBeNull();
    const result = (init.json as { result: Record<string, unknown> }).result;
    expect(result.protocolVersion).toBe(LEGACY);
    expect(result.capabilities).toMatchObject({ tools: {}, resources: {} });
    expect(result.serverInfo).toMatchObject({ name: 'kubemcp' });

    // No session: the next request stands alone (any replica could answer it).
    const list = await post(
      h,
      { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} },
      { token: TOKENS.alice },
    );
    expect(list.status).toBe(200);
    const tools = (list.json as { result: { tools: { name: string }[] } }).result.tools;
    expect(tools.map((t) => t.name)).toContain('scale_deployment');
  });

  it('serves the SDK client with the default (2025) connect sequence', async () => {
    const client = await connect(h, TOKENS.copilot, 'legacy');
    expect(client.getProtocolEra()).toBe('legacy');
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(
      ['get_permissions', 'list_deployments', 'list_namespaces', 'list_pods', 'scale_deployment'].sort(),
    );
    await client.close();
  });

  it('acknowledges notifications with 202', async () => {
    const res = await post(
      h,
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { token: TOKENS.alice },
    );
    expect(res.status).toBe(202);
  });
});

describe('2026-07-28 (no initialize: server/discover, per-request envelope)', () => {
  it('connects with server/discover and lists tools', async () => {
    const client = await connect(h, TOKENS.alice, 'modern');
    expect(client.getProtocolEra()).toBe('modern');
    const { tools } = await client.listTools();
    expect(tools).toHaveLength(8);
    await client.close();
  });

  it('answers a raw modern tools/list with cacheScope private', async () => {
    const res = await post(
      h,
      {
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/list',
        params: {
          _meta: {
            'io.modelcontextprotocol/protocolVersion': MODERN,
            'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '0' },
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
      },
      { token: TOKENS.copilot, headers: { 'MCP-Protocol-Version': MODERN, 'Mcp-Method': 'tools/list' } },
    );
    expect(res.status).toBe(200);
    const result = (res.json as { result: { tools: unknown[]; cacheScope: string; ttlMs: number } }).result;
    expect(result.cacheScope).toBe('private');
    expect(result.ttlMs).toBe(0);
    expect(result.tools).toHaveLength(5);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('rejects an Mcp-Method header that disagrees with the body (-32020)', async () => {
    const res = await post(
      h,
      {
        jsonrpc: '2.0',
        id: 9,
        method: 'tools/list',
        params: {
          _meta: {
            'io.modelcontextprotocol/protocolVersion': MODERN,
            'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '0' },
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
      },
      { token: TOKENS.alice, headers: { 'MCP-Protocol-Version': MODERN, 'Mcp-Method': 'resources/list' } },
    );
    expect(res.status).toBe(400);
    expect((res.json as { error: { code: number } }).error.code).toBe(-32020);
  });

  it('rejects an unsupported revision with the supported list', async () => {
    const res = await post(
      h,
      {
        jsonrpc: '2.0',
        id: 8,
        method: 'tools/list',
        params: {
          _meta: {
            'io.modelcontextprotocol/protocolVersion': '2099-01-01',
            'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '0' },
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
      },
      { token: TOKENS.alice, headers: { 'MCP-Protocol-Version': '2099-01-01', 'Mcp-Method': 'tools/list' } },
    );
    expect(res.status).toBe(400);
    expect((res.json as { error: { code: number } }).error.code).toBe(-32022);
  });
});

describe('debug logging', () => {
  it('logs every JSON-RPC message in and out when the logLevel option is debug', async () => {
    const other = await startHarness({ logLevel: 'info', options: { logLevel: 'debug' } });
    try {
      await post(
        other,
        { jsonrpc: '2.0', id: 42, method: 'tools/list', params: {} },
        { token: TOKENS.copilot },
      );
      const records = other.records();
      const inbound = records.find((r) => r.msg === 'JSON-RPC in');
      const outbound = records.find((r) => r.msg === 'JSON-RPC out');
      expect(inbound).toMatchObject({ message: { id: 42, method: 'tools/list' } });
      expect(inbound?.headers).toMatchObject({ authorization: '[REDACTED]' });
      expect(outbound).toMatchObject({
        status: 200,
        message: [{ id: 42, result: { tools: expect.any(Array) } }],
      });
      expect(other.logs.join('\n')).not.toContain(TOKENS.copilot);
    } finally {
      await other.close();
    }
  });

  it('shows only allow-listed header values: never cookies, *-token or *-authorization', async () => {
    const other = await startHarness({ options: { logLevel: 'debug' } });
    try {
      await post(
        other,
        { jsonrpc: '2.0', id: 7, method: 'tools/list', params: {} },
        {
          token: TOKENS.copilot,
          headers: {
            Cookie: 'session=cookie-secret-1',
            'X-Api-Token': 'api-token-secret-2',
            'X-Upstream-Authorization': 'Basic upstream-secret-3',
            'X-Some-Vendor-Key': 'vendor-secret-4',
            'User-Agent': 'agent-x/1.0',
          },
        },
      );
      const inbound = other.records().find((r) => r.msg === 'JSON-RPC in');
      expect(inbound?.headers).toMatchObject({
        authorization: '[REDACTED]',
        cookie: '[REDACTED]',
        'x-api-token': '[REDACTED]',
        'x-upstream-authorization': '[REDACTED]',
        'x-some-vendor-key': '[REDACTED]',
        'user-agent': 'agent-x/1.0',
        'content-type': 'application/json',
      });
      const all = other.logs.join('\n');
      for (const secret of [
        'cookie-secret-1',
        'api-token-secret-2',
        'upstream-secret-3',
        'vendor-secret-4',
      ]) {
        expect(all).not.toContain(secret);
      }
    } finally {
      await other.close();
    }
  });

  it('logs no JSON-RPC traffic at info', async () => {
    await post(h, { jsonrpc: '2.0', id: 43, method: 'tools/list', params: {} }, { token: TOKENS.copilot });
    expect(h.records().filter((r) => String(r.msg).startsWith('JSON-RPC'))).toEqual([]);
  });
});

describe('malformed and hostile requests', () => {
  it('answers malformed JSON with -32700, never HTML', async () => {
    const res = await post(h, undefined, {
      token: TOKENS.alice,
      raw: '{"jsonrpc": "2.0", "id": 1, "method": ',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(res.json).toEqual({
      jsonrpc: '2.0',
      error: { code: -32700, message: expect.any(String) },
      id: null,
    });
    expect(res.text).not.toMatch(/<html|at \w+ \(/i);
  });

  it('refuses JSON nested deeper than 64 levels, or with over 1,000 members, before parsing it', async () => {
    const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    for (const raw of [
      deep(200_000),
      `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_pods","arguments":{"namespace":${deep(100)}}}}`,
    ]) {
      const res = await post(h, undefined, { token: TOKENS.alice, raw });
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({
        error: { code: -32600, message: expect.stringContaining('nested deeper') },
      });
    }
    const wide = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_pods","arguments":{${Array.from({ length: 5000 }, (_, i) => `"k${i}":1`).join(',')}}}}`;
    const res = await post(h, undefined, { token: TOKENS.alice, raw: wide });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({
      error: { code: -32600, message: expect.stringContaining('1000 object members') },
    });
    // Brackets inside strings are data, not nesting.
    const inString = await post(
      h,
      toolCall('list_pods', { namespace: 'web', labelSelector: `app in (${'['.repeat(100)})` }),
      { token: TOKENS.alice },
    );
    expect(inString.status).toBe(200);
  });

  it('answers a body over the limit with 413 and a JSON-RPC error', async () => {
    const big = {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/list',
      params: { pad: 'x'.repeat(1024 * 1024 + 10) },
    };
    const res = await post(h, big, { token: TOKENS.alice });
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 }, id: null });
  });

  it('rejects a foreign Origin with 403 (DNS rebinding)', async () => {
    const res = await post(
      h,
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      {
        token: TOKENS.alice,
        headers: { Origin: 'http://evil.example.com' },
      },
    );
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } });
  });

  it('accepts a local Origin', async () => {
    const res = await post(
      h,
      { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} },
      {
        token: TOKENS.alice,
        headers: { Origin: 'http://localhost:6274' },
      },
    );
    expect(res.status).toBe(200);
  });

  it('rejects a foreign Host with 403 (DNS rebinding)', async () => {
    const other = await startHarness({ options: { allowedHosts: ['kubemcp.kubemcp-system.svc'] } });
    try {
      const res = await post(other, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { token: TOKENS.alice });
      expect(res.status).toBe(403);
      expect(res.json).toMatchObject({ error: { code: -32000 } });
    } finally {
      await other.close();
    }
  });

  it('answers GET and DELETE with 405 (stateless: no stream, no session)', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(h.url, {
        method,
        headers: { Authorization: `Bearer ${TOKENS.alice}`, Accept: 'text/event-stream' },
      });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
      expect(await res.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } });
    }
  });

  it('answers a non-JSON content type with 415', async () => {
    const res = await post(h, undefined, {
      token: TOKENS.alice,
      raw: 'hello',
      headers: { 'Content-Type': 'text/plain' },
    });
    expect(res.status).toBe(415);
  });

  it('answers an unknown method with -32601', async () => {
    const res = await post(
      h,
      { jsonrpc: '2.0', id: 3, method: 'pods/delete', params: {} },
      { token: TOKENS.alice },
    );
    expect((res.json as { error: { code: number } }).error.code).toBe(-32601);
  });

  it('answers unknown paths with a JSON 404', async () => {
    const res = await fetch(`${h.base}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32601 } });
  });
});

describe('JSON-RPC batches (2025-03-26 only, small)', () => {
  const list = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/list', params: {} });

  it('answers a small legacy batch', async () => {
    const res = await post(h, [list(1), list(2)], { token: TOKENS.alice });
    expect(res.status).toBe(200);
    expect(res.text).toContain('"id":1');
    expect(res.text).toContain('"id":2');
  });

  it('refuses a batch of more than 10 messages, and an empty one, with -32600', async () => {
    const big = await post(
      h,
      Array.from({ length: 11 }, (_, i) => list(i)),
      { token: TOKENS.alice },
    );
    expect(big.status).toBe(400);
    expect(big.json).toMatchObject({ error: { code: -32600 } });
    const empty = await post(h, [], { token: TOKENS.alice });
    expect(empty.status).toBe(400);
    expect(empty.json).toMatchObject({ error: { code: -32600 } });
  });

  it('refuses a batch that declares a revision without batches', async () => {
    const res = await post(h, [list(1)], {
      token: TOKENS.alice,
      headers: { 'MCP-Protocol-Version': '2025-06-18' },
    });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({
      error: { code: -32600, message: expect.stringContaining('2025-06-18') },
    });
  });
});

describe('per-caller concurrency limit', () => {
  it('refuses a caller past its in-flight limit with 429 and Retry-After, without starving others', async () => {
    const limited = await startHarness({ options: { maxInflightPerCaller: 2 } });
    const gate: (() => void)[] = [];
    const readScale = limited.backend.readScale.bind(limited.backend);
    let gated = true;
    limited.backend.readScale = async (...args) => {
      if (gated) await new Promise<void>((resolve) => gate.push(resolve));
      return readScale(...args);
    };
    try {
      const scale = (replicas: number) =>
        post(limited, toolCall('scale_deployment', { namespace: 'web', name: 'web', replicas }), {
          token: TOKENS.alice,
        });
      const held = [scale(4), scale(5)];
      for (let i = 0; i < 100 && gate.length < 2; i++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      const third = await post(limited, toolCall('get_permissions', {}), { token: TOKENS.alice });
      expect(third.status).toBe(429);
      expect(third.headers.get('retry-after')).toBe('1');
      expect(third.json).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } });
      // A batch counts one slot per message: refused as well.
      const batch = await post(
        limited,
        [toolCall('get_permissions', {}, 1), toolCall('get_permissions', {}, 2)],
        {
          token: TOKENS.alice,
        },
      );
      expect(batch.status).toBe(429);
      // Another caller is not affected.
      const bob = await post(limited, toolCall('get_permissions', {}), { token: TOKENS.bob });
      expect(bob.status).toBe(200);
      gated = false;
      gate.splice(0).forEach((open) => {
        open();
      });
      for (const res of await Promise.all(held)) expect(res.status).toBe(200);
      // Slots are given back when a request ends.
      const after = await post(limited, toolCall('get_permissions', {}), { token: TOKENS.alice });
      expect(after.status).toBe(200);
      const refused = await limited.registry.getSingleMetricAsString('kubemcp_mcp_caller_limited_total');
      expect(refused).toContain('kubemcp_mcp_caller_limited_total 2');
    } finally {
      await limited.close();
    }
  });
});

describe('request targets', () => {
  const port = () => Number(new URL(h.base).port);
  const auth = () => ({ Authorization: `Bearer ${TOKENS.alice}` });

  it('answers every target without throwing: 400 when it is no path, else by route; and still serves', async () => {
    const routed: Record<string, number> = { 'http://x/mcp': 405, 'http://[/mcp': 405 };
    for (const target of HOSTILE_TARGETS) {
      const a = await rawRequest(port(), 'GET', target);
      const want = answerBeforeRouting(target) ?? routed[target] ?? 404;
      expect(a.status, `GET ${target.slice(0, 40)}`).toBe(want);
      if (want === 400) expect(a.text).toContain('"code":-32600');
    }
    const after = await post(
      h,
      { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} },
      { token: TOKENS.alice },
    );
    expect(after.status).toBe(200);
  });

  it('serves an absolute-form POST to /mcp, and refuses a malformed one with 400 before authentication', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
    const headers = {
      ...auth(),
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      'Content-Length': String(Buffer.byteLength(body)),
    };
    const ok = await rawRequestWithBody(port(), 'http://127.0.0.1/mcp', headers, body);
    expect(ok).toMatch(/^HTTP\/1\.1 200/);
    expect(ok).toContain('"tools"');
    for (const target of [...MALFORMED_MCP_TARGETS, ...NOT_A_PATH]) {
      const bad = await rawRequestWithBody(port(), target, headers, body);
      expect(bad, target).toMatch(/^HTTP\/1\.1 400/);
    }
  });
});

/** A POST with a body, written byte for byte. */
async function rawRequestWithBody(
  port: number,
  target: string,
  headers: Record<string, string>,
  body: string,
): Promise<string> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    let text = '';
    const socket = net.connect(port, '127.0.0.1', () => {
      const lines = [`POST ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
    });
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
      // The SDK answers SSE with `Connection: keep-alive`: the last chunk ends the answer.
      if (text.endsWith('\r\n0\r\n\r\n')) socket.destroy();
    });
    socket.on('close', () => resolve(text));
    socket.on('error', () => resolve(text));
  });
}

describe('JSON bodies bounded by array elements', () => {
  const limits = { maxDepth: 64, maxMembers: 1000, maxElements: 1000 };
  const elements = (n: number) => `[${Array.from({ length: n }, () => '{}').join(',')}]`;

  it('counts array elements, not commas inside strings or between object members', () => {
    expect(jsonShapeProblem(Buffer.from(elements(1000)), limits)).toBeUndefined();
    expect(jsonShapeProblem(Buffer.from(elements(1001)), limits)).toBe(
      'JSON with more than 1000 array elements',
    );
    expect(jsonShapeProblem(Buffer.from(`[[${'1,'.repeat(500)}1],[${'1,'.repeat(499)}1]]`), limits)).toBe(
      'JSON with more than 1000 array elements',
    );
    expect(
      jsonShapeProblem(Buffer.from(`["${','.repeat(5000)}", [ ], [], {"a":1,"b":[ 1 ]}]`), limits),
    ).toBeUndefined();
    expect(
      jsonShapeProblem(
        Buffer.from(`{${Array.from({ length: 900 }, (_, i) => `"k${i}":1`).join(',')}}`),
        limits,
      ),
    ).toBeUndefined();
  });

  it('refuses a 1 MiB body of {}s with -32600 before JSON.parse ever sees it', async () => {
    const inArguments = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_pods","arguments":{"x":${elements(340_000)}}}}`;
    const topLevel = elements(340_000);
    expect(inArguments.length).toBeGreaterThan(1_000_000);
    expect(inArguments.length).toBeLessThan(1024 * 1024);
    const parse = vi.spyOn(JSON, 'parse');
    try {
      for (const raw of [inArguments, topLevel]) {
        const res = await post(h, undefined, { token: TOKENS.alice, raw });
        expect(res.status).toBe(400);
        expect(res.json).toMatchObject({
          error: { code: -32600, message: 'Invalid Request: JSON with more than 1000 array elements' },
        });
      }
      const big = parse.mock.calls.filter(([text]) => typeof text === 'string' && text.length > 100_000);
      expect(big).toHaveLength(0);
    } finally {
      parse.mockRestore();
    }
  });

  it('still serves a request whose arrays hold 1000 elements in all', async () => {
    const res = await post(
      h,
      toolCall('list_pods', {
        namespace: 'web',
        labelSelector: 'app',
        extra: Array.from({ length: 1000 }, () => 1),
      }),
      { token: TOKENS.alice },
    );
    expect(res.status).toBe(200);
  });
});

describe('Host and Origin refusals', () => {
  it('are counted, logged at warn with the value capped, at most 20 lines per 10 s', async () => {
    const other = await startHarness({ options: { allowedHosts: ['kubemcp.kubemcp-system.svc'] } });
    try {
      const port = Number(new URL(other.base).port);
      const host = `evil.example.${'x'.repeat(3000)}`;
      const origin = `http://evil.example.${'y'.repeat(3000)}`;
      for (let i = 0; i < 25; i++) {
        const a = await rawRequest(port, 'POST', '/mcp', { Host: host, 'Content-Length': '0' });
        expect(a.status).toBe(403);
        expect(a.text).toContain('Host header not allowed');
        const b = await rawRequest(port, 'POST', '/mcp', {
          Host: 'kubemcp.kubemcp-system.svc',
          Origin: origin,
          'Content-Length': '0',
        });
        expect(b.status).toBe(403);
        expect(b.text).toContain('Origin not allowed');
      }
      const refusals = other.records().filter((r) => String(r.msg).startsWith('request refused:'));
      const warned = refusals.filter((r) => r.level === 40);
      // One window for both: 20 lines at warn, the rest held back (at debug, not written at info).
      expect(warned).toHaveLength(20);
      expect(refusals).toHaveLength(20);
      for (const r of warned) expect(JSON.stringify(r).length).toBeLessThan(600);
      expect(warned[0]).toMatchObject({
        host: expect.stringMatching(/^evil\.example\.x+…\[2757 more chars\]$/),
      });
      const metrics = await other.registry.metrics();
      expect(metrics).toContain('kubemcp_mcp_requests_refused_total{reason="host"} 25');
      expect(metrics).toContain('kubemcp_mcp_requests_refused_total{reason="origin"} 25');
    } finally {
      await other.close();
    }
  });
});
