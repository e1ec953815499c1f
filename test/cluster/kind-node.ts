/**
 * npm run kind:node-image — the kind node image of the in-cluster tier, Kubernetes v1.37.2.
 *
 * Where a registry answers, it is kind's own published `kindest/node` (UPSTREAM_NODE_IMAGE), pulled
 * and used unchanged.
 * Where none does, the same image is assembled here, as `kind build node-image` would assemble it,
 * from pinned parts the harness already builds, and cached as a Docker image whose tag carries a key
 * of every version and input (`kubemcp.local/kind-node:v1.37.2-<key>`):
 *
 * - a base image: a `debootstrap --variant=minbase` root of Debian trixie with kind's base package
 *   list, kind's own base files (`images/base/files` of sigs.k8s.io/kind, from the Go module cache),
 *   containerd, ctr and the runc shim (the harness's build), crictl, Debian's runc and CNI plugins;
 * - kubeadm, kubelet and kubectl in /usr/bin and the version in /kind/version;
 * - the images kubeadm asks for (`kubeadm config images list`), built here from the harness's
 *   binaries and tagged exactly as kubeadm and kind's containerd config name them, imported into the
 *   node's containerd as pinned images: kube-apiserver, kube-controller-manager, kube-scheduler,
 *   kube-proxy, etcd, CoreDNS, pause;
 * - kube-router as CNI and NetworkPolicy engine (test/cluster/kind/kube-router.yaml as kind's
 *   default CNI manifest), since kindnetd's source is not on the Go module proxy.
 *
 * Host settings are not baked in: test/cluster/kind.ts adds them to the cluster config, and only on
 * a host that needs them (hostNeeds()). The image's one addition to kind's entry point makes
 * read-only cgroup v1 controllers writable and does nothing elsewhere.
 *
 * Options: --local (build even where a registry answers), --no-pull (same), --quiet.
 * KUBEMCP_KIND_NODE_IMAGE names an image to use instead of all this.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { binaryPaths, ensureBinaries } from './build.js';
import {
  COMPONENTS,
  COREDNS_VERSION,
  ETCD_VERSION,
  KIND_VERSION,
  KUBE_ROUTER_VERSION,
  KUBERNETES_VERSION,
} from './components.js';
import { aptInstall, DOCKER_ENV, docker, dockerOut, ensureDocker, which } from './docker.js';
import { debianMirror } from './image.js';
import { HarnessError, log } from './log.js';
import { cacheDir, REPO_ROOT } from './paths.js';

/**
 * kind v0.33.0's own node image (its default, published with the release with this digest). kind
 * publishes one patch release per minor with each kind release: v1.37.0 here, where the local image
 * is built at the harness's v1.37.2.
 */
export const UPSTREAM_NODE_IMAGE =
  'kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5';
const SUITE = 'trixie';
/**
 * kind v0.33.0's base package list (images/base/Dockerfile), without fuse-overlayfs (rootless
 * only; kind's build adds its snapshotter, ours does not), nfs-common and open-iscsi (storage e2e
 * tests of Kubernetes itself), plus Debian's runc and CNI plugins, which kind builds from source,
 * and ipset for kube-router's image (the netfilter root is taken from this one).
 */
const BASE_PACKAGES = [
  'systemd',
  'dbus',
  'conntrack',
  'iptables',
  'nftables',
  'iproute2',
  'ethtool',
  'util-linux',
  'mount',
  'kmod',
  'libseccomp2',
  'pigz',
  'e2fsprogs',
  'bash',
  'ca-certificates',
  'curl',
  'jq',
  'procps',
  'runc',
  'containernetworking-plugins',
  'ipset',
];
const KIND_FILES_DIR = path.join(REPO_ROOT, 'test/cluster/kind');
/** The binaries the node image is made of (components.ts). */
const PARTS = [
  'kubernetes',
  'kubernetes-node',
  'kubeadm',
  'etcd',
  'coredns',
  'containerd',
  'crictl',
  'kube-router',
  'pause',
];

export interface HostNeeds {
  /** Root lacks CAP_SYS_RESOURCE (bit 24 of CapBnd): `docker run --privileged` fails. */
  readonly noSysResource: boolean;
  /** The host runs cgroup v1: the kubelet needs failCgroupV1: false. */
  readonly cgroupV1: boolean;
}

export function hostNeeds(): HostNeeds {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const capBnd = BigInt(`0x${status.match(/^CapBnd:\s*([0-9a-f]+)/m)?.[1] ?? 'ffffffffff'}`);
  return {
    noSysResource: (capBnd & (1n << 24n)) === 0n,
    cgroupV1: !fs.existsSync('/sys/fs/cgroup/cgroup.controllers'),
  };
}

function secs(since: number): string {
  const s = Math.round((Date.now() - since) / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 1048576)} MiB`;
}

function imageSize(ref: string): number {
  return Number(dockerOut(['image', 'inspect', '--format', '{{.Size}}', ref]).out) || 0;
}

function imageExists(ref: string): boolean {
  return dockerOut(['image', 'inspect', '--format', '{{.Id}}', ref]).ok;
}

function sh(script: string, what: string, args: readonly string[] = []): void {
  const res = spawnSync('bash', ['-c', script, 'sh', ...args], { stdio: ['ignore', 2, 2], env: DOCKER_ENV });
  if (res.status !== 0)
    throw new HarnessError(what, `${what} failed (exit ${res.status ?? res.error?.message})`);
}

/** Runs a long step with a line every 30 s, so a cold build shows it is alive. */
async function longStep(what: string, cmd: string, args: readonly string[], logFile: string): Promise<void> {
  const started = Date.now();
  const fd = fs.openSync(logFile, 'w');
  const child = spawn(cmd, [...args], { stdio: ['ignore', fd, fd], env: DOCKER_ENV });
  fs.closeSync(fd);
  const ticker = setInterval(() => log(`  … ${what} (${secs(started)}; log: ${logFile})`), 30_000);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', resolve);
    });
    if (code !== 0) {
      const tail = fs.readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
      throw new HarnessError(what, `${what} failed (exit ${code}); log: ${logFile}\n${tail}`);
    }
  } finally {
    clearInterval(ticker);
  }
}

/** kind's base files: images/base of sigs.k8s.io/kind at the pinned version, from the Go module cache. */
function kindSourceDir(): string {
  const moduleDir = path.join(REPO_ROOT, 'test/cluster/go/kind');
  const res = spawnSync('go', ['list', '-m', '-f', '{{.Dir}}', 'sigs.k8s.io/kind'], {
    cwd: moduleDir,
    encoding: 'utf8',
    env: { ...process.env, GOWORK: 'off', GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' },
  });
  const dir = res.stdout?.trim();
  if (res.status !== 0 || !dir || !fs.existsSync(path.join(dir, 'images/base/files'))) {
    throw new HarnessError(
      'kind',
      `could not locate sigs.k8s.io/kind ${KIND_VERSION}'s source: ${res.stderr?.trim()}`,
    );
  }
  return dir;
}

function hashTree(h: ReturnType<typeof createHash>, dir: string): void {
  for (const entry of fs
    .readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, entry.name);
    h.update(entry.name);
    if (entry.isDirectory()) hashTree(h, p);
    else h.update(fs.readFileSync(p));
  }
}

/** Inputs of the root image: kind's base files and our entry point. */
function rootInputs(kindSrc: string): string {
  const h = createHash('sha256');
  hashTree(h, path.join(kindSrc, 'images/base/files'));
  h.update(fs.readFileSync(path.join(KIND_FILES_DIR, 'kubemcp-entrypoint')));
  return h.digest('hex');
}

/** Inputs of the node image besides the binaries: the CNI manifest and the netfilter root's script. */
function nodeInputs(): string {
  const h = createHash('sha256');
  for (const f of ['kube-router.yaml', 'netfilter-rootfs.sh'])
    h.update(fs.readFileSync(path.join(KIND_FILES_DIR, f)));
  h.update(fs.readFileSync(fileURLToPath(import.meta.url)));
  return h.digest('hex');
}

function key(parts: readonly unknown[]): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(parts));
  return h.digest('hex').slice(0, 12);
}

/** docker, with its output shown only when it fails (the legacy builder's notice is noise here). */
function quiet(args: readonly string[], what: string): void {
  const res = spawnSync('docker', [...args], { encoding: 'utf8', env: DOCKER_ENV });
  if (res.status !== 0) {
    throw new HarnessError(
      'docker',
      `${what} failed (docker ${args.join(' ')}):\n${res.stdout}${res.stderr}`,
    );
  }
}

/** A Docker image built from a directory holding a Dockerfile and the files it copies. */
function buildSmallImage(tag: string, dockerfile: string, files: Record<string, string>): void {
  const ctx = fs.mkdtempSync(path.join(os.tmpdir(), 'kubemcp-img-'));
  try {
    for (const [name, src] of Object.entries(files)) {
      fs.copyFileSync(src, path.join(ctx, name));
      fs.chmodSync(path.join(ctx, name), 0o755);
    }
    fs.writeFileSync(path.join(ctx, 'Dockerfile'), dockerfile);
    quiet(['build', '-q', '-t', tag, ctx], `building ${tag}`);
  } finally {
    fs.rmSync(ctx, { recursive: true, force: true });
  }
}

/** The root: Debian trixie with kind's base packages and base files, set up as kind's Dockerfile does. */
async function ensureRootfs(kindSrc: string, rootKey: string): Promise<string> {
  const tag = `kubemcp.local/kind-rootfs:${SUITE}-${rootKey}`;
  if (imageExists(tag)) {
    log(`  ✓ root ${tag} (cached)`);
    return tag;
  }
  if (!which('debootstrap')) aptInstall(['debootstrap']);
  const started = Date.now();
  fs.mkdirSync(path.join(cacheDir(), 'logs'), { recursive: true });
  const work = fs.mkdtempSync(path.join(cacheDir(), 'kind-rootfs-'));
  const root = path.join(work, 'rootfs');
  try {
    const mirror = debianMirror();
    log(`▸ root: debootstrap ${SUITE} from ${mirror} with kind's base packages (about 1-2 minutes)`);
    await longStep(
      'debootstrap',
      'debootstrap',
      ['--variant=minbase', `--include=${BASE_PACKAGES.join(',')}`, SUITE, root, mirror],
      path.join(cacheDir(), 'logs', 'kind-rootfs-debootstrap.log'),
    );
    log("▸ root: kind's base files and its Dockerfile's systemd set-up");
    const files = path.join(kindSrc, 'images/base/files');
    // As kind's Dockerfile: scripts 0755, everything else 0644.
    sh(
      `set -e
      R="$1"; F="$2"; E="$3"
      install -m 0755 -D -t "$R/usr/local/bin" "$F"/usr/local/bin/* "$E"
      mkdir -p "$R/kind/bin" "$R/LICENSES"
      install -m 0644 -t "$R/kind" "$F"/kind/README.txt
      install -m 0755 -t "$R/kind/bin" "$F"/kind/bin/*
      chmod 755 "$R/kind" "$R/kind/bin"
      install -m 0644 -t "$R/LICENSES" "$F"/LICENSES/*
      install -m 0644 -t "$R/etc" "$F"/etc/crictl.yaml
      install -m 0644 -D -t "$R/etc/containerd" "$F"/etc/containerd/*
      install -m 0644 -D -t "$R/etc/default" "$F"/etc/default/*
      install -m 0644 -D -t "$R/etc/sysctl.d" "$F"/etc/sysctl.d/*
      install -m 0644 -D -t "$R/etc/systemd/system" "$F"/etc/systemd/system/*.service "$F"/etc/systemd/system/*.slice
      # kind's build adds the fuse-overlayfs snapshotter for rootless nodes; this one has none.
      rm -f "$R/etc/systemd/system/containerd-fuse-overlayfs.service"
      install -m 0644 -D -t "$R/etc/systemd/system/kubelet.service.d" "$F"/etc/systemd/system/kubelet.service.d/*
      mkdir -p "$R/opt/cni/bin"
      for p in "$R"/usr/lib/cni/*; do ln -sf "/usr/lib/cni/$(basename "$p")" "$R/opt/cni/bin/"; done
      chroot "$R" /bin/bash -c '
        set -e
        find /lib/systemd/system/sysinit.target.wants/ -name "systemd-tmpfiles-setup.service" -delete
        rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \\
          /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \\
          /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
        echo "ReadKMsg=no" >> /etc/systemd/journald.conf
        [ -e /sbin/init ] || ln -s /usr/lib/systemd/systemd /sbin/init
        systemctl enable kubelet.service containerd.service undo-mount-hacks.service
        systemctl mask systemd-binfmt.service
        mkdir -p /etc/kubernetes/manifests'
      rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/* "$R"/var/log/*.log "$R"/var/cache/debconf/*-old`,
      'setting up the kind root',
      [root, files, path.join(KIND_FILES_DIR, 'kubemcp-entrypoint')],
    );
    log(`▸ root: docker import ${tag}`);
    sh('tar -C "$1" -c . | docker import - "$2"', 'docker import of the kind root', [root, tag]);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  log(`  ✓ root ${tag}: ${mib(imageSize(tag))}, built in ${secs(started)}`);
  return tag;
}

/** The base image: the root plus containerd, ctr, the runc shim and crictl, as kind's base image. */
function ensureBase(rootfs: string, bins: Record<string, string>, baseKey: string): string {
  const tag = `kubemcp.local/kind-base:${SUITE}-${baseKey}`;
  if (imageExists(tag)) return tag;
  // kind's Dockerfile: `ctr oci spec | jq` adding the product-files hook and dropping rlimits.
  const spec = spawnSync(bins.ctr as string, ['oci', 'spec'], { encoding: 'utf8' });
  if (spec.status !== 0) throw new HarnessError('ctr', `ctr oci spec failed: ${spec.stderr}`);
  const oci = JSON.parse(spec.stdout) as {
    hooks?: { createContainer?: Array<{ path: string }> };
    process?: { rlimits?: unknown };
  };
  oci.hooks = { ...(oci.hooks ?? {}) };
  oci.hooks.createContainer = [
    ...(oci.hooks.createContainer ?? []),
    { path: '/kind/bin/mount-product-files.sh' },
  ];
  if (oci.process) delete oci.process.rlimits;
  const specFile = path.join(os.tmpdir(), `kubemcp-cri-base-${process.pid}.json`);
  fs.writeFileSync(specFile, `${JSON.stringify(oci, null, 2)}\n`);
  try {
    buildSmallImage(
      tag,
      [
        `FROM ${rootfs}`,
        'COPY containerd ctr containerd-shim-runc-v2 crictl /usr/local/bin/',
        'COPY cri-base.json /etc/containerd/cri-base.json',
        // systemd in a container: https://systemd.io/CONTAINER_INTERFACE/
        'ENV container=docker',
        'STOPSIGNAL SIGRTMIN+3',
        'ENTRYPOINT ["/usr/local/bin/kubemcp-entrypoint", "/sbin/init"]',
        '',
      ].join('\n'),
      {
        containerd: bins.containerd as string,
        ctr: bins.ctr as string,
        'containerd-shim-runc-v2': bins['containerd-shim-runc-v2'] as string,
        crictl: bins.crictl as string,
        'cri-base.json': specFile,
      },
    );
  } finally {
    fs.rmSync(specFile, { force: true });
  }
  return tag;
}

/** The netfilter userland (a few MiB) that kube-proxy and kube-router run on. */
function ensureNetfilter(base: string, baseKey: string): string {
  const tag = `kubemcp.local/kind-netfilter:${baseKey}`;
  if (imageExists(tag)) return tag;
  sh(
    'docker run --rm -i --network none --entrypoint /bin/bash "$1" -s < "$2" | docker import - "$3"',
    'the netfilter root',
    [base, path.join(KIND_FILES_DIR, 'netfilter-rootfs.sh'), tag],
  );
  return tag;
}

interface ComponentImage {
  readonly ref: string;
  readonly from: 'scratch' | 'netfilter';
  readonly binary: string;
  /** Where the binary goes in the image. */
  readonly at: string;
  readonly user?: string;
}

const PATH_ENV = 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin';

/** Maps kubeadm's image list (and kind's sandbox image) to the harness's binaries. */
function componentImages(required: readonly string[]): ComponentImage[] {
  const out: ComponentImage[] = [];
  for (const ref of required) {
    const repo = ref.replace(/:[^:/]+$/, '');
    const name = repo.split('/').pop() as string;
    switch (name) {
      case 'kube-apiserver':
      case 'kube-controller-manager':
      case 'kube-scheduler':
        out.push({ ref, from: 'scratch', binary: name, at: `/usr/local/bin/${name}` });
        break;
      case 'kube-proxy':
        out.push({ ref, from: 'netfilter', binary: name, at: '/usr/local/bin/kube-proxy' });
        break;
      case 'etcd':
        out.push({ ref, from: 'scratch', binary: 'etcd', at: '/usr/local/bin/etcd' });
        break;
      case 'coredns':
        out.push({ ref, from: 'scratch', binary: 'coredns', at: '/coredns' });
        break;
      case 'pause':
        out.push({ ref, from: 'scratch', binary: 'pause', at: '/pause', user: '65535:65535' });
        break;
      default:
        throw new HarnessError(
          'kind node image',
          `kubeadm asks for ${ref}, which this harness does not build`,
        );
    }
  }
  return out;
}

function buildComponentImage(c: ComponentImage, bins: Record<string, string>, netfilter: string): void {
  const from = c.from === 'scratch' ? 'scratch' : netfilter;
  const file = path.basename(c.at);
  const lines = [
    `FROM ${from}`,
    `COPY ${file} ${c.at}`,
    PATH_ENV,
    ...(c.user ? [`USER ${c.user}`] : []),
    `ENTRYPOINT ["${c.at}"]`,
  ];
  buildSmallImage(c.ref, `${lines.join('\n')}\n`, { [file]: bins[c.binary] as string });
}

export interface NodeImage {
  readonly ref: string;
  /** 'upstream': kindest/node as published; 'local': assembled here (this run or cached). */
  readonly source: 'upstream' | 'local' | 'given';
  readonly built: boolean;
  readonly seconds: number;
}

function tryPull(ref: string): boolean {
  log(`▸ docker pull ${ref}`);
  const res = spawnSync('docker', ['pull', ref], {
    stdio: ['ignore', 2, 2],
    env: DOCKER_ENV,
    timeout: 120_000,
  });
  return res.status === 0;
}

/** The node image to create kind clusters with: upstream where a registry answers, else local. */
export async function ensureNodeImage(opts: { local?: boolean } = {}): Promise<NodeImage> {
  await ensureDocker();
  const given = process.env.KUBEMCP_KIND_NODE_IMAGE;
  if (given) return { ref: given, source: 'given', built: false, seconds: 0 };
  const local = opts.local || process.env.KUBEMCP_KIND_LOCAL_NODE === '1';
  if (!local && (imageExists(UPSTREAM_NODE_IMAGE) || tryPull(UPSTREAM_NODE_IMAGE))) {
    return { ref: UPSTREAM_NODE_IMAGE, source: 'upstream', built: false, seconds: 0 };
  }
  if (!local) log(`  ${UPSTREAM_NODE_IMAGE} cannot be pulled here: assembling the node image locally`);
  return buildLocalNodeImage();
}

async function buildLocalNodeImage(): Promise<NodeImage> {
  const started = Date.now();
  const built = await ensureBinaries({ only: PARTS });
  const bins = binaryPaths(built) as Record<string, string>;
  const kindSrc = kindSourceDir();
  const dirs = Object.fromEntries(built.map((b) => [b.component.name, path.basename(b.dir)]));
  const rootKey = key([SUITE, BASE_PACKAGES, rootInputs(kindSrc), KIND_VERSION]);
  const baseKey = key([rootKey, dirs.containerd, dirs.crictl]);
  const nodeKey = key([
    baseKey,
    dirs,
    nodeInputs(),
    KUBERNETES_VERSION,
    ETCD_VERSION,
    COREDNS_VERSION,
    KUBE_ROUTER_VERSION,
  ]);
  const tag = `kubemcp.local/kind-node:${KUBERNETES_VERSION}-${nodeKey}`;
  if (imageExists(tag)) {
    log(`  ✓ node image ${tag} (cached)`);
    return { ref: tag, source: 'local', built: false, seconds: 0 };
  }
  log(`▸ assembling the kind node image ${tag}`);
  const rootfs = await ensureRootfs(kindSrc, rootKey);
  const base = ensureBase(rootfs, bins, baseKey);
  let t = Date.now();
  const netfilter = ensureNetfilter(base, baseKey);

  const container = dockerOut(['run', '-d', '--network', 'none', '--entrypoint', 'sleep', base, 'infinity']);
  if (!container.ok) throw new HarnessError('docker', `could not start a build container from ${base}`);
  const id = container.out;
  try {
    for (const b of ['kubeadm', 'kubelet', 'kubectl']) {
      docker(['cp', bins[b] as string, `${id}:/usr/bin/${b}`], `copying ${b}`);
    }
    const exec = (args: string[], what: string, input?: string) => {
      const res = spawnSync('docker', ['exec', '-i', id, ...args], {
        encoding: 'utf8',
        env: DOCKER_ENV,
        ...(input === undefined ? {} : { input }),
      });
      if (res.status !== 0) throw new HarnessError('kind node image', `${what} failed: ${res.stderr}`);
      return res.stdout;
    };
    exec(['chown', 'root:root', '/usr/bin/kubeadm', '/usr/bin/kubelet', '/usr/bin/kubectl'], 'chown');
    exec(['sh', '-c', 'cat > /kind/version'], 'writing /kind/version', KUBERNETES_VERSION);
    const required = exec(
      ['kubeadm', 'config', 'images', 'list', '--kubernetes-version', KUBERNETES_VERSION],
      'kubeadm config images list',
    )
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    const sandbox = exec(['cat', '/etc/containerd/config.toml'], 'reading containerd config').match(
      /sandbox_image\s*=\s*"([^"]+)"/,
    )?.[1];
    if (sandbox && !required.includes(sandbox)) required.push(sandbox);
    const images = componentImages(required);
    const routerRef = `kubemcp.local/kube-router:${KUBE_ROUTER_VERSION}`;
    log(`▸ component images: ${[...required, routerRef].join(', ')}`);
    for (const c of images) buildComponentImage(c, bins, netfilter);
    buildComponentImage(
      { ref: routerRef, from: 'netfilter', binary: 'kube-router', at: '/usr/local/bin/kube-router' },
      bins,
      netfilter,
    );
    const manifest = fs
      .readFileSync(path.join(KIND_FILES_DIR, 'kube-router.yaml'), 'utf8')
      .replaceAll('KUBE_ROUTER_IMAGE', routerRef);
    exec(
      ['sh', '-c', 'mkdir -p /kind/manifests && cat > /kind/manifests/default-cni.yaml'],
      'writing the CNI manifest',
      manifest,
    );
    log(`  ✓ component images in ${secs(t)}`);

    t = Date.now();
    log("▸ importing them into the node's containerd (pinned)");
    spawnSync(
      'docker',
      ['exec', '-d', id, 'sh', '-c', 'containerd > /var/log/kubemcp-build-containerd.log 2>&1'],
      { env: DOCKER_ENV },
    );
    const deadline = Date.now() + 30_000;
    while (
      spawnSync('docker', ['exec', id, 'ctr', 'version'], { env: DOCKER_ENV, stdio: 'ignore' }).status !== 0
    ) {
      if (Date.now() > deadline)
        throw new HarnessError('containerd', 'containerd in the build container did not start');
      await new Promise((r) => setTimeout(r, 300));
    }
    for (const ref of [...required, routerRef]) {
      sh(
        'docker save "$1" | docker exec -i "$2" ctr --namespace=k8s.io images import --label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack --digests - >/dev/null',
        `importing ${ref}`,
        [ref, id],
      );
    }
    const listed = exec(['ctr', '--namespace=k8s.io', 'images', 'list', '-q'], 'ctr images list');
    for (const ref of [...required, routerRef]) {
      const full = ref.includes('.') && ref.split('/')[0]?.includes('.') ? ref : `docker.io/${ref}`;
      if (!listed.split('\n').includes(full)) {
        throw new HarnessError(
          'kind node image',
          `${full} is not in the node's containerd after the import:\n${listed}`,
        );
      }
    }
    exec(
      [
        'sh',
        '-c',
        'pkill containerd; for i in $(seq 50); do pgrep containerd >/dev/null || exit 0; sleep 0.2; done; exit 1',
      ],
      'stopping containerd',
    );
    exec(['sh', '-c', 'rm -rf /run/containerd /var/log/kubemcp-build-containerd.log /tmp/*'], 'cleaning up');
    log(`  ✓ imported in ${secs(t)}`);
    t = Date.now();
    log(`▸ docker commit ${tag}`);
    docker(
      ['commit', '--change', 'ENTRYPOINT [ "/usr/local/bin/kubemcp-entrypoint", "/sbin/init" ]', id, tag],
      'docker commit of the node image',
    );
    log(`  ✓ committed in ${secs(t)}`);
  } finally {
    spawnSync('docker', ['rm', '-f', '-v', id], { env: DOCKER_ENV, stdio: 'ignore' });
  }
  // Only the committed node image is needed; the component images stay for a rebuild.
  const seconds = (Date.now() - started) / 1000;
  return { ref: tag, source: 'local', built: true, seconds };
}

/** What the node image holds and how big it is. */
export function describeNodeImage(img: NodeImage): string {
  const size = imageSize(img.ref);
  const from =
    img.source === 'upstream'
      ? "kind's published image"
      : img.source === 'given'
        ? 'KUBEMCP_KIND_NODE_IMAGE'
        : 'assembled locally';
  const lines = [
    `kind node image ${img.ref}: ${mib(size)} (${from}${img.built ? `, built in ${Math.round(img.seconds)}s` : ''})`,
  ];
  const inside = [
    'echo "Kubernetes $(cat /kind/version): kubeadm $(kubeadm version -o short), $(kubelet --version), kubectl $(kubectl version --client | head -1)"',
    'containerd --version',
    'runc --version | head -1',
    'crictl --version',
    'echo "CNI plugins: $(ls /opt/cni/bin | tr "\\n" " ")"',
    'echo "default CNI: $(grep -o "image: .*" /kind/manifests/default-cni.yaml | sort -u | tr "\\n" " ")"',
  ].join('; ');
  const res = spawnSync(
    'docker',
    ['run', '--rm', '--network', 'none', '--entrypoint', 'bash', img.ref, '-c', inside],
    {
      encoding: 'utf8',
      env: DOCKER_ENV,
    },
  );
  lines.push(
    ...res.stdout
      .trimEnd()
      .split('\n')
      .map((l) => `  ${l}`),
  );
  if (img.source === 'local') {
    lines.push('  images pinned in its containerd (built here from the binaries below):');
    const ids = dockerOut(['image', 'ls', '--format', '{{.ID}} {{.Repository}}'])
      .out.split('\n')
      .filter((l) => / (registry\.k8s\.io\/|kubemcp\.local\/kube-router)/.test(l))
      .map((l) => l.split(' ')[0] as string);
    for (const id of [...new Set(ids)]) {
      const out = dockerOut(['image', 'inspect', '--format', '{{join .RepoTags ", "}} {{.Size}}', id]).out;
      const at = out.lastIndexOf(' ');
      lines.push(`    ${out.slice(0, at)} (${mib(Number(out.slice(at + 1)))})`);
    }
    const comps = COMPONENTS.filter((c) => PARTS.includes(c.name)).map((c) => `${c.name} ${c.version}`);
    lines.push(`  binaries: ${comps.join(', ')}`);
    lines.push(
      `  root: Debian ${SUITE} (${BASE_PACKAGES.join(' ')} and their dependencies), kind ${KIND_VERSION}'s base files`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--root-only')) {
    await ensureDocker();
    const kindSrc = kindSourceDir();
    await ensureRootfs(kindSrc, key([SUITE, BASE_PACKAGES, rootInputs(kindSrc), KIND_VERSION]));
    return;
  }
  const started = Date.now();
  const img = await ensureNodeImage({ local: args.includes('--local') || args.includes('--no-pull') });
  process.stdout.write(`${describeNodeImage(img)}\n`);
  const needs = hostNeeds();
  process.stdout.write(
    `host: ${needs.noSysResource ? 'root lacks CAP_SYS_RESOURCE (kind runs its nodes without --privileged here)' : 'all capabilities'}; ${needs.cgroupV1 ? 'cgroup v1 (failCgroupV1: false)' : 'cgroup v2'}\n`,
  );
  process.stdout.write(`done in ${secs(started)}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`\n✗ ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
