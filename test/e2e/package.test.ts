/**
 * The npm package as a user gets it: `npm pack`, then `npm install ./kubemcp-X.tgz` in an empty
 * directory, then the installed `kubemcp` and `kubectl-kubemcp` executables against the real cluster
 * (`--version`, `check` directly and through kubectl's plugin mechanism, `serve` until /healthz
 * answers). Runs on the Node.js that runs the suite (`npm run test:node-lts` repeats it on the
 * image's Node.js). The npm registry is asked only for what npm's cache lacks.
 */

import { type SpawnOptions, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildKubectlPlugin, PLUGIN_ENTRY } from '../../scripts/kubectl-plugin.js';
import { CRD_FILE, CRD_NAME, GROUP, PLURAL, VERSION } from '../../src/api/v1alpha1/index.js';
import { applyManifestFile, waitForCrdEstablished } from '../cluster/apply.js';
import { freePort } from '../cluster/cluster.js';
import { cluster, kubeConfig, scratchNamespace } from './support.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  bin: Record<string, string>;
};
const suffix = randomBytes(3).toString('hex');
const user = `pkg-user-${suffix}`;
const policy = `e2e-package-${suffix}`;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(cmd: string, args: readonly string[], opts: SpawnOptions = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function must(cmd: string, args: readonly string[], opts: SpawnOptions = {}): Promise<Run> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

describe('the npm package, installed from its tarball', () => {
  const ns = scratchNamespace('pkg');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kubemcp-pkg-'));
  const app = path.join(work, 'app');
  const bin = path.join(app, 'node_modules', '.bin');
  let packed: { filename: string; size: number; unpackedSize: number; files: { path: string }[] };
  // The installed executables run on the Node.js of this run, with nothing of the repository around.
  const env = (): NodeJS.ProcessEnv => ({
    PATH: `${bin}${path.delimiter}${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
    HOME: work,
    KUBECONFIG: cluster().kubeconfig,
  });

  beforeAll(async () => {
    await must('npm', ['run', '--silent', 'build'], { cwd: ROOT });
    const out = await must('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT });
    const [first] = JSON.parse(out.stdout) as (typeof packed)[];
    if (!first) throw new Error(`npm pack printed no package: ${out.stdout}`);
    packed = first;
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), '{"name":"app","private":true}\n');
    const t0 = Date.now();
    await must(
      'npm',
      ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(work, packed.filename)],
      { cwd: app },
    );
    const installMs = Date.now() - t0;
    // Reported, not asserted: size and install time are facts for the docs, not pass/fail.
    console.log(
      `package: ${packed.filename} ${(packed.size / 1024).toFixed(0)} KiB packed, ${(packed.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${packed.files.length} files; npm install ${(installMs / 1000).toFixed(1)} s`,
    );

    const kc = kubeConfig();
    await applyManifestFile(kc, path.join(ROOT, CRD_FILE), 'kubemcp-e2e');
    await waitForCrdEstablished(kc, CRD_NAME);
    await kc.makeApiClient(CustomObjectsApi).createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'McpPolicy',
        metadata: { name: policy },
        spec: {
          subjects: [{ kind: 'User', name: user }],
          namespaces: { names: [ns()] },
          tools: ['list_pods'],
        },
      },
    });
  }, 300_000);

  afterAll(async () => {
    await kubeConfig()
      .makeApiClient(CustomObjectsApi)
      .deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name: policy })
      .catch(() => undefined);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('holds the build, the CRD and the docs, and nothing else', () => {
    const top = new Set(packed.files.map((f) => f.path.split('/')[0]));
    expect([...top].sort()).toEqual(['README.md', 'crds', 'dist', 'docs', 'package.json']);
    expect(packed.files.filter((f) => f.path.endsWith('.map'))).toEqual([]);
    for (const target of Object.values(pkg.bin)) {
      expect(packed.files.map((f) => f.path)).toContain(target.replace(/^\.\//, ''));
    }
    // Types-only and test-only packages stay out of what a user installs.
    expect(fs.existsSync(path.join(app, 'node_modules', '@kubernetes', 'client-node'))).toBe(false);
    expect(fs.existsSync(path.join(app, 'node_modules', 'kubemcp', 'dist', 'cli', 'main.js'))).toBe(true);
  });

  it('prints its version', async () => {
    const r = await run(path.join(bin, 'kubemcp'), ['--version'], { cwd: app, env: env() });
    expect(r).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  });

  it('answers `kubemcp check` from the live policies', async () => {
    const yes = await run(
      path.join(bin, 'kubemcp'),
      ['check', '--as', user, '--tool', 'list_pods', '--namespace', ns()],
      { cwd: app, env: env() },
    );
    expect(yes.stdout, yes.stderr).toContain(`yes — allowed by McpPolicy ${policy}`);
    expect(yes.code).toBe(0);
    const no = await run(
      path.join(bin, 'kubemcp'),
      ['check', '--as', user, '--tool', 'list_pods', '--namespace', 'kube-system'],
      { cwd: app, env: env() },
    );
    expect(no.stdout).toMatch(/^no — /);
    expect(no.code).toBe(1);
  });

  it('runs as a kubectl plugin: `kubectl kubemcp check`', async () => {
    const kubectl = cluster().kubectl ?? 'kubectl';
    const list = await run(kubectl, ['plugin', 'list'], { cwd: app, env: env() });
    expect(list.stdout).toContain(path.join(bin, 'kubectl-kubemcp'));
    const yes = await run(
      kubectl,
      ['kubemcp', 'check', '--as', user, '--tool', 'list_pods', '--namespace', ns()],
      {
        cwd: app,
        env: env(),
      },
    );
    expect(yes.stdout, yes.stderr).toContain(`yes — allowed by McpPolicy ${policy}`);
    expect(yes.code).toBe(0);
    const help = await run(kubectl, ['kubemcp', 'check', '--help'], { cwd: app, env: env() });
    expect(help.stdout).toContain('Usage: kubectl kubemcp check --as USER');
    const bad = await run(kubectl, ['kubemcp', 'check', '--tool'], { cwd: app, env: env() });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^kubectl kubemcp: /);
  });

  it('runs as krew installs it: the single-file plugin from its release archive', async () => {
    const built = await buildKubectlPlugin(path.join(work, 'plugin'));
    // What `kubectl krew install` does: unpack the archive, link kubectl-kubemcp to spec.bin.
    const unpacked = path.join(work, 'krew-store');
    const links = path.join(work, 'krew-bin');
    fs.mkdirSync(unpacked);
    fs.mkdirSync(links);
    await must('tar', ['-xzf', built.archive, '-C', unpacked]);
    fs.symlinkSync(path.join(unpacked, PLUGIN_ENTRY), path.join(links, 'kubectl-kubemcp'));
    // Only Node.js and the link on PATH: no node_modules anywhere near the plugin.
    const bare = {
      PATH: `${links}${path.delimiter}${path.dirname(process.execPath)}`,
      HOME: work,
      KUBECONFIG: cluster().kubeconfig,
    };
    const kubectl = cluster().kubectl ?? 'kubectl';
    const version = await run(kubectl, ['kubemcp', '--version'], { cwd: work, env: bare });
    expect(version).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
    const yes = await run(
      kubectl,
      ['kubemcp', 'check', '--as', user, '--tool', 'list_pods', '--namespace', ns()],
      {
        cwd: work,
        env: bare,
      },
    );
    expect(yes.stdout, yes.stderr).toContain(`yes — allowed by McpPolicy ${policy}`);
    expect(yes.code).toBe(0);
  }, 120_000);

  it('serves: `kubemcp serve` answers /healthz and stops on SIGTERM', async () => {
    const [mcpPort, healthPort] = [await freePort(), await freePort()];
    const child = spawn(
      path.join(bin, 'kubemcp'),
      [
        'serve',
        '--bind-address',
        '127.0.0.1',
        '--mcp-port',
        String(mcpPort),
        '--health-port',
        String(healthPort),
        '--public-url',
        `http://127.0.0.1:${mcpPort}`,
      ],
      { cwd: app, env: env(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    child.stdout?.on('data', (d: Buffer) => {
      log += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      log += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      let status = 0;
      for (let i = 0; i < 200 && status !== 200; i++) {
        status = await fetch(`http://127.0.0.1:${healthPort}/healthz`).then(
          (r) => r.status,
          () => 0,
        );
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status, log).toBe(200);
      const meta = await fetch(`http://127.0.0.1:${mcpPort}/.well-known/oauth-protected-resource`);
      expect(meta.status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited, log).toBe(0);
  }, 60_000);
});
