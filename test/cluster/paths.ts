import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Where a running local cluster keeps its state: certificates, kubeconfig, logs, pid file. */
export const CLUSTER_DIR = process.env.KUBEMCP_CLUSTER_DIR ?? path.join(REPO_ROOT, '.cluster');

/** Built binaries, by version, shared by every checkout on this machine. */
export function cacheDir(): string {
  if (process.env.KUBEMCP_CACHE_DIR) return process.env.KUBEMCP_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
  return path.join(base, 'kubemcp');
}
