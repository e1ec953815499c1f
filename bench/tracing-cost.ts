/**
 * CPU time per MCP request of the in-process app (src/mcp/http.ts with the unit tests' fake backend;
 * client and server in this process), sequential requests: a figure that a busy machine disturbs far
 * less than wall-clock latency.
 *
 *   npx tsx bench/tracing-cost.ts [--on] [--requests 3000] [--rounds 5]
 *
 * Without --on tracing is off (the default). The script imports nothing of src/telemetry then, so it
 * (with bench/lib/cli.ts) also runs unchanged on a checkout from before tracing existed, for comparison
 * (docs/benchmarks.md).
 * With --on: the OpenTelemetry SDK, every request sampled, exported over OTLP/HTTP to a local
 * endpoint that discards them.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { post, startHarness, TOKENS, toolCall } from '../test/unit/mcp/helpers.js';
import { type Flag, parseCount, readFlags, usageText } from './lib/cli.js';

const FLAGS = {
  on: { type: 'boolean', default: false, about: 'tracing on: every request sampled and exported' },
  requests: {
    type: 'string',
    default: '3000',
    about: 'timed requests per tool per round, after 200 warm-up requests',
  },
  rounds: { type: 'string', default: '5', about: 'rounds' },
} as const satisfies Record<string, Flag>;
const USAGE = usageText('npx tsx bench/tracing-cost.ts [options]', FLAGS);
const values = readFlags(FLAGS, USAGE, (v) => ({
  on: v.on,
  requests: parseCount(v.requests, '--requests'),
  rounds: parseCount(v.rounds, '--rounds'),
}));
const { requests, rounds } = values;

let tracing: { shutdown(): Promise<void> } | undefined;
const sink = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200).end());
});
if (values.on) {
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const port = (sink.address() as AddressInfo).port;
  const { loadTracingConfig } = await import('../src/config/tracing.js');
  const { startTracing } = await import('../src/telemetry/index.js');
  const pino = (await import('pino')).default;
  tracing = await startTracing(
    loadTracingConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_TRACES_SAMPLER: 'always_on',
    }),
    { serviceVersion: 'bench', instanceId: 'bench', logger: pino({ level: 'silent' }) },
  );
}
const h = await startHarness({
  logLevel: 'silent',
  options: { audit: false },
  ...(tracing === undefined ? {} : { tracing: tracing as never }),
});

const cases = {
  list_pods: toolCall('list_pods', { namespace: 'web' }),
  get_permissions: toolCall('get_permissions', {}),
};
// Both calls are answered (not refused) before anything is measured.
for (const body of Object.values(cases)) {
  const r = await post(h, body, { token: TOKENS.copilot });
  const result = (r.json as { result?: { isError?: boolean } }).result;
  if (r.status !== 200 || result === undefined || result.isError === true) {
    throw new Error(`unexpected answer: ${r.status} ${r.text.slice(0, 200)}`);
  }
}

const out: Record<string, number[]> = {};
for (let round = 0; round < rounds; round++) {
  for (const [name, body] of Object.entries(cases)) {
    for (let i = 0; i < 200; i++) await post(h, body, { token: TOKENS.copilot }); // warm-up
    const before = process.cpuUsage();
    for (let i = 0; i < requests; i++) await post(h, body, { token: TOKENS.copilot });
    const used = process.cpuUsage(before);
    out[name] = [...(out[name] ?? []), (used.user + used.system) / requests];
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
for (const [name, xs] of Object.entries(out)) {
  process.stdout.write(
    `${values.on ? 'on ' : 'off'} ${name.padEnd(16)} CPU µs/request: median ${median(xs).toFixed(0)}  rounds ${xs.map((x) => x.toFixed(0)).join(' ')}\n`,
  );
}
await tracing?.shutdown();
await h.close();
sink.close();
