/**
 * A burst of new agents: N ServiceAccounts present their FIRST token to a freshly started
 * `kubemcp serve`, all at once at a fixed concurrency (a fleet that restarts together).
 *
 *   npm run bench:new-agents [-- --agents 1000 --concurrency 64]
 *
 * Uses the e2e cluster rules (a running `cluster:up` in KUBEMCP_CLUSTER_DIR is reused; otherwise a
 * local control plane is started and stopped). Then:
 *   1. namespace bench-new-agents with a 1-replica Deployment, --agents ServiceAccounts (created when
 *      missing) and one McpPolicy granting list_pods there to the group
 *      system:serviceaccounts:bench-new-agents;
 *   2. one fresh audience-bound token per agent (TokenRequest), minted before the server starts;
 *   3. `kubemcp serve` (src/ through tsx) as the operator ServiceAccount, cache empty;
 *   4. each agent makes one tools/call list_pods with its own token, --concurrency at a time (closed
 *      loop): every call is a cache miss, so every token is verified and reviewed;
 *   5. counts the answers by HTTP status, tool errors, latency, and from the server's /metrics the
 *      TokenReviews sent and the tokens verified locally.
 * Target (issue 17): 0 errors (no 503 "too many tokens are being validated"). A missed target is
 * reported, not an exit code. Results: bench/results/new-agents-<time>.json.
 */

import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { CoreV1Api } from '@kubernetes/client-node';
import {
  acquireLiveCluster,
  applyPolicy,
  ensureDeployment,
  ensureNamespace,
  mcpRequest,
  mintToken,
  startKubemcp,
} from '../test/conformance/live.js';
import { pool } from './lib/agents-workload.js';
import { log, machine, parseCount, parseFlags, ROOT, runMain, writeResult } from './lib/cli.js';
import { metricSum, scrapeMetrics } from './lib/metrics.js';
import { fmt, summarise } from './lib/stats.js';

const NAMESPACE = 'bench-new-agents';
const POLICY = 'bench-new-agents';
const USAGE = 'npm run bench:new-agents [-- --agents 1000 --concurrency 64]';

async function ensureAgents(core: CoreV1Api, count: number): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `agent-${String(i).padStart(4, '0')}`);
  const have = new Set(
    (await core.listNamespacedServiceAccount({ namespace: NAMESPACE })).items.map((s) => s.metadata?.name),
  );
  await pool(
    names.filter((n) => !have.has(n)),
    16,
    async (name) => {
      try {
        await core.createNamespacedServiceAccount({ namespace: NAMESPACE, body: { metadata: { name } } });
      } catch (err) {
        if ((err as { code?: number }).code !== 409) throw err;
      }
    },
  );
  return names;
}

interface Answer {
  readonly ms: number;
  readonly status: number;
  readonly toolError: boolean;
}

async function firstCall(url: string, token: string): Promise<Answer> {
  const { headers, body } = mcpRequest(token, 'tools/call', {
    name: 'list_pods',
    arguments: { namespace: NAMESPACE },
  });
  const t0 = performance.now();
  const res = await fetch(url, { method: 'POST', headers, body });
  const text = await res.text();
  return { ms: performance.now() - t0, status: res.status, toolError: text.includes('"isError":true') };
}

async function main(): Promise<number> {
  const values = parseFlags(
    { agents: { type: 'string', default: '1000' }, concurrency: { type: 'string', default: '64' } },
    USAGE,
  );
  const agents = parseCount(values.agents, '--agents');
  const concurrency = parseCount(values.concurrency, '--concurrency');
  const started = new Date();
  const live = await acquireLiveCluster();
  let serve: Awaited<ReturnType<typeof startKubemcp>> | undefined;
  try {
    const core = live.kc.makeApiClient(CoreV1Api);
    await ensureNamespace(live.kc, NAMESPACE);
    await ensureDeployment(live.kc, NAMESPACE, 'web', 1);
    const names = await ensureAgents(core, agents);
    await applyPolicy(live.kc, POLICY, {
      subjects: [{ kind: 'Group', name: `system:serviceaccounts:${NAMESPACE}` }],
      namespaces: { names: [NAMESPACE] },
      tools: ['list_pods'],
    });
    log(`minting ${agents} tokens (audience kubemcp) …`);
    const tokens: string[] = new Array(names.length);
    await pool(
      names.map((name, i) => ({ name, i })),
      16,
      async ({ name, i }) => {
        tokens[i] = await mintToken(live.kc, NAMESPACE, name, { audiences: ['kubemcp'], seconds: 3600 });
      },
    );
    serve = await startKubemcp({
      kc: live.kc,
      dir: path.join(ROOT, '.cache', 'bench-new-agents'),
      entry: 'tsx',
      logLevel: 'warn',
    });
    log(`kubemcp serve on ${serve.url}; ${agents} new agents, one call each, concurrency ${concurrency} …`);
    const before = await scrapeMetrics(serve.healthPort);
    const answers: Answer[] = [];
    const t0 = performance.now();
    const url = serve.url;
    await pool(tokens, concurrency, async (token) => {
      answers.push(await firstCall(url, token));
    });
    const seconds = (performance.now() - t0) / 1000;
    const after = await scrapeMetrics(serve.healthPort);
    const delta = (name: string, labels: Record<string, string> = {}) =>
      metricSum(after, name, labels) - metricSum(before, name, labels);
    const statuses: Record<string, number> = {};
    for (const a of answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
    const errors = answers.filter((a) => a.status !== 200 || a.toolError).length;
    const latency = summarise(answers.map((a) => a.ms));
    const result = {
      agents,
      concurrency,
      seconds,
      callsPerSec: answers.length / seconds,
      statuses,
      errors,
      latency,
      tokenReviews: delta('kubemcp_tokenreviews_total'),
      verifiedLocally: delta('kubemcp_token_local_verifications_total', { result: 'valid' }),
      busy: delta('kubemcp_tokenreviews_avoided_total', { reason: 'busy' }),
      machine: machine(),
    };
    console.log('');
    console.log(
      `${agents} new agents at concurrency ${concurrency}: ${fmt(seconds, 1)} s (${fmt(result.callsPerSec, 0)} first calls/s); answers ${JSON.stringify(statuses)}; errors ${errors}`,
    );
    console.log(
      `latency p50 ${fmt(latency.p50, 1)} ms, p99 ${fmt(latency.p99, 1)} ms, max ${fmt(latency.max, 1)} ms`,
    );
    console.log(
      `TokenReviews ${result.tokenReviews}; signatures verified locally ${result.verifiedLocally}; busy ${result.busy}`,
    );
    console.log(`load average ${result.machine.loadavg.map((l) => fmt(l, 2)).join(' ')}`);
    console.log(`target 0 errors: ${errors === 0 ? 'MET' : 'MISSED'}`);
    console.log(`results: ${path.relative(ROOT, writeResult('new-agents', started, result))}`);
    return 0;
  } finally {
    await serve?.stop();
    await live.release();
  }
}

runMain(main, USAGE);
