/**
 * Helm for the chart tests: built from the Go module proxy (test/cluster/go/helm pins
 * helm.sh/helm/v4) and cached under ~/.cache/kubemcp like the control plane's binaries.
 *
 *   npm run helm -- template charts/kubemcp     # builds helm on first use, then runs it
 *   npm run helm -- --helm3 lint charts/kubemcp # the same with Helm 3
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { binaryPaths, ensureBinaries } from './build.js';
import { HarnessError } from './log.js';

/**
 * The absolute path of the pinned helm binary (Helm 4, or Helm 3 with `3`), building it when the
 * cache lacks it.
 */
export async function ensureHelm(major: 3 | 4 = 4): Promise<string> {
  const name = major === 4 ? 'helm' : 'helm3';
  const helm = binaryPaths(await ensureBinaries({ only: [name] }))[name];
  if (!helm)
    throw new HarnessError('helm', `the ${name} component is missing from test/cluster/components.ts`);
  return helm;
}

export interface HelmResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs helm with its state directories pointed at a throwaway place, so that a developer's own
 * repositories, plugins and registry logins neither shape nor suffer the tests.
 */
export function runHelm(
  helm: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; stateDir?: string } = {},
): HelmResult {
  const state = opts.stateDir;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...(state
      ? {
          HELM_CACHE_HOME: `${state}/cache`,
          HELM_CONFIG_HOME: `${state}/config`,
          HELM_DATA_HOME: `${state}/data`,
        }
      : {}),
    ...opts.env,
  };
  const res = spawnSync(helm, args, { cwd: opts.cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (res.error) throw new HarnessError('helm', `running ${helm} failed: ${res.error.message}`);
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const helm3 = args[0] === '--helm3';
  const helm = await ensureHelm(helm3 ? 3 : 4);
  const res = spawnSync(helm, helm3 ? args.slice(1) : args, { stdio: 'inherit' });
  process.exit(res.status ?? 1);
}
