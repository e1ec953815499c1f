/**
 * A real node for the local control plane: containerd (from its Go module) with Debian's runc and
 * CNI plugins, a kubelet and kube-proxy (from the same Kubernetes module as the control plane), a
 * locally built pause image and CoreDNS (kube-dns Service at 10.0.0.10). Pods get addresses on a
 * bridge the harness creates (kubemcp0, 10.244.0.0/24); the API server stays on 127.0.0.1 and a
 * small forwarder on the bridge address is the `kubernetes` Service's endpoint.
 *
 * The node is tainted (REAL_NODE_TAINT) so that workloads without a toleration keep landing on
 * the kwok node, as every test that expects instantly Ready pods assumes; the in-cluster tier
 * moves scheduling to the real node explicitly (useRealNodeOnly).
 *
 * Everything it changes on the host is undone by teardownRealNode, in this order: pods deleted
 * while the kubelet runs (CNI DEL frees addresses and veths), kubelet stopped, kube-proxy stopped
 * and cleaned up, containerd and its shims stopped, mounts removed (deepest first), iptables
 * chains removed, the bridge deleted, kubepods cgroups removed, sysctls restored.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ApiTarget, apiRequest } from './api.js';
import type { Binaries } from './build.js';
import { COREDNS_VERSION } from './components.js';
import { aptInstall, DOCKER_ENV, docker, dockerOut, ensureDocker, isRoot, which } from './docker.js';
import { HarnessError, log } from './log.js';
import { cacheDir, REPO_ROOT } from './paths.js';

export const NODE_NAME = 'kubemcp-node';
export const BRIDGE = 'kubemcp0';
export const POD_CIDR = '10.244.0.0/24';
export const NODE_IP = '10.244.0.1';
export const DNS_IP = '10.0.0.10';
export const CNI_NETWORK = 'kubemcp';
export const REAL_NODE_TAINT = {
  key: 'kubemcp.test/real-node',
  value: 'true',
  effect: 'NoSchedule',
} as const;
export const PAUSE_IMAGE = 'kubemcp.local/pause:3.10';
/** The image the e2e workloads name; the local pause image answers to it on the real node. */
export const PAUSE_ALIAS = 'registry.k8s.io/pause:3.10';
export const COREDNS_IMAGE = `kubemcp.local/coredns:${COREDNS_VERSION.replace(/^v/, '')}`;
const CNI_BIN_DIR = '/usr/lib/cni';
const CNI_PLUGINS = ['bridge', 'host-local', 'loopback', 'portmap', 'firewall'];
const KUBELET_PORT = 10250;
/** Written by the kubelet (and kube-proxy's checks); restored on teardown. */
const SYSCTLS = ['vm/overcommit_memory', 'kernel/panic', 'kernel/panic_on_oops', 'net/ipv4/ip_forward'];
/** Host paths the kubelet or CNI create outside their configured directories. */
const HOST_PATHS = ['/var/log/containers', '/var/log/pods', '/var/lib/cni'];

export interface NodeState {
  readonly sysctls: Record<string, string>;
  /** HOST_PATHS that did not exist before the node started (removed on teardown). */
  readonly createdPaths: string[];
}

export function nodeDir(dir: string): string {
  return path.join(dir, 'node');
}

function sh(cmd: string, args: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}) {
  return spawnSync(cmd, [...args], { encoding: 'utf8', ...opts });
}

function must(cmd: string, args: readonly string[], what: string): string {
  const res = sh(cmd, args);
  if (res.status !== 0) {
    throw new HarnessError(cmd, `${what} failed: ${(res.stderr || res.error?.message || '').trim()}`);
  }
  return res.stdout;
}

/** Why this machine cannot run the real node, or undefined when it can. */
export function realNodeUnsupported(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (!isRoot()) return 'not running as root (the kubelet, containerd and CNI need it)';
  if (!fs.existsSync('/sys/fs/cgroup/memory') && !fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    return 'no cgroup filesystem under /sys/fs/cgroup';
  }
  if (!which('ip')) return 'no `ip` command (iproute2)';
  if (!which('apt-get') && (!which('iptables') || !which('runc'))) {
    return 'iptables and runc are missing and apt-get is not available to install them';
  }
  const probe = 'kubemcp-probe0';
  const add = sh('ip', ['link', 'add', probe, 'type', 'bridge']);
  if (add.status !== 0) return `cannot create a network bridge (${add.stderr.trim()})`;
  sh('ip', ['link', 'del', probe]);
  return undefined;
}

/**
 * Whether `cluster:up` (and an e2e run that starts its own cluster) adds the real node: on by
 * default where the machine can run it; `--no-real-node` or KUBEMCP_REAL_NODE=0 turn it off.
 */
export function realNodeWanted(argv: readonly string[] = []): boolean {
  if (argv.includes('--no-real-node') || process.env.KUBEMCP_REAL_NODE === '0') return false;
  const why = realNodeUnsupported();
  if (why) {
    log(`Real node: off (${why}); the cluster has kwok nodes only.`);
    return false;
  }
  return true;
}

/** Packages and images the real node needs, installed or built once. */
export async function prepareRealNode(binaries: Binaries): Promise<void> {
  ensureNodePackages();
  await ensureNodeImages(binaries);
}

/** Debian packages the node needs; installs the missing ones. */
export function ensureNodePackages(): void {
  const missing: string[] = [];
  if (!which('runc')) missing.push('runc');
  if (!which('iptables')) missing.push('iptables');
  if (!CNI_PLUGINS.every((p) => fs.existsSync(path.join(CNI_BIN_DIR, p))))
    missing.push('containernetworking-plugins');
  aptInstall(missing);
}

/** Builds the pause and CoreDNS images (FROM scratch) unless Docker already has them. */
export async function ensureNodeImages(binaries: Binaries): Promise<void> {
  await ensureDocker();
  const exists = (ref: string) => dockerOut(['image', 'inspect', '--format', '{{.Id}}', ref]).ok;
  const build = (tag: string, files: Record<string, string>, entrypoint: string[]) => {
    const ctx = fs.mkdtempSync(path.join(cacheDir(), 'image-'));
    try {
      for (const [name, src] of Object.entries(files)) fs.copyFileSync(src, path.join(ctx, name));
      fs.writeFileSync(
        path.join(ctx, 'Dockerfile'),
        `FROM scratch\n${Object.keys(files)
          .map((f) => `COPY ${f} /${f}\n`)
          .join('')}ENTRYPOINT ${JSON.stringify(entrypoint)}\n`,
      );
      docker(['build', '-q', '-t', tag, ctx], `building ${tag}`);
    } finally {
      fs.rmSync(ctx, { recursive: true, force: true });
    }
  };
  if (!exists(PAUSE_IMAGE)) {
    log(`▸ building ${PAUSE_IMAGE} (a static C program in a FROM scratch image)`);
    const out = path.join(cacheDir(), 'pause-build', 'pause');
    fs.mkdirSync(path.dirname(out), { recursive: true });
    if (!which('gcc')) aptInstall(['gcc', 'libc6-dev']);
    must(
      'gcc',
      ['-Os', '-static', '-o', out, path.join(REPO_ROOT, 'test/cluster/node/pause.c')],
      'gcc pause.c',
    );
    build(PAUSE_IMAGE, { pause: out }, ['/pause']);
  }
  if (!exists(PAUSE_ALIAS)) docker(['tag', PAUSE_IMAGE, PAUSE_ALIAS], 'tagging the pause image');
  if (!exists(COREDNS_IMAGE)) {
    log(`▸ building ${COREDNS_IMAGE} (FROM scratch)`);
    build(COREDNS_IMAGE, { coredns: bin(binaries, 'coredns') }, ['/coredns']);
  }
}

function bin(binaries: Binaries, name: string): string {
  const p = binaries[name];
  if (!p) throw new HarnessError(name, 'binary missing from the build cache');
  return p;
}

function containerdSocket(dir: string): string {
  return path.join(nodeDir(dir), 'containerd', 'containerd.sock');
}

/** Imports Docker images into the node's containerd (namespace k8s.io), as the kubelet sees them. */
export function loadImages(dir: string, ctr: string, refs: readonly string[]): void {
  const res = spawnSync(
    'sh',
    ['-c', 'docker save "$@" | "$0" -a "$SOCK" -n k8s.io images import --no-unpack=false -', ctr, ...refs],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
      env: { ...DOCKER_ENV, SOCK: containerdSocket(dir) },
    },
  );
  if (res.status !== 0) {
    throw new HarnessError('ctr', `importing ${refs.join(', ')} failed: ${(res.stderr || '').trim()}`);
  }
}

function readSysctl(name: string): string {
  return fs.readFileSync(`/proc/sys/${name}`, 'utf8').trim();
}

function writeSysctl(name: string, value: string): void {
  try {
    fs.writeFileSync(`/proc/sys/${name}`, value);
  } catch (err) {
    log(`  ! could not restore ${name.replaceAll('/', '.')}=${value}: ${(err as Error).message}`);
  }
}

/**
 * Before the control plane starts: records what the node will change, creates the bridge with the
 * node address (the API forwarder binds it) and turns on IP forwarding (Service traffic is routed
 * through the host).
 */
export function setupHostNetwork(dir: string): void {
  const nd = nodeDir(dir);
  fs.mkdirSync(nd, { recursive: true });
  const state: NodeState = {
    sysctls: Object.fromEntries(SYSCTLS.map((s) => [s, readSysctl(s)])),
    createdPaths: HOST_PATHS.filter((p) => !fs.existsSync(p)),
  };
  fs.writeFileSync(path.join(nd, 'host-state.json'), JSON.stringify(state, null, 2));
  sh('ip', ['link', 'del', BRIDGE]);
  must('ip', ['link', 'add', BRIDGE, 'type', 'bridge'], `creating bridge ${BRIDGE}`);
  must('ip', ['addr', 'add', `${NODE_IP}/24`, 'dev', BRIDGE], `addressing ${BRIDGE}`);
  must('ip', ['link', 'set', BRIDGE, 'up'], `bringing ${BRIDGE} up`);
  writeSysctl('net/ipv4/ip_forward', '1');
}

export type NodeLaunch = (
  name: string,
  command: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
) => { exited?: unknown; log: string };

export interface NodeContext {
  readonly dir: string;
  readonly binaries: Binaries;
  readonly kubeconfig: string;
  readonly caFile: string;
  readonly target: ApiTarget;
  readonly apiPort: number;
  readonly launch: NodeLaunch;
  readonly freePort: () => Promise<number>;
}

export function containerdConfig(dir: string): string {
  const nd = path.join(nodeDir(dir), 'containerd');
  return `version = 3
root = "${nd}/root"
state = "${nd}/state"

[grpc]
  address = "${containerdSocket(dir)}"

[ttrpc]
  address = "${containerdSocket(dir)}.ttrpc"

[plugins]
  [plugins.'io.containerd.internal.v1.opt']
    path = "${nd}/opt"
  [plugins.'io.containerd.nri.v1.nri']
    disable = true
  [plugins.'io.containerd.cri.v1.runtime']
    enable_selinux = false
    # Pod network namespaces under our state directory, not /run/netns.
    netns_mounts_under_state_dir = true
    # root here lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj below the parent's.
    restrict_oom_score_adj = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = "${which('runc') ?? '/usr/sbin/runc'}"
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ["${CNI_BIN_DIR}"]
      conf_dir = "${nodeDir(dir)}/cni"
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = "${PAUSE_IMAGE}"
  [plugins.'io.containerd.grpc.v1.cri']
    disable_tcp_service = true
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'
`;
}

function cniConfig(dir: string): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: CNI_NETWORK,
      plugins: [
        {
          type: 'bridge',
          bridge: BRIDGE,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            dataDir: path.join(nodeDir(dir), 'cni-ipam'),
            ranges: [[{ subnet: POD_CIDR, gateway: NODE_IP }]],
            routes: [{ dst: '0.0.0.0/0' }],
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
        // Accepts the pods' forwarded traffic even where the FORWARD policy is DROP (as Docker sets it).
        { type: 'firewall' },
      ],
    },
    null,
    2,
  );
}

function kubeletConfig(dir: string, caFile: string, healthzPort: number): string {
  const nd = nodeDir(dir);
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${NODE_IP}
port: ${KUBELET_PORT}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${healthzPort}
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: ${caFile} }
authorization: { mode: Webhook }
containerRuntimeEndpoint: unix://${containerdSocket(dir)}
cgroupDriver: cgroupfs
# These machines run cgroup v1; without this the kubelet refuses to start.
failCgroupV1: false
failSwapOn: false
clusterDNS: [${DNS_IP}]
clusterDomain: cluster.local
podCIDR: ${POD_CIDR}
maxPods: 30
hairpinMode: hairpin-veth
podLogsDir: ${nd}/pod-logs
volumePluginDir: ${nd}/volume-plugins
# The images cannot be pulled again: never garbage-collect them, never evict for disk pressure.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {}
shutdownGracePeriod: 0s
registerWithTaints:
  - key: ${REAL_NODE_TAINT.key}
    value: "${REAL_NODE_TAINT.value}"
    effect: ${REAL_NODE_TAINT.effect}
`;
}

function kubeProxyConfig(kubeconfig: string, healthzPort: number, metricsPort: number): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: ${kubeconfig}
mode: iptables
hostnameOverride: ${NODE_NAME}
clusterCIDR: ${POD_CIDR}
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:${healthzPort}
metricsBindAddress: 127.0.0.1:${metricsPort}
nodePortAddresses: ["${NODE_IP}/32"]
iptables:
  # Replies from a Service backend on the same bridge must come back through the host.
  masqueradeAll: true
  # Otherwise kube-proxy sets net.ipv4.conf.all.route_localnet.
  localhostNodePorts: false
# Zero leaves the host's conntrack sysctls alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`;
}

const COREDNS_MANIFESTS = (): unknown[] => {
  const labels = { 'k8s-app': 'kube-dns' };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: 'kube-system' } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:coredns' },
      rules: [
        { apiGroups: [''], resources: ['services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:coredns' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
      subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: 'kube-system' }],
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'coredns', namespace: 'kube-system' },
      // Cluster names only: nothing is forwarded outside the cluster.
      data: {
        Corefile: [
          '.:53 {',
          '    errors',
          '    health :8080',
          '    ready :8181',
          '    kubernetes cluster.local in-addr.arpa ip6.arpa {',
          '        pods insecure',
          '    }',
          '    cache 30',
          '}',
          '',
        ].join('\n'),
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns', namespace: 'kube-system', labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'coredns',
            dnsPolicy: 'Default',
            nodeSelector: { 'kubernetes.io/hostname': NODE_NAME },
            tolerations: [{ ...REAL_NODE_TAINT, operator: 'Equal' }],
            containers: [
              {
                name: 'coredns',
                image: COREDNS_IMAGE,
                imagePullPolicy: 'Never',
                args: ['-conf', '/etc/coredns/Corefile'],
                ports: [
                  { name: 'dns', containerPort: 53, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                ],
                readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 2 },
                volumeMounts: [{ name: 'config', mountPath: '/etc/coredns', readOnly: true }],
              },
            ],
            volumes: [{ name: 'config', configMap: { name: 'coredns' } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: 'kube-system', labels },
      spec: {
        selector: labels,
        clusterIP: DNS_IP,
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53, protocol: 'TCP' },
        ],
      },
    },
  ];
};

/** The `kubernetes` Service's endpoint: the API forwarder on the bridge address. */
function kubernetesEndpoints(apiPort: number): Array<{ path: string; body: unknown }> {
  const port = { name: 'https', port: apiPort, protocol: 'TCP' };
  return [
    {
      path: '/api/v1/namespaces/default/endpoints',
      body: {
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: {
          name: 'kubernetes',
          namespace: 'default',
          labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' },
        },
        subsets: [{ addresses: [{ ip: NODE_IP }], ports: [port] }],
      },
    },
    {
      path: '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices',
      body: {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: 'kubernetes',
          namespace: 'default',
          labels: {
            'kubernetes.io/service-name': 'kubernetes',
            'endpointslice.kubernetes.io/managed-by': 'kubemcp-harness',
          },
        },
        addressType: 'IPv4',
        endpoints: [{ addresses: [NODE_IP], conditions: { ready: true } }],
        ports: [port],
      },
    },
  ];
}

async function create(target: ApiTarget, p: string, body: unknown): Promise<void> {
  const res = await apiRequest(target, 'POST', p, body);
  if (res.status !== 201 && res.status !== 409) {
    throw new HarnessError('kube-apiserver', `POST ${p} failed: HTTP ${res.status} ${res.body}`);
  }
}

function collectionPath(obj: { apiVersion: string; kind: string; metadata: { namespace?: string } }): string {
  const plural = `${obj.kind.toLowerCase()}s`;
  const base = obj.apiVersion.includes('/') ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
  return obj.metadata.namespace
    ? `${base}/namespaces/${obj.metadata.namespace}/${plural}`
    : `${base}/${plural}`;
}

async function waitUntil(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
  logs: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) {
      throw new HarnessError(
        'real node',
        `timed out waiting for ${what}${last ? ` (${last})` : ''}; logs: ${logs}`,
      );
    }
    await sleep(500);
  }
}

/** Starts containerd, the kubelet, kube-proxy and CoreDNS; returns when the node and DNS are Ready. */
export async function startRealNode(ctx: NodeContext): Promise<void> {
  const { dir, binaries, target } = ctx;
  const nd = nodeDir(dir);
  const t0 = Date.now();
  for (const sub of ['containerd', 'cni', 'kubelet', 'pod-logs', 'volume-plugins', 'cni-ipam']) {
    fs.mkdirSync(path.join(nd, sub), { recursive: true });
  }
  fs.writeFileSync(path.join(nd, 'containerd.toml'), containerdConfig(dir));
  fs.writeFileSync(path.join(nd, 'cni', '10-kubemcp.conflist'), cniConfig(dir));

  // The `kubernetes` Service endpoint, through the forwarder on the bridge address.
  ctx.launch('api-proxy', process.execPath, [
    path.join(REPO_ROOT, 'test/cluster/node/api-proxy.mjs'),
    NODE_IP,
    String(ctx.apiPort),
    String(ctx.apiPort),
    dir,
  ]);
  for (const e of kubernetesEndpoints(ctx.apiPort)) await create(target, e.path, e.body);

  const ctrd = bin(binaries, 'containerd');
  ctx.launch('containerd', ctrd, ['--config', path.join(nd, 'containerd.toml'), '--log-level', 'warn'], {
    ...process.env,
    PATH: `${path.dirname(ctrd)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
  });
  const ctr = bin(binaries, 'ctr');
  await waitUntil(
    'containerd',
    30_000,
    async () => sh(ctr, ['-a', containerdSocket(dir), 'version']).status === 0,
    path.join(dir, 'logs', 'containerd.log'),
  );
  loadImages(dir, ctr, [PAUSE_IMAGE, PAUSE_ALIAS, COREDNS_IMAGE]);
  log(`  ✓ containerd ready, pause and CoreDNS images loaded (${((Date.now() - t0) / 1000).toFixed(1)}s)`);

  const [kubeletHealthz, proxyHealthz, proxyMetrics] = await Promise.all([
    ctx.freePort(),
    ctx.freePort(),
    ctx.freePort(),
  ]);
  fs.writeFileSync(path.join(nd, 'kubelet.yaml'), kubeletConfig(dir, ctx.caFile, kubeletHealthz));
  fs.writeFileSync(
    path.join(nd, 'kube-proxy.yaml'),
    kubeProxyConfig(ctx.kubeconfig, proxyHealthz, proxyMetrics),
  );
  ctx.launch('kubelet', bin(binaries, 'kubelet'), [
    `--config=${path.join(nd, 'kubelet.yaml')}`,
    `--kubeconfig=${ctx.kubeconfig}`,
    `--root-dir=${path.join(nd, 'kubelet')}`,
    `--cert-dir=${path.join(nd, 'kubelet', 'pki')}`,
    `--hostname-override=${NODE_NAME}`,
    `--node-ip=${NODE_IP}`,
    '--node-labels=kubemcp.test/node=real',
    '--v=1',
  ]);
  ctx.launch('kube-proxy', bin(binaries, 'kube-proxy'), [
    `--config=${path.join(nd, 'kube-proxy.yaml')}`,
    '--v=1',
  ]);
  await waitUntil(
    `node ${NODE_NAME} to be Ready`,
    120_000,
    async () => {
      const res = await apiRequest(target, 'GET', `/api/v1/nodes/${NODE_NAME}`);
      const node = res.json<{ status?: { conditions?: Array<{ type: string; status: string }> } }>();
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    },
    path.join(dir, 'logs', 'kubelet.log'),
  );
  log(`  ✓ real node ${NODE_NAME} Ready (${((Date.now() - t0) / 1000).toFixed(1)}s)`);

  for (const obj of COREDNS_MANIFESTS()) {
    await create(target, collectionPath(obj as Parameters<typeof collectionPath>[0]), obj);
  }
  await waitUntil(
    'CoreDNS to be ready',
    120_000,
    async () => {
      const res = await apiRequest(target, 'GET', '/apis/apps/v1/namespaces/kube-system/deployments/coredns');
      return res.json<{ status?: { readyReplicas?: number } }>().status?.readyReplicas === 1;
    },
    path.join(dir, 'logs', 'kubelet.log'),
  );
  log(`  ✓ CoreDNS ready at ${DNS_IP} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
}

// ---------------------------------------------------------------------------------------------
// Teardown

function pidsMatching(pred: (cmdline: string) => boolean): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (pred(cmd)) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

async function killAndWait(pids: readonly number[], graceMs: number): Promise<void> {
  const alive = (p: number) => {
    try {
      process.kill(p, 0);
      return !fs.readFileSync(`/proc/${p}/stat`, 'utf8').includes(') Z');
    } catch {
      return false;
    }
  };
  for (const p of pids) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      // gone
    }
  }
  const deadline = Date.now() + graceMs;
  while (pids.some(alive) && Date.now() < deadline) await sleep(100);
  for (const p of pids.filter(alive)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
  while (pids.some(alive)) await sleep(50);
}

/** The mount points under `prefix`, deepest first. */
function mountsUnder(prefix: string): string[] {
  const lines = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  const points = lines
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => p !== undefined && (p === prefix || p.startsWith(`${prefix}/`)))
    .map((p) => p.replace(/\\040/g, ' '));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Removes the KUBE-* and CNI-* chains and the rules that jump to them, in every table. */
function removeChains(): void {
  if (!which('iptables')) return;
  for (const table of ['filter', 'nat', 'mangle', 'raw']) {
    const rules = sh('iptables', ['-t', table, '-S']).stdout ?? '';
    const ours = (name: string) => /^(KUBE-|CNI-)/.test(name);
    // Rules in built-in chains that jump to ours.
    for (const line of rules.split('\n')) {
      const m = line.match(/^-A (\S+) (.*)$/);
      if (!m || ours(m[1] as string)) continue;
      if (/-j (KUBE-|CNI-)\S*/.test(m[2] as string)) {
        sh('sh', ['-c', `iptables -t ${table} -D ${m[1]} ${m[2]}`]);
      }
    }
    const chains = rules
      .split('\n')
      .map((l) => l.match(/^-N (\S+)/)?.[1])
      .filter((c): c is string => c !== undefined && ours(c));
    for (const c of chains) sh('iptables', ['-t', table, '-F', c]);
    for (const c of chains) sh('iptables', ['-t', table, '-X', c]);
  }
}

async function removeCgroups(): Promise<void> {
  const root = '/sys/fs/cgroup';
  let controllers: string[];
  try {
    controllers = fs.readdirSync(root);
  } catch {
    return;
  }
  const rmTree = (d: string) => {
    let entries: fs.Dirent[] = [];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) rmTree(path.join(d, e.name));
    try {
      fs.rmdirSync(d);
    } catch {
      // busy or gone
    }
  };
  // Container processes outlive their shims: whatever still runs in a kubepods cgroup is a
  // container of this node (a Pod the kubelet had not stopped yet), and goes first.
  const procs = new Set<number>();
  const collect = (d: string) => {
    let entries: fs.Dirent[] = [];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    try {
      for (const pid of fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n')) {
        if (/^\d+$/.test(pid)) procs.add(Number(pid));
      }
    } catch {
      // not a cgroup directory
    }
    for (const e of entries) if (e.isDirectory()) collect(path.join(d, e.name));
  };
  for (const c of controllers) collect(path.join(root, c, 'kubepods'));
  for (const pid of procs) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  const deadline = Date.now() + 5000;
  while ([...procs].some((p) => fs.existsSync(`/proc/${p}`)) && Date.now() < deadline) await sleep(50);
  for (const c of controllers) {
    const k = path.join(root, c, 'kubepods');
    if (fs.existsSync(k)) rmTree(k);
    const k2 = path.join(root, c, 'kubepods.slice');
    if (fs.existsSync(k2)) rmTree(k2);
  }
}

/** True when a real node's files exist in `dir` (started, or left by a crashed run). */
export function hasRealNode(dir: string): boolean {
  return fs.existsSync(path.join(nodeDir(dir), 'host-state.json'));
}

export interface TeardownOptions {
  readonly target?: ApiTarget;
  /** Stops one named cluster process (from the pid file); returns when it is gone. */
  readonly stopProcess: (name: string) => Promise<void>;
  readonly ctr?: string;
  /** The kube-proxy binary, for `kube-proxy --cleanup`. */
  readonly kubeProxy?: string;
}

/**
 * Takes the real node down and undoes every change it made to the host (see the module comment
 * for the order). Safe to call after a crash and when nothing runs.
 */
export async function teardownRealNode(dir: string, opts: TeardownOptions): Promise<string[]> {
  const nd = nodeDir(dir);
  const left: string[] = [];
  const sock = containerdSocket(dir);
  // 1. Pods go while the kubelet runs, so CNI DEL frees their addresses and veths.
  if (opts.target) {
    const t = opts.target;
    try {
      const res = await apiRequest(
        t,
        'GET',
        `/api/v1/pods?fieldSelector=spec.nodeName%3D${NODE_NAME}`,
        undefined,
        5000,
      );
      const pods =
        res.json<{ items?: Array<{ metadata: { name: string; namespace: string } }> }>().items ?? [];
      // Controllers would recreate them: cordon first.
      await setUnschedulable(t, NODE_NAME, true);
      for (const p of pods) {
        await apiRequest(t, 'DELETE', `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}`, {
          gracePeriodSeconds: 2,
        }).catch(() => undefined);
      }
      if (opts.ctr && fs.existsSync(sock)) {
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline) {
          const out = sh(opts.ctr, ['-a', sock, '-n', 'k8s.io', 'tasks', 'ls', '-q']).stdout ?? '';
          if (out.trim() === '') break;
          await sleep(500);
        }
        // StopPodSandbox has run CNI DEL for each; give the last one a moment.
        await sleep(1000);
      }
    } catch {
      // the API server is gone: the steps below still clean up
    }
  }
  // 2. kubelet, then kube-proxy and its own cleanup.
  await opts.stopProcess('kubelet');
  await opts.stopProcess('kube-proxy');
  if (opts.kubeProxy) sh(opts.kubeProxy, ['--cleanup']);
  // 3. containerd and its shims.
  await opts.stopProcess('containerd');
  await killAndWait(
    pidsMatching((c) => c.includes('containerd-shim-runc-v2') && c.includes(sock)),
    5000,
  );
  // Container processes of Pods the kubelet had not stopped (they outlive their shims).
  await removeCgroups();
  await opts.stopProcess('api-proxy');
  // 5. mounts, deepest first (sandbox shm, overlay rootfs, pod volumes; runc state).
  for (const m of mountsUnder(nd)) {
    const r = sh('umount', [m]);
    if (r.status !== 0) sh('umount', ['-l', m]);
  }
  for (const m of mountsUnder('/run/netns').filter((p) => /cni-/.test(p))) sh('umount', [m]);
  // 6. iptables chains.
  removeChains();
  // 7. the bridge (and any veth still attached).
  for (const line of (sh('ip', ['-o', 'link', 'show', 'master', BRIDGE]).stdout ?? '').split('\n')) {
    const veth = line.match(/^\d+: ([^@:]+)/)?.[1];
    if (veth) sh('ip', ['link', 'del', veth]);
  }
  sh('ip', ['link', 'del', BRIDGE]);
  // 8. cgroups.
  await removeCgroups();
  // 9. sysctls and host paths.
  let state: NodeState | undefined;
  try {
    state = JSON.parse(fs.readFileSync(path.join(nd, 'host-state.json'), 'utf8')) as NodeState;
  } catch {
    state = undefined;
  }
  if (state) {
    for (const [k, v] of Object.entries(state.sysctls)) if (readSysctl(k) !== v) writeSysctl(k, v);
    for (const p of state.createdPaths) fs.rmSync(p, { recursive: true, force: true });
  }
  for (const f of fs.existsSync('/var/lib/cni/results') ? fs.readdirSync('/var/lib/cni/results') : []) {
    if (f.startsWith(`${CNI_NETWORK}-`)) fs.rmSync(path.join('/var/lib/cni/results', f), { force: true });
  }
  // What is left, for the caller to report.
  if (mountsUnder(nd).length > 0) left.push(`mounts under ${nd}`);
  if (sh('ip', ['link', 'show', BRIDGE]).status === 0) left.push(`interface ${BRIDGE}`);
  if (
    /-N (KUBE-|CNI-)/.test(`${sh('iptables', ['-t', 'nat', '-S']).stdout}${sh('iptables', ['-S']).stdout}`)
  ) {
    left.push('iptables chains');
  }
  if (fs.existsSync('/sys/fs/cgroup/memory/kubepods')) left.push('kubepods cgroups');
  if (left.length === 0) fs.rmSync(nd, { recursive: true, force: true });
  return left;
}

/** Cordons (or uncordons) a node. */
export async function setUnschedulable(t: ApiTarget, node: string, unschedulable: boolean): Promise<void> {
  const res = await apiRequest(
    t,
    'PATCH',
    `/api/v1/nodes/${node}`,
    { spec: { unschedulable: unschedulable ? true : null } },
    5000,
    'application/merge-patch+json',
  );
  if (res.status !== 200)
    throw new HarnessError('kube-apiserver', `cordoning ${node}: HTTP ${res.status} ${res.body}`);
}
