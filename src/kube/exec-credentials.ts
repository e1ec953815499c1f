/**
 * Exec credential plugins (client.authentication.k8s.io v1 and v1beta1: EKS, GKE, AKS, OIDC login
 * helpers): run as client-go runs them, their ExecCredential checked as client-go checks it, cached
 * until it expires.
 */

import { execFile } from 'node:child_process';
import type { CredentialSet, Credentials } from './connection.js';
import { isObject, type Loose, str } from './kubeconfig-entries.js';

export interface ExecConfig {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly apiVersion: string;
  readonly installHint?: string;
  readonly cluster?: Loose;
}

/** Runs an exec credential plugin; caches what it returns until its expirationTimestamp. */
export function execCredentials(exec: ExecConfig, now: () => number = Date.now): Credentials {
  let cached: { set: CredentialSet; expiresAt: number } | undefined;
  let running: Promise<CredentialSet> | undefined;
  const run = async (): Promise<CredentialSet> => {
    const { set, expiresAt } = readExecCredential(exec, await runPlugin(exec));
    cached = { set, expiresAt };
    return set;
  };
  return {
    async get() {
      if (cached !== undefined && now() < cached.expiresAt) return cached.set;
      running ??= run().finally(() => {
        running = undefined;
      });
      return running;
    },
    refresh() {
      cached = undefined;
      return true;
    },
  };
}

/** Runs the plugin with KUBERNETES_EXEC_INFO (non-interactive) and returns what it printed. */
function runPlugin(exec: ExecConfig): Promise<string> {
  const info = {
    apiVersion: exec.apiVersion,
    kind: 'ExecCredential',
    spec: { interactive: false, ...(exec.cluster ? { cluster: exec.cluster } : {}) },
  };
  return new Promise<string>((resolve, reject) => {
    execFile(
      exec.command,
      [...exec.args],
      {
        env: { ...process.env, ...exec.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) },
        timeout: 60_000,
        maxBuffer: 1024 * 1024,
      },
      (err, out, stderr) => {
        if (err) reject(pluginFailure(exec, err, stderr));
        else resolve(out);
      },
    );
  });
}

/** Why the plugin failed: command not found (with its install hint), else stderr's last line, else how it ended. */
function pluginFailure(exec: ExecConfig, err: Error, stderr: string): Error {
  const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
  const hint = missing && exec.installHint ? `\n${exec.installHint}` : '';
  const { code, signal } = err as { code?: unknown; signal?: unknown };
  const ended =
    typeof code === 'number'
      ? `exit code ${code}`
      : typeof signal === 'string'
        ? `killed by ${signal}`
        : err.message;
  const detail = missing ? 'command not found' : stderr.trim().split('\n').pop() || ended;
  return new Error(`exec credential plugin ${exec.command} failed: ${detail}${hint}`);
}

/**
 * The credential in the plugin's answer, checked as client-go checks it (an ExecCredential of the
 * configured apiVersion with a token or a certificate and its key), and until when to use it.
 */
function readExecCredential(exec: ExecConfig, stdout: string): { set: CredentialSet; expiresAt: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new Error(`exec credential plugin ${exec.command} printed something other than an ExecCredential`);
  }
  const answered = isObject(parsed)
    ? `${str(parsed.apiVersion) ?? 'no apiVersion'} ${str(parsed.kind) ?? 'no kind'}`
    : '';
  if (!isObject(parsed) || parsed.kind !== 'ExecCredential' || parsed.apiVersion !== exec.apiVersion) {
    throw new Error(
      `exec credential plugin ${exec.command} answered with ${answered || 'something other than an object'}; it is configured for ${exec.apiVersion} ExecCredential`,
    );
  }
  const status = isObject(parsed.status) ? parsed.status : {};
  const token = str(status.token);
  const cert = str(status.clientCertificateData);
  const key = str(status.clientKeyData);
  if ((cert === undefined) !== (key === undefined)) {
    throw new Error(
      `exec credential plugin ${exec.command} returned a client certificate without its key, or a key without its certificate`,
    );
  }
  if (token === undefined && cert === undefined) {
    throw new Error(
      `exec credential plugin ${exec.command} returned neither a token nor a client certificate`,
    );
  }
  const set: CredentialSet = {
    ...(token === undefined ? {} : { token }),
    ...(cert === undefined ? {} : { cert, key }),
  };
  return { set, expiresAt: usableUntil(str(status.expirationTimestamp)) };
}

/**
 * Ten seconds before the expirationTimestamp, so a request never leaves with a credential about to
 * expire; never without one; at once (0) when it cannot be read.
 */
function usableUntil(expiry: string | undefined): number {
  if (expiry === undefined) return Number.POSITIVE_INFINITY;
  const at = Date.parse(expiry);
  return Number.isNaN(at) ? 0 : at - 10_000;
}
