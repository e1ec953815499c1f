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
 * Options: --local or --no-pull (build even where a registry answers), --root-only (only the Debian
 * root, which needs no Go-built binary).
 * KUBEMCP_KIND_NODE_IMAGE names an image to use instead of all this.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
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
import { DOCKER_ENV, docker, dockerOut, ensureDocker } from './docker.js';
import {
  BASE_PACKAGES,
  buildComponentImage,
  componentImages,
  ensureBase,
  ensureNetfilter,
  ensureRootfs,
  imageExists,
  imageSize,
  KIND_FILES_DIR,
  key,
  kindSourceDir,
  mib,
  nodeInputs,
  PARTS,
  quiet,
  rootInputs,
  SUITE,
  secs,
  sh,
} from './kind-node-parts.js';
import { HarnessError, log } from './log.js';
import { cacheDir } from './paths.js';

/**
 * kind v0.33.0's own node image (its default, published with the release with this digest). kind
 * publishes one patch release per minor with each kind release: v1.37.0 here, where the local image
 * is built at the harness's v1.37.2.
 */
export const UPSTREAM_NODE_IMAGE =
  'kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5';
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
  // Cached twice: in Docker, and as a `docker save` archive under ~/.cache/kubemcp (same key), which
  // outlives Docker's storage (a CI cache of ~/.cache/kubemcp, a reinstalled engine).
  const archive = path.join(cacheDir(), 'kind-node', `kind-node-${KUBERNETES_VERSION}-${nodeKey}.tar`);
  if (imageExists(tag)) {
    log(`  ✓ node image ${tag} (cached)`);
    return { ref: tag, source: 'local', built: false, seconds: 0 };
  }
  if (fs.existsSync(archive)) {
    const t0 = Date.now();
    quiet(['load', '-i', archive], `loading ${archive}`);
    if (imageExists(tag)) {
      log(`  ✓ node image ${tag} loaded from ${archive} in ${secs(t0)}`);
      return { ref: tag, source: 'local', built: false, seconds: 0 };
    }
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
  t = Date.now();
  fs.mkdirSync(path.dirname(archive), { recursive: true });
  // Older node images' archives go: each is about 1 GiB.
  for (const f of fs.readdirSync(path.dirname(archive))) {
    if (f !== path.basename(archive)) fs.rmSync(path.join(path.dirname(archive), f), { force: true });
  }
  quiet(['save', '-o', `${archive}.tmp`, tag], `saving ${tag}`);
  fs.renameSync(`${archive}.tmp`, archive);
  log(`  ✓ saved to ${archive} in ${secs(t)}`);
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
