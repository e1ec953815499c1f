/**
 * npm run test:e2e:kind — the whole product on a throwaway kind cluster. Needs a working Docker
 * engine. Builds the kind CLI from sigs.k8s.io/kind with Go when it is not on PATH, creates the
 * cluster, builds the operator image and loads it into kind, installs KubeMCP with
 * `kubectl apply -k config/default`, waits for the rollout, reaches the in-cluster Service through a
 * port-forward, runs the e2e suite against that operator, dumps logs and Events on failure, and
 * deletes the cluster (set KUBEMCP_KIND_KEEP=1 to keep it).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './cluster.js';
import { HarnessError, log } from './log.js';
import { CLUSTER_DIR, cacheDir, REPO_ROOT } from './paths.js';

export const KIND_VERSION = 'v0.33.0';
const CLUSTER_NAME = process.env.KUBEMCP_KIND_CLUSTER ?? 'kubemcp-e2e';
const IMAGE = process.env.KUBEMCP_IMAGE ?? 'kubemcp:e2e';
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

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { method: 'POST', body: '{}' });
      // 401 without a token: the MCP endpoint is up and authenticating.
      if (res.status === 401) return;
    } catch {
      // port-forward not ready yet
    }
    await sleep(500);
  }
  throw new HarnessError('kubectl port-forward', `${url} did not answer within ${timeoutMs / 1000}s`);
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
  if (spawnSync('docker', ['info'], { stdio: 'ignore' }).status !== 0) {
    throw new HarnessError(
      'docker',
      'kind needs a running Docker engine and `docker info` failed. Without Docker, use `npm run test:e2e` (local control plane).',
    );
  }
  const kubectl = which('kubectl');
  if (!kubectl) throw new HarnessError('kubectl', 'kubectl is needed on PATH to install the manifests');
  const kind = ensureKind();
  const kubeconfig = path.join(CLUSTER_DIR, 'kind-kubeconfig');
  fs.mkdirSync(CLUSTER_DIR, { recursive: true });
  const k = (...args: string[]) => [`--kubeconfig=${kubeconfig}`, ...args];

  await must(`building the operator image ${IMAGE}`, 'docker', ['build', '-t', IMAGE, '.']);
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
  let portForward: ChildProcess | undefined;
  let failed = true;
  try {
    await must(`loading ${IMAGE} into kind`, kind, ['load', 'docker-image', IMAGE, '--name', CLUSTER_NAME]);
    await must(
      'server-side dry-run of config/default',
      kubectl,
      k('apply', '--dry-run=server', '-k', 'config/default'),
    );
    await must(
      'kubectl apply -k config/default',
      kubectl,
      k('apply', '--server-side', '-k', 'config/default'),
    );
    await must('pointing the operator at the e2e image', kubectl, [
      ...k('-n', OPERATOR_NS, 'set', 'image', 'deployment/kubemcp-operator', `operator=${IMAGE}`),
    ]);
    await must('waiting for the operator rollout', kubectl, [
      ...k('-n', OPERATOR_NS, 'rollout', 'status', 'deployment/kubemcp-operator', '--timeout=180s'),
    ]);
    // 1. The whole e2e suite on kind: it starts its own `kubemcp serve` processes (as the operator
    //    ServiceAccount), so the in-cluster replicas are paused meanwhile — two sets of controllers
    //    writing the same status would make the status and leader-election assertions meaningless.
    await must('pausing the in-cluster operator for the suite', kubectl, [
      ...k('-n', OPERATOR_NS, 'scale', 'deployment/kubemcp-operator', '--replicas=0'),
    ]);
    log('▸ running the e2e suite on kind');
    const suite = await run('npx', ['vitest', 'run', '--project', 'e2e'], {
      ...process.env,
      KUBEMCP_E2E_KUBECONFIG: kubeconfig,
    });
    // 2. The in-cluster operator itself, reached through its Service.
    await must('resuming the in-cluster operator', kubectl, [
      ...k('-n', OPERATOR_NS, 'scale', 'deployment/kubemcp-operator', '--replicas=2'),
    ]);
    await must('waiting for the operator rollout', kubectl, [
      ...k('-n', OPERATOR_NS, 'rollout', 'status', 'deployment/kubemcp-operator', '--timeout=180s'),
    ]);
    const port = await freePort();
    log(`▸ port-forwarding svc/kubemcp to 127.0.0.1:${port}`);
    portForward = spawn(kubectl, k('-n', OPERATOR_NS, 'port-forward', 'svc/kubemcp', `${port}:8080`), {
      stdio: 'ignore',
    });
    const mcpUrl = `http://127.0.0.1:${port}/mcp`;
    await waitForHttp(mcpUrl, 60_000);
    log('▸ running the in-cluster scenarios against the operator Deployment');
    const inCluster = await run('npx', ['vitest', 'run', '--project', 'e2e', 'test/e2e/in-cluster.test.ts'], {
      ...process.env,
      KUBEMCP_E2E_KUBECONFIG: kubeconfig,
      KUBEMCP_E2E_MCP_URL: mcpUrl,
    });
    const code = suite !== 0 ? suite : inCluster;
    failed = code !== 0;
    return code;
  } finally {
    portForward?.kill();
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
