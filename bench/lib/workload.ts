/**
 * The benchmark workload: Deployments of fake pods (kwok makes them Running and Ready) in a few
 * namespaces, idempotent so a reused cluster keeps its pods between runs.
 *
 * Pods come in two cumulative sets so a run can go 1,000 → 10,000 and a rerun can come back down
 * fast: the first 1,000 pods live in bench-0..4 (20 Deployments × 50), every pod beyond that in
 * bench-x-0..4 (20 Deployments × (N − 1,000)/20). Going back to 1,000 deletes the bench-x namespaces
 * (one deletecollection each) instead of scaling 20 Deployments down pod by pod.
 *
 * `ensurePodsInNamespace` puts a given number of pods into ONE namespace instead (the side-by-side
 * benchmark, bench/peers.ts, lists a whole namespace).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AppsV1Api,
  CoreV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { deploymentBody, ensureNamespace } from '../../test/conformance/live.js';

export const BASE_PODS = 1_000;
const BASE_NAMESPACES = ['bench-0', 'bench-1', 'bench-2', 'bench-3', 'bench-4'];
const EXTRA_NAMESPACES = ['bench-x-0', 'bench-x-1', 'bench-x-2', 'bench-x-3', 'bench-x-4'];
export const BENCH_NAMESPACES = [...BASE_NAMESPACES, ...EXTRA_NAMESPACES];
const DEPLOYMENTS_PER_NAMESPACE = 4;
const STEP = BASE_NAMESPACES.length * DEPLOYMENTS_PER_NAMESPACE;

export interface Progress {
  readonly desired: number;
  readonly ready: number;
  /** Pods in the bench namespaces (any phase, including terminating). */
  readonly pods?: number;
}

async function deployments(kc: KubeConfig, namespaces: readonly string[]): Promise<Progress> {
  const apps = kc.makeApiClient(AppsV1Api);
  let desired = 0;
  let ready = 0;
  for (const namespace of namespaces) {
    try {
      const list = await apps.listNamespacedDeployment({ namespace });
      for (const d of list.items) {
        desired += d.spec?.replicas ?? 0;
        ready += d.status?.readyReplicas ?? 0;
      }
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
    }
  }
  return { desired, ready };
}

async function namespacesGone(kc: KubeConfig, names: readonly string[]): Promise<boolean> {
  const core = kc.makeApiClient(CoreV1Api);
  const list = await core.listNamespace();
  return !list.items.some((n) => names.includes(n.metadata?.name ?? ''));
}

async function scaleSet(kc: KubeConfig, namespaces: readonly string[], pods: number): Promise<void> {
  await scaleDeployments(kc, namespaces, DEPLOYMENTS_PER_NAMESPACE, pods / STEP);
}

/** Creates (or scales) Deployments app-0..app-(count-1) of `per` pods in each namespace. */
async function scaleDeployments(
  kc: KubeConfig,
  namespaces: readonly string[],
  count: number,
  per: number,
): Promise<void> {
  const apps = kc.makeApiClient(AppsV1Api);
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  for (const namespace of namespaces) await ensureNamespace(kc, namespace, { 'kubemcp.io/bench': 'true' });
  await Promise.all(
    namespaces.flatMap((namespace) =>
      Array.from({ length: count }, async (_, i) => {
        const name = `app-${i}`;
        try {
          await apps.createNamespacedDeployment({ namespace, body: deploymentBody(name, namespace, per) });
        } catch (err) {
          if ((err as { code?: number }).code !== 409) throw err;
          await apps.patchNamespacedDeployment({ namespace, name, body: { spec: { replicas: per } } }, merge);
        }
      }),
    ),
  );
}

/**
 * Deletes the pods beyond the first 1,000 (the bench-x namespaces), without waiting for them to go.
 * Returns whether there were any. Other benchmarks call it so the server under test does not also
 * cache up to 9,000 pods of this one.
 */
export async function removeExtraPods(kc: KubeConfig): Promise<boolean> {
  if (await namespacesGone(kc, EXTRA_NAMESPACES)) return false;
  const core = kc.makeApiClient(CoreV1Api);
  for (const name of EXTRA_NAMESPACES) {
    await core.deleteNamespace({ name }).catch((err: { code?: number }) => {
      // 409: already being deleted.
      if (err.code !== 404 && err.code !== 409) throw err;
    });
  }
  return true;
}

/**
 * Makes exactly `pods` bench pods exist and be Ready (1,000, or 1,000 plus a multiple of 20), waiting
 * at most `timeoutMs`. Returns the seconds it took (about 0 when already there).
 */
export async function ensurePods(
  kc: KubeConfig,
  pods: number,
  opts: { timeoutMs: number; onProgress?: (p: Progress, seconds: number) => void },
): Promise<number> {
  const extra = pods - BASE_PODS;
  if (extra < 0 || extra % STEP !== 0)
    throw new Error(`pods must be ${BASE_PODS} or ${BASE_PODS} plus a multiple of ${STEP}`);
  const started = Date.now();
  await scaleSet(kc, BASE_NAMESPACES, BASE_PODS);
  if (extra > 0) await scaleSet(kc, EXTRA_NAMESPACES, extra);
  else await removeExtraPods(kc);
  let last = Date.now();
  for (;;) {
    const p = await deployments(kc, BENCH_NAMESPACES);
    const seconds = (Date.now() - started) / 1000;
    if (p.desired === pods && p.ready === pods && (extra > 0 || (await namespacesGone(kc, EXTRA_NAMESPACES))))
      return seconds;
    if (opts.onProgress && Date.now() - last > 15_000) {
      last = Date.now();
      opts.onProgress(p, seconds);
    }
    if (Date.now() - started > opts.timeoutMs) {
      throw new Error(
        `${p.ready} of ${pods} bench pods Ready after ${(opts.timeoutMs / 1000).toFixed(0)}s (bounded; see the kube-controller-manager and kwok logs)`,
      );
    }
    await sleep(1000);
  }
}

/**
 * Makes exactly `pods` Ready pods exist in `namespace`, as `deployments` Deployments (app-0, app-1, …)
 * of pods/deployments each, waiting at most `timeoutMs`. Returns the seconds it took (about 0 when
 * already there). The namespace is labelled kubemcp.io/bench=true.
 */
export async function ensurePodsInNamespace(
  kc: KubeConfig,
  namespace: string,
  pods: number,
  opts: { deployments: number; timeoutMs: number; onProgress?: (p: Progress, seconds: number) => void },
): Promise<number> {
  if (pods % opts.deployments !== 0)
    throw new Error(`pods (${pods}) must be a multiple of deployments (${opts.deployments})`);
  const started = Date.now();
  await scaleDeployments(kc, [namespace], opts.deployments, pods / opts.deployments);
  let last = Date.now();
  for (;;) {
    const p = await deployments(kc, [namespace]);
    const seconds = (Date.now() - started) / 1000;
    if (p.desired === pods && p.ready === pods) return seconds;
    if (opts.onProgress && Date.now() - last > 15_000) {
      last = Date.now();
      opts.onProgress(p, seconds);
    }
    if (Date.now() - started > opts.timeoutMs) {
      throw new Error(
        `${p.ready} of ${pods} pods in ${namespace} Ready after ${(opts.timeoutMs / 1000).toFixed(0)}s (bounded; see the kube-controller-manager and kwok logs)`,
      );
    }
    await sleep(1000);
  }
}
