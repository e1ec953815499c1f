/**
 * npm run test:e2e:kind — the in-cluster tier on a throwaway kind cluster.
 *
 * kind v0.33.0 is built from the Go module proxy (test/cluster/go/kind) and kubectl v1.37.2 is the
 * harness's own. The node image is kind's `kindest/node` where a registry answers and one assembled
 * locally where none does (kind-node.ts). The cluster config adds only what this host needs
 * (hostNeeds()): on cgroup v1 the kubelet's `failCgroupV1: false`; where root lacks CAP_SYS_RESOURCE
 * containerd's `restrict_oom_score_adj`, and kind's `docker` calls go through a wrapper that runs the
 * node containers with every capability but that one instead of `--privileged` (which asks for all of
 * them and fails). A normal host (GitHub's runners) gets neither.
 *
 * Then: the operator image from the Dockerfile and the e2e agent image (image.ts) are loaded with
 * `kind load docker-image`; config/default is checked with a server-side dry run (its namespace is
 * applied first: a dry run does not create it, and every namespaced object in it would fail with
 * `namespaces "kubemcp-system" not found`); the in-cluster tier (test/e2e/in-cluster.test.ts) and a
 * smoke of the e2e suite run against the cluster with KUBEMCP_E2E_IN_CLUSTER=kind. Then config/default
 * is deleted and the Helm chart is installed, smoke-tested, upgraded and uninstalled on the same
 * cluster (test/e2e/helm-in-cluster.test.ts, KUBEMCP_E2E_IN_CLUSTER=kind-helm). Logs and Events are
 * dumped on failure and the cluster is deleted (KUBEMCP_KIND_KEEP=1 keeps it).
 *
 * KUBEMCP_KIND_NODES=2 creates a second (worker) node. KUBEMCP_KIND_E2E=all runs the whole e2e suite
 * instead of the smoke.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { binaryPaths, ensureBinaries } from './build.js';
import { KIND_VERSION } from './components.js';
import { ensureDocker, which } from './docker.js';
import { AGENT_IMAGE, buildAgentImage, buildImage, DEFAULT_IMAGE } from './image.js';
import { describeNodeImage, ensureNodeImage, type HostNeeds, hostNeeds } from './kind-node.js';
import { HarnessError, log } from './log.js';
import { CLUSTER_DIR, cacheDir, REPO_ROOT } from './paths.js';

const CLUSTER_NAME = process.env.KUBEMCP_KIND_CLUSTER ?? 'kubemcp-e2e';
const OPERATOR_NS = 'kubemcp-system';
/**
 * The e2e files that run on kind besides the in-cluster tier: the MCP tools end to end, the
 * controller and the checks of the shipped manifests, against a real kubelet's Pods and kind's API
 * server. The rest of the suite needs the local control plane (faults, kubeconfig oracle) or runs
 * there already; KUBEMCP_KIND_E2E=all runs everything.
 */
export const KIND_SMOKE = ['test/e2e/in-cluster.test.ts', 'test/e2e/cluster.test.ts', 'test/e2e/mcp.test.ts'];
/** The Helm chart on the same cluster, run after the rest with config/default deleted. */
const HELM_FILE = 'test/e2e/helm-in-cluster.test.ts';
/** The namespace that file installs the chart into. */
const HELM_NS = 'kubemcp-helm';

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** The kind cluster config: what this host needs, nothing on a host that needs nothing. */
export function kindConfig(needs: HostNeeds, nodes: number): string {
  const lines = ['kind: Cluster', 'apiVersion: kind.x-k8s.io/v1alpha4', 'nodes:', '  - role: control-plane'];
  for (let i = 1; i < nodes; i++) lines.push('  - role: worker');
  if (needs.noSysResource) {
    // runc cannot write a container's oom_score_adj without CAP_SYS_RESOURCE ("can't get final
    // child's PID from pipe: EOF" for every sandbox).
    lines.push(
      'containerdConfigPatches:',
      '  - |-',
      '    [plugins."io.containerd.grpc.v1.cri"]',
      '      restrict_oom_score_adj = true',
    );
  }
  if (needs.cgroupV1) {
    // Kubernetes 1.35+ kubelets refuse cgroup v1 unless told otherwise.
    lines.push('kubeadmConfigPatches:', '  - |', '    kind: KubeletConfiguration', '    failCgroupV1: false');
  }
  return `${lines.join('\n')}\n`;
}

/**
 * A `docker` first on kind's PATH where root lacks CAP_SYS_RESOURCE: `--privileged` on run/create
 * becomes every capability but CAP_SYS_RESOURCE, unconfined /proc and /sys paths, all devices in the
 * device cgroup and /dev/kmsg; on exec it is dropped. Returns the directory to put first on PATH.
 */
function dockerWrapper(): string {
  const real = which('docker');
  if (!real) throw new HarnessError('docker', 'docker is not on PATH');
  const dir = path.join(cacheDir(), 'kind-docker-wrapper');
  fs.mkdirSync(dir, { recursive: true });
  const script = `#!/bin/sh
# Written by test/cluster/kind.ts for kind's own docker calls on a host whose root lacks
# CAP_SYS_RESOURCE, where \`docker run --privileged\` fails ("unable to apply caps").
sub="$1"
for a do
  shift
  if [ "$a" = --privileged ]; then
    case "$sub" in
      run|create) set -- "$@" --cap-add=ALL --cap-drop=SYS_RESOURCE --security-opt=systempaths=unconfined \\
        "--device-cgroup-rule=a *:* rwm" --device=/dev/kmsg ;;
    esac
  else
    set -- "$@" "$a"
  fi
done
exec ${real} "$@"
`;
  const file = path.join(dir, 'docker');
  if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== script) {
    fs.writeFileSync(file, script, { mode: 0o755 });
  }
  return dir;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'inherit', env, cwd: REPO_ROOT });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

async function must(what: string, cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<number> {
  log(`▸ ${what}`);
  const t0 = Date.now();
  const code = await run(cmd, args, env);
  if (code !== 0)
    throw new HarnessError(path.basename(cmd), `${what} failed (${cmd} ${args.join(' ')} exited ${code})`);
  log(`  ✓ ${what}: ${secs(Date.now() - t0)}`);
  return Date.now() - t0;
}

async function dumpDiagnostics(kubectl: string, kubeconfig: string): Promise<void> {
  log('──── diagnostics ────');
  const k = (...args: string[]) => run(kubectl, [`--kubeconfig=${kubeconfig}`, ...args]);
  await k('get', 'nodes,pods', '-A', '-o', 'wide');
  for (const ns of [OPERATOR_NS, HELM_NS]) {
    await k('-n', ns, 'get', 'deploy,svc,lease,networkpolicy', '-o', 'wide');
    await k('-n', ns, 'logs', '-l', 'app.kubernetes.io/name=kubemcp', '--tail=200', '--prefix');
  }
  await k('-n', 'kube-system', 'logs', '-l', 'k8s-app=kube-router', '--tail=50', '--prefix');
  await k('get', 'events', '-A', '--sort-by=.lastTimestamp');
}

async function main(): Promise<number> {
  const started = Date.now();
  const timings: Array<[string, number]> = [];
  const time = async <T>(what: string, fn: () => Promise<T> | T): Promise<T> => {
    const t0 = Date.now();
    const out = await fn();
    timings.push([what, Date.now() - t0]);
    return out;
  };
  await ensureDocker();
  const bins = await time('binaries (kind, kubectl)', async () =>
    binaryPaths(await ensureBinaries({ only: ['kind', 'kubernetes'] })),
  );
  const kind = bins.kind as string;
  const kubectl = bins.kubectl as string;
  const node = await time('node image', () => ensureNodeImage());
  process.stdout.write(`${describeNodeImage(node)}\n`);
  await time('operator and agent images', async () => {
    await buildImage();
    await buildAgentImage();
  });

  const needs = hostNeeds();
  const nodes = Number(process.env.KUBEMCP_KIND_NODES ?? '1');
  const kubeconfig = path.join(CLUSTER_DIR, 'kind-kubeconfig');
  const configFile = path.join(CLUSTER_DIR, 'kind-config.yaml');
  fs.mkdirSync(CLUSTER_DIR, { recursive: true });
  fs.writeFileSync(configFile, kindConfig(needs, nodes));
  const kindEnv = { ...process.env };
  if (needs.noSysResource) kindEnv.PATH = `${dockerWrapper()}${path.delimiter}${process.env.PATH ?? ''}`;
  log(
    `kind ${KIND_VERSION}, ${nodes} node(s), image ${node.ref}; host: ${needs.noSysResource ? 'no CAP_SYS_RESOURCE (node containers without --privileged)' : 'all capabilities'}, ${needs.cgroupV1 ? 'cgroup v1' : 'cgroup v2'}`,
  );
  log(
    `cluster config (${path.relative(REPO_ROOT, configFile)}):\n${fs.readFileSync(configFile, 'utf8').trimEnd()}`,
  );
  const existing = spawnSync(kind, ['get', 'clusters'], { encoding: 'utf8', env: kindEnv }).stdout ?? '';
  if (existing.split('\n').includes(CLUSTER_NAME)) {
    await must(
      `deleting the leftover kind cluster ${CLUSTER_NAME}`,
      kind,
      ['delete', 'cluster', '--name', CLUSTER_NAME],
      kindEnv,
    );
  }
  timings.push([
    'kind create cluster',
    await must(
      `creating kind cluster ${CLUSTER_NAME}`,
      kind,
      [
        'create',
        'cluster',
        '--name',
        CLUSTER_NAME,
        '--image',
        node.ref,
        '--config',
        configFile,
        '--kubeconfig',
        kubeconfig,
        '--wait',
        '180s',
      ],
      kindEnv,
    ),
  ]);
  const k = (...args: string[]) => [`--kubeconfig=${kubeconfig}`, ...args];
  let failed = true;
  try {
    timings.push([
      'kind load docker-image',
      await must(
        `loading ${DEFAULT_IMAGE} and ${AGENT_IMAGE} into kind`,
        kind,
        ['load', 'docker-image', DEFAULT_IMAGE, AGENT_IMAGE, '--name', CLUSTER_NAME],
        kindEnv,
      ),
    ]);
    await must(
      'the operator namespace (a server-side dry run does not create it)',
      kubectl,
      k('apply', '--server-side', '-f', 'config/manager/namespace.yaml'),
    );
    await must(
      'server-side dry run of config/default',
      kubectl,
      k('apply', '--server-side', '--dry-run=server', '-k', 'config/default'),
    );
    const files = process.env.KUBEMCP_KIND_E2E === 'all' ? [] : KIND_SMOKE;
    log(`▸ e2e on kind: ${files.length ? files.join(' ') : 'the whole suite'}`);
    const t0 = Date.now();
    const e2eEnv = {
      ...process.env,
      PATH: `${path.dirname(kubectl)}${path.delimiter}${process.env.PATH ?? ''}`,
      KUBEMCP_E2E_KUBECONFIG: kubeconfig,
    };
    const code = await run('npx', ['vitest', 'run', '--project', 'e2e', ...files], {
      ...e2eEnv,
      KUBEMCP_E2E_IN_CLUSTER: 'kind',
    });
    timings.push(['e2e on kind', Date.now() - t0]);
    failed = code !== 0;
    if (failed) return code;
    // The chart installs the same cluster-wide objects as config/default: that goes first.
    timings.push([
      'kubectl delete -k config/default',
      await must(
        'removing config/default before the Helm chart',
        kubectl,
        k('delete', '-k', 'config/default', '--ignore-not-found', '--wait=true', '--timeout=180s'),
      ),
    ]);
    log(`▸ e2e on kind: ${HELM_FILE}`);
    const t1 = Date.now();
    const helmCode = await run('npx', ['vitest', 'run', '--project', 'e2e', HELM_FILE], {
      ...e2eEnv,
      KUBEMCP_E2E_IN_CLUSTER: 'kind-helm',
    });
    timings.push(['the Helm chart on kind', Date.now() - t1]);
    failed = helmCode !== 0;
    return helmCode;
  } finally {
    if (failed) await dumpDiagnostics(kubectl, kubeconfig).catch(() => undefined);
    if (process.env.KUBEMCP_KIND_KEEP === '1') {
      log(`kept kind cluster ${CLUSTER_NAME}; KUBECONFIG=${kubeconfig}`);
    } else {
      const t0 = Date.now();
      await run(kind, ['delete', 'cluster', '--name', CLUSTER_NAME, '--kubeconfig', kubeconfig], kindEnv);
      timings.push(['kind delete cluster', Date.now() - t0]);
    }
    log(
      `kind tier timings: ${timings.map(([w, ms]) => `${w} ${secs(ms)}`).join('; ')}; total ${secs(Date.now() - started)}`,
    );
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`\n✗ ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
