/**
 * What tracing costs per MCP request, in process: the app of src/mcp/http.ts on 127.0.0.1 with the
 * unit tests' fake backend and TokenReview (cache hits), answering raw JSON-RPC POSTs one at a time.
 *
 * - off: the default (no SDK loaded; the no-op span);
 * - on: the OpenTelemetry SDK, every request sampled, spans batched and exported over OTLP/HTTP
 *   (protobuf) to a local endpoint that discards them.
 *
 *   npx vitest bench --run --project unit bench/tracing.bench.ts
 *
 * For a comparison with the commit before tracing, bench/tracing-cost.ts runs on both
 * (docs/benchmarks.md has the figures).
 */

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, bench, describe } from 'vitest';
import { loadTracingConfig } from '../src/config/tracing.js';
import { NOOP_SPAN, type Span, startTracing } from '../src/telemetry/index.js';
import { post, startHarness, TOKENS, toolCall } from '../test/unit/mcp/helpers.js';

const sink = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
});
await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
const sinkPort = (sink.address() as AddressInfo).port;

const off = await startHarness({ logLevel: 'silent', options: { audit: false } });
const tracing = await startTracing(
  loadTracingConfig({
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sinkPort}`,
    OTEL_TRACES_SAMPLER: 'always_on',
  }),
  { serviceVersion: 'bench', instanceId: 'bench', logger: pino({ level: 'silent' }) },
);
const on = await startHarness({ logLevel: 'silent', options: { audit: false }, tracing });

// Both apps answer the calls (not a refusal), with the same answer.
for (const body of [toolCall('list_pods', { namespace: 'web' }), toolCall('get_permissions', {})]) {
  const [a, b] = [
    await post(off, body, { token: TOKENS.copilot }),
    await post(on, body, { token: TOKENS.copilot }),
  ];
  const result = (a.json as { result?: { isError?: boolean; structuredContent?: unknown } }).result;
  if (a.status !== 200 || result === undefined || result.isError === true || b.text !== a.text) {
    throw new Error(`the bench calls do not answer as expected: ${a.status} ${a.text.slice(0, 300)}`);
  }
}

afterAll(async () => {
  await tracing.shutdown();
  await off.close();
  await on.close();
  sink.close();
});

const LIST = toolCall('list_pods', { namespace: 'web' });
const OPTS = { time: 4000, warmupTime: 1000 };
const PERMISSIONS = toolCall('get_permissions', {});

describe('tools/call list_pods (one namespace), per request', () => {
  bench(
    'tracing off',
    async () => {
      await post(off, LIST, { token: TOKENS.copilot });
    },
    OPTS,
  );
  bench(
    'tracing on (every request sampled, exported)',
    async () => {
      await post(on, LIST, { token: TOKENS.copilot });
    },
    OPTS,
  );
});

describe('tools/call get_permissions, per request', () => {
  bench(
    'tracing off',
    async () => {
      await post(off, PERMISSIONS, { token: TOKENS.copilot });
    },
    OPTS,
  );
  bench(
    'tracing on (every request sampled, exported)',
    async () => {
      await post(on, PERMISSIONS, { token: TOKENS.copilot });
    },
    OPTS,
  );
});

// What tracing off adds to one request at most: a scale makes about 7 spans (server, authentication,
// policy, two API requests, Event and its request) with up to 12 attributes each; off, each is the
// no-op span. Compare with the per-request figures above.
let parent: Span = NOOP_SPAN;
describe('tracing off: the no-op span calls of one scale request', () => {
  bench('7 × (child, 12 × setAttribute, end)', () => {
    for (let i = 0; i < 7; i++) {
      const span = parent.child('kubemcp.policy', 'internal');
      for (let j = 0; j < 12; j++) span.setAttribute('kubemcp.policy.decision', 'allow');
      span.end();
      parent = span;
    }
  });
});
