/**
 * Server-side apply of manifest files (e.g. the CRD that ships in crds/), as `kubectl apply
 * --server-side` does it. Used by the e2e tests and benchmarks, so they apply the very files that ship.
 */

import { readFile } from 'node:fs/promises';
import {
  ApiextensionsV1Api,
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  loadAllYaml,
  PatchStrategy,
} from '@kubernetes/client-node';

export async function applyManifestFile(
  kc: KubeConfig,
  file: string,
  fieldManager = 'kubemcp',
): Promise<KubernetesObject[]> {
  const docs = loadAllYaml(await readFile(file, 'utf8')) as KubernetesObject[];
  const api = KubernetesObjectApi.makeApiClient(kc);
  const applied: KubernetesObject[] = [];
  for (const doc of docs) {
    if (!doc?.kind) continue;
    applied.push(
      await api.patch(doc, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply),
    );
  }
  return applied;
}

/** Waits until the CustomResourceDefinition `name` is Established (its API is served). */
export async function waitForCrdEstablished(kc: KubeConfig, name: string, timeoutMs = 30_000): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const crd = await api.readCustomResourceDefinition({ name });
    const established = crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    if (established) return;
    if (Date.now() > deadline) throw new Error(`CRD ${name} not Established within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
