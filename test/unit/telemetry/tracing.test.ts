import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as semconv from '@opentelemetry/semantic-conventions/incubating';
import { describe, expect, it } from 'vitest';
import { kubePathTemplate } from '../../../src/kube/path-template.js';
import * as attr from '../../../src/telemetry/attributes.js';
import { NO_TRACING, NOOP_SPAN } from '../../../src/telemetry/index.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');

describe('tracing off', () => {
  it('is one frozen no-op span: its children and every server span are that same object (nothing is allocated)', () => {
    expect(NO_TRACING.enabled).toBe(false);
    expect(
      NO_TRACING.startServerSpan('POST /mcp', {
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      }),
    ).toBe(NOOP_SPAN);
    expect(NOOP_SPAN.child('a', 'client')).toBe(NOOP_SPAN);
    expect(NOOP_SPAN.child('a').child('b')).toBe(NOOP_SPAN);
    expect(NOOP_SPAN.recording).toBe(false);
    expect(Object.isFrozen(NOOP_SPAN)).toBe(true);
  });

  it('only src/telemetry/otel.ts imports the SDK, and only a dynamic import loads that module', () => {
    const files = fs
      .readdirSync(path.join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'));
    const sdkImporters = files.filter((f) =>
      /from '@opentelemetry\//.test(fs.readFileSync(path.join(ROOT, 'src', f), 'utf8')),
    );
    expect(sdkImporters).toEqual([path.join('telemetry', 'otel.ts')]);
    const staticOtel = files.filter((f) =>
      /from '\.\/otel\.js'|from '.*telemetry\/otel\.js'/.test(
        fs.readFileSync(path.join(ROOT, 'src', f), 'utf8'),
      ),
    );
    expect(staticOtel).toEqual([]);
  });

  it('a serve process with tracing off loads no OpenTelemetry SDK package; turning it on loads them', () => {
    // CommonJS packages imported from ESM land in the CommonJS module cache, which the child prints.
    const script = `
      const { createRequire } = await import('node:module');
      const require = createRequire(import.meta.url);
      const Module = require('node:module');
      const loaded = () => Object.keys(Module._cache).filter((k) => /@opentelemetry[\\\\/](sdk-trace|exporter-trace|resources|otlp)/.test(k)).length;
      await import('./src/cli/serve.ts');
      await import('./src/mcp/index.ts');
      const { startTracing } = await import('./src/telemetry/index.ts');
      const pino = (await import('pino')).default;
      const off = loaded();
      await startTracing(undefined, { serviceVersion: 'test', instanceId: 'test', logger: pino({ level: 'silent' }) });
      const stillOff = loaded();
      const t = await startTracing(
        { protocol: 'http/protobuf', endpoint: 'http://127.0.0.1:9/v1/traces', sampler: 'always_on', samplerRatio: 1, serviceName: 'kubemcp', resourceAttributes: {}, propagateTraceContext: true },
        { serviceVersion: 'test', instanceId: 'test', logger: pino({ level: 'silent' }) },
      );
      const on = loaded();
      await t.shutdown();
      console.log(JSON.stringify({ off, stillOff, on }));
    `;
    const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(res.status, res.stderr).toBe(0);
    const counts = JSON.parse(res.stdout.trim().split('\n').pop() ?? '{}') as Record<string, number>;
    expect(counts.off).toBe(0);
    expect(counts.stillOff).toBe(0);
    expect(counts.on).toBeGreaterThan(0);
  }, 60_000);
});

describe('attribute names', () => {
  it('the standard ones are the semantic conventions package names', () => {
    expect(attr.HTTP_REQUEST_METHOD).toBe(semconv.ATTR_HTTP_REQUEST_METHOD);
    expect(attr.HTTP_RESPONSE_STATUS_CODE).toBe(semconv.ATTR_HTTP_RESPONSE_STATUS_CODE);
    expect(attr.HTTP_ROUTE).toBe(semconv.ATTR_HTTP_ROUTE);
    expect(attr.URL_TEMPLATE).toBe(semconv.ATTR_URL_TEMPLATE);
    expect(attr.SERVER_ADDRESS).toBe(semconv.ATTR_SERVER_ADDRESS);
    expect(attr.ERROR_TYPE).toBe(semconv.ATTR_ERROR_TYPE);
    expect(attr.MCP_METHOD_NAME).toBe(semconv.ATTR_MCP_METHOD_NAME);
    expect(attr.MCP_PROTOCOL_VERSION).toBe(semconv.ATTR_MCP_PROTOCOL_VERSION);
    expect(attr.MCP_RESOURCE_URI).toBe(semconv.ATTR_MCP_RESOURCE_URI);
    expect(attr.JSONRPC_REQUEST_ID).toBe(semconv.ATTR_JSONRPC_REQUEST_ID);
    expect(attr.GEN_AI_TOOL_NAME).toBe(semconv.ATTR_GEN_AI_TOOL_NAME);
    expect(attr.GEN_AI_OPERATION_NAME).toBe(semconv.ATTR_GEN_AI_OPERATION_NAME);
    expect(attr.USER_NAME).toBe(semconv.ATTR_USER_NAME);
    expect(attr.K8S_NAMESPACE_NAME).toBe(semconv.ATTR_K8S_NAMESPACE_NAME);
  });
});

describe('kubePathTemplate', () => {
  it.each([
    [
      '/apis/apps/v1/namespaces/web/deployments/frontend/scale',
      '/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale',
      'deployments/scale',
      'web',
    ],
    [
      '/apis/authentication.k8s.io/v1/tokenreviews',
      '/apis/authentication.k8s.io/v1/tokenreviews',
      'tokenreviews',
      undefined,
    ],
    [
      '/apis/events.k8s.io/v1/namespaces/web/events',
      '/apis/events.k8s.io/v1/namespaces/{namespace}/events',
      'events',
      'web',
    ],
    [
      '/apis/coordination.k8s.io/v1/namespaces/kubemcp-system/leases/kubemcp-scale-1',
      '/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}',
      'leases',
      'kubemcp-system',
    ],
    ['/api/v1/namespaces/secret-team', '/api/v1/namespaces/{name}', 'namespaces', undefined],
    ['/api/v1/pods?watch=true', '/api/v1/pods', 'pods', undefined],
    ['/version', '/version', '/version', undefined],
  ])('%s', (p, template, resource, namespace) => {
    expect(kubePathTemplate(p)).toEqual({
      template,
      resource,
      ...(namespace === undefined ? {} : { namespace }),
    });
  });
});
