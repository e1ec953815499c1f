/**
 * `kubemcp test` on 1,000 McpPolicies and 10,000 cases (target: <= 2 s for a whole run on this
 * machine: reading and parsing the YAML, validating, compiling, deciding every case and printing the
 * table). Runs the command in-process, RUNS times, and prints each duration and the median.
 *
 *   npm run bench:policy-test [-- --policies N --cases N --runs N]
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../src/cli/cli.js';
import { type Flag, parseCount, readFlags, usageText } from './lib/cli.js';
import { writePolicyRepo } from './lib/policy-repo.js';

const TARGET_MS = 2_000;

const FLAGS = {
  policies: { type: 'string', default: '1000', about: 'McpPolicies in the generated repository' },
  cases: { type: 'string', default: '10000', about: 'cases in its kubemcp-test.yaml' },
  runs: { type: 'string', default: '5', about: 'runs of kubemcp test' },
} as const satisfies Record<string, Flag>;
const USAGE = usageText('npm run bench:policy-test -- [options]', FLAGS);
const { policies, cases, runs } = readFlags(FLAGS, USAGE, (v) => ({
  policies: parseCount(v.policies, '--policies'),
  cases: parseCount(v.cases, '--cases'),
  runs: parseCount(v.runs, '--runs'),
}));

const dir = mkdtempSync(join(tmpdir(), 'kubemcp-bench-policy-test-'));
try {
  writePolicyRepo(dir, policies, cases);
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    let last = '';
    const start = performance.now();
    const status = await runCli(['test', dir], {
      out: (t) => (last = t),
      err: (t) => process.stderr.write(`${t}\n`),
    });
    const ms = performance.now() - start;
    const summary = last.split('\n').at(-1);
    if (status !== 0 || summary !== `${cases} passed, 0 failed`)
      throw new Error(`run ${r + 1}: exit ${String(status)}, ${summary}`);
    times.push(ms);
    console.log(`run ${r + 1}: ${ms.toFixed(0)} ms (${summary})`);
  }
  const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)] ?? 0;
  const verdict = median <= TARGET_MS ? 'met' : 'MISSED';
  console.log(
    `kubemcp test, ${policies} policies, ${cases} cases: median ${median.toFixed(0)} ms over ${runs} runs (target <= ${TARGET_MS} ms: ${verdict}); RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
