/**
 * Where the operator finds its cluster and credentials, the way controller-runtime does it:
 * an explicit kubeconfig file, else $KUBECONFIG (its files merged as kubectl merges them; when it is
 * set, ~/.kube/config is not read), else the in-cluster ServiceAccount when running in a pod, else
 * ~/.kube/config.
 *
 * A kubeconfig resolves as kubectl resolves it (test/e2e/kubeconfig-oracle.test.ts checks this
 * against kubectl): first-wins merging, paths relative to the file that names them, a tokenFile
 * preferred to an inline token, a token or client certificate preferred to an exec plugin,
 * impersonation (`as`, `as-uid`, `as-groups`, `as-user-extra`), and the namespace `default` when the
 * context sets none. What kubectl refuses is refused, and so are credentials for an http:// server
 * (or one without a scheme), to which kubectl sends none.
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

/** The identity a kubeconfig user asks to act as (Impersonate-* headers). */
export interface Impersonation {
  readonly user: string;
  readonly uid?: string;
  readonly groups?: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/** A resolved connection: one API server, its TLS settings and the credentials to present. */
export interface KubeConnection {
  readonly server: string;
  readonly tls: TlsSettings;
  readonly credentials: Credentials;
  /** Act as this identity (the credentials' owner must be allowed to impersonate it). */
  readonly impersonate?: Impersonation;
  /** The context's namespace, `default` when it sets none (in-cluster: the pod's). */
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

/**
 * A token read from a file, re-read at most once a minute (and after a 401). `fallback` (a
 * kubeconfig's inline token next to its tokenFile) is used while the file cannot be read, as
 * client-go does.
 */
export function tokenFile(file: string, now: () => number = Date.now, fallback?: string): Credentials {
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
          if (cached !== undefined) return { token: cached.token };
          if (fallback !== undefined) return { token: fallback };
          throw err;
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
    // As client-go: the answer must be an ExecCredential of the configured apiVersion.
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
    const seen = new Set<string>();
    for (const entry of list) {
      const name = isObject(entry) ? str(entry.name) : undefined;
      if (name === undefined) throw new Error(`kubeconfig ${file}: a ${field} has no name`);
      // kubectl refuses a file that defines a name twice.
      if (seen.has(name)) throw new Error(`kubeconfig ${file}: the ${field} ${name} is defined twice`);
      seen.add(name);
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
function material(entry: Named, dataField: string, fileField: string, source: string): string | undefined {
  const data = str(entry.value[dataField]);
  const file = str(entry.value[fileField]);
  if (data !== undefined && file !== undefined) {
    // kubectl refuses both (its validation and `config view --flatten` fail).
    throw new Error(`kubeconfig ${source}: ${entry.name} sets both ${dataField} and ${fileField}; keep one`);
  }
  if (data !== undefined) return Buffer.from(data, 'base64').toString('utf8');
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

/** The cluster as an exec plugin sees it with provideClusterInfo (client-go's ExecCredential Cluster). */
function execClusterInfo(cluster: Named, server: string, ca: string | undefined): Loose {
  const c = cluster.value;
  const extensions = Array.isArray(c.extensions) ? c.extensions : [];
  const config = extensions.find(
    (e) => isObject(e) && e.name === 'client.authentication.k8s.io/exec' && e.extension !== undefined,
  );
  return {
    server,
    ...(str(c['tls-server-name']) ? { 'tls-server-name': c['tls-server-name'] } : {}),
    ...(c['insecure-skip-tls-verify'] === true ? { 'insecure-skip-tls-verify': true } : {}),
    ...(ca === undefined ? {} : { 'certificate-authority-data': Buffer.from(ca).toString('base64') }),
    ...(c['disable-compression'] === true ? { 'disable-compression': true } : {}),
    // client-go sends the exec extension's config, and null without one.
    config: isObject(config) ? config.extension : null,
  };
}

const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

function userCredentials(
  user: Named,
  cluster: Named,
  server: string,
  ca: string | undefined,
  hasCert: boolean,
): Credentials {
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
  const exec = isObject(u.exec) ? execConfig(user, u.exec, cluster, server, ca) : undefined;
  const token = str(u.token);
  const file = str(u.tokenFile);
  // As client-go: a readable tokenFile beats the inline token (which stands in while the file
  // cannot be read); a token or a client certificate makes an exec plugin unused.
  if (file !== undefined) return tokenFile(path.resolve(user.dir, file), Date.now, token);
  if (token !== undefined) return staticToken(token);
  if (exec !== undefined && !hasCert) return execCredentials(exec);
  return NONE; // client certificates only, or anonymous
}

/** The exec section of a user, checked as kubectl checks it. */
function execConfig(
  user: Named,
  e: Loose,
  cluster: Named,
  server: string,
  ca: string | undefined,
): ExecConfig {
  const command = str(e.command);
  if (command === undefined) throw new Error(`user ${user.name}: exec has no command`);
  const apiVersion = str(e.apiVersion);
  if (apiVersion === undefined || !EXEC_API_VERSIONS.includes(apiVersion)) {
    throw new Error(
      `user ${user.name}: exec apiVersion ${apiVersion === undefined ? 'is missing' : JSON.stringify(apiVersion)}; want one of ${EXEC_API_VERSIONS.join(', ')}`,
    );
  }
  const mode = str(e.interactiveMode);
  // v1 requires interactiveMode (v1beta1 defaults it to IfAvailable); a server process has no
  // terminal, so a plugin that must ask the user cannot run.
  if (mode === undefined && apiVersion === 'client.authentication.k8s.io/v1') {
    throw new Error(
      `user ${user.name}: exec needs interactiveMode (Never or IfAvailable) with ${apiVersion}`,
    );
  }
  if (mode !== undefined && !['Never', 'IfAvailable', 'Always'].includes(mode)) {
    throw new Error(
      `user ${user.name}: exec interactiveMode ${JSON.stringify(mode)} is not Never, IfAvailable or Always`,
    );
  }
  if (mode === 'Always') {
    throw new Error(
      `user ${user.name}: exec interactiveMode Always needs a terminal, and kubemcp runs without one`,
    );
  }
  const env: Record<string, string> = {};
  if (Array.isArray(e.env)) {
    for (const item of e.env) {
      const name = isObject(item) ? str(item.name) : undefined;
      if (name === undefined) throw new Error(`user ${user.name}: an exec env entry has no name`);
      env[name] = String((item as Loose).value ?? '');
    }
  }
  const installHint = str(e.installHint);
  return {
    // A bare command name is looked up on PATH; a path is relative to the kubeconfig.
    command: command.includes('/') ? path.resolve(user.dir, command) : command,
    args: Array.isArray(e.args) ? e.args.map(String) : [],
    env,
    apiVersion,
    ...(installHint === undefined ? {} : { installHint }),
    ...(e.provideClusterInfo === true ? { cluster: execClusterInfo(cluster, server, ca) } : {}),
  };
}

/** as, as-uid, as-groups and as-user-extra; kubectl refuses the last three without `as`. */
function impersonation(user: Named): Impersonation | undefined {
  const u = user.value;
  const as = str(u.as);
  const uid = str(u['as-uid']);
  const groups = Array.isArray(u['as-groups']) ? u['as-groups'].map(String) : [];
  const extra: Record<string, string[]> = {};
  if (isObject(u['as-user-extra'])) {
    for (const [k, v] of Object.entries(u['as-user-extra'])) {
      extra[k] = Array.isArray(v) ? v.map(String) : [String(v)];
    }
  }
  const more = uid !== undefined || groups.length > 0 || Object.keys(extra).length > 0;
  if (as === undefined) {
    if (more) throw new Error(`user ${user.name} sets as-uid, as-groups or as-user-extra without as`);
    return undefined;
  }
  return {
    user: as,
    ...(uid === undefined ? {} : { uid }),
    ...(groups.length === 0 ? {} : { groups }),
    ...(Object.keys(extra).length === 0 ? {} : { extra }),
  };
}

/** A server without a scheme is read as http://, as client-go reads it (see connectionFrom). */
function serverUrl(server: string): string {
  return /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(server) ? server : `http://${server}`;
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
  const ca = material(cluster, 'certificate-authority-data', 'certificate-authority', source);
  const cert = user ? material(user, 'client-certificate-data', 'client-certificate', source) : undefined;
  const key = user ? material(user, 'client-key-data', 'client-key', source) : undefined;
  if ((cert === undefined) !== (key === undefined)) {
    throw new Error(
      `kubeconfig ${source}: user ${userName} has a client certificate without a key, or a key without one`,
    );
  }
  const insecure = cluster.value['insecure-skip-tls-verify'] === true;
  if (insecure && ca !== undefined) {
    // client-go: "specifying a root certificates file with the insecure flag is not allowed".
    throw new Error(
      `kubeconfig ${source}: cluster ${cluster.name} sets both a certificate authority and insecure-skip-tls-verify; keep one`,
    );
  }
  const namespace = str(context.value.namespace) ?? 'default';
  const serverName = str(cluster.value['tls-server-name']);
  const impersonate = user ? impersonation(user) : undefined;
  const credentials = user ? userCredentials(user, cluster, server, ca, cert !== undefined) : NONE;
  const url = serverUrl(server);
  if (/^http:/i.test(url) && (credentials !== NONE || cert !== undefined)) {
    // client-go decides whether a server is TLS before it reads the cluster's CA, so kubectl sends
    // no credentials to an http:// server, nor to one without a scheme. Refused rather than sent
    // in the clear, or silently dropped.
    throw new Error(
      `kubeconfig ${source}: cluster ${cluster.name}'s server ${server} ${url === server ? 'is http://' : 'has no scheme (kubectl reads it as http://)'}, ` +
        `over which kubectl sends no credentials; write https://${url.replace(/^http:\/\//i, '')}`,
    );
  }
  return {
    server: url,
    tls: {
      ...(ca === undefined ? {} : { ca }),
      ...(cert === undefined ? {} : { cert, key }),
      ...(insecure ? { insecureSkipTLSVerify: true } : {}),
      ...(serverName === undefined ? {} : { serverName }),
    },
    credentials,
    ...(impersonate === undefined ? {} : { impersonate }),
    namespace,
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
  const named = (env.KUBECONFIG ?? '').split(path.delimiter).filter((p) => p !== '');
  const fromEnv = named.filter((p) => fs.existsSync(p));
  if (fromEnv.length > 0) return loadKubeConfigFiles(fromEnv, context);
  const inCluster = inClusterConnection(env, options.serviceAccountDir);
  if (inCluster) {
    if (context)
      throw new Error(`--context ${context} needs a kubeconfig file; running in-cluster there is none`);
    return inCluster;
  }
  if (named.length > 0) {
    // As kubectl: a set KUBECONFIG replaces ~/.kube/config, even when none of its files exists.
    throw new Error(
      `no cluster to talk to: none of the files KUBECONFIG names exists (${named.join(path.delimiter)})`,
    );
  }
  const home = path.join(options.home ?? os.homedir(), '.kube', 'config');
  if (fs.existsSync(home)) return loadKubeConfigFiles([home], context);
  throw new Error(
    'no cluster to talk to: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config, or run in a pod with a ServiceAccount',
  );
}
