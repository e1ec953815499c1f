/**
 * npm run test:e2e:kind — runs the e2e suite on a throwaway kind cluster. Needs a working Docker
 * engine. Builds the kind CLI from sigs.k8s.io/kind with Go when it is not on PATH, creates the
 * cluster, runs the suite against it, and deletes the cluster (set KUBEMCP_KIND_KEEP=1 to keep it).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { HarnessError, log } from './log.js';
import { CLUSTER_DIR, cacheDir, REPO_ROOT } from './paths.js';

export const KIND_VERSION = 'v0.33.0';
const CLUSTER_NAME = process.env.KUBEMCP_KIND_CLUSTER ?? 'kubemcp-e2e';

function which(cmd: string): string | undefined {
  const res = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return res.status === 0 ? res.stdout.trim() : undefined;
}

function ensureKind(): string {
  const onPath = which('kind');
  if (onPath) return onPath;
  const dir = path.join(cacheDir(), 'bin', `kind-${KIND_VERSION}`);
  const bin = path.join(dir, 'kind');
  if (fs.existsSync(bin)) return bin;
  if (!which('go')) throw new HarnessError('kind', 'kind is not on PATH and Go is not installed to build it');
  log(`▸ building kind ${KIND_VERSION} with go install (into ${dir})`);
  fs.mkdirSync(dir, { recursive: true });
  const res = spawnSync('go', ['install', `sigs.k8s.io/kind@${KIND_VERSION}`], {
    stdio: 'inherit',
    env: { ...process.env, GOBIN: dir, CGO_ENABLED: '0', GOWORK: 'off' },
  });
  if (res.status !== 0 || !fs.existsSync(bin))
    throw new HarnessError('kind', `go install sigs.k8s.io/kind@${KIND_VERSION} failed`);
  return bin;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'inherit', env, cwd: REPO_ROOT });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

async function main(): Promise<number> {
  if (spawnSync('docker', ['info'], { stdio: 'ignore' }).status !== 0) {
    throw new HarnessError(
      'docker',
      'kind needs a running Docker engine and `docker info` failed. Without Docker, use `npm run test:e2e` (local control plane).',
    );
  }
  const kind = ensureKind();
  const kubeconfig = path.join(CLUSTER_DIR, 'kind-kubeconfig');
  fs.mkdirSync(CLUSTER_DIR, { recursive: true });
  log(`▸ creating kind cluster ${CLUSTER_NAME}`);
  if (
    (await run(kind, [
      'create',
      'cluster',
      '--name',
      CLUSTER_NAME,
      '--kubeconfig',
      kubeconfig,
      '--wait',
      '120s',
    ])) !== 0
  ) {
    throw new HarnessError('kind', `kind create cluster --name ${CLUSTER_NAME} failed`);
  }
  try {
    log('▸ running the e2e suite on kind');
    return await run('npx', ['vitest', 'run', '--project', 'e2e'], {
      ...process.env,
      KUBEMCP_E2E_KUBECONFIG: kubeconfig,
    });
  } finally {
    if (process.env.KUBEMCP_KIND_KEEP === '1') {
      log(`kept kind cluster ${CLUSTER_NAME}; KUBECONFIG=${kubeconfig}`);
    } else {
      log(`▸ deleting kind cluster ${CLUSTER_NAME}`);
      await run(kind, ['delete', 'cluster', '--name', CLUSTER_NAME]);
    }
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`\n✗ ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
