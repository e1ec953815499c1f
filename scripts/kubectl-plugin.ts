/**
 * npm run kubectl-plugin — the kubectl plugin as krew installs it: one self-contained file,
 * `kubectl-kubemcp.mjs` (the CLI and its dependencies bundled by esbuild; it needs only Node.js ≥ 20
 * on PATH), packed with the licence notice and README into `kubectl-kubemcp-<version>.tar.gz`, whose
 * sha256 goes into the krew manifest (`plugins/krew/kubemcp.yaml`, a template the release fills in).
 *
 *   npm run kubectl-plugin [-- --out DIR]   (default DIR: dist-plugin/)
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const ROOT = path.resolve(import.meta.dirname, '..');

/** The archive the krew manifest points at, named by the release tag (v<version>). */
export function pluginArchiveName(version: string): string {
  return `kubectl-kubemcp-v${version}.tar.gz`;
}

/** The file krew's `bin` names; krew links `kubectl-kubemcp` on PATH to it. */
export const PLUGIN_ENTRY = 'kubectl-kubemcp.mjs';

export interface PluginBuild {
  readonly executable: string;
  readonly archive: string;
  readonly sha256: string;
  readonly bytes: number;
}

export async function buildKubectlPlugin(outDir: string): Promise<PluginBuild> {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const stage = path.join(outDir, 'stage');
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(stage, { recursive: true });
  // `.mjs`: Node runs it as an ES module wherever it lies (krew links `kubectl-kubemcp` to it, and
  // Node follows the link to the real file's name).
  const executable = path.join(stage, PLUGIN_ENTRY);
  await build({
    entryPoints: [path.join(ROOT, 'src/cli/kubectl-kubemcp.ts')],
    outfile: executable,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    legalComments: 'linked',
    define: { KUBEMCP_BUNDLED_VERSION: JSON.stringify(pkg.version) },
    // CommonJS dependencies bundled into an ES module still call require() for Node's built-ins.
    banner: {
      js: "import { createRequire as __kubemcpRequire } from 'node:module';\nconst require = __kubemcpRequire(import.meta.url);",
    },
    logLevel: 'warning',
    plugins: [
      {
        // src/util/yaml.ts loads `yaml` lazily through createRequire, which a bundler cannot follow;
        // the one-file plugin imports it statically instead.
        name: 'static-yaml',
        setup(b) {
          b.onLoad({ filter: /[\\/]src[\\/]util[\\/]yaml\.ts$/ }, () => ({
            contents: "import * as y from 'yaml';\nexport function yaml() { return y; }\n",
            loader: 'ts',
            resolveDir: path.join(ROOT, 'src/util'),
          }));
        },
      },
    ],
  });
  fs.chmodSync(executable, 0o755);
  fs.copyFileSync(path.join(ROOT, 'README.md'), path.join(stage, 'README.md'));
  const archive = path.join(outDir, pluginArchiveName(pkg.version));
  const tar = spawnSync(
    'tar',
    ['--sort=name', '--owner=0', '--group=0', '--mtime=@0', '-czf', archive, '-C', stage, '.'],
    { stdio: 'inherit' },
  );
  if (tar.status !== 0) throw new Error(`tar exited ${tar.status}`);
  const sha256 = createHash('sha256').update(fs.readFileSync(archive)).digest('hex');
  return { executable, archive, sha256, bytes: fs.statSync(executable).size };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  const out = path.resolve(values.out ?? path.join(ROOT, 'dist-plugin'));
  const t0 = Date.now();
  const b = await buildKubectlPlugin(out);
  process.stdout.write(
    `✓ ${path.relative(process.cwd(), b.executable)}: ${(b.bytes / 1024 / 1024).toFixed(1)} MiB, built in ${((Date.now() - t0) / 1000).toFixed(1)} s\n` +
      `✓ ${path.relative(process.cwd(), b.archive)}: sha256 ${b.sha256}\n`,
  );
}
