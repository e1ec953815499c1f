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
 *
 * This file picks the source and resolves a context; reading and merging the files is in
 * kubeconfig-entries.ts, a user's credentials in kubeconfig-user.ts (tokens in credentials.ts, exec
 * plugins in exec-credentials.ts), and the resolved shape in connection.ts.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KubeConnection, TlsSettings } from './connection.js';
import { NONE, tokenFile } from './credentials.js';
import { type MergedConfig, material, type Named, readConfigFile, str } from './kubeconfig-entries.js';
import { impersonation, userCredentials } from './kubeconfig-user.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

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

/** A server without a scheme is read as http://, as client-go reads it (see connectionFrom). */
function serverUrl(server: string): string {
  return /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(server) ? server : `http://${server}`;
}

/** The entries one context names, checked: its cluster (with a server) and its user, if any. */
interface ResolvedContext {
  /** The files, for messages. */
  readonly source: string;
  readonly name: string;
  readonly context: Named;
  readonly cluster: Named;
  readonly server: string;
  readonly user: Named | undefined;
}

function resolveContext(merged: MergedConfig, contextName: string | undefined): ResolvedContext {
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
  return { source, name, context, cluster, server, user };
}

/** The cluster's CA and TLS options and the user's client certificate, refused where kubectl refuses them. */
function tlsSettings({ source, cluster, user }: ResolvedContext): TlsSettings {
  const ca = material(cluster, 'certificate-authority-data', 'certificate-authority', source);
  const cert = user ? material(user, 'client-certificate-data', 'client-certificate', source) : undefined;
  const key = user ? material(user, 'client-key-data', 'client-key', source) : undefined;
  if ((cert === undefined) !== (key === undefined)) {
    throw new Error(
      `kubeconfig ${source}: user ${user?.name} has a client certificate without a key, or a key without one`,
    );
  }
  const insecure = cluster.value['insecure-skip-tls-verify'] === true;
  if (insecure && ca !== undefined) {
    // client-go: "specifying a root certificates file with the insecure flag is not allowed".
    throw new Error(
      `kubeconfig ${source}: cluster ${cluster.name} sets both a certificate authority and insecure-skip-tls-verify; keep one`,
    );
  }
  const serverName = str(cluster.value['tls-server-name']);
  return {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert, key }),
    ...(insecure ? { insecureSkipTLSVerify: true } : {}),
    ...(serverName === undefined ? {} : { serverName }),
  };
}

/**
 * client-go decides whether a server is TLS before it reads the cluster's CA, so kubectl sends no
 * credentials to an http:// server, nor to one without a scheme. Refused rather than sent in the
 * clear, or silently dropped.
 */
function refuseCredentialsOverHttp({ source, cluster, server }: ResolvedContext, url: string): never {
  throw new Error(
    `kubeconfig ${source}: cluster ${cluster.name}'s server ${server} ${url === server ? 'is http://' : 'has no scheme (kubectl reads it as http://)'}, ` +
      `over which kubectl sends no credentials; write https://${url.replace(/^http:\/\//i, '')}`,
  );
}

/** Resolves one context of merged kubeconfig files into a connection. */
function connectionFrom(merged: MergedConfig, contextName: string | undefined): KubeConnection {
  const resolved = resolveContext(merged, contextName);
  const { source, name, context, cluster, server, user } = resolved;
  const tls = tlsSettings(resolved);
  const namespace = str(context.value.namespace) ?? 'default';
  const impersonate = user ? impersonation(user) : undefined;
  const credentials = user ? userCredentials(user, cluster, server, tls.ca, tls.cert !== undefined) : NONE;
  const url = serverUrl(server);
  if (/^http:/i.test(url) && (credentials !== NONE || tls.cert !== undefined)) {
    refuseCredentialsOverHttp(resolved, url);
  }
  return {
    server: url,
    tls,
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
