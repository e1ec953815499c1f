import type { V1ObjectMeta } from '@kubernetes/client-node';
import { z } from 'zod';
import type { Deployment, Namespace, Pod, Service, StatefulSet, Wire } from '../kube/types.js';

/**
 * Compact, AI-readable views of Kubernetes objects: one row per object with its health, and a short
 * one-line summary ("web (3/3 ready)"). Pure functions of the object and the current time.
 */

export function timestampMs(value: Date | string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** kubectl-style short age: 45s, 12m, 5h, 3d. */
export function formatAge(fromMs: number | undefined, nowMs: number): string {
  if (fromMs === undefined) return 'unknown';
  const s = Math.max(0, Math.floor((nowMs - fromMs) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

function ageOf(meta: Wire<V1ObjectMeta> | undefined, nowMs: number): string {
  return formatAge(timestampMs(meta?.creationTimestamp), nowMs);
}

export const PodRowSchema = z.object({
  namespace: z.string(),
  name: z.string(),
  summary: z.string().describe('One line: name, status and readiness'),
  status: z
    .string()
    .describe(
      'Running, Pending, Succeeded, Failed, Terminating, or a container reason like CrashLoopBackOff',
    ),
  phase: z.string(),
  ready: z.string().describe('Ready containers / containers, e.g. "1/1"'),
  restarts: z.number().int(),
  age: z.string(),
  node: z.string().optional(),
  podIP: z.string().optional(),
});
export type PodRow = z.infer<typeof PodRowSchema>;

/** What a pod's row holds apart from its age (which depends on the clock), and the last row made. */
type PodRowBase = Omit<PodRow, 'age'> & { readonly createdMs: number | undefined; last?: PodRow };

/**
 * Rows per cached pod object. Cached objects are never mutated (an update replaces the object), so a
 * row computed once stays right until its age string changes; the WeakMap lets it go with the pod.
 * Saves recomputing status, readiness and summary strings, and allocating the row, on every page of
 * every list call. Rows handed out are shared: never mutate them.
 */
const podRowBases = new WeakMap<Pod, PodRowBase>();

function podRowBase(pod: Pod): PodRowBase {
  const name = pod.metadata?.name ?? '';
  const statuses = pod.status?.containerStatuses ?? [];
  const total = pod.spec?.containers?.length ?? statuses.length;
  const readyCount = statuses.filter((c) => c.ready).length;
  const restarts = statuses.reduce((n, c) => n + (c.restartCount ?? 0), 0);
  const phase = pod.status?.phase ?? 'Unknown';
  let status = pod.status?.reason ?? phase;
  for (const c of statuses) {
    const waiting = c.state?.waiting?.reason;
    const terminated = c.state?.terminated?.reason;
    if (waiting !== undefined && waiting !== '') status = waiting;
    else if (terminated !== undefined && terminated !== '' && phase !== 'Succeeded') status = terminated;
  }
  if (pod.metadata?.deletionTimestamp !== undefined) status = 'Terminating';
  const ready = `${readyCount}/${total}`;
  return {
    namespace: pod.metadata?.namespace ?? '',
    name,
    summary: `${name} (${status}, ${ready} ready${restarts > 0 ? `, ${restarts} restarts` : ''})`,
    status,
    phase,
    ready,
    restarts,
    createdMs: timestampMs(pod.metadata?.creationTimestamp),
    ...(pod.spec?.nodeName === undefined ? {} : { node: pod.spec.nodeName }),
    ...(pod.status?.podIP === undefined ? {} : { podIP: pod.status.podIP }),
  };
}

export function podRow(pod: Pod, nowMs: number): PodRow {
  let base = podRowBases.get(pod);
  if (base === undefined) {
    base = podRowBase(pod);
    podRowBases.set(pod, base);
  }
  const age = formatAge(base.createdMs, nowMs);
  if (base.last?.age === age) return base.last;
  const row: PodRow = {
    namespace: base.namespace,
    name: base.name,
    summary: base.summary,
    status: base.status,
    phase: base.phase,
    ready: base.ready,
    restarts: base.restarts,
    age,
  };
  if (base.node !== undefined) row.node = base.node;
  if (base.podIP !== undefined) row.podIP = base.podIP;
  base.last = row;
  return row;
}

export const WorkloadRowSchema = z.object({
  namespace: z.string(),
  name: z.string(),
  summary: z.string().describe('One line: name and readiness, e.g. "web (3/3 ready)"'),
  replicas: z.number().int().describe('Desired replicas (spec.replicas)'),
  readyReplicas: z.number().int(),
  updatedReplicas: z.number().int(),
  availableReplicas: z.number().int(),
  age: z.string(),
  images: z.array(z.string()),
});
export type WorkloadRow = z.infer<typeof WorkloadRowSchema>;

function workloadSummary(name: string, ready: number, desired: number): string {
  if (desired === 0) return `${name} (scaled to 0)`;
  return `${name} (${ready}/${desired} ready)`;
}

/** Deployments and StatefulSets share the fields a row shows. */
function workloadRow(w: Deployment | StatefulSet, nowMs: number): WorkloadRow {
  const name = w.metadata?.name ?? '';
  const replicas = w.spec?.replicas ?? 1;
  const ready = w.status?.readyReplicas ?? 0;
  return {
    namespace: w.metadata?.namespace ?? '',
    name,
    summary: workloadSummary(name, ready, replicas),
    replicas,
    readyReplicas: ready,
    updatedReplicas: w.status?.updatedReplicas ?? 0,
    availableReplicas: w.status?.availableReplicas ?? 0,
    age: ageOf(w.metadata, nowMs),
    images: (w.spec?.template?.spec?.containers ?? []).flatMap((c) =>
      c.image === undefined ? [] : [c.image],
    ),
  };
}

export function deploymentRow(d: Deployment, nowMs: number): WorkloadRow {
  return workloadRow(d, nowMs);
}

export function statefulSetRow(s: StatefulSet, nowMs: number): WorkloadRow {
  return workloadRow(s, nowMs);
}

export const ServiceRowSchema = z.object({
  namespace: z.string(),
  name: z.string(),
  summary: z.string(),
  type: z.string(),
  clusterIP: z.string().optional(),
  ports: z.array(z.string()).describe('e.g. "80->8080/TCP"'),
  selector: z.string().optional().describe('The pods this service routes to, as a label selector'),
  age: z.string(),
});
export type ServiceRow = z.infer<typeof ServiceRowSchema>;

export function serviceRow(s: Service, nowMs: number): ServiceRow {
  const name = s.metadata?.name ?? '';
  const type = s.spec?.type ?? 'ClusterIP';
  const ports = (s.spec?.ports ?? []).map((p) => {
    const target =
      p.targetPort !== undefined && String(p.targetPort) !== String(p.port) ? `->${p.targetPort}` : '';
    const node = p.nodePort !== undefined ? `:${p.nodePort}` : '';
    return `${p.port}${target}${node}/${p.protocol ?? 'TCP'}`;
  });
  const selectorEntries = Object.entries(s.spec?.selector ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  const row: ServiceRow = {
    namespace: s.metadata?.namespace ?? '',
    name,
    summary: `${name} (${type}${s.spec?.clusterIP ? ` ${s.spec.clusterIP}` : ''}${ports.length ? `, ports ${ports.join(' ')}` : ''})`,
    type,
    ports,
    age: ageOf(s.metadata, nowMs),
  };
  if (s.spec?.clusterIP !== undefined) row.clusterIP = s.spec.clusterIP;
  if (selectorEntries.length > 0) row.selector = selectorEntries.map(([k, v]) => `${k}=${v}`).join(',');
  return row;
}

export const NamespaceRowSchema = z.object({
  name: z.string(),
  summary: z.string(),
  phase: z.string(),
  age: z.string(),
  labels: z.record(z.string(), z.string()),
  tools: z.array(z.string()).describe('The tools you may use in this namespace'),
});
export type NamespaceRow = z.infer<typeof NamespaceRowSchema>;

export function namespaceRow(ns: Namespace, tools: readonly string[], nowMs: number): NamespaceRow {
  const name = ns.metadata?.name ?? '';
  const phase = ns.status?.phase ?? 'Active';
  return {
    name,
    summary: `${name} (${phase}${tools.length ? `; you may use ${tools.join(', ')}` : ''})`,
    phase,
    age: ageOf(ns.metadata, nowMs),
    labels: { ...(ns.metadata?.labels ?? {}) },
    tools: [...tools],
  };
}

/** "42s", "5m": how old the cached data is, for degraded-mode warnings. */
export function staleness(lastGoodAt: number | undefined, nowMs: number): string {
  return lastGoodAt === undefined ? 'an unknown time' : formatAge(lastGoodAt, nowMs);
}
