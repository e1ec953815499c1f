/**
 * npm run test:e2e:kind — the whole product on a throwaway kind cluster. Needs Docker and registry
 * access (kind pulls its node image). Builds the kind CLI from sigs.k8s.io/kind with Go when it is
 * not on PATH, creates the cluster, builds the operator image from the Dockerfile and the e2e agent
 * image (test/cluster/image.ts) and loads both into kind, checks config/default with a server-side
 * dry run, and runs the e2e suite against the cluster with KUBEMCP_E2E_IN_CLUSTER=kind: the same
 * in-cluster tier as on the local real node (test/e2e/in-cluster.test.ts installs config/default
 * and drives an agent Pod). Dumps logs and Events on failure and deletes the cluster (set
 * KUBEMCP_KIND_KEEP=1 to keep it).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ensureDocker } from './docker.js';
import { AGENT_IMAGE, buildAgentImage, buildImage, DEFAULT_IMAGE } from './image.js';
import { HarnessError, log } from './log.js';
import { CLUSTER_DIR, cacheDir, REPO_ROOT } from './paths.js';

export const KIND_VERSION = 'v0.33.0';
const CLUSTER_NAME = process.env.KUBEMCP_KIND_CLUSTER ?? 'kubemcp-e2e';
const OPERATOR_NS = 'kubemcp-system';

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
  if (res.status !== 0 || !fs.existsSync(bin)) {
    throw new HarnessError('kind', `go install sigs.k8s.io/kind@${KIND_VERSION} failed`);
  }
  return bin;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'inherit', env, cwd: REPO_ROOT });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

async function must(what: string, cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<void> {
  log(`▸ ${what}`);
  const code = await run(cmd, args, env);
  if (code !== 0)
    throw new HarnessError(path.basename(cmd), `${what} failed (${cmd} ${args.join(' ')} exited ${code})`);
}

async function dumpOperator(kubectl: string, kubeconfig: string): Promise<void> {
  log('──── operator diagnostics ────');
  await run(kubectl, [
    `--kubeconfig=${kubeconfig}`,
    '-n',
    OPERATOR_NS,
    'get',
    'pods,deploy,svc,lease',
    '-o',
    'wide',
  ]);
  await run(kubectl, [
    `--kubeconfig=${kubeconfig}`,
    '-n',
    OPERATOR_NS,
    'logs',
    '-l',
    'app.kubernetes.io/name=kubemcp',
    '--tail=200',
    '--prefix',
  ]);
  await run(kubectl, [`--kubeconfig=${kubeconfig}`, 'get', 'events', '-A', '--sort-by=.lastTimestamp']);
}

async function main(): Promise<number> {
  await ensureDocker();
  const kubectl = which('kubectl');
  if (!kubectl) throw new HarnessError('kubectl', 'kubectl is needed on PATH to install the manifests');
  const kind = ensureKind();
  const kubeconfig = path.join(CLUSTER_DIR, 'kind-kubeconfig');
  fs.mkdirSync(CLUSTER_DIR, { recursive: true });
  const k = (...args: string[]) => [`--kubeconfig=${kubeconfig}`, ...args];

  await buildImage();
  await buildAgentImage();
  await must(`creating kind cluster ${CLUSTER_NAME}`, kind, [
    'create',
    'cluster',
    '--name',
    CLUSTER_NAME,
    '--kubeconfig',
    kubeconfig,
    '--wait',
    '120s',
  ]);
  let failed = true;
  try {
    await must(`loading ${DEFAULT_IMAGE} and ${AGENT_IMAGE} into kind`, kind, [
      'load',
      'docker-image',
      DEFAULT_IMAGE,
      AGENT_IMAGE,
      '--name',
      CLUSTER_NAME,
    ]);
    await must(
      'server-side dry-run of config/default',
      kubectl,
      k('apply', '--dry-run=server', '-k', 'config/default'),
    );
    // The whole e2e suite, including the in-cluster tier (it installs config/default itself and
    // removes the operator Deployment when it is done, so later files run their own `kubemcp serve`).
    log('▸ running the e2e suite on kind');
    const code = await run('npx', ['vitest', 'run', '--project', 'e2e'], {
      ...process.env,
      KUBEMCP_E2E_KUBECONFIG: kubeconfig,
      KUBEMCP_E2E_IN_CLUSTER: 'kind',
    });
    failed = code !== 0;
    return code;
  } finally {
    if (failed) await dumpOperator(kubectl, kubeconfig).catch(() => undefined);
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
