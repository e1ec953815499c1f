/**
 * Transforms that keep the watch caches small: they drop what neither the controller nor the MCP
 * layer reads (managedFields, last-applied annotations, volumes, env, probes, resources, ...).
 * They mutate and return the object they are given: each listed or watched object is fresh.
 */

export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

type Loose = Record<string, unknown>;

function isObject(v: unknown): v is Loose {
  return typeof v === 'object' && v !== null;
}

/** Drops metadata.managedFields and the kubectl last-applied annotation. */
export function trimMetadata<T extends object>(obj: T): T {
  const meta = (obj as { metadata?: unknown }).metadata;
  if (!isObject(meta)) return obj;
  delete meta.managedFields;
  const annotations = meta.annotations;
  if (isObject(annotations) && LAST_APPLIED_ANNOTATION in annotations) {
    delete annotations[LAST_APPLIED_ANNOTATION];
    if (Object.keys(annotations).length === 0) delete meta.annotations;
  }
  return obj;
}

/** The metadata the policy controller reads: keys, generation, the write guard and the Event's uid. */
const POLICY_METADATA = ['name', 'namespace', 'uid', 'resourceVersion', 'generation'] as const;

/**
 * An McpPolicy, McpNamespacePolicy or McpDelegation as the controller keeps it: metadata reduced to
 * what it reads (labels, annotations, timestamps and managedFields dropped), the spec and the status.
 * 10,000 tenants' policies are cached at once, so each dropped field counts.
 */
export function trimPolicyObject<T extends object>(obj: T): T {
  const o = obj as Loose;
  const meta = o.metadata;
  const kept: Loose = {};
  if (isObject(meta)) for (const key of POLICY_METADATA) if (meta[key] !== undefined) kept[key] = meta[key];
  return { metadata: kept, spec: o.spec, ...(o.status === undefined ? {} : { status: o.status }) } as T;
}

const HEAVY_CONTAINER_FIELDS = [
  'env',
  'envFrom',
  'volumeMounts',
  'volumeDevices',
  'args',
  'command',
  'livenessProbe',
  'readinessProbe',
  'startupProbe',
  'lifecycle',
  'resources',
  'resizePolicy',
  'securityContext',
  'terminationMessagePath',
  'terminationMessagePolicy',
  'workingDir',
] as const;

const HEAVY_POD_SPEC_FIELDS = [
  'volumes',
  'affinity',
  'tolerations',
  'topologySpreadConstraints',
  'securityContext',
  'imagePullSecrets',
  'hostAliases',
  'readinessGates',
  'dnsConfig',
  'overhead',
  'resourceClaims',
  'schedulingGates',
] as const;

function trimContainers(list: unknown): void {
  if (!Array.isArray(list)) return;
  for (const c of list) {
    if (!isObject(c)) continue;
    for (const f of HEAVY_CONTAINER_FIELDS) delete c[f];
  }
}

/** Keeps containers' names, images and ports; drops volumes, env, probes and scheduling detail. */
export function trimPodSpec(spec: unknown): void {
  if (!isObject(spec)) return;
  for (const f of HEAVY_POD_SPEC_FIELDS) delete spec[f];
  trimContainers(spec.containers);
  trimContainers(spec.initContainers);
  delete spec.ephemeralContainers;
}

export function trimPod<T extends object>(pod: T): T {
  trimMetadata(pod);
  const p = pod as { spec?: unknown; status?: unknown };
  trimPodSpec(p.spec);
  if (isObject(p.status)) delete p.status.ephemeralContainerStatuses;
  return pod;
}

/** Deployments and StatefulSets: the pod template is trimmed like a pod; claim templates dropped. */
export function trimWorkload<T extends object>(obj: T): T {
  trimMetadata(obj);
  const spec = (obj as { spec?: unknown }).spec;
  if (!isObject(spec)) return obj;
  delete spec.volumeClaimTemplates;
  const template = spec.template;
  if (isObject(template)) {
    if (isObject(template.metadata)) trimMetadata(template);
    trimPodSpec(template.spec);
  }
  return obj;
}

/**
 * Shared copies of short strings (timestamps, phases, condition types, label values, images, node
 * names): JSON.parse gives every value its own string, and 10,000 pods repeat the same few thousand.
 * Cached objects are never mutated, so they may share them. Bounded: cleared when full.
 */
const strings = new Map<string, string>();
const MAX_SHARED_STRINGS = 65_536;
const MAX_SHARED_STRING_LENGTH = 64;

function shared(value: string): string {
  if (value.length > MAX_SHARED_STRING_LENGTH) return value;
  const known = strings.get(value);
  if (known !== undefined) return known;
  if (strings.size >= MAX_SHARED_STRINGS) strings.clear();
  strings.set(value, value);
  return value;
}

function compactValue(value: unknown): unknown {
  if (typeof value === 'string') return shared(value);
  if (Array.isArray(value)) return value.map(compactValue);
  if (!isObject(value)) return value;
  const entries: [string, unknown][] = [];
  for (const key of Object.keys(value)) {
    const v = value[key];
    if (v !== undefined) entries.push([key, compactValue(v)]);
  }
  // fromEntries builds fast-mode objects whatever the key count; adding keys one by one would turn
  // objects with many fields into slow dictionaries.
  return Object.fromEntries(entries);
}

/**
 * A compact copy of a (trimmed) object for the watch cache: plain fast-mode objects that hold exactly
 * their present fields, and short strings shared between objects. JSON.parse builds fast objects,
 * but trim() deletes fields, which turns them into slow dictionaries (about 0.8 KiB more per pod).
 * Same JSON, same field names. The result is shared by the cache: never mutate it.
 */
export function compactObject<T extends object>(obj: T): T {
  return compactValue(obj) as T;
}

/**
 * The shape `resources/read` returns (docs/tools.md): what an agent needs to reason about one
 * object, not everything the API server stores. Built as a fresh copy; the cached object is not
 * touched.
 *
 * - metadata keeps name, namespace, uid, resourceVersion, generation, creation and deletion times,
 *   labels, annotations and owner references (kind, name, controller); managedFields and the
 *   kubectl last-applied annotation are dropped, and every annotation value is cut to
 *   {@link READ_TEXT_LIMIT} characters with a marker;
 * - spec is the cache's trimmed spec (containers' names, images and ports; no env, volumes, probes);
 * - status keeps its fields, but every `message` (termination messages, waiting and condition
 *   messages) is cut to {@link READ_TEXT_LIMIT} characters, and any other string to
 *   {@link READ_STRING_LIMIT}.
 */
export const READ_TEXT_LIMIT = 256;
export const READ_STRING_LIMIT = 1024;

/** Cuts `text` to `limit` characters, saying how much was cut. */
export function capText(text: string, limit: number = READ_TEXT_LIMIT): string {
  if (text.length <= limit) return text;
  return `${text.slice(0, limit)}… [${text.length - limit} more characters cut]`;
}

const READ_METADATA_FIELDS = [
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'labels',
] as const;

function capStrings(value: unknown, key: string | undefined): unknown {
  if (typeof value === 'string')
    return capText(value, key === 'message' ? READ_TEXT_LIMIT : READ_STRING_LIMIT);
  if (Array.isArray(value)) return value.map((v) => capStrings(v, undefined));
  if (!isObject(value)) return value;
  const out: Loose = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = capStrings(v, k);
  return out;
}

export function readView(apiVersion: string, kind: string, obj: object): Loose {
  const source = obj as { metadata?: unknown; spec?: unknown; status?: unknown };
  const meta: Loose = {};
  if (isObject(source.metadata)) {
    const m = source.metadata;
    for (const f of READ_METADATA_FIELDS) if (m[f] !== undefined) meta[f] = capStrings(m[f], f);
    if (isObject(m.annotations)) {
      const annotations: Loose = {};
      for (const [k, v] of Object.entries(m.annotations)) {
        if (k === LAST_APPLIED_ANNOTATION || typeof v !== 'string') continue;
        annotations[capText(k, READ_TEXT_LIMIT)] = capText(v);
      }
      if (Object.keys(annotations).length > 0) meta.annotations = annotations;
    }
    if (Array.isArray(m.ownerReferences)) {
      meta.ownerReferences = m.ownerReferences.filter(isObject).map((o) => ({
        kind: o.kind,
        name: o.name,
        ...(o.controller === true ? { controller: true } : {}),
      }));
    }
  }
  return {
    apiVersion,
    kind,
    metadata: meta,
    ...(source.spec === undefined ? {} : { spec: capStrings(source.spec, undefined) }),
    ...(source.status === undefined ? {} : { status: capStrings(source.status, undefined) }),
  };
}
