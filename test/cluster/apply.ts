/**
 * Server-side apply of manifest files (e.g. the CRD that ships in crds/), as `kubectl apply
 * --server-side` does it. Used by the e2e tests and benchmarks, so they apply the very files that ship.
 */

import { readFile } from 'node:fs/promises';
import {
  ApiextensionsV1Api,
  CustomObjectsApi,
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
    // Established comes a moment before the storage serves lists (a 429 "storage is (re)initializing"
    // until then): wait for a list to answer too.
    if (
      established &&
      (await listAnswers(kc, crd.spec.group, crd.spec.versions[0]?.name, crd.spec.names.plural))
    )
      return;
    if (Date.now() > deadline) throw new Error(`CRD ${name} not Established within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function listAnswers(
  kc: KubeConfig,
  group: string,
  version: string | undefined,
  plural: string,
): Promise<boolean> {
  if (version === undefined) return true;
  try {
    await kc.makeApiClient(CustomObjectsApi).listClusterCustomObject({ group, version, plural, limit: 1 });
    return true;
  } catch {
    return false;
  }
}
