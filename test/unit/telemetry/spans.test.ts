/**
 * The spans of MCP requests, in process: the app of src/mcp/http.ts with the unit tests' fake backend
 * and TokenReview, and a recording Tracing in place of the OpenTelemetry SDK (the facade is all the
 * operator's code sees). test/e2e/tracing.test.ts checks the same against a real collector.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttributeValue, Headers, Span, SpanKind, Tracing } from '../../../src/telemetry/index.js';
import { type Harness, post, startHarness, TOKENS, toolCall } from '../mcp/helpers.js';

interface Recorded {
  name: string;
  kind: SpanKind;
  parent: Recorded | undefined;
  attrs: Record<string, AttributeValue>;
  failed?: { type: string; description: string | undefined };
  ended: boolean;
  headers?: Headers;
}

class RecordingSpan implements Span {
  readonly recording = true;
  constructor(
    readonly rec: Recorded,
    private readonly all: Recorded[],
  ) {}
  setAttribute(key: string, value: AttributeValue): void {
    this.rec.attrs[key] = value;
  }
  updateName(name: string): void {
    this.rec.name = name;
  }
  fail(type: string, description?: string): void {
    this.rec.failed = { type, description };
  }
  end(): void {
    this.rec.ended = true;
  }
  child(name: string, kind: SpanKind = 'internal'): Span {
    const rec: Recorded = { name, kind, parent: this.rec, attrs: {}, ended: false };
    this.all.push(rec);
    return new RecordingSpan(rec, this.all);
  }
}

const spans: Recorded[] = [];
const recording: Tracing = {
  enabled: true,
  startServerSpan(name, headers) {
    const rec: Recorded = { name, kind: 'server', parent: undefined, attrs: {}, ended: false, headers };
    spans.push(rec);
    return new RecordingSpan(rec, spans);
  },
  shutdown: async () => {},
};

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ logLevel: 'silent', tracing: recording });
});
afterAll(async () => {
  await h.close();
});

/** The spans of one request: its server span and every span under it, in creation order. */
async function traced(body: unknown, token?: string, headers: Record<string, string> = {}) {
  const from = spans.length;
  const res = await post(h, body, { ...(token === undefined ? {} : { token }), headers });
  const mine = spans.slice(from);
  const root = mine.find((s) => s.kind === 'server');
  if (root === undefined) throw new Error('no server span');
  const tree = (s: Recorded): string[] => [
    s.name,
    ...mine.filter((c) => c.parent === s).flatMap((c) => tree(c).map((line) => `  ${line}`)),
  ];
  return { res, root, mine, tree: tree(root) };
}

describe('the span tree of a request', () => {
  it('scale_deployment: authentication (TokenReview on a miss), policy decision, /scale read and write, Event', async () => {
    const { res, root, mine, tree } = await traced(
      toolCall('scale_deployment', { namespace: 'web', name: 'web', replicas: 4 }),
      TOKENS.copilot,
      { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    );
    expect(res.status).toBe(200);
    expect((res.json as { result?: { isError?: boolean } }).result?.isError).not.toBe(true);
    // The fake backend makes no HTTP requests, so no client spans: those are the e2e test's.
    expect(tree).toEqual([
      'tools/call scale_deployment',
      '  kubemcp.authenticate',
      '  kubemcp.policy',
      '  kubemcp.event',
    ]);
    expect(root.headers?.traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(root.attrs).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/mcp',
      'http.response.status_code': 200,
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'scale_deployment',
      'jsonrpc.request.id': '1',
      'user.name': 'system:serviceaccount:agents:copilot',
      'kubemcp.outcome': 'ok',
      'kubemcp.request_id': res.headers.get('x-request-id'),
    });
    expect(root.failed).toBeUndefined();
    const [auth, policy, event] = mine.filter((s) => s.parent === root) as [Recorded, Recorded, Recorded];
    expect(auth.attrs['kubemcp.auth.result']).toBe('ok');
    expect(['hit', 'miss']).toContain(auth.attrs['kubemcp.auth.cache']);
    expect(policy.attrs).toEqual({
      'kubemcp.policy.tool': 'scale_deployment',
      'k8s.namespace.name': 'web',
      'kubemcp.policy.replicas': 4,
      'kubemcp.policy.decision': 'allow',
      'kubemcp.policy.reason': expect.stringContaining('web-agents'),
      'kubemcp.policy.policies': ['web-agents'],
    });
    expect(event.attrs['kubemcp.event.reason']).toBe('Scaled');
    expect(mine.every((s) => s.ended)).toBe(true);
  });

  it('a first token is reviewed (miss), the next request hits the cache', async () => {
    const first = await traced(toolCall('get_permissions', {}), TOKENS.bob);
    const second = await traced(toolCall('get_permissions', {}), TOKENS.bob);
    const cache = (t: typeof first) =>
      t.mine.find((s) => s.name === 'kubemcp.authenticate')?.attrs['kubemcp.auth.cache'];
    expect(cache(first)).toBe('miss');
    expect(cache(second)).toBe('hit');
  });

  it('list_pods in a namespace: a policy decision and a cache read with what the caller got', async () => {
    const { tree, mine } = await traced(toolCall('list_pods', { namespace: 'web' }), TOKENS.copilot);
    expect(tree).toEqual([
      'tools/call list_pods',
      '  kubemcp.authenticate',
      '  kubemcp.policy',
      '  kubemcp.cache.read',
    ]);
    const read = mine.find((s) => s.name === 'kubemcp.cache.read');
    expect(read?.attrs).toMatchObject({
      'kubemcp.kube.source': 'cache',
      'kubemcp.kube.resource': 'pods',
      'k8s.namespace.name': 'web',
      'kubemcp.kube.cache_synced': true,
    });
    expect(read?.attrs['kubemcp.kube.items']).toEqual(expect.any(Number));
  });

  it('a refusal: deny with code and reason, no cache read, the server span failed with tool_error', async () => {
    const { root, tree, mine } = await traced(
      toolCall('list_pods', { namespace: 'payments' }),
      TOKENS.copilot,
    );
    expect(tree).toEqual(['tools/call list_pods', '  kubemcp.authenticate', '  kubemcp.policy']);
    expect(mine.find((s) => s.name === 'kubemcp.policy')?.attrs).toMatchObject({
      'kubemcp.policy.decision': 'deny',
      'kubemcp.policy.code': 'PolicyDenied',
      'kubemcp.policy.reason': expect.any(String),
    });
    expect(root.failed).toEqual({ type: 'tool_error', description: 'PolicyDenied' });
    expect(root.attrs['kubemcp.outcome']).toBe('PolicyDenied');
  });

  it('a bad token: the authentication span fails, the request span says 401, no other work', async () => {
    const { res, root, tree, mine } = await traced(toolCall('list_pods', {}), TOKENS.bad);
    expect(res.status).toBe(401);
    expect(tree).toEqual(['POST /mcp', '  kubemcp.authenticate']);
    expect(root.attrs['http.response.status_code']).toBe(401);
    const auth = mine.find((s) => s.name === 'kubemcp.authenticate');
    expect(auth?.failed?.type).toBe('invalid_token');
    expect(auth?.attrs['kubemcp.auth.result']).toBe('invalid_token');
  });

  it('never records the token or header values other than the protocol version', async () => {
    const { mine } = await traced(toolCall('list_pods', { namespace: 'web' }), TOKENS.copilot, {
      'MCP-Protocol-Version': '2025-06-18',
      'X-Api-Key': 'proxy-secret-value',
    });
    const text = JSON.stringify(mine.map(({ parent: _p, headers: _h, ...rest }) => rest));
    expect(text).not.toContain(TOKENS.copilot);
    expect(text).not.toContain('proxy-secret-value');
    expect(text.toLowerCase()).not.toContain('bearer');
    expect(mine.find((s) => s.kind === 'server')?.attrs['mcp.protocol.version']).toBe('2025-06-18');
  });

  it('a batch: one request span, the decisions of every call under it', async () => {
    const { root, tree } = await traced(
      [toolCall('list_pods', { namespace: 'web' }, 1), toolCall('list_deployments', { namespace: 'web' }, 2)],
      TOKENS.copilot,
      { 'MCP-Protocol-Version': '2025-03-26' },
    );
    expect(root.name).toBe('POST /mcp');
    expect(root.attrs['kubemcp.batch_size']).toBe(2);
    expect(tree.filter((l) => l === '  kubemcp.policy')).toHaveLength(2);
  });
});
