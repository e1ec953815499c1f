/**
 * The MCP endpoint of this checkout against a baseline checkout, side by side in one process: each
 * with the unit tests' fake backend holding 1,000 more pods in one namespace, answering list_pods of
 * 500 rows and get_permissions (the floor) at concurrency 1, in alternating rounds so that drift hits
 * both alike. Latency per request, client and server in this process (no cluster).
 *
 *   npx tsx bench/http-ab.ts --baseline /path/to/baseline-checkout [--rounds 6 --requests 200]
 *
 * The baseline is any checkout of this repository (e.g. `git archive <commit> | tar -x -C dir` with
 * node_modules linked); its test/unit/mcp/helpers.ts builds its own app.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as current from '../test/unit/mcp/helpers.js';
import { type Flag, parseCount, readFlags, UsageError, usageText } from './lib/cli.js';

const FLAGS = {
  baseline: { type: 'string', value: 'DIR', about: 'the baseline checkout (required)' },
  rounds: { type: 'string', default: '6', about: 'alternating rounds per side' },
  requests: {
    type: 'string',
    default: '200',
    about: 'timed requests per tool per round, after 20 warm-up requests',
  },
} as const satisfies Record<string, Flag>;
const USAGE = usageText('npx tsx bench/http-ab.ts --baseline DIR [options]', FLAGS);
const values = readFlags(FLAGS, USAGE, (v) => {
  if (v.baseline === undefined) throw new UsageError('--baseline <checkout> is required');
  return {
    baseline: v.baseline,
    rounds: parseCount(v.rounds, '--rounds'),
    requests: parseCount(v.requests, '--requests'),
  };
});

type Helpers = typeof current;
interface Side {
  readonly name: string;
  readonly h: current.Harness;
  readonly post: Helpers['post'];
  readonly token: string;
}

async function side(name: string, mod: Helpers): Promise<Side> {
  const h = await mod.startHarness({ logLevel: 'silent' });
  const pods = h.backend.objects.pod;
  const model = pods.find((p) => p.metadata?.namespace === 'web');
  if (model === undefined) throw new Error(`${name}: no pod in namespace web to copy`);
  for (let i = 0; i < 1000; i++)
    pods.push({ ...model, metadata: { ...model.metadata, name: `bench-${String(i).padStart(4, '0')}` } });
  return { name, h, post: mod.post, token: mod.TOKENS.copilot };
}

const baseline = (await import(path.resolve(values.baseline, 'test/unit/mcp/helpers.ts'))) as Helpers;
const sides = [await side('baseline', baseline), await side('this', current)];
const bodies = {
  list_pods: current.toolCall('list_pods', { namespace: 'web', limit: 500 }),
  get_permissions: current.toolCall('get_permissions', {}),
};
for (const s of sides) {
  for (const body of Object.values(bodies)) {
    const r = await s.post(s.h, body, { token: s.token });
    if (r.status !== 200 || r.text.includes('"isError":true'))
      throw new Error(`${s.name}: unexpected answer ${r.status} ${r.text.slice(0, 200)}`);
  }
}
const latencies = new Map<string, number[]>();
const { rounds, requests } = values;
for (let round = 0; round < rounds; round++) {
  for (const s of round % 2 === 0 ? sides : [...sides].reverse()) {
    for (const [name, body] of Object.entries(bodies)) {
      for (let i = 0; i < 20; i++) await s.post(s.h, body, { token: s.token });
      const key = `${s.name.padEnd(8)} ${name}`;
      const xs = latencies.get(key) ?? [];
      for (let i = 0; i < requests; i++) {
        const t0 = performance.now();
        await s.post(s.h, body, { token: s.token });
        xs.push(performance.now() - t0);
      }
      latencies.set(key, xs);
    }
  }
}
const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * p)] ?? 0;
for (const [key, xs] of [...latencies].sort()) {
  process.stdout.write(
    `${key.padEnd(26)} n=${xs.length}  p50 ${q(xs, 0.5).toFixed(2)} ms  p90 ${q(xs, 0.9).toFixed(2)} ms  p99 ${q(xs, 0.99).toFixed(2)} ms\n`,
  );
}
for (const s of sides) await s.h.close();
