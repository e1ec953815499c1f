/**
 * Docker Engine for the operator image and the kind tier: installs Debian's `docker.io` when no
 * engine is present and starts `dockerd` when none runs. The daemon is started without its default
 * bridge and iptables rules (`--bridge=none --iptables=false`): builds use the host network, and
 * kind's nodes sit on the `kind` network kind creates, reached from the host only through the API
 * server's port published on 127.0.0.1. A daemon this module
 * started is recorded in a marker file and stopped by stopDocker(); one that was already running
 * is left alone.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HarnessError, log } from './log.js';
import { cacheDir } from './paths.js';

/** Docker 20.10 (Debian bookworm) has no BuildKit plugin installed; the classic builder is used. */
export const DOCKER_ENV: NodeJS.ProcessEnv = { ...process.env, DOCKER_BUILDKIT: '0' };

const MARKER = '/run/kubemcp-dockerd.pid';

export function which(cmd: string): string | undefined {
  const res = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return res.status === 0 ? res.stdout.trim() : undefined;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** apt-get install of Debian packages, with apt's own progress on stderr. */
export function aptInstall(packages: readonly string[]): void {
  if (packages.length === 0) return;
  if (!isRoot()) {
    throw new HarnessError('apt-get', `installing ${packages.join(', ')} needs root; install them and retry`);
  }
  log(`▸ apt-get install ${packages.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...packages]] as const) {
    const res = spawnSync('apt-get', [...args], { stdio: ['ignore', 2, 2], env });
    if (res.status !== 0) {
      throw new HarnessError(
        'apt-get',
        `apt-get ${args.join(' ')} failed (exit ${res.status ?? res.error?.message})`,
      );
    }
  }
}

export function dockerRunning(): boolean {
  return spawnSync('docker', ['info'], { stdio: 'ignore', env: DOCKER_ENV }).status === 0;
}

/** Makes `docker` work: installs docker.io and starts dockerd when needed. */
export async function ensureDocker(): Promise<void> {
  if (which('docker') && dockerRunning()) return;
  if (!which('dockerd')) aptInstall(['docker.io']);
  if (dockerRunning()) return;
  if (!isRoot()) throw new HarnessError('docker', 'no Docker daemon runs, and starting one needs root');
  const logFile = path.join(cacheDir(), 'logs', 'dockerd.log');
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  log(`▸ starting dockerd (log: ${logFile})`);
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(
    'dockerd',
    ['--bridge=none', '--iptables=false', '--ip-masq=false', '--ip-forward=false'],
    {
      detached: true,
      stdio: ['ignore', fd, fd],
    },
  );
  fs.closeSync(fd);
  let exited: string | undefined;
  child.once('exit', (code) => {
    exited = `exited with code ${code}`;
  });
  child.once('error', (err) => {
    exited = err.message;
  });
  child.unref();
  fs.writeFileSync(MARKER, String(child.pid));
  const deadline = Date.now() + 60_000;
  while (!dockerRunning()) {
    if (exited) throw new HarnessError('dockerd', `${exited}; log: ${logFile}`);
    if (Date.now() > deadline) throw new HarnessError('dockerd', `not answering after 60 s; log: ${logFile}`);
    await sleep(500);
  }
  log('  ✓ dockerd running');
}

/** Stops the dockerd that ensureDocker() started (and nothing else). Returns true when it did. */
export async function stopDocker(): Promise<boolean> {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(MARKER, 'utf8').trim());
  } catch {
    return false;
  }
  const alive = () => {
    try {
      process.kill(pid, 0);
      return !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z');
    } catch {
      return false;
    }
  };
  if (pid > 0 && alive() && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('dockerd')) {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 30_000;
    while (alive() && Date.now() < deadline) await sleep(200);
    if (alive()) process.kill(pid, 'SIGKILL');
  }
  fs.rmSync(MARKER, { force: true });
  return true;
}

/** Runs docker with its output on stderr; throws when it fails. */
export function docker(args: readonly string[], what: string): void {
  const res = spawnSync('docker', [...args], { stdio: ['ignore', 2, 2], env: DOCKER_ENV });
  if (res.status !== 0) throw new HarnessError('docker', `${what} failed (docker ${args.join(' ')})`);
}

export function dockerOut(args: readonly string[]): { ok: boolean; out: string } {
  const res = spawnSync('docker', [...args], { encoding: 'utf8', env: DOCKER_ENV });
  return { ok: res.status === 0, out: (res.stdout ?? '').trim() };
}
