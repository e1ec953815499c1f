/**
 * The Go-built binaries of the local test control plane and of the kind node image (kind-node.ts):
 * which module builds them, at what version, with which flags. Versions are pinned in each module's go.mod under test/cluster/go/.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { HarnessError } from './log.js';
import { REPO_ROOT } from './paths.js';

export const KUBERNETES_VERSION = 'v1.37.2';
export const ETCD_VERSION = 'v3.6.16';
export const KWOK_VERSION = 'v0.8.0';
export const CONTAINERD_VERSION = 'v2.2.9';
export const COREDNS_VERSION = 'v1.14.7';
/** The kind node image's own parts (test/cluster/kind-node.ts). */
export const CRICTL_VERSION = 'v1.37.0';
/** The only kube-router release on the Go module proxy; the CNI and NetworkPolicy engine of the node image. */
export const KUBE_ROUTER_VERSION = 'v2.1.0';
export const KIND_VERSION = 'v0.33.0';
/** Our own pause program (test/cluster/go/pause), tagged as kubeadm's sandbox image. */
export const PAUSE_VERSION = 'v1.0.0';
/** go.opentelemetry.io/collector release of test/cluster/go/otelcol (its v1 modules are at v1.71.0). */
export const OTELCOL_VERSION = 'v0.165.0';
/** helm.sh/helm/v4 release of test/cluster/go/helm (the chart tests). */
export const HELM_VERSION = 'v4.3.2';
/** helm.sh/helm/v3 release of test/cluster/go/helm3 (the chart must work with Helm 3 too). */
export const HELM3_VERSION = 'v3.22.1';

export interface Component {
  /** Name used in progress output, log files and the cache directory. */
  readonly name: string;
  readonly version: string;
  /** Directory of the Go module that pins it. */
  readonly moduleDir: string;
  /** Package path -> output binary name. */
  readonly binaries: Readonly<Record<string, string>>;
  readonly tags?: readonly string[];
  readonly ldflags: readonly string[];
  /**
   * Part of the locally built kind node image (kind-node.ts) or kind itself, not of the local control
   * plane: built by `npm run kind:node-image` / `test:e2e:kind`, not by `cluster:build`.
   */
  readonly kind?: boolean;
  /** Not part of the cluster: a tool a test starts itself (the OpenTelemetry Collector). */
  readonly testTool?: boolean;
  /** Extra files written next to the binaries after the build (name -> writer). */
  readonly files?: Readonly<Record<string, (outDir: string, moduleDir: string) => void>>;
}

/** The Stage manifests kwok needs (it exits "no stages found" without them), taken from its module. */
const KWOK_STAGES = [
  'kustomize/stage/node/fast/node-initialize.yaml',
  'kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml',
  'kustomize/stage/pod/fast/pod-ready.yaml',
  'kustomize/stage/pod/fast/pod-complete.yaml',
  'kustomize/stage/pod/fast/pod-delete.yaml',
];

function writeKwokStages(outDir: string, moduleDir: string): void {
  const res = spawnSync('go', ['list', '-m', '-f', '{{.Dir}}', 'sigs.k8s.io/kwok'], {
    cwd: moduleDir,
    encoding: 'utf8',
    env: { ...process.env, GOWORK: 'off', GOTOOLCHAIN: 'local' },
  });
  const kwokDir = res.stdout?.trim();
  if (res.status !== 0 || !kwokDir) {
    throw new HarnessError(
      'kwok',
      `could not locate the kwok module source: ${res.stderr?.trim() ?? res.error?.message}`,
    );
  }
  const docs = KWOK_STAGES.map((f) => fs.readFileSync(path.join(kwokDir, f), 'utf8').trim());
  fs.writeFileSync(path.join(outDir, 'kwok-stages.yaml'), `${docs.join('\n---\n')}\n`);
}

function versionLdflags(pkg: string, version: string): string[] {
  const [major, minor] = version.replace(/^v/, '').split('.');
  return [
    `-X ${pkg}.gitVersion=${version}`,
    `-X ${pkg}.gitMajor=${major}`,
    `-X ${pkg}.gitMinor=${minor}`,
    `-X ${pkg}.gitTreeState=clean`,
  ];
}

export const COMPONENTS: readonly Component[] = [
  {
    name: 'kubernetes',
    version: KUBERNETES_VERSION,
    moduleDir: path.join(REPO_ROOT, 'test/cluster/go/k8s'),
    // Built in one `go build` so the four binaries share compiled packages.
    binaries: {
      'k8s.io/kubernetes/cmd/kube-apiserver': 'kube-apiserver',
      'k8s.io/kubernetes/cmd/kube-controller-manager': 'kube-controller-manager',
      'k8s.io/kubernetes/cmd/kube-scheduler': 'kube-scheduler',
      'k8s.io/kubernetes/cmd/kubectl': 'kubectl',
    },
    tags: ['selinux', 'notest'],
    ldflags: [
      '-s',
      '-w',
      ...versionLdflags('k8s.io/component-base/version', KUBERNETES_VERSION),
      ...versionLdflags('k8s.io/client-go/pkg/version', KUBERNETES_VERSION),
    ],
  },
  {
    name: 'etcd',
    version: ETCD_VERSION,
    moduleDir: path.join(REPO_ROOT, 'test/cluster/go/etcd'),
    binaries: { 'go.etcd.io/etcd/server/v3': 'etcd' },
    ldflags: ['-s', '-w'],
  },
  {
    name: 'kwok',
    version: KWOK_VERSION,
    moduleDir: path.join(REPO_ROOT, 'test/cluster/go/kwok'),
    binaries: { 'sigs.k8s.io/kwok/cmd/kwok': 'kwok' },
    ldflags: ['-s', '-w'],
    files: { 'kwok-stages.yaml': writeKwokStages },
  },
  {
    // The kind node image's kubelet and kube-proxy. A module of its own (same kubernetes version and
    // replaces as ../k8s): they need go.sum entries the control plane does not, and they must not
    // change its build key.
    name: 'kubernetes-node',
    version: KUBERNETES_VERSION,
    moduleDir: path.join(REPO_ROOT, 'test/cluster/go/k8s-node'),
    binaries: {
      'k8s.io/kubernetes/cmd/kubelet': 'kubelet',
      'k8s.io/kubernetes/cmd/kube-proxy': 'kube-proxy',
    },
    tags: ['selinux', 'notest'],
    ldflags: [
      '-s',
      '-w',
      ...versionLdflags('k8s.io/component-base/version', KUBERNETES_VERSION),
      ...versionLdflags('k8s.io/client-go/pkg/version', KUBERNETES_VERSION),
    ],
    kind: true,
  },
  {
    name: 'containerd',
    version: CONTAINERD_VERSION,
    moduleDir: path.join(REPO_ROOT, 'test/cluster/go/containerd'),
    binaries: {
      'github.com/containerd/containerd/v2/cmd/containerd': 'containerd',
      'github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2': 'containerd-shim-runc-v2',
      'github.com/containerd/containerd/v2/cmd/ctr': 'ctr',
    },
    // Static binaries without the snapshotters that need C libraries.
    tags: ['no_btrfs', 'no_devmapper', 'no_zfs'],
    ldflags: ['-s', '-w', `-X github.com/containerd/containerd/v2/version.Version=${CONTAINERD_VERSION}`],
    kind: true,
  },
  {
    name: 'coredns',
    version: COREDNS_VERSION,
    moduleDir: path.join(REPO_ROOT, 'test/cluster/go/coredns'),
    binaries: { 'github.com/coredns/coredns': 'coredns' },
    ldflags: ['-s', '-w'],
    kind: true,
  },
  {
    name: 'kubeadm',
    version: KUBERNETES_VERSION,
    moduleDir: path.join(REPO_ROOT, 'test/cluster/go/kubeadm'),
    binaries: { 'k8s.io/kubernetes/cmd/kubeadm': 'kubeadm' },
    tags: ['selinux', 'notest'],
    ldflags: [
      '-s',
      '-w',
      ...versionLdflags('k8s.io/component-base/version', KUBERNETES_VERSION),
      ...versionLdflags('k8s.io/client-go/pkg/version', KUBERNETES_VERSION),
    ],
    kind: true,
  },
  {
    name: 'crictl',
    version: CRICTL_VERSION,
    moduleDir: path.join(REPO_ROOT, 'test/cluster/go/crictl'),
    binaries: { 'sigs.k8s.io/cri-tools/cmd/crictl': 'crictl' },
    ldflags: ['-s', '-w', `-X sigs.k8s.io/cri-tools/pkg/version.Version=${CRICTL_VERSION}`],
    kind: true,
  },
  {
    name: 'kube-router',
    version: KUBE_ROUTER_VERSION,
    moduleDir: path.join(REPO_ROOT, 'test/cluster/go/kube-router'),
    binaries: { 'github.com/cloudnativelabs/kube-router/v2/cmd/kube-router': 'kube-router' },
    ldflags: [
      '-s',
      '-w',
      `-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=${KUBE_ROUTER_VERSION}`,
    ],
    kind: true,
  },
  {
    name: 'pause',
    version: PAUSE_VERSION,
    moduleDir: path.join(REPO_ROOT, 'test/cluster/go/pause'),
    binaries: { 'kubemcp.test/cluster/pause': 'pause' },
    ldflags: ['-s', '-w'],
    kind: true,
  },
  {
    name: 'kind',
    version: KIND_VERSION,
    moduleDir: path.join(REPO_ROOT, 'test/cluster/go/kind'),
    binaries: { 'sigs.k8s.io/kind': 'kind' },
    ldflags: ['-s', '-w'],
    kind: true,
  },
  {
    // Not part of the cluster: the tracing e2e test (test/e2e/tracing.test.ts) starts it. A main
    // package of our own (main.go) wires the two components it needs, as the collector builder would.
    name: 'otelcol',
    version: OTELCOL_VERSION,
    moduleDir: path.join(REPO_ROOT, 'test/cluster/go/otelcol'),
    binaries: { 'kubemcp.test/cluster/otelcol': 'otelcol' },
    ldflags: ['-s', '-w'],
    testTool: true,
  },
  {
    // Not part of the cluster: the chart tests (test/e2e/helm.test.ts, helm-lifecycle.test.ts) run it.
    // The module pins the command with a `tool` directive; the version is set as helm's Makefile does.
    name: 'helm',
    version: HELM_VERSION,
    moduleDir: path.join(REPO_ROOT, 'test/cluster/go/helm'),
    binaries: { 'helm.sh/helm/v4/cmd/helm': 'helm' },
    ldflags: [
      '-s',
      '-w',
      `-X helm.sh/helm/v4/internal/version.version=${HELM_VERSION}`,
      '-X helm.sh/helm/v4/internal/version.gitTreeState=clean',
    ],
    testTool: true,
  },
  {
    // Helm 3 takes the Kubernetes version it assumes (.Capabilities.KubeVersion, lint's deprecation
    // checks) from ldflags, v1.20 without them; its Makefile derives it from client-go (v0.37 here).
    name: 'helm3',
    version: HELM3_VERSION,
    moduleDir: path.join(REPO_ROOT, 'test/cluster/go/helm3'),
    binaries: { 'helm.sh/helm/v3/cmd/helm': 'helm3' },
    ldflags: [
      '-s',
      '-w',
      `-X helm.sh/helm/v3/internal/version.version=${HELM3_VERSION}`,
      '-X helm.sh/helm/v3/internal/version.gitTreeState=clean',
      '-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1',
      '-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=37',
      '-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1',
      '-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37',
    ],
    testTool: true,
  },
];
