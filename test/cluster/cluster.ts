/**
 * Starts and stops a real local Kubernetes control plane: etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler and kwok (a fake Node that makes Pods Ready), on free
 * loopback ports, with fresh certificates. Every process runs in its own process group and is
 * recorded in a pid file, so a crashed run's processes are cleaned up by the next start. One
 * component can be stopped and started again alone, with the arguments it was launched with
 * (stopComponent / startComponent), e.g. for an API server outage in a test.
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
  readonly processes: ReadonlyArray<ProcessRecord>;
  readonly startedAt: string;
}

/**
 * One process of the cluster as recorded in the pid file and the state file. `command` and `args`
 * are exactly what it was launched with, so a single component can be stopped and started again
 * (see stopComponent / startComponent); they are absent from records written by older harnesses.
 */
export interface ProcessRecord {
  readonly name: string;
  readonly pid: number;
  readonly log: string;
  readonly command?: string;
  readonly args?: readonly string[];
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

/** A free TCP port on 127.0.0.1 (free when asked; a small race with other processes remains). */
export function freePort(): Promise<number> {
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
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped by its parent) still answers signal 0 but is gone.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
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
  const recorded = readJson<ProcessRecord[]>(path.join(dir, PID_FILE)) ?? [];
  const pids = recorded;
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
  readonly command: string;
  readonly args: readonly string[];
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
  const recordPids = () => fs.writeFileSync(pidFile, JSON.stringify(procs.map(recordOf)));

  const launch = (name: string, args: string[], cmd?: string, env?: NodeJS.ProcessEnv): Proc => {
    const logFile = path.join(dir, 'logs', `${name}.log`);
    const fd = fs.openSync(logFile, 'w');
    const command = cmd ?? bin(binaries, name);
    const child = spawn(command, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      ...(env ? { env } : {}),
    });
    fs.closeSync(fd);
    const proc: Proc = { name, child, log: logFile, command, args };
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
      // The default client rate (20 requests/s) makes ReplicaSets create about 20 pods/s; the
      // benchmarks' 10,000 pods would take 8 minutes. A local single-user server can take more.
      '--kube-api-qps=200',
      '--kube-api-burst=400',
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
    processes: procs.map(recordOf),
    startedAt: new Date().toISOString(),
  };
  fs.writeFileSync(path.join(dir, STATE_FILE), JSON.stringify(state, null, 2), { mode: 0o600 });
  return state;
}

function recordOf(p: Proc): ProcessRecord {
  return { name: p.name, pid: p.child.pid ?? -1, log: p.log, command: p.command, args: [...p.args] };
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

// ---------------------------------------------------------------------------------------------
// One component at a time: an outage of a single process (e.g. kube-apiserver) in a running cluster

export interface StopComponentOptions {
  /**
   * Signal sent to the component's process group first. Default SIGTERM (a graceful shutdown:
   * kube-apiserver stops listening at once but may take seconds to exit). SIGKILL simulates a crash.
   */
  readonly signal?: NodeJS.Signals;
  /** SIGKILL after this long. Default 10 s. */
  readonly graceMs?: number;
}

export interface StartComponentOptions {
  /** How long to wait for kube-apiserver's /readyz. Default 90 s. */
  readonly timeoutMs?: number;
}

function componentRecord(dir: string, name: string): { state: ClusterState; record: ProcessRecord } {
  const state = readState(dir);
  if (!state) throw new HarnessError(name, `no cluster state in ${dir}: is the local control plane running?`);
  const record = state.processes.find((p) => p.name === name);
  if (!record) {
    throw new HarnessError(
      name,
      `not a component of the cluster in ${dir} (components: ${state.processes.map((p) => p.name).join(', ')})`,
    );
  }
  return { state, record };
}

/**
 * Stops ONE component of the local cluster in `dir` (e.g. `kube-apiserver`) and leaves every other
 * process running, so a test can cause a real outage. The component stays in the pid and state files
 * (with a dead pid until startComponent), so stopCluster and the next start still clean up
 * everything. While it is stopped, isRunning(dir) is false: a new e2e run would not reuse this
 * cluster. Throws when the component is not running or not ours. Returns the pid it stopped.
 */
export async function stopComponent(
  dir: string,
  name: string,
  opts: StopComponentOptions = {},
): Promise<number> {
  const { record } = componentRecord(dir, name);
  if (!isAlive(record.pid) || !isOurs(record.pid, dir)) {
    throw new HarnessError(name, `is not running (pid ${record.pid}); nothing to stop`);
  }
  killGroup(record.pid, opts.signal ?? 'SIGTERM');
  const deadline = Date.now() + (opts.graceMs ?? 10_000);
  while (isAlive(record.pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(record.pid)) killGroup(record.pid, 'SIGKILL');
  while (isAlive(record.pid)) await sleep(50);
  return record.pid;
}

/**
 * Starts ONE stopped component of the local cluster in `dir` again, with exactly the command and
 * arguments it was first launched with (recorded in the pid and state files). For kube-apiserver that
 * means the same port, etcd, certificates, token file and ServiceAccount keys: every kubeconfig and
 * token issued before stays valid. Its log is appended to, the new pid replaces the old one in both
 * files, and for kube-apiserver this waits until /readyz answers 200.
 */
export async function startComponent(
  dir: string,
  name: string,
  opts: StartComponentOptions = {},
): Promise<ProcessRecord> {
  const { state, record } = componentRecord(dir, name);
  if (isAlive(record.pid) && isOurs(record.pid, dir)) {
    throw new HarnessError(name, `is already running (pid ${record.pid})`);
  }
  if (record.command === undefined || record.args === undefined) {
    throw new HarnessError(
      name,
      'its launch command was not recorded (a cluster started by an older harness): restart the cluster',
    );
  }
  fs.appendFileSync(record.log, `\n---- restarted by the harness at ${new Date().toISOString()} ----\n`);
  const fd = fs.openSync(record.log, 'a');
  const child = spawn(record.command, [...record.args], { detached: true, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `exited (code ${code ?? 'none'}, signal ${signal ?? 'none'})`;
  });
  child.once('error', (err) => {
    exited = `could not be started (${err.message})`;
  });
  child.unref();
  const pid = child.pid ?? -1;
  const updated: ProcessRecord = { ...record, pid };
  const processes = state.processes.map((p) => (p.name === name ? updated : p));
  const pidFile = path.join(dir, PID_FILE);
  const pids = readJson<ProcessRecord[]>(pidFile) ?? [...state.processes];
  fs.writeFileSync(pidFile, JSON.stringify(pids.map((p) => (p.name === name ? updated : p))));
  fs.writeFileSync(path.join(dir, STATE_FILE), JSON.stringify({ ...state, processes }, null, 2), {
    mode: 0o600,
  });

  if (name === 'kube-apiserver') {
    const target: ApiTarget = { server: state.server, caFile: state.caFile, token: state.users.admin.token };
    const deadline = Date.now() + (opts.timeoutMs ?? 90_000);
    let lastError = '';
    for (;;) {
      if (exited !== undefined) {
        throw new HarnessError(name, `${exited} after a restart; log: ${record.log}\n${tail(record.log)}`);
      }
      try {
        if ((await apiRequest(target, 'GET', '/readyz', undefined, 3000)).status === 200) break;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
      }
      if (Date.now() > deadline) {
        throw new HarnessError(
          name,
          `not ready ${Math.round((opts.timeoutMs ?? 90_000) / 1000)}s after a restart${lastError ? ` (last error: ${lastError})` : ''}; log: ${record.log}`,
        );
      }
      await sleep(100);
    }
  }
  return updated;
}

export { KUBERNETES_VERSION };
