/**
 * The other Kubernetes MCP servers of the side-by-side benchmark (bench/peers.ts): installed from the
 * npm registry into the cache (never as dependencies of this project) and run as their documentation
 * says, over Streamable HTTP on a loopback port.
 *
 * - kubernetes-mcp-server (containers/kubernetes-mcp-server): the npm package is a small Node wrapper
 *   that spawns the Go binary of a per-platform package. Its README: `--port` "starts the MCP server in
 *   Streamable HTTP mode (path /mcp)", `--kubeconfig`; `--help` adds `--bind-address`.
 * - mcp-server-kubernetes (Flux159): Node; most tools run kubectl synchronously per call. Its
 *   ADVANCED_README: `ENABLE_UNSAFE_STREAMABLE_HTTP_TRANSPORT=1`, `PORT`, `HOST`; "Large clusters":
 *   `SPAWN_MAX_BUFFER` (bytes) when kubectl's output exceeds the default of 1 MiB. It finds kubectl on
 *   PATH and hands it `KUBECONFIG`.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cacheDir } from '../../test/cluster/paths.js';
import { processTree } from './proc-tree.js';

export interface PeerPackage {
  /** npm package name. */
  readonly name: string;
  readonly version: string;
}

export const KUBERNETES_MCP_SERVER: PeerPackage = { name: 'kubernetes-mcp-server', version: '0.0.67' };
export const MCP_SERVER_KUBERNETES: PeerPackage = { name: 'mcp-server-kubernetes', version: '4.1.7' };

/** Where a peer is installed: <cache>/peers/<name>-<version> (KUBEMCP_CACHE_DIR is honoured). */
export function peerDir(p: PeerPackage): string {
  return path.join(cacheDir(), 'peers', `${p.name}-${p.version}`);
}

function installedVersion(p: PeerPackage): string | undefined {
  try {
    const pkg = path.join(peerDir(p), 'node_modules', p.name, 'package.json');
    return (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** `npm install --prefix <peerDir> --no-save <name>@<version>` unless that version is there already. */
export function ensurePeerInstalled(p: PeerPackage, log: (m: string) => void): { installed: boolean } {
  if (installedVersion(p) === p.version) return { installed: false };
  const dir = peerDir(p);
  fs.mkdirSync(dir, { recursive: true });
  log(`▸ npm install ${p.name}@${p.version} into ${dir}`);
  const res = spawnSync(
    'npm',
    ['install', '--prefix', dir, '--no-save', '--no-audit', '--no-fund', `${p.name}@${p.version}`],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (res.status !== 0 || installedVersion(p) !== p.version)
    throw new Error(`npm install ${p.name}@${p.version} failed (exit ${res.status ?? res.error?.message})`);
  return { installed: true };
}

export interface PeerProcess {
  /** The spawned process (root of the process tree). */
  readonly pid: number;
  /** The process that serves MCP: the root, or the Go binary under the npm wrapper. */
  readonly serverPid: number;
  readonly url: string;
  readonly logFile: string;
  /** The command line as run (argv, paths as on this machine). */
  readonly argv: readonly string[];
  /** The environment variables set for it on top of the benchmark's own environment. */
  readonly env: Readonly<Record<string, string>>;
  /** Seconds from spawn to the first HTTP answer. */
  readonly readySeconds: number;
  stop(): Promise<void>;
}

interface SpawnSpec {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly port: number;
  readonly logFile: string;
  /** Finds the serving process once the tree is up (default: the root). */
  readonly serverPid?: (root: number) => number | undefined;
}

/** Spawns a server in its own process group; resolves when http://127.0.0.1:<port>/ answers anything. */
async function spawnServer(spec: SpawnSpec, timeoutMs = 60_000): Promise<PeerProcess> {
  fs.mkdirSync(path.dirname(spec.logFile), { recursive: true });
  const out = fs.openSync(spec.logFile, 'w');
  const started = performance.now();
  const child: ChildProcess = spawn(spec.argv[0] as string, spec.argv.slice(1), {
    env: { ...process.env, ...spec.env },
    stdio: ['ignore', out, out],
    detached: true, // own process group: stop() ends the wrapper and what it spawned
  });
  fs.closeSync(out);
  const pid = child.pid ?? -1;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  };
  const onExit = () => killGroup('SIGKILL');
  process.once('exit', onExit);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.off('exit', onExit);
      if (child.exitCode === null && child.signalCode === null) {
        killGroup('SIGTERM');
        const timer = setTimeout(() => killGroup('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      killGroup('SIGKILL'); // anything the wrapper left behind
    })();
    return stopping;
  };
  const base = `http://127.0.0.1:${spec.port}`;
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        const tail = fs.readFileSync(spec.logFile, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
        throw new Error(`${spec.argv.join(' ')} exited (${child.exitCode ?? child.signalCode}):\n${tail}`);
      }
      try {
        await fetch(`${base}/`, { signal: AbortSignal.timeout(2000) });
        break; // any HTTP answer: it is listening
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${base} not answering after ${timeoutMs / 1000}s`);
      await sleep(100);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const readySeconds = (performance.now() - started) / 1000;
  const serverPid = spec.serverPid?.(pid) ?? pid;
  return {
    pid,
    serverPid,
    url: `${base}/mcp`,
    logFile: spec.logFile,
    argv: spec.argv,
    env: spec.env,
    readySeconds,
    stop,
  };
}

export interface PeerStart {
  readonly port: number;
  readonly kubeconfig: string;
  readonly logFile: string;
}

/** kubernetes-mcp-server --port P --bind-address 127.0.0.1 --kubeconfig F (the npm wrapper, as npx runs it). */
export function startKubernetesMcpServer(o: PeerStart): Promise<PeerProcess> {
  const dir = path.join(peerDir(KUBERNETES_MCP_SERVER), 'node_modules', KUBERNETES_MCP_SERVER.name);
  return spawnServer({
    argv: [
      process.execPath,
      path.join(dir, 'bin', 'index.js'),
      '--port',
      String(o.port),
      '--bind-address',
      '127.0.0.1',
      '--kubeconfig',
      o.kubeconfig,
    ],
    env: {},
    port: o.port,
    logFile: o.logFile,
    // The wrapper's only child is the Go binary.
    serverPid: (root) => processTree(root)[1],
  });
}

export interface MskStart extends PeerStart {
  /** Directory of the kubectl to put first on PATH. */
  readonly kubectlDir?: string;
  /** SPAWN_MAX_BUFFER in bytes; undefined for the default (1 MiB). */
  readonly spawnMaxBuffer?: number;
}

/** ENABLE_UNSAFE_STREAMABLE_HTTP_TRANSPORT=1 PORT=P HOST=127.0.0.1 KUBECONFIG=F [SPAWN_MAX_BUFFER=N] mcp-server-kubernetes */
export function startMcpServerKubernetes(o: MskStart): Promise<PeerProcess> {
  const dir = path.join(peerDir(MCP_SERVER_KUBERNETES), 'node_modules', MCP_SERVER_KUBERNETES.name);
  const env: Record<string, string> = {
    ENABLE_UNSAFE_STREAMABLE_HTTP_TRANSPORT: '1',
    PORT: String(o.port),
    HOST: '127.0.0.1',
    KUBECONFIG: o.kubeconfig,
    ...(o.spawnMaxBuffer === undefined ? {} : { SPAWN_MAX_BUFFER: String(o.spawnMaxBuffer) }),
    ...(o.kubectlDir === undefined
      ? {}
      : { PATH: `${o.kubectlDir}${path.delimiter}${process.env.PATH ?? ''}` }),
  };
  return spawnServer({
    argv: [process.execPath, path.join(dir, 'dist', 'index.js')],
    env,
    port: o.port,
    logFile: o.logFile,
  });
}
