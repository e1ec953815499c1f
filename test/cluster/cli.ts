/**
 * npm run cluster:up | cluster:down | cluster:build | cluster:status — the local control plane for
 * development and e2e tests.
 */
import path from 'node:path';
import { binaryPaths, ensureBinaries } from './build.js';
import { isRunning, killClusterSync, startCluster, stopCluster } from './cluster.js';
import { HarnessError, log } from './log.js';
import { CLUSTER_DIR, REPO_ROOT } from './paths.js';

const USAGE = `Usage: tsx test/cluster/cli.ts <command>

Commands:
  up      build (or reuse cached) binaries and start the local control plane in .cluster/
          (kwok nodes; real Pods run on kind: npm run test:e2e:kind)
  down    stop it; no process of the harness keeps running
  build   only build and cache the binaries
  status  say whether a local cluster is running

Environment:
  KUBEMCP_CACHE_DIR       where built binaries are cached (default ~/.cache/kubemcp)
  KUBEMCP_CLUSTER_DIR     state directory of the cluster (default .cluster/ in the repository)
  KUBEMCP_APISERVER_PORT  fixed kube-apiserver port (default: a free port)`;

function rel(p: string): string {
  const r = path.relative(process.cwd(), p);
  return r.startsWith('..') ? p : r;
}

async function up(): Promise<void> {
  const started = Date.now();
  const built = await ensureBinaries();
  const port = process.env.KUBEMCP_APISERVER_PORT;
  if (port !== undefined && !/^\d+$/.test(port)) {
    throw new HarnessError('kube-apiserver', `KUBEMCP_APISERVER_PORT must be a port number, got "${port}"`);
  }
  log(`Starting the local control plane in ${rel(CLUSTER_DIR)}/ …`);
  // Interrupted while starting: leave nothing behind.
  const abort = (signal: NodeJS.Signals) => {
    killClusterSync(CLUSTER_DIR);
    process.stderr.write(`\n✗ interrupted (${signal}); stopped what had started\n`);
    process.exit(130);
  };
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  const state = await startCluster({
    dir: CLUSTER_DIR,
    binaries: binaryPaths(built),
    ...(port ? { apiserverPort: Number(port) } : {}),
  });
  process.off('SIGINT', abort);
  process.off('SIGTERM', abort);
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    [
      `Local Kubernetes control plane is up in ${secs}s (API server ${state.server}).`,
      '',
      'Use it with:',
      `  export KUBECONFIG=${rel(state.kubeconfig)}`,
      `  export PATH=${rel(path.dirname(state.kubectl))}:$PATH   # kubectl matching the server`,
      '  kubectl get nodes',
      '',
      'Nodes: kwok (Pods become Ready at once; nothing runs). Real Pods: npm run test:e2e:kind.',
      '',
      'Contexts: kubemcp-local (admin), kubemcp-local-alice, kubemcp-local-bob (ordinary users).',
      `Logs: ${rel(path.join(state.dir, 'logs'))}/   Stop it with: npm run cluster:down`,
      '',
    ].join('\n'),
  );
}

async function main(): Promise<void> {
  const cmd = process.argv[2];
  process.chdir(REPO_ROOT);
  switch (cmd) {
    case 'up':
      return up();
    case 'down': {
      const n = await stopCluster(CLUSTER_DIR);
      process.stdout.write(
        n > 0
          ? `Stopped the local control plane (${n} processes).\n`
          : 'No local control plane was running.\n',
      );
      return;
    }
    case 'build': {
      const built = await ensureBinaries();
      for (const b of built) {
        process.stdout.write(
          `${b.component.name} ${b.component.version}: ${b.dir}${b.built ? ` (built in ${b.seconds.toFixed(0)}s)` : ' (cached)'}\n`,
        );
      }
      return;
    }
    case 'status': {
      const state = await isRunning(CLUSTER_DIR);
      process.stdout.write(
        state ? `running: ${state.server} (KUBECONFIG=${rel(state.kubeconfig)})\n` : 'not running\n',
      );
      process.exitCode = state ? 0 : 1;
      return;
    }
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      process.stderr.write(`${cmd ? `unknown command "${cmd}"\n\n` : ''}${USAGE}\n`);
      process.exitCode = 2;
  }
}

main().catch((err: unknown) => {
  if (err instanceof HarnessError) {
    process.stderr.write(`\n✗ ${err.message}\n`);
  } else {
    process.stderr.write(`\n✗ ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exitCode = 1;
});
