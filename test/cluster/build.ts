/**
 * Builds the control-plane binaries from their Go modules and caches them by version and by a hash
 * of everything that shapes the build, so a second run builds nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { COMPONENTS, type Component } from './components.js';
import { HarnessError, log } from './log.js';
import { cacheDir } from './paths.js';

export interface BuiltComponent {
  readonly component: Component;
  /** Directory holding the component's binaries. */
  readonly dir: string;
  /** True when this call built it; false when it came from the cache. */
  readonly built: boolean;
  readonly seconds: number;
}

export type Binaries = Readonly<Record<string, string>>;

function goVersion(): string {
  const res = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (res.error || res.status !== 0) {
    throw new HarnessError(
      'go',
      'the Go toolchain (go >= 1.26) is needed to build the test control plane, and `go version` failed' +
        (res.error ? `: ${res.error.message}` : `: ${res.stderr.trim()}`) +
        '. Install Go, or point KUBEMCP_E2E_KUBECONFIG at an existing cluster.',
    );
  }
  return res.stdout.trim();
}

function buildKey(c: Component, gover: string): string {
  const h = createHash('sha256');
  // A module without dependencies (pause) has no go.sum.
  for (const f of ['go.mod', 'go.sum']) {
    const file = path.join(c.moduleDir, f);
    if (f === 'go.mod' || fs.existsSync(file)) h.update(fs.readFileSync(file));
  }
  // A module with Go source of its own (otelcol's main.go) is keyed by it too; modules that only
  // pin upstream commands have none, and their keys stay what they were.
  const sources = fs
    .readdirSync(c.moduleDir)
    .filter((f) => f.endsWith('.go'))
    .sort();
  for (const f of sources) h.update(fs.readFileSync(path.join(c.moduleDir, f)));
  h.update(JSON.stringify([c.binaries, c.tags ?? [], c.ldflags, gover, process.arch, process.platform]));
  return h.digest('hex').slice(0, 12);
}

function componentDir(c: Component, key: string): string {
  return path.join(cacheDir(), 'bin', `${c.name}-${c.version}-${key}`);
}

function outputs(c: Component): string[] {
  return [...Object.values(c.binaries), ...Object.keys(c.files ?? {})];
}

function isComplete(dir: string, c: Component): boolean {
  return outputs(c).every((b) => fs.existsSync(path.join(dir, b)));
}

function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

async function runGoBuild(c: Component, outDir: string, logFile: string): Promise<void> {
  // One package builds to a named file (a path ending in /v3 would otherwise name the binary "server");
  // several build into a directory, sharing compiled packages.
  const pkgs = Object.keys(c.binaries);
  const single = pkgs.length === 1 ? c.binaries[pkgs[0] as string] : undefined;
  const args = ['build', '-trimpath', '-o', single ? path.join(outDir, single) : `${outDir}${path.sep}`];
  if (c.tags?.length) args.push(`-tags=${c.tags.join(',')}`);
  args.push('-ldflags', c.ldflags.join(' '), ...pkgs);
  const out = fs.openSync(logFile, 'w');
  fs.writeSync(out, `$ (cd ${c.moduleDir} && go ${args.join(' ')})\n`);
  const child = spawn('go', args, {
    cwd: c.moduleDir,
    stdio: ['ignore', out, out],
    env: { ...process.env, GOWORK: 'off', CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly' },
  });
  fs.closeSync(out);
  const started = Date.now();
  const ticker = setInterval(() => {
    log(
      `  … still building ${c.name} ${c.version} (${formatDuration(Date.now() - started)}; log: ${logFile})`,
    );
  }, 30_000);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (status) => resolve(status));
    });
    if (code !== 0) {
      const tail = fs.readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
      throw new HarnessError(
        c.name,
        `building ${c.name} ${c.version} failed (go build exited ${code}); full log: ${logFile}\n${tail}`,
      );
    }
  } finally {
    clearInterval(ticker);
  }
}

/**
 * Returns the directory of each component's binaries, building what the cache lacks. `only` limits
 * it to the named components (a test that needs one tool, e.g. `otelcol`).
 */
export async function ensureBinaries(opts: { only?: readonly string[] } = {}): Promise<BuiltComponent[]> {
  const missing: Component[] = [];
  const result: BuiltComponent[] = [];
  const gover = goVersion();
  const keyed: Array<{ c: Component; key: string }> = [];
  for (const c of COMPONENTS) {
    if (opts.only !== undefined) {
      if (!opts.only.includes(c.name)) continue;
    } else if (c.kind) continue;
    const key = buildKey(c, gover);
    keyed.push({ c, key });
    if (!isComplete(componentDir(c, key), c)) missing.push(c);
  }
  if (missing.length > 0) {
    log(
      `Building ${missing.map((c) => `${c.name} ${c.version}`).join(', ')} from Go modules (cached under ${cacheDir()}).`,
    );
    log('  A cold build takes 10-25 minutes on 2 cores; later runs reuse the cache.');
  }
  for (const { c, key } of keyed) {
    const dir = componentDir(c, key);
    const started = Date.now();
    if (isComplete(dir, c)) {
      result.push({ component: c, dir, built: false, seconds: 0 });
      continue;
    }
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    const tmp = `${dir}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    const logFile = path.join(cacheDir(), 'logs', `build-${c.name}-${c.version}.log`);
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    log(`▸ building ${c.name} ${c.version} (${Object.values(c.binaries).join(', ')}); log: ${logFile}`);
    try {
      await runGoBuild(c, tmp, logFile);
      for (const write of Object.values(c.files ?? {})) write(tmp, c.moduleDir);
    } catch (err) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
    const seconds = (Date.now() - started) / 1000;
    log(`✓ built ${c.name} ${c.version} in ${formatDuration(seconds * 1000)}`);
    result.push({ component: c, dir, built: true, seconds });
  }
  return result;
}

/** Maps each binary name (kube-apiserver, etcd, kwok, ...) to its absolute path. */
export function binaryPaths(built: readonly BuiltComponent[]): Binaries {
  const out: Record<string, string> = {};
  for (const b of built) {
    for (const name of outputs(b.component)) out[name] = path.join(b.dir, name);
  }
  return out;
}
