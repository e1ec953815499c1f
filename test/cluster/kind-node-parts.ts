/**
 * The pieces of the locally built kind node image (kind-node.ts puts them together): the Debian root
 * with kind's base files, the base image with containerd and crictl, the netfilter root of kube-proxy
 * and kube-router, and the component images built from the harness's binaries. Each is a Docker image
 * cached by a key of its inputs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KIND_VERSION } from './components.js';
import { aptInstall, DOCKER_ENV, dockerOut, which } from './docker.js';
import { debianMirror } from './image.js';
import { HarnessError, log } from './log.js';
import { cacheDir, REPO_ROOT } from './paths.js';

export const SUITE = 'trixie';
/**
 * kind v0.33.0's base package list (images/base/Dockerfile), without fuse-overlayfs (rootless
 * only; kind's build adds its snapshotter, ours does not), nfs-common and open-iscsi (storage e2e
 * tests of Kubernetes itself), plus Debian's runc and CNI plugins, which kind builds from source,
 * and ipset for kube-router's image (the netfilter root is taken from this one).
 */
export const BASE_PACKAGES = [
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
export const KIND_FILES_DIR = path.join(REPO_ROOT, 'test/cluster/kind');
/** The binaries the node image is made of (components.ts). */
export const PARTS = [
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

export function secs(since: number): string {
  const s = Math.round((Date.now() - since) / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

export function mib(bytes: number): string {
  return `${Math.round(bytes / 1048576)} MiB`;
}

export function imageSize(ref: string): number {
  return Number(dockerOut(['image', 'inspect', '--format', '{{.Size}}', ref]).out) || 0;
}

export function imageExists(ref: string): boolean {
  return dockerOut(['image', 'inspect', '--format', '{{.Id}}', ref]).ok;
}

export function sh(script: string, what: string, args: readonly string[] = []): void {
  const res = spawnSync('bash', ['-c', script, 'sh', ...args], { stdio: ['ignore', 2, 2], env: DOCKER_ENV });
  if (res.status !== 0)
    throw new HarnessError(what, `${what} failed (exit ${res.status ?? res.error?.message})`);
}

/** Runs a long step with a line every 30 s, so a cold build shows it is alive. */
export async function longStep(
  what: string,
  cmd: string,
  args: readonly string[],
  logFile: string,
): Promise<void> {
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
export function kindSourceDir(): string {
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
export function rootInputs(kindSrc: string): string {
  const h = createHash('sha256');
  hashTree(h, path.join(kindSrc, 'images/base/files'));
  h.update(fs.readFileSync(path.join(KIND_FILES_DIR, 'kubemcp-entrypoint')));
  return h.digest('hex');
}

/** Inputs of the node image besides the binaries: the CNI manifest and the netfilter root's script. */
export function nodeInputs(): string {
  const h = createHash('sha256');
  for (const f of ['kube-router.yaml', 'netfilter-rootfs.sh'])
    h.update(fs.readFileSync(path.join(KIND_FILES_DIR, f)));
  for (const f of [fileURLToPath(import.meta.url), path.join(REPO_ROOT, 'test/cluster/kind-node.ts')]) {
    h.update(fs.readFileSync(f));
  }
  return h.digest('hex');
}

export function key(parts: readonly unknown[]): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(parts));
  return h.digest('hex').slice(0, 12);
}

/** docker, with its output shown only when it fails (the legacy builder's notice is noise here). */
export function quiet(args: readonly string[], what: string): void {
  const res = spawnSync('docker', [...args], { encoding: 'utf8', env: DOCKER_ENV });
  if (res.status !== 0) {
    throw new HarnessError(
      'docker',
      `${what} failed (docker ${args.join(' ')}):\n${res.stdout}${res.stderr}`,
    );
  }
}

/** A Docker image built from a directory holding a Dockerfile and the files it copies. */
export function buildSmallImage(tag: string, dockerfile: string, files: Record<string, string>): void {
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
export async function ensureRootfs(kindSrc: string, rootKey: string): Promise<string> {
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
export function ensureBase(rootfs: string, bins: Record<string, string>, baseKey: string): string {
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
export function ensureNetfilter(base: string, baseKey: string): string {
  const tag = `kubemcp.local/kind-netfilter:${baseKey}`;
  if (imageExists(tag)) return tag;
  sh(
    'docker run --rm -i --network none --entrypoint /bin/bash "$1" -s < "$2" | docker import - "$3"',
    'the netfilter root',
    [base, path.join(KIND_FILES_DIR, 'netfilter-rootfs.sh'), tag],
  );
  return tag;
}

export interface ComponentImage {
  readonly ref: string;
  readonly from: 'scratch' | 'netfilter';
  readonly binary: string;
  /** Where the binary goes in the image. */
  readonly at: string;
  readonly user?: string;
}

export const PATH_ENV = 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin';

/** Maps kubeadm's image list (and kind's sandbox image) to the harness's binaries. */
export function componentImages(required: readonly string[]): ComponentImage[] {
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

export function buildComponentImage(
  c: ComponentImage,
  bins: Record<string, string>,
  netfilter: string,
): void {
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
