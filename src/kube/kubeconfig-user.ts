/**
 * A kubeconfig user's credentials and impersonation, resolved as kubectl resolves them: a tokenFile
 * before an inline token, a token or client certificate before an exec plugin, the exec section
 * checked as kubectl checks it; what kubemcp does not support (auth-provider, basic auth) refused.
 */

import path from 'node:path';
import type { Credentials, Impersonation } from './connection.js';
import { NONE, staticToken, tokenFile } from './credentials.js';
import { type ExecConfig, execCredentials } from './exec-credentials.js';
import { isObject, type Loose, type Named, str } from './kubeconfig-entries.js';

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

export function userCredentials(
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
export function impersonation(user: Named): Impersonation | undefined {
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
