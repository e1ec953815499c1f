/**
 * OpenTelemetry tracing end to end: `kubemcp serve` (as the operator ServiceAccount, tracing turned on
 * by the standard OTEL_* variables only) exports OTLP/HTTP protobuf to a real OpenTelemetry Collector
 * built from its Go modules (test/cluster/go/otelcol: the OTLP receiver and the OTLP/HTTP exporter),
 * which forwards what it decoded as OTLP JSON to a sink in this test. The agent is the official v2
 * MCP client sending a W3C `traceparent`.
 *
 * The batch span processor's schedule delay is set to 10 minutes, so no span leaves the operator
 * before it stops: every span asserted here was flushed by the SIGTERM shutdown.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { describe, expect, it } from 'vitest';
import { binaryPaths, ensureBinaries } from '../cluster/build.js';
import { freePort } from '../cluster/cluster.js';
import { OPERATOR_NAMESPACE } from '../cluster/operator.js';
import { mcpFixture } from './fixture.js';
import { MODERN, OPERATOR_LEASE, readDeployment } from './mcp-support.js';
import { eventually, kubeConfig } from './support.js';

const s = randomBytes(3).toString('hex');
const NS = { web: `e2e-trace-web-${s}`, hidden: `e2e-trace-hidden-${s}`, agents: `e2e-trace-agents-${s}` };
const POLICY = `e2e-trace-${s}`;
const AGENT = 'tracer';
const SERVICE_NAME = `kubemcp-e2e-${s}`;
/** The agent's own trace: every request it sends carries traceparent 00-TRACE-PARENT-01. */
const TRACE_ID = randomBytes(16).toString('hex');
const PARENT_SPAN_ID = randomBytes(8).toString('hex');

// OTLP JSON as the collector's exporter sends it.
interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
}
interface KeyValue {
  key: string;
  value: AnyValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: KeyValue[];
  status?: { code?: number; message?: string };
}
interface ExportRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: Array<{ scope?: { name?: string }; spans?: OtlpSpan[] }>;
  }>;
}

type Value = string | number | boolean | Value[];
interface SpanView {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: 'internal' | 'server' | 'client' | 'other';
  start: bigint;
  attrs: Record<string, Value>;
  resource: Record<string, Value>;
  statusCode: number;
  statusMessage: string | undefined;
}

const KIND: Record<number, SpanView['kind']> = { 1: 'internal', 2: 'server', 3: 'client' };

function decode(v: AnyValue): Value {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(decode);
  return '';
}

function record(kvs: KeyValue[] | undefined): Record<string, Value> {
  return Object.fromEntries((kvs ?? []).map((kv) => [kv.key, decode(kv.value)]));
}

/** Every span the sink received, flattened. */
function spansOf(bodies: readonly ExportRequest[]): SpanView[] {
  const out: SpanView[] = [];
  for (const body of bodies) {
    for (const rs of body.resourceSpans ?? []) {
      const resource = record(rs.resource?.attributes);
      for (const ss of rs.scopeSpans ?? []) {
        for (const sp of ss.spans ?? []) {
          out.push({
            traceId: sp.traceId,
            spanId: sp.spanId,
            parentSpanId: sp.parentSpanId ?? '',
            name: sp.name,
            kind: KIND[sp.kind] ?? 'other',
            start: BigInt(sp.startTimeUnixNano),
            attrs: record(sp.attributes),
            resource,
            statusCode: sp.status?.code ?? 0,
            statusMessage: sp.status?.message,
          });
        }
      }
    }
  }
  return out;
}

/** The children of `parent`, in start order. */
function childrenOf(spans: readonly SpanView[], parent: SpanView): SpanView[] {
  return spans.filter((c) => c.parentSpanId === parent.spanId).sort((a, b) => (a.start < b.start ? -1 : 1));
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

let sink: Server | undefined;
const received: ExportRequest[] = [];
let collector: ChildProcess | undefined;
const collectorLog: string[] = [];
let dir = '';
let otlpPort = 0;
let token = '';
let spans: SpanView[] = [];
/** What the calls answered, checked in the tests. */
const answers: Record<string, { isError?: boolean; structuredContent?: Record<string, unknown> }> = {};

const fx = mcpFixture({
  namespaces: Object.values(NS),
  deployments: [
    { namespace: NS.web, name: 'web', replicas: 1 },
    { namespace: NS.hidden, name: 'secret', replicas: 1 },
  ],
  serviceAccounts: [{ namespace: NS.agents, name: AGENT }],
  policies: {
    [POLICY]: {
      subjects: [{ kind: 'ServiceAccount', name: AGENT, namespace: NS.agents }],
      namespaces: { names: [NS.web] },
      tools: ['list_deployments', 'scale_deployment'],
      replicas: { min: 1, max: 3 },
    },
  },
  beforeServe: async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubemcp-tracing-'));

    // The sink: the collector's OTLP/HTTP exporter (otlp_http) POSTs OTLP JSON to /v1/traces.
    sink = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        body += chunk;
      });
      req.on('end', () => {
        if (req.url === '/v1/traces') received.push(JSON.parse(body) as ExportRequest);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => sink?.listen(0, '127.0.0.1', resolve));
    const sinkPort = (sink.address() as net.AddressInfo).port;

    // The collector, from the harness's build cache (built from test/cluster/go/otelcol if missing).
    const otelcol = binaryPaths(await ensureBinaries({ only: ['otelcol'] })).otelcol as string;
    otlpPort = await freePort();
    const config = path.join(dir, 'otelcol.yaml');
    fs.writeFileSync(
      config,
      [
        'receivers:',
        '  otlp:',
        '    protocols:',
        '      http:',
        `        endpoint: 127.0.0.1:${otlpPort}`,
        'exporters:',
        '  otlp_http:',
        `    endpoint: http://127.0.0.1:${sinkPort}`,
        '    encoding: json',
        '    compression: none',
        'service:',
        '  telemetry:',
        '    metrics:',
        '      level: none',
        '  pipelines:',
        '    traces:',
        '      receivers: [otlp]',
        '      exporters: [otlp_http]',
        '',
      ].join('\n'),
    );
    collector = spawn(otelcol, ['--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    collector.stdout?.on('data', (c: Buffer) => collectorLog.push(c.toString('utf8')));
    collector.stderr?.on('data', (c: Buffer) => collectorLog.push(c.toString('utf8')));
    try {
      await eventually('the collector to listen', async () => {
        if (collector?.exitCode !== null) throw new Error(`otelcol exited with ${collector?.exitCode}`);
        return portOpen(otlpPort);
      });
    } catch (err) {
      process.stderr.write(`── otelcol ──\n${collectorLog.join('')}\n`);
      throw err;
    }
  },
  serve: () => [
    {
      identity: `e2e-tracing-${s}`,
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlpPort}`,
        OTEL_SERVICE_NAME: SERVICE_NAME,
        OTEL_RESOURCE_ATTRIBUTES: `deployment.environment.name=e2e,kubemcp.test.run=${s}`,
        // Nothing is exported before shutdown: the spans below prove the flush on SIGTERM.
        OTEL_BSP_SCHEDULE_DELAY: '600000',
      },
    },
  ],
  tokens: { agent: { namespace: NS.agents, name: AGENT } },
  afterSetup: async (f) => {
    token = f.tokens.agent;
    const client = new Client(
      { name: 'kubemcp-e2e-tracing', version: '1.0.0' },
      { versionNegotiation: { mode: { pin: MODERN } } },
    );
    await client.connect(
      new StreamableHTTPClientTransport(new URL(f.serve.url), {
        requestInit: {
          headers: {
            Authorization: `Bearer ${token}`,
            traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-01`,
          },
        },
      }),
    );
    // The caches may lag the Deployment a moment: list until it shows, then the calls under test.
    await eventually('the Deployment in serve’s cache', async () => {
      const r = (await client.callTool({ name: 'list_deployments', arguments: { namespace: NS.web } })) as {
        structuredContent?: { items?: unknown[] };
      };
      return (r.structuredContent?.items?.length ?? 0) === 1;
    });
    const callTool = async (label: string, name: string, args: Record<string, unknown>) => {
      answers[label] = (await client.callTool({ name, arguments: args })) as (typeof answers)[string];
    };
    await callTool('scale', 'scale_deployment', { namespace: NS.web, name: 'web', replicas: 2 });
    await callTool('list', 'list_deployments', { namespace: NS.web });
    await callTool('outOfBounds', 'scale_deployment', { namespace: NS.web, name: 'web', replicas: 50 });
    await callTool('hidden', 'list_deployments', { namespace: NS.hidden });
    await client.close();

    // Still nothing at the collector: the schedule delay holds every span in the operator.
    await sleep(1000);
    expect(received).toEqual([]);
    await f.serve.stop();
    await eventually('the spans to reach the sink', async () => {
      const all = spansOf(received);
      return all.some((sp) => sp.name === 'tools/call scale_deployment') && all.length >= 20;
    });
    // Anything still on its way through the collector.
    await sleep(1000);
    spans = spansOf(received);
  },
  onFailure: async () => {
    process.stderr.write(`── otelcol ──\n${collectorLog.join('').slice(-4000)}\n`);
  },
  cleanup: async () => {
    collector?.kill('SIGTERM');
    sink?.close();
  },
  afterStop: async () => {
    await kubeConfig()
      .makeApiClient(CoordinationV1Api)
      .deleteNamespacedLease({ name: OPERATOR_LEASE, namespace: OPERATOR_NAMESPACE })
      .catch(() => undefined);
    if (dir !== '') fs.rmSync(dir, { recursive: true, force: true });
  },
});

/** The server span of the request whose MCP call was `tool` with `match` in its policy decision. */
function requestSpan(
  tool: string,
  which: (children: SpanView[]) => boolean,
): { root: SpanView; children: SpanView[] } {
  const roots = spans.filter((sp) => sp.kind === 'server' && sp.name === `tools/call ${tool}`);
  for (const root of roots) {
    const children = childrenOf(spans, root);
    if (which(children)) return { root, children };
  }
  throw new Error(`no request span of ${tool} matched; spans: ${spans.map((sp) => sp.name).join(', ')}`);
}

describe('the spans a real OpenTelemetry Collector received', () => {
  it('are one trace: the agent’s traceparent is continued by every request’s server span', () => {
    expect(answers.scale?.isError).not.toBe(true);
    const servers = spans.filter((sp) => sp.kind === 'server');
    expect(servers.length).toBeGreaterThanOrEqual(6);
    for (const sp of servers) {
      expect(sp.traceId).toBe(TRACE_ID);
      expect(sp.parentSpanId).toBe(PARENT_SPAN_ID);
    }
    // Every other span hangs, directly or not, under one of those server spans, in the same trace.
    const ids = new Set(spans.map((sp) => sp.spanId));
    for (const sp of spans.filter((x) => x.kind !== 'server')) {
      expect(sp.traceId).toBe(TRACE_ID);
      expect(ids.has(sp.parentSpanId)).toBe(true);
    }
  });

  it('carry the resource from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES', () => {
    const resource = spans[0]?.resource ?? {};
    expect(resource['service.name']).toBe(SERVICE_NAME);
    expect(resource['deployment.environment.name']).toBe('e2e');
    expect(resource['kubemcp.test.run']).toBe(s);
    expect(resource['service.version']).toEqual(expect.any(String));
    expect(resource['service.instance.id']).toBe(`e2e-tracing-${s}`);
  });

  it('scale_deployment: server span → authentication, policy decision, /scale read and write, Event', async () => {
    const { root, children } = requestSpan('scale_deployment', (c) =>
      c.some((x) => x.name === 'PUT deployments/scale'),
    );
    expect(root.attrs).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/mcp',
      'http.response.status_code': 200,
      'mcp.method.name': 'tools/call',
      'mcp.protocol.version': MODERN,
      'gen_ai.tool.name': 'scale_deployment',
      'gen_ai.operation.name': 'execute_tool',
      'user.name': `system:serviceaccount:${NS.agents}:${AGENT}`,
      'kubemcp.outcome': 'ok',
    });
    expect(root.statusCode).not.toBe(2);
    // The request id is the audit record's.
    const audit = fx.serve.audits().find((a) => a.tool === 'scale_deployment' && a.outcome === 'ok');
    expect(root.attrs['kubemcp.request_id']).toBe(audit?.requestId);

    expect(children.map((c) => c.name)).toEqual([
      'kubemcp.authenticate',
      'kubemcp.policy',
      'GET deployments/scale',
      'PUT deployments/scale',
      'kubemcp.event',
    ]);
    // The tree as the collector received it, for the log of the run.
    const show = (sp: SpanView, depth: number): string[] => [
      `${'  '.repeat(depth)}${sp.name} [${sp.kind}] ${JSON.stringify(sp.attrs)}`,
      ...childrenOf(spans, sp).flatMap((c) => show(c, depth + 1)),
    ];
    process.stdout.write(`trace ${TRACE_ID} (parent ${PARENT_SPAN_ID}):\n${show(root, 0).join('\n')}\n`);
    const [auth, policy, read, write, event] = children as [SpanView, SpanView, SpanView, SpanView, SpanView];
    // The token was reviewed by an earlier request of this client: this one hit the cache.
    expect(auth.attrs).toMatchObject({ 'kubemcp.auth.cache': 'hit', 'kubemcp.auth.result': 'ok' });
    expect(childrenOf(spans, auth)).toEqual([]);
    expect(policy.attrs).toMatchObject({
      'kubemcp.policy.tool': 'scale_deployment',
      'k8s.namespace.name': NS.web,
      'kubemcp.policy.replicas': 2,
      'kubemcp.policy.decision': 'allow',
      'kubemcp.policy.policies': [POLICY],
    });
    for (const [span, method] of [
      [read, 'GET'],
      [write, 'PUT'],
    ] as const) {
      expect(span.kind).toBe('client');
      expect(span.attrs).toMatchObject({
        'http.request.method': method,
        'http.response.status_code': 200,
        'url.template': '/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale',
        'k8s.namespace.name': NS.web,
        'kubemcp.kube.source': 'api',
      });
    }
    expect(event.attrs).toMatchObject({ 'kubemcp.event.reason': 'Scaled', 'kubemcp.event.recorded': true });
    const [post] = childrenOf(spans, event);
    expect(post?.name).toBe('POST events');
    expect(post?.attrs).toMatchObject({ 'http.response.status_code': 201, 'k8s.namespace.name': NS.web });
    // And the scale happened.
    expect((await readDeployment(NS.web, 'web')).spec?.replicas).toBe(2);
  });

  it('the first request of the client reviewed the token: authentication span → TokenReview request', () => {
    const misses = spans.filter(
      (sp) => sp.name === 'kubemcp.authenticate' && sp.attrs['kubemcp.auth.cache'] === 'miss',
    );
    expect(misses.length).toBeGreaterThanOrEqual(1);
    const review = childrenOf(spans, misses[0] as SpanView);
    expect(review.map((r) => r.name)).toEqual(['POST tokenreviews']);
    expect(review[0]?.attrs).toMatchObject({
      'http.response.status_code': 201,
      'kubemcp.kube.source': 'api',
    });
  });

  it('list_deployments reads the watch cache: no API request', () => {
    const { root, children } = requestSpan('list_deployments', (c) =>
      c.some((x) => x.name === 'kubemcp.cache.read' && x.attrs['kubemcp.kube.items'] === 1),
    );
    expect(root.attrs['kubemcp.outcome']).toBe('ok');
    expect(children.map((c) => c.name)).toEqual([
      'kubemcp.authenticate',
      'kubemcp.policy',
      'kubemcp.cache.read',
    ]);
    expect(children[2]?.attrs).toMatchObject({
      'kubemcp.kube.source': 'cache',
      'kubemcp.kube.resource': 'deployments',
      'k8s.namespace.name': NS.web,
      'kubemcp.kube.cache_synced': true,
      'kubemcp.kube.cache_connected': true,
    });
    expect(children.some((c) => c.kind === 'client')).toBe(false);
  });

  it('a refusal: the decision and its reason on the policy span, the call failed, nothing read', () => {
    expect(answers.outOfBounds?.isError).toBe(true);
    const { root, children } = requestSpan('scale_deployment', (c) =>
      c.some((x) => x.attrs['kubemcp.policy.code'] === 'OutOfBounds'),
    );
    expect(root.statusCode).toBe(2);
    expect(root.statusMessage).toBe('OutOfBounds');
    expect(root.attrs).toMatchObject({ 'error.type': 'tool_error', 'kubemcp.outcome': 'OutOfBounds' });
    expect(children.map((c) => c.name)).toEqual(['kubemcp.authenticate', 'kubemcp.policy']);
    expect(children[1]?.attrs).toMatchObject({
      'kubemcp.policy.decision': 'deny',
      'kubemcp.policy.replicas': 50,
      'kubemcp.policy.reason': expect.stringContaining('replicas 50 is outside the bounds'),
    });
  });

  it('a namespace the caller may not see: denied before any read, and nothing of it in the trace but its name', () => {
    expect(answers.hidden?.isError).toBe(true);
    const { children } = requestSpan('list_deployments', (c) =>
      c.some((x) => x.attrs['kubemcp.policy.decision'] === 'deny'),
    );
    expect(children.map((c) => c.name)).toEqual(['kubemcp.authenticate', 'kubemcp.policy']);
    // No span anywhere mentions the hidden namespace's workload.
    expect(JSON.stringify(received)).not.toContain('"secret"');
  });

  it('no span carries the bearer token or any Authorization value', () => {
    const text = JSON.stringify(received);
    expect(token.length).toBeGreaterThan(100);
    expect(text).not.toContain(token);
    expect(text).not.toContain(token.split('.')[1] as string);
    expect(text.toLowerCase()).not.toContain('bearer');
  });
});
