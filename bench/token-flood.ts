/**
 * A legitimate caller's list latency while a flood of bad bearer tokens hits the MCP endpoint.
 *
 *   npm run bench:token-flood [-- --rate 1000 --duration 30 --concurrency 4 --warmup 3
 *                                --kind forged|random|foreign-jwt --no-baseline --server-cpus LIST]
 *
 * --kind (what the flood sends, each token unique):
 *   forged       (default) ServiceAccount tokens as an attacker holding one real token would forge
 *                them: the cluster's issuer and key id (read from that token), our audience, a live
 *                `exp`, a fresh `sub` and `jti`, and 256 random signature bytes. Each costs a full
 *                RS256 verification here; none may cost a TokenReview;
 *   random       32 random bytes, base64url (not a JWT: only the TokenReview can judge them);
 *   foreign-jwt  unsigned JWT-shaped tokens with a foreign audience (refused from their claims).
 *
 * On a small machine the flood generator, the legitimate load and the API server compete with the
 * operator for the same cores. To measure the operator alone, give it cores of its own:
 *   taskset -c 1 npm run bench:token-flood -- --server-cpus 0
 * runs everything on core 1 and moves every thread of `kubemcp serve` to core 0 (taskset -a -p).
 *
 * Uses the e2e cluster rules (a running `cluster:up` in KUBEMCP_CLUSTER_DIR is reused; otherwise a
 * local control plane is started and stopped). Then:
 *   1. creates namespace bench-flood with a 3-replica Deployment, a ServiceAccount `agent` and an
 *      McpPolicy granting it list_pods there, and starts `kubemcp serve` (src/ through tsx) as the
 *      operator ServiceAccount;
 *   2. baseline: the agent (one audience-bound token, cached after the first call) lists pods in
 *      bench-flood at --concurrency for --duration seconds (closed loop, bench/lib/loadgen.ts);
 *   3. flood: a child process sends --rate requests/s of tools/list with a fresh token of --kind
 *      each (open loop, at most 256 in flight), while the agent repeats step 2;
 *   4. counts the TokenReviews the operator issued during the flood from its /metrics
 *      (kubemcp_tokenreviews_total; those not authenticated are the flood's, the agent's own token
 *      may be re-validated meanwhile) and the tokens it refused without one
 *      (kubemcp_tokenreviews_avoided_total).
 * Prints both runs, the flood's answers by HTTP status, and the targets (issue 17): the agent's p99
 * under flood ≤ 1.5 × its baseline p99, 0 errors, and (forged) 0 TokenReviews. A missed target is
 * reported, not an exit code.
 * Results: bench/results/token-flood-<time>.json.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  acquireLiveCluster,
  applyPolicy,
  ensureDeployment,
  ensureNamespace,
  ensureServiceAccount,
  mcpRequest,
  mintToken,
  startKubemcp,
  waitToolVisible,
} from '../test/conformance/live.js';
import { parseFlags } from './lib/cli.js';
import { flood } from './lib/flood.js';
import { type LoadResult, mergeRuns, runLoad } from './lib/loadgen.js';
import { metricSum, scrapeMetrics } from './lib/metrics.js';
import { fmt } from './lib/stats.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const RESULTS = path.join(ROOT, 'bench', 'results');
const NAMESPACE = 'bench-flood';
const AGENT = 'agent';
const POLICY = 'bench-flood';

const USAGE = `Usage: npm run bench:token-flood [-- --rate 1000 --duration 30 --concurrency 4 --warmup 3
                     --kind forged|random|foreign-jwt --no-baseline --server-cpus LIST]
See the header of bench/token-flood.ts for what each run measures.
`;

const args = parseFlags(
  {
    rate: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '30' },
    concurrency: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '3' },
    kind: { type: 'string', default: 'forged' },
    // Internal (forged): the header and claims template, base64url JSON.
    'forge-template': { type: 'string' },
    'no-baseline': { type: 'boolean', default: false },
    'server-cpus': { type: 'string' },
    // Internal: run as the flood child.
    'flood-url': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  USAGE,
);
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// The flood (a child process, so its CPU does not come out of the measuring process)

const KINDS = ['forged', 'random', 'foreign-jwt'] as const;
type Kind = (typeof KINDS)[number];
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** What an attacker reads from a real token of the cluster: its issuer, key id and namespace claim. */
interface ForgeTemplate {
  readonly kid: string;
  readonly iss: string;
  readonly namespace: string;
}

function templateOf(realToken: string): ForgeTemplate {
  const [h, p] = realToken
    .split('.')
    .slice(0, 2) // header and claims; the signature is not JSON
    .map((s) => JSON.parse(Buffer.from(s ?? '', 'base64url').toString('utf8')));
  return { kid: String(h.kid), iss: String(p.iss), namespace: NAMESPACE };
}

function floodToken(kind: Kind, t: ForgeTemplate | undefined): string {
  const now = Math.floor(Date.now() / 1000);
  if (kind === 'forged' && t !== undefined) {
    const name = `agent-${randomBytes(6).toString('hex')}`;
    const claims = {
      aud: ['kubemcp'],
      exp: now + 3600,
      iat: now,
      nbf: now,
      iss: t.iss,
      jti: randomBytes(12).toString('hex'),
      'kubernetes.io': {
        namespace: t.namespace,
        serviceaccount: { name, uid: randomBytes(16).toString('hex') },
      },
      sub: `system:serviceaccount:${t.namespace}:${name}`,
    };
    return `${b64({ alg: 'RS256', kid: t.kid })}.${b64(claims)}.${randomBytes(256).toString('base64url')}`;
  }
  if (kind === 'foreign-jwt') {
    return `${b64({ alg: 'RS256' })}.${b64({ aud: ['https://kubernetes.default.svc'], exp: now + 3600, sub: randomBytes(8).toString('hex') })}.${randomBytes(32).toString('base64url')}`;
  }
  return randomBytes(32).toString('base64url');
}

// ---------------------------------------------------------------------------------------------
// The measurement

function row(label: string, r: LoadResult): string {
  return `${label.padEnd(22)} ${fmt(r.callsPerSec, 0).padStart(8)} calls/s   p50 ${fmt(r.p50, 2).padStart(7)} ms   p99 ${fmt(r.p99, 2).padStart(7)} ms   max ${fmt(r.max, 1).padStart(7)} ms   errors ${r.errors}${r.firstError ? ` (${r.firstError.slice(0, 120)})` : ''}`;
}

async function main(): Promise<void> {
  const rate = Number(args.rate);
  const seconds = Number(args.duration);
  const concurrency = Number(args.concurrency);
  const warmupMs = Number(args.warmup) * 1000;
  const kind = args.kind as Kind;
  if (!(KINDS as readonly string[]).includes(kind)) throw new Error(`--kind: one of ${KINDS.join(', ')}`);

  const live = await acquireLiveCluster();
  const dir = path.join(ROOT, '.cache', 'bench-token-flood');
  let serve: Awaited<ReturnType<typeof startKubemcp>> | undefined;
  try {
    await ensureNamespace(live.kc, NAMESPACE);
    await ensureServiceAccount(live.kc, NAMESPACE, AGENT);
    await ensureDeployment(live.kc, NAMESPACE, 'web', 3);
    await applyPolicy(live.kc, POLICY, {
      subjects: [{ kind: 'ServiceAccount', name: AGENT, namespace: NAMESPACE }],
      namespaces: { names: [NAMESPACE] },
      tools: ['list_pods'],
    });
    serve = await startKubemcp({ kc: live.kc, dir, entry: 'tsx', logLevel: 'warn' });
    if (args['server-cpus'] !== undefined) {
      execFileSync('taskset', ['-a', '-pc', args['server-cpus'], String(serve.pid)], { stdio: 'ignore' });
      console.log(`kubemcp serve (pid ${serve.pid}) pinned to CPU(s) ${args['server-cpus']}`);
    }
    const token = await mintToken(live.kc, NAMESPACE, AGENT, { audiences: ['kubemcp'] });
    await waitToolVisible(serve.url, token, 'list_pods');
    console.log(`kubemcp serve on ${serve.url} (log ${serve.logFile})`);

    const legit = {
      url: serve.url,
      tokens: [token],
      concurrency,
      warmupMs,
      durationMs: seconds * 1000,
      request: (t: string) =>
        mcpRequest(t, 'tools/call', { name: 'list_pods', arguments: { namespace: NAMESPACE } }),
      ok: (status: number, body: Buffer) => status === 200 && !body.includes('"isError":true'),
    };

    let baseline: LoadResult | undefined;
    if (!args['no-baseline']) {
      console.log(`baseline: list_pods at concurrency ${concurrency} for ${seconds} s …`);
      baseline = mergeRuns(concurrency, [await runLoad(legit)]);
      console.log(row('baseline', baseline));
    }

    const before = await scrapeMetrics(serve.healthPort);
    console.log(
      `flood: ${rate} requests/s of ${kind} tokens for ${seconds + warmupMs / 1000} s, with the same load …`,
    );
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(ROOT, 'bench', 'token-flood.ts'),
        `--flood-url=${serve.url}`,
        `--rate=${rate}`,
        `--duration=${seconds + warmupMs / 1000}`,
        `--kind=${kind}`,
        `--forge-template=${b64(templateOf(token))}`,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let childOut = '';
    child.stdout.on('data', (c: Buffer) => {
      childOut += c.toString('utf8');
    });
    const childDone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await sleep(1500); // let the child start (tsx) and the flood reach its rate
    const underFlood = mergeRuns(concurrency, [await runLoad(legit)]);
    await childDone;
    const after = await scrapeMetrics(serve.healthPort);
    const floodReport = JSON.parse(childOut.trim().split('\n').at(-1) ?? '{}') as {
      sent: number;
      skipped: number;
      statuses: Record<string, number>;
      seconds: number;
    };
    const reviews =
      metricSum(after, 'kubemcp_tokenreviews_total') - metricSum(before, 'kubemcp_tokenreviews_total');
    const avoided =
      metricSum(after, 'kubemcp_tokenreviews_avoided_total') -
      metricSum(before, 'kubemcp_tokenreviews_avoided_total');
    // The agent's own token may be re-validated in the background during the flood (it passes);
    // a flood token that reached the API server would be refused there, or fail.
    const floodReviews =
      metricSum(after, 'kubemcp_tokenreviews_total', { result: 'rejected' }) +
      metricSum(after, 'kubemcp_tokenreviews_total', { result: 'error' }) -
      metricSum(before, 'kubemcp_tokenreviews_total', { result: 'rejected' }) -
      metricSum(before, 'kubemcp_tokenreviews_total', { result: 'error' });
    const verified =
      metricSum(after, 'kubemcp_token_local_verifications_total') -
      metricSum(before, 'kubemcp_token_local_verifications_total');
    const load = os.loadavg();

    console.log('');
    if (baseline) console.log(row('baseline', baseline));
    console.log(row('under flood', underFlood));
    console.log(
      `flood: ${floodReport.sent} requests in ${fmt(floodReport.seconds, 1)} s (${fmt(floodReport.sent / floodReport.seconds, 0)}/s; ${floodReport.skipped} not sent: 256 already in flight); answers ${JSON.stringify(floodReport.statuses)}`,
    );
    console.log(
      `TokenReviews issued during the flood: ${reviews} (${floodReviews} not authenticated: flood tokens); refused without one: ${avoided}; checked against the issuer keys: ${verified}`,
    );
    console.log(`load average at the end: ${load.map((l) => fmt(l, 2)).join(' ')}`);
    const ratio = baseline ? underFlood.p99 / baseline.p99 : Number.NaN;
    if (baseline) {
      console.log(
        `target p99 under flood ≤ 1.5 × baseline: ${fmt(ratio, 2)}× ${ratio <= 1.5 ? 'MET' : 'MISSED'}; errors 0: ${underFlood.errors === 0 ? 'MET' : 'MISSED'}`,
      );
    }
    // The flood's tokens are never authenticated; a review that authenticated is the agent's own
    // token, re-validated in the background, and not the flood's cost.
    if (kind === 'forged')
      console.log(
        `target 0 TokenReviews for forged tokens: ${floodReviews === 0 ? 'MET' : 'MISSED'} (${floodReviews} of ${reviews})`,
      );
    fs.mkdirSync(RESULTS, { recursive: true });
    const file = path.join(RESULTS, `token-flood-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    fs.writeFileSync(
      file,
      `${JSON.stringify({ rate, seconds, concurrency, kind, serverCpus: args['server-cpus'] ?? null, baseline, underFlood, flood: floodReport, reviews, floodReviews, avoided, verified, p99Ratio: ratio, loadavg: load }, null, 2)}\n`,
    );
    console.log(`results: ${path.relative(ROOT, file)}`);
  } finally {
    await serve?.stop();
    await live.release();
  }
}

if (args['flood-url'] !== undefined) {
  const kind = args.kind as Kind;
  const template =
    args['forge-template'] === undefined
      ? undefined
      : (JSON.parse(Buffer.from(args['forge-template'], 'base64url').toString('utf8')) as ForgeTemplate);
  const report = await flood(args['flood-url'], Number(args.rate), Number(args.duration), () =>
    mcpRequest(floodToken(kind, template), 'tools/list'),
  );
  process.stdout.write(`${JSON.stringify(report)}\n`);
} else {
  await main();
}
