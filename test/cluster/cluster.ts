/**
 * Starts and stops a real local Kubernetes control plane: etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler and kwok (a fake Node that makes Pods Ready), on free
 * loopback ports, with fresh certificates. Every process runs in its own process group and is
 * recorded in a pid file, so a crashed run's processes are cleaned up by the next start.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ApiTarget, apiRequest } from './api.js';
import type { Binaries } from './build.js';
import { type Credentials, generateCredentials, type StaticUser } from './certs.js';
import { KUBERNETES_VERSION } from './components.js';
import { HarnessError, log } from './log.js';

export interface ClusterState {
  readonly dir: string;
  readonly server: string;
  readonly caFile: string;
  readonly kubeconfig: string;
  readonly users: Credentials['users'];
  readonly kubectl: string;
  readonly processes: ReadonlyArray<{ name: string; pid: number; log: string }>;
  readonly startedAt: string;
}

export interface StartOptions {
  readonly dir: string;
  readonly binaries: Binaries;
  /** Fixed port for kube-apiserver; a free one is chosen when omitted. */
  readonly apiserverPort?: number;
  /** Number of fake (kwok) nodes. */
  readonly nodes?: number;
}

const STATE_FILE = 'state.json';
const PID_FILE = 'pids.json';

export const FAKE_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(true));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(false)));
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True when `pid` is still one of ours: its command line mentions the cluster directory. */
function isOurs(pid: number, dir: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
  } catch {
    return isAlive(pid);
  }
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export function readState(dir: string): ClusterState | undefined {
  return readJson<ClusterState>(path.join(dir, STATE_FILE));
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/**
 * Stops every process recorded in the pid file (SIGTERM to each process group, SIGKILL after a
 * grace period). Safe to call when nothing runs. Returns the number of processes it stopped.
 */
export async function stopCluster(dir: string, graceMs = 10_000): Promise<number> {
  const pids = readJson<Array<{ name: string; pid: number }>>(path.join(dir, PID_FILE)) ?? [];
  const live = pids.filter((p) => isAlive(p.pid) && isOurs(p.pid, dir));
  // Reverse start order: kwok, scheduler, controller manager, apiserver, etcd last.
  for (const p of [...live].reverse()) killGroup(p.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (live.some((p) => isAlive(p.pid)) && Date.now() < deadline) await sleep(100);
  for (const p of live) if (isAlive(p.pid)) killGroup(p.pid, 'SIGKILL');
  while (live.some((p) => isAlive(p.pid))) await sleep(50);
  fs.rmSync(path.join(dir, PID_FILE), { force: true });
  fs.rmSync(path.join(dir, STATE_FILE), { force: true });
  return live.length;
}

/** Synchronous last-resort kill, for process 'exit' handlers. */
export function killClusterSync(dir: string): void {
  const pids = readJson<Array<{ name: string; pid: number }>>(path.join(dir, PID_FILE)) ?? [];
  for (const p of pids) if (isAlive(p.pid) && isOurs(p.pid, dir)) killGroup(p.pid, 'SIGKILL');
  fs.rmSync(path.join(dir, PID_FILE), { force: true });
  fs.rmSync(path.join(dir, STATE_FILE), { force: true });
}

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly log: string;
  exited?: { code: number | null; signal: NodeJS.Signals | null; error?: string };
}

function tail(file: string, lines = 12): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function waitFor(
  what: string,
  component: string,
  logs: readonly string[],
  procs: readonly Proc[],
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    const dead = procs.find((p) => p.exited);
    if (dead) {
      const how = dead.exited?.error
        ? `could not be started (${dead.exited.error})`
        : `exited (code ${dead.exited?.code ?? 'none'}, signal ${dead.exited?.signal ?? 'none'})`;
      throw new HarnessError(
        dead.name,
        `${how} while waiting for ${what}; log: ${dead.log}\n${tail(dead.log)}`,
      );
    }
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      throw new HarnessError(
        component,
        `timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}; logs: ${logs.join(', ')}`,
      );
    }
    await sleep(250);
  }
}

function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

function kubeconfigYaml(server: string, caFile: string, users: Credentials['users']): string {
  const ca = fs.readFileSync(caFile).toString('base64');
  const entries = Object.entries(users) as Array<[string, StaticUser]>;
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: kubemcp-local',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${ca}`,
    'users:',
    ...entries.flatMap(([key, u]) => [`- name: ${key}`, '  user:', `    token: ${u.token}`]),
    'contexts:',
    ...entries.flatMap(([key]) => [
      `- name: kubemcp-local${key === 'admin' ? '' : `-${key}`}`,
      '  context:',
      '    cluster: kubemcp-local',
      `    user: ${key}`,
    ]),
    'current-context: kubemcp-local',
    '',
  ].join('\n');
}

function fakeNode(name: string): unknown {
  const resources = { cpu: '1000', memory: '4Ti', pods: '20000' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [FAKE_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/role': 'agent',
        type: 'kwok',
      },
    },
    spec: {},
    status: { allocatable: resources, capacity: resources },
  };
}

const PROBE = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'kubemcp-harness-probe', namespace: 'default' },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: 'kubemcp-harness-probe' } },
    template: {
      metadata: { labels: { app: 'kubemcp-harness-probe' } },
      spec: { containers: [{ name: 'probe', image: 'registry.k8s.io/pause:3.10' }] },
    },
  },
};

/**
 * Starts a fresh cluster in `opts.dir` (cleaning up whatever a previous run left there) and waits
 * until it is really usable: the default ServiceAccount exists, the fake node is Ready and a
 * probe Deployment reports 1/1 ready replicas.
 */
export async function startCluster(opts: StartOptions): Promise<ClusterState> {
  const { dir, binaries } = opts;
  const stale = await stopCluster(dir, 3000);
  if (stale > 0) log(`  cleaned up ${stale} process(es) left by an earlier run`);
  for (const sub of ['pki', 'etcd', 'logs']) fs.rmSync(path.join(dir, sub), { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });

  const creds = generateCredentials(path.join(dir, 'pki'));
  const [etcdPort, etcdPeerPort, kcmPort, schedPort, kwokPort] = await Promise.all(
    Array.from({ length: 5 }, () => freePort()),
  );
  let apiPort = opts.apiserverPort;
  if (apiPort !== undefined) {
    if (await portInUse(apiPort)) {
      throw new HarnessError(
        'kube-apiserver',
        `port ${apiPort} on 127.0.0.1 is already in use; free it or pick another port`,
      );
    }
  } else {
    apiPort = await freePort();
  }
  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfig = path.join(dir, 'kubeconfig');
  fs.writeFileSync(kubeconfig, kubeconfigYaml(server, creds.caCert, creds.users), { mode: 0o600 });
  const kwokConfig = path.join(dir, 'kwok-stages.yaml');
  const stages = binaries['kwok-stages.yaml'];
  if (!stages) throw new HarnessError('kwok', 'the kwok Stage manifests are missing from the build cache');
  fs.copyFileSync(stages, kwokConfig);
  const kubectl = path.join(dir, 'bin', 'kubectl');
  fs.rmSync(kubectl, { force: true });
  fs.symlinkSync(bin(binaries, 'kubectl'), kubectl);

  const procs: Proc[] = [];
  const pidFile = path.join(dir, PID_FILE);
  const recordPids = () =>
    fs.writeFileSync(
      pidFile,
      JSON.stringify(procs.map((p) => ({ name: p.name, pid: p.child.pid, log: p.log }))),
    );

  const launch = (name: string, args: string[]): Proc => {
    const logFile = path.join(dir, 'logs', `${name}.log`);
    const fd = fs.openSync(logFile, 'w');
    const child = spawn(bin(binaries, name), args, { detached: true, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    const proc: Proc = { name, child, log: logFile };
    child.once('exit', (code, signal) => {
      proc.exited = { code, signal };
    });
    child.once('error', (err) => {
      proc.exited = { code: null, signal: null, error: err.message };
    });
    child.unref();
    procs.push(proc);
    recordPids();
    return proc;
  };
  const target: ApiTarget = { server, caFile: creds.caCert, token: creds.users.admin.token };
  const logsOf = (...names: string[]) => names.map((n) => path.join(dir, 'logs', `${n}.log`));

  try {
    const t0 = Date.now();
    launch('etcd', [
      '--name=default',
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await waitFor('etcd /health', 'etcd', logsOf('etcd'), procs, 30_000, () =>
      httpOk(`http://127.0.0.1:${etcdPort}/health`),
    );
    log(`  ✓ etcd ready (${((Date.now() - t0) / 1000).toFixed(1)}s)`);

    launch('kube-apiserver', [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${creds.serverCert}`,
      `--tls-private-key-file=${creds.serverKey}`,
      `--client-ca-file=${creds.caCert}`,
      `--token-auth-file=${creds.tokenFile}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${creds.saPub}`,
      `--service-account-signing-key-file=${creds.saKey}`,
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.0.0.0/24',
      // 127.0.0.1 cannot be published as the kubernetes Service endpoint.
      '--endpoint-reconciler-type=none',
      '--profiling=false',
      `--cert-dir=${path.join(dir, 'pki')}`,
    ]);
    await waitFor(
      'kube-apiserver /readyz',
      'kube-apiserver',
      logsOf('kube-apiserver'),
      procs,
      90_000,
      async () => {
        const res = await apiRequest(target, 'GET', '/readyz', undefined, 3000);
        return res.status === 200;
      },
    );
    log(`  ✓ kube-apiserver ready on ${server} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);

    const common = [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
    ];
    launch('kube-controller-manager', [
      ...common,
      `--secure-port=${kcmPort}`,
      `--service-account-private-key-file=${creds.saKey}`,
      `--root-ca-file=${creds.caCert}`,
      '--cluster-name=kubemcp-local',
    ]);
    launch('kube-scheduler', [...common, `--secure-port=${schedPort}`]);
    launch('kwok', [
      `--kubeconfig=${kubeconfig}`,
      `--config=${kwokConfig}`,
      '--manage-all-nodes=false',
      `--manage-nodes-with-annotation-selector=${FAKE_NODE_ANNOTATION}=fake`,
      `--server-address=127.0.0.1:${kwokPort}`,
      '--node-lease-duration-seconds=40',
    ]);

    const nodes = Array.from({ length: opts.nodes ?? 1 }, (_, i) => `kwok-node-${i}`);
    for (const name of nodes) {
      const res = await apiRequest(target, 'POST', '/api/v1/nodes', fakeNode(name));
      if (res.status !== 201 && res.status !== 409) {
        throw new HarnessError(
          'kube-apiserver',
          `creating fake node ${name} failed: HTTP ${res.status} ${res.body}`,
        );
      }
    }
    await waitFor('the fake node to be Ready', 'kwok', logsOf('kwok'), procs, 60_000, async () => {
      const res = await apiRequest(target, 'GET', `/api/v1/nodes/${nodes[0]}`);
      const node = res.json<{ status?: { conditions?: Array<{ type: string; status: string }> } }>();
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    });
    log(`  ✓ ${nodes.length} kwok node(s) Ready (${((Date.now() - t0) / 1000).toFixed(1)}s)`);

    await waitFor(
      'the default/default ServiceAccount',
      'kube-controller-manager',
      logsOf('kube-controller-manager'),
      procs,
      60_000,
      async () =>
        (await apiRequest(target, 'GET', '/api/v1/namespaces/default/serviceaccounts/default')).status ===
        200,
    );
    const created = await apiRequest(target, 'POST', '/apis/apps/v1/namespaces/default/deployments', PROBE);
    if (created.status !== 201 && created.status !== 409) {
      throw new HarnessError(
        'kube-apiserver',
        `creating the probe Deployment failed: HTTP ${created.status} ${created.body}`,
      );
    }
    await waitFor(
      'the probe Deployment to report 1/1 ready replicas',
      'kube-controller-manager/kube-scheduler/kwok',
      logsOf('kube-controller-manager', 'kube-scheduler', 'kwok'),
      procs,
      90_000,
      async () => {
        const res = await apiRequest(
          target,
          'GET',
          '/apis/apps/v1/namespaces/default/deployments/kubemcp-harness-probe',
        );
        return res.json<{ status?: { readyReplicas?: number } }>().status?.readyReplicas === 1;
      },
    );
    await apiRequest(
      target,
      'DELETE',
      '/apis/apps/v1/namespaces/default/deployments/kubemcp-harness-probe?propagationPolicy=Background',
    );
    log(`  ✓ probe Deployment 1/1 ready (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  } catch (err) {
    await stopCluster(dir, 3000);
    throw err;
  }

  const state: ClusterState = {
    dir,
    server,
    caFile: creds.caCert,
    kubeconfig,
    users: creds.users,
    kubectl,
    processes: procs.map((p) => ({ name: p.name, pid: p.child.pid ?? -1, log: p.log })),
    startedAt: new Date().toISOString(),
  };
  fs.writeFileSync(path.join(dir, STATE_FILE), JSON.stringify(state, null, 2), { mode: 0o600 });
  return state;
}

function bin(binaries: Binaries, name: string): string {
  const p = binaries[name];
  if (!p) throw new HarnessError(name, 'binary missing from the build cache');
  return p;
}

/** True when the cluster recorded in `dir` still has all its processes and answers /readyz. */
export async function isRunning(dir: string): Promise<ClusterState | undefined> {
  const state = readState(dir);
  if (!state) return undefined;
  if (!state.processes.every((p) => isAlive(p.pid) && isOurs(p.pid, dir))) return undefined;
  try {
    const res = await apiRequest(
      { server: state.server, caFile: state.caFile, token: state.users.admin.token },
      'GET',
      '/readyz',
      undefined,
      2000,
    );
    return res.status === 200 ? state : undefined;
  } catch {
    return undefined;
  }
}

export { KUBERNETES_VERSION };
