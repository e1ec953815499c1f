/**
 * Puts the operator's shipped manifests on a cluster (CRD, namespace, least-privilege RBAC) and
 * gives `kubemcp serve` the operator ServiceAccount's identity, so tests and the demo run it with
 * exactly the permissions an in-cluster install has.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { waitForCrdEstablished } from './apply.js';
import { HarnessError } from './log.js';
import { REPO_ROOT } from './paths.js';

export const OPERATOR_NAMESPACE = 'kubemcp-system';
export const OPERATOR_SERVICE_ACCOUNT = 'kubemcp-operator';
export const CRD_NAME = 'mcppolicies.kubemcp.io';
/** Every CRD config/crd applies; the controller watches them all. */
export const CRD_NAMES = [CRD_NAME, 'mcpnamespacepolicies.kubemcp.io', 'mcpdelegations.kubemcp.io'] as const;

export function kubectl(kubectlBin: string, kubeconfig: string, args: string[], input?: string): string {
  const res = spawnSync(kubectlBin, [`--kubeconfig=${kubeconfig}`, ...args], {
    encoding: 'utf8',
    cwd: REPO_ROOT,
    ...(input === undefined ? {} : { input }),
  });
  if (res.error || res.status !== 0) {
    throw new HarnessError(
      'kubectl',
      `kubectl ${args.join(' ')} failed: ${res.error?.message ?? res.stderr.trim()}`,
    );
  }
  return res.stdout;
}

/** Applies config/crd, the operator namespace and config/rbac; waits for the CRDs to be served. */
export async function installOperatorManifests(
  kc: KubeConfig,
  kubectlBin: string,
  kubeconfig: string,
): Promise<void> {
  kubectl(kubectlBin, kubeconfig, ['apply', '--server-side', '--force-conflicts', '-k', 'config/crd']);
  kubectl(kubectlBin, kubeconfig, ['apply', '--server-side', '-f', 'config/manager/namespace.yaml']);
  kubectl(kubectlBin, kubeconfig, ['apply', '--server-side', '-k', 'config/rbac']);
  for (const name of CRD_NAMES) await waitForCrdEstablished(kc, name);
}

/** Mints a token for a ServiceAccount through the TokenRequest API. */
export async function mintToken(
  kc: KubeConfig,
  namespace: string,
  name: string,
  opts: { audiences?: string[]; seconds?: number } = {},
): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const res = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: opts.audiences ?? [], expirationSeconds: opts.seconds ?? 3600 } },
  });
  const token = res.status?.token;
  if (!token)
    throw new HarnessError('kube-apiserver', `TokenRequest for ${namespace}/${name} returned no token`);
  return token;
}

/**
 * Writes a kubeconfig that authenticates as the operator ServiceAccount (a TokenRequest token for
 * the API server's own audience) to the same cluster as `kc`; `server` replaces the cluster's URL
 * (e.g. a proxy in front of the API server that presents its certificate unchanged).
 */
export function writeOperatorKubeconfig(
  kc: KubeConfig,
  file: string,
  seconds = 3600,
  server?: string,
): Promise<string> {
  return writeServiceAccountKubeconfig(
    kc,
    file,
    OPERATOR_NAMESPACE,
    OPERATOR_SERVICE_ACCOUNT,
    seconds,
    server,
  );
}

/**
 * Writes a kubeconfig that authenticates as ServiceAccount `namespace/name` (a TokenRequest token for
 * the API server's own audience, valid `seconds`) to the same cluster as `kc`; its context's
 * namespace is `namespace`; `server` replaces the cluster's URL.
 */
export async function writeServiceAccountKubeconfig(
  kc: KubeConfig,
  file: string,
  namespace: string,
  name: string,
  seconds = 3600,
  server?: string,
): Promise<string> {
  const token = await mintToken(kc, namespace, name, { seconds });
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new HarnessError('kubeconfig', 'the kubeconfig has no current cluster');
  const caData =
    cluster.caData ?? (cluster.caFile ? fs.readFileSync(cluster.caFile).toString('base64') : undefined);
  const lines = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: cluster',
    '  cluster:',
    `    server: ${server ?? cluster.server}`,
    ...(caData ? [`    certificate-authority-data: ${caData}`] : []),
    ...(cluster.skipTLSVerify ? ['    insecure-skip-tls-verify: true'] : []),
    'users:',
    `- name: ${name}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    `- name: ${name}`,
    '  context:',
    '    cluster: cluster',
    `    user: ${name}`,
    `    namespace: ${namespace}`,
    `current-context: ${name}`,
    '',
  ];
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, lines.join('\n'), { mode: 0o600 });
  return file;
}
