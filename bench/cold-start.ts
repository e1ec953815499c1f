/**
 * npm run bench:cold-start — how long the operator image takes from `docker run` to a 200 from
 * /readyz (its caches synced against a real API server), and the same for `node dist/cli/main.js
 * serve` started directly, for comparison.
 *
 * The cluster is the e2e one (test/cluster/index.ts: a running `npm run cluster:up` is reused, else
 * a local control plane is started and stopped). The CRDs of crds/ are applied first. Each container
 * runs as the image's own user with a read-only root filesystem and the host network, given a
 * flattened kubeconfig (credentials embedded) on a read-only mount; leader election is off. Target:
 * container start to Ready ≤ 2 s (median); a miss exits 1.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../test/cluster/cluster.js';
import { dockerOut, ensureDocker } from '../test/cluster/docker.js';
import { buildImage, DEFAULT_IMAGE } from '../test/cluster/image.js';
import { acquireCluster } from '../test/cluster/index.js';
import {
  buildDist,
  type Flag,
  log,
  machine,
  parseCount,
  ROOT,
  readFlags,
  runMain,
  table,
  usageText,
  writeResult,
} from './lib/cli.js';
import { fmt, summarise } from './lib/stats.js';

const FLAGS = {
  image: {
    type: 'string',
    default: DEFAULT_IMAGE,
    value: 'NAME',
    about: 'image to start; built from the Dockerfile first',
  },
  'no-build': { type: 'boolean', default: false, about: 'start the image as it is (and dist/ as it is)' },
  runs: { type: 'string', default: '5', about: 'starts of each kind' },
} as const satisfies Record<string, Flag>;
const USAGE = usageText('npm run bench:cold-start -- [options]', FLAGS);
const settings = readFlags(FLAGS, USAGE, (v) => ({
  image: v.image ?? DEFAULT_IMAGE,
  build: v['no-build'] !== true,
  runs: parseCount(v.runs ?? '5', '--runs'),
}));

const TARGET_MS = 2000;
const POLL_MS = 10;

async function readyAfter(port: number, since: number, timeoutMs: number): Promise<number> {
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (res.status === 200) return performance.now() - since;
    } catch {
      // not listening yet
    }
    if (performance.now() - since > timeoutMs)
      throw new Error(`/readyz on :${port} not 200 within ${timeoutMs} ms`);
    await sleep(POLL_MS);
  }
}

function serveArgs(mcpPort: number, healthPort: number): string[] {
  return [
    'serve',
    '--mcp-port',
    String(mcpPort),
    '--health-port',
    String(healthPort),
    '--bind-address',
    '127.0.0.1',
    '--no-leader-elect',
    '--log-level',
    'warn',
  ];
}

/** One `docker run`: [docker run → ready, container start → ready] in ms. */
async function containerStart(image: string, kubeconfigDir: string): Promise<[number, number]> {
  const [mcp, health] = [await freePort(), await freePort()];
  const t0 = performance.now();
  const wall0 = Date.now();
  const run = dockerOut([
    'run',
    '-d',
    '--network',
    'host',
    '--read-only',
    '--tmpfs',
    '/tmp',
    '-v',
    `${kubeconfigDir}:/kubeconfig:ro`,
    image,
    ...serveArgs(mcp, health),
    '--kubeconfig',
    '/kubeconfig/config',
  ]);
  if (!run.ok) throw new Error(`docker run failed: ${run.out}`);
  const id = run.out.trim();
  try {
    const total = await readyAfter(health, t0, 30_000);
    const started = Date.parse(dockerOut(['inspect', '--format', '{{.State.StartedAt}}', id]).out.trim());
    const readyAt = wall0 + total;
    return [total, readyAt - started];
  } finally {
    dockerOut(['rm', '-f', id]);
  }
}

/** One `node dist/cli/main.js serve` on this machine: spawn → ready in ms. */
async function processStart(kubeconfig: string): Promise<number> {
  const [mcp, health] = [await freePort(), await freePort()];
  const t0 = performance.now();
  const child: ChildProcess = spawn(
    process.execPath,
    [path.join(ROOT, 'dist/cli/main.js'), ...serveArgs(mcp, health), '--kubeconfig', kubeconfig],
    { stdio: 'ignore' },
  );
  try {
    return await readyAfter(health, t0, 30_000);
  } finally {
    child.kill('SIGKILL');
  }
}

async function main(): Promise<number> {
  const { image, build, runs } = settings;
  const started = new Date();
  await ensureDocker();
  if (build) {
    await buildImage({ tag: image });
    buildDist();
  }
  const { cluster, release } = await acquireCluster();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubemcp-cold-start-'));
  try {
    const kubectl = cluster.kubectl ?? 'kubectl';
    const k = (...args: string[]) =>
      spawnSync(kubectl, [`--kubeconfig=${cluster.kubeconfig}`, ...args], { cwd: ROOT, encoding: 'utf8' });
    const applied = k('apply', '--server-side', '--force-conflicts', '-f', 'crds/');
    if (applied.status !== 0) throw new Error(`kubectl apply -f crds/: ${applied.stderr}`);
    const flat = k('config', 'view', '--raw', '--flatten', '--minify');
    if (flat.status !== 0) throw new Error(`kubectl config view: ${flat.stderr}`);
    fs.chmodSync(dir, 0o755);
    fs.writeFileSync(path.join(dir, 'config'), flat.stdout, { mode: 0o644 });

    const container: number[][] = [];
    const local: number[] = [];
    for (let i = 0; i < runs; i++) {
      container.push(await containerStart(image, dir));
      local.push(await processStart(path.join(dir, 'config')));
      log(
        `  run ${i + 1}/${runs}: container ${fmt(container[i]?.[1] ?? 0, 0)} ms, process ${fmt(local[i] ?? 0, 0)} ms`,
      );
    }
    const size = Number(dockerOut(['image', 'inspect', '--format', '{{.Size}}', image]).out) / 2 ** 20;
    const rows = [
      ['docker run → Ready', summarise(container.map((c) => c[0] ?? 0))],
      ['container start → Ready', summarise(container.map((c) => c[1] ?? 0))],
      ['node dist/cli/main.js serve → Ready', summarise(local)],
    ] as const;
    process.stdout.write(
      `\n${image} (${fmt(size, 0)} MiB), ${runs} starts each, against ${cluster.mode} cluster\n\n${table(
        ['', 'median ms', 'max ms'],
        rows.map(([name, s]) => [name, fmt(s.p50, 0), fmt(s.max, 0)]),
      )}\n`,
    );
    const median = rows[1][1].p50;
    const met = median <= TARGET_MS;
    process.stdout.write(
      `\ncontainer start → Ready ≤ ${TARGET_MS} ms (median): ${fmt(median, 0)} ms ${met ? 'met' : 'MISSED'}\n`,
    );
    const file = writeResult('cold-start', started, {
      machine: machine(),
      image,
      imageMiB: size,
      runs: Object.fromEntries(rows.map(([name, s]) => [name, s])),
      samples: { container, local },
    });
    log(`results: ${path.relative(ROOT, file)}`);
    return met ? 0 : 1;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await release();
  }
}

runMain(main, USAGE);
