/**
 * Where the operator finds its cluster and credentials, the way controller-runtime does it:
 * an explicit kubeconfig file, else $KUBECONFIG (its files merged as kubectl merges them), else the
 * in-cluster ServiceAccount when running in a pod, else ~/.kube/config.
 *
 * Supported credentials: bearer tokens (inline or a token file, re-read every minute so projected
 * ServiceAccount tokens rotate), client certificates (inline or files), and exec credential plugins
 * (client.authentication.k8s.io v1 and v1beta1: EKS, GKE, AKS, OIDC login helpers). Not supported,
 * with a clear error: legacy auth-provider entries (replaced by exec plugins in kubectl 1.26),
 * basic auth, and proxy-url.
 */

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { yaml } from '../util/yaml.js';

/** Credentials for one request. */
export interface CredentialSet {
  readonly token?: string;
  /** PEM client certificate and key (exec plugins may hand these out). */
  readonly cert?: string;
  readonly key?: string;
}

export interface Credentials {
  get(): Promise<CredentialSet>;
  /** Drops a cached credential after a 401; true when fetching a new one may help. */
  refresh(): boolean;
}

export interface TlsSettings {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly insecureSkipTLSVerify?: boolean;
  readonly serverName?: string;
}

/** A resolved connection: one API server, its TLS settings and the credentials to present. */
export interface KubeConnection {
  readonly server: string;
  readonly tls: TlsSettings;
  readonly credentials: Credentials;
  /** The context's namespace (or the pod's, in-cluster). */
  readonly namespace?: string;
  /** The kubeconfig context used; undefined in-cluster. */
  readonly context?: string;
  /** Where this came from, for logs: a file path or `in-cluster`. */
  readonly source: string;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Projected ServiceAccount tokens rotate; client-go re-reads token files this often. */
const TOKEN_FILE_TTL_MS = 60_000;

type Loose = Record<string, unknown>;

function isObject(v: unknown): v is Loose {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

const NONE: Credentials = { get: async () => ({}), refresh: () => false };

function staticToken(token: string): Credentials {
  const set = { token };
  return { get: async () => set, refresh: () => false };
}

/** A token read from a file, re-read at most once a minute (and after a 401). */
export function tokenFile(file: string, now: () => number = Date.now): Credentials {
  let cached: { token: string; at: number } | undefined;
  return {
    async get() {
      if (cached === undefined || now() - cached.at >= TOKEN_FILE_TTL_MS) {
        let token: string;
        try {
          token = (await fs.promises.readFile(file, 'utf8')).trim();
          if (token === '') throw new Error(`token file ${file} is empty`);
        } catch (err) {
          // As client-go does: a token that was good a minute ago beats no token while the file
          // is being rotated; without one, the failure is the answer.
          if (cached === undefined) throw err;
          return { token: cached.token };
        }
        cached = { token, at: now() };
      }
      return { token: cached.token };
    },
    refresh() {
      if (cached !== undefined) cached = { token: cached.token, at: Number.NEGATIVE_INFINITY };
      return true;
    },
  };
}

interface ExecConfig {
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
    const info = {
      apiVersion: exec.apiVersion,
      kind: 'ExecCredential',
      spec: { interactive: false, ...(exec.cluster ? { cluster: exec.cluster } : {}) },
    };
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        exec.command,
        [...exec.args],
        {
          env: { ...process.env, ...exec.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) },
          timeout: 60_000,
          maxBuffer: 1024 * 1024,
        },
        (err, out, stderr) => {
          if (err) {
            const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
            const hint = missing && exec.installHint ? `\n${exec.installHint}` : '';
            // The last line of stderr, else how the plugin ended.
            const { code, signal } = err as { code?: unknown; signal?: unknown };
            const ended =
              typeof code === 'number'
                ? `exit code ${code}`
                : typeof signal === 'string'
                  ? `killed by ${signal}`
                  : err.message;
            const detail = missing ? 'command not found' : stderr.trim().split('\n').pop() || ended;
            reject(new Error(`exec credential plugin ${exec.command} failed: ${detail}${hint}`));
          } else resolve(out);
        },
      );
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(stdout);
    } catch {
      throw new Error(
        `exec credential plugin ${exec.command} printed something other than an ExecCredential`,
      );
    }
    const status = isObject(parsed) && isObject(parsed.status) ? parsed.status : {};
    const token = str(status.token);
    const cert = str(status.clientCertificateData);
    const key = str(status.clientKeyData);
    if (token === undefined && (cert === undefined || key === undefined)) {
      throw new Error(
        `exec credential plugin ${exec.command} returned neither a token nor a client certificate`,
      );
    }
    const expiry = str(status.expirationTimestamp);
    const expiresAt = expiry === undefined ? Number.POSITIVE_INFINITY : Date.parse(expiry);
    const set: CredentialSet = {
      ...(token === undefined ? {} : { token }),
      ...(cert === undefined ? {} : { cert, key }),
    };
    // Ten seconds early, so a request never leaves with a credential about to expire.
    cached = { set, expiresAt: Number.isNaN(expiresAt) ? 0 : expiresAt - 10_000 };
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

/** The in-cluster connection of a pod's ServiceAccount, or undefined outside a pod. */
export function inClusterConnection(
  env: NodeJS.ProcessEnv = process.env,
  dir: string = SERVICE_ACCOUNT_DIR,
): KubeConnection | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  const token = path.join(dir, 'token');
  if (!host || !port || !fs.existsSync(token)) return undefined;
  const ca = path.join(dir, 'ca.crt');
  const nsFile = path.join(dir, 'namespace');
  const namespace = fs.existsSync(nsFile) ? fs.readFileSync(nsFile, 'utf8').trim() : undefined;
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    tls: fs.existsSync(ca) ? { ca: fs.readFileSync(ca, 'utf8') } : {},
    credentials: tokenFile(token),
    ...(namespace ? { namespace } : {}),
    source: 'in-cluster',
  };
}

interface Named {
  readonly name: string;
  readonly value: Loose;
  /** The directory of the file it came from (relative paths resolve against it). */
  readonly dir: string;
}

interface MergedConfig {
  readonly clusters: Map<string, Named>;
  readonly users: Map<string, Named>;
  readonly contexts: Map<string, Named>;
  currentContext: string | undefined;
  readonly files: string[];
}

function readConfigFile(file: string, merged: MergedConfig): void {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read kubeconfig ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let doc: unknown;
  try {
    doc = yaml().parse(text);
  } catch (err) {
    throw new Error(`kubeconfig ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return; // an empty file contributes nothing
  if (!isObject(doc)) throw new Error(`kubeconfig ${file} is not a Config object`);
  const dir = path.dirname(path.resolve(file));
  const take = (list: unknown, field: string, into: Map<string, Named>): void => {
    if (list === undefined || list === null) return;
    if (!Array.isArray(list)) throw new Error(`kubeconfig ${file}: ${field}s must be a list`);
    for (const entry of list) {
      const name = isObject(entry) ? str(entry.name) : undefined;
      if (name === undefined) throw new Error(`kubeconfig ${file}: a ${field} has no name`);
      const value = entry[field];
      // kubectl's merge: the first file to define a name wins.
      if (!into.has(name)) into.set(name, { name, value: isObject(value) ? value : {}, dir });
    }
  };
  take(doc.clusters, 'cluster', merged.clusters);
  take(doc.users, 'user', merged.users);
  take(doc.contexts, 'context', merged.contexts);
  merged.currentContext ??= str(doc['current-context']);
  merged.files.push(file);
}

/** Inline base64 data, else the file (relative to the kubeconfig), else undefined. */
function material(entry: Named, dataField: string, fileField: string): string | undefined {
  const data = str(entry.value[dataField]);
  if (data !== undefined) return Buffer.from(data, 'base64').toString('utf8');
  const file = str(entry.value[fileField]);
  if (file === undefined) return undefined;
  const full = path.resolve(entry.dir, file);
  try {
    return fs.readFileSync(full, 'utf8');
  } catch (err) {
    throw new Error(
      `cannot read ${fileField} ${full}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
}

function userCredentials(user: Named, cluster: Named, server: string): Credentials {
  const u = user.value;
  if (isObject(u['auth-provider'])) {
    const name = str(u['auth-provider'].name) ?? 'unknown';
    throw new Error(
      `user ${user.name} uses the auth-provider ${JSON.stringify(name)}, which kubemcp does not support; ` +
        'use an exec credential plugin instead (kubectl dropped the built-in providers in 1.26)',
    );
  }
  if (str(u.username) !== undefined || str(u.password) !== undefined) {
    throw new Error(
      `user ${user.name} uses basic auth, which Kubernetes no longer supports; use a token or a certificate`,
    );
  }
  const token = str(u.token);
  if (token !== undefined) return staticToken(token);
  const file = str(u.tokenFile);
  if (file !== undefined) return tokenFile(path.resolve(user.dir, file));
  if (isObject(u.exec)) {
    const e = u.exec;
    const command = str(e.command);
    if (command === undefined) throw new Error(`user ${user.name}: exec has no command`);
    const env: Record<string, string> = {};
    if (Array.isArray(e.env)) {
      for (const item of e.env) {
        if (isObject(item) && str(item.name) !== undefined)
          env[item.name as string] = String(item.value ?? '');
      }
    }
    const apiVersion = str(e.apiVersion) ?? 'client.authentication.k8s.io/v1';
    const c = cluster.value;
    return execCredentials({
      // A bare command name is looked up on PATH; a path is relative to the kubeconfig.
      command: command.includes('/') ? path.resolve(user.dir, command) : command,
      args: Array.isArray(e.args) ? e.args.map(String) : [],
      env,
      apiVersion,
      ...(str(e.installHint) === undefined ? {} : { installHint: str(e.installHint) as string }),
      ...(e.provideClusterInfo === true
        ? {
            cluster: {
              server,
              ...(str(c['certificate-authority-data'])
                ? { 'certificate-authority-data': c['certificate-authority-data'] }
                : {}),
              ...(c['insecure-skip-tls-verify'] === true ? { 'insecure-skip-tls-verify': true } : {}),
              ...(str(c['tls-server-name']) ? { 'tls-server-name': c['tls-server-name'] } : {}),
            },
          }
        : {}),
    });
  }
  return NONE; // client certificates only, or anonymous
}

/** Resolves one context of merged kubeconfig files into a connection. */
function connectionFrom(merged: MergedConfig, contextName: string | undefined): KubeConnection {
  const source = merged.files.join(':');
  const name = contextName ?? merged.currentContext;
  if (name === undefined)
    throw new Error(`kubeconfig ${source} sets no current-context; pick one with --context`);
  const context = merged.contexts.get(name);
  if (!context) throw new Error(`kubeconfig ${source} has no context ${JSON.stringify(name)}`);
  const clusterName = str(context.value.cluster);
  const cluster = clusterName === undefined ? undefined : merged.clusters.get(clusterName);
  if (!cluster) throw new Error(`kubeconfig ${source}: context ${name} names no known cluster`);
  const server = str(cluster.value.server);
  if (server === undefined) throw new Error(`kubeconfig ${source}: cluster ${cluster.name} has no server`);
  if (str(cluster.value['proxy-url']) !== undefined) {
    throw new Error(
      `kubeconfig ${source}: cluster ${cluster.name} sets proxy-url, which kubemcp does not support`,
    );
  }
  const userName = str(context.value.user);
  const user = userName === undefined ? undefined : merged.users.get(userName);
  if (userName !== undefined && !user)
    throw new Error(`kubeconfig ${source}: context ${name} names no known user`);
  const ca = material(cluster, 'certificate-authority-data', 'certificate-authority');
  const cert = user ? material(user, 'client-certificate-data', 'client-certificate') : undefined;
  const key = user ? material(user, 'client-key-data', 'client-key') : undefined;
  if ((cert === undefined) !== (key === undefined)) {
    throw new Error(
      `kubeconfig ${source}: user ${userName} has a client certificate without a key, or a key without one`,
    );
  }
  const namespace = str(context.value.namespace);
  const serverName = str(cluster.value['tls-server-name']);
  return {
    server,
    tls: {
      ...(ca === undefined ? {} : { ca }),
      ...(cert === undefined ? {} : { cert, key }),
      ...(cluster.value['insecure-skip-tls-verify'] === true ? { insecureSkipTLSVerify: true } : {}),
      ...(serverName === undefined ? {} : { serverName }),
    },
    credentials: user ? userCredentials(user, cluster, server) : NONE,
    ...(namespace === undefined ? {} : { namespace }),
    context: name,
    source,
  };
}

/** Reads kubeconfig files (merged in order) and resolves a context. */
export function loadKubeConfigFiles(files: readonly string[], context?: string): KubeConnection {
  const merged: MergedConfig = {
    clusters: new Map(),
    users: new Map(),
    contexts: new Map(),
    currentContext: undefined,
    files: [],
  };
  for (const f of files) readConfigFile(f, merged);
  return connectionFrom(merged, context);
}

export interface LoadOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly serviceAccountDir?: string;
  readonly home?: string;
}

/**
 * The connection to use: `file` when given; else $KUBECONFIG's files; else the in-cluster
 * ServiceAccount; else ~/.kube/config. `context` selects a context other than the current one.
 * Throws an Error that names the file and the problem.
 */
export function loadKubeConfig(file?: string, context?: string, options: LoadOptions = {}): KubeConnection {
  const env = options.env ?? process.env;
  if (file) return loadKubeConfigFiles([file], context);
  const fromEnv = (env.KUBECONFIG ?? '').split(path.delimiter).filter((p) => p !== '' && fs.existsSync(p));
  if (fromEnv.length > 0) return loadKubeConfigFiles(fromEnv, context);
  const inCluster = inClusterConnection(env, options.serviceAccountDir);
  if (inCluster) {
    if (context)
      throw new Error(`--context ${context} needs a kubeconfig file; running in-cluster there is none`);
    return inCluster;
  }
  const home = path.join(options.home ?? os.homedir(), '.kube', 'config');
  if (fs.existsSync(home)) return loadKubeConfigFiles([home], context);
  throw new Error(
    'no cluster to talk to: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config, or run in a pod with a ServiceAccount',
  );
}
