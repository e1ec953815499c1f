/**
 * How one policy's replica bounds and agent-safety limits changed between two versions, each field
 * judged widened (the policy now lets more through) or narrowed.
 */

import type { McpPolicySpec } from '../api/v1alpha1/schema.js';

export interface LimitChange {
  readonly policy: string;
  /** The field as written, e.g. `replicas.max`, `confirm.above`. */
  readonly field: string;
  readonly old?: number | boolean;
  readonly new?: number | boolean;
  readonly direction: 'widened' | 'narrowed';
  /** True when the field limits writes (scale calls) of a policy that grants a scale tool. */
  readonly write: boolean;
}

type Value = number | boolean | undefined;

/** What the limits are read from: an McpPolicy's spec or an McpNamespacePolicy's (no namespaces). */
export type LimitSpec = Omit<McpPolicySpec, 'namespaces'>;

/**
 * Each field: how to read it, and which way is wider. `unsetIsWidest` fields are limits (no limit
 * lets everything through); bounds are not (an unset bound means no scale grant, which the grant
 * rows show instead).
 */
const FIELDS: readonly {
  field: string;
  read: (s: LimitSpec) => Value;
  higherIsWider: boolean;
  unsetIsWidest: boolean;
  write: boolean;
}[] = [
  {
    field: 'replicas.min',
    read: (s) => s.replicas?.min,
    higherIsWider: false,
    unsetIsWidest: false,
    write: true,
  },
  {
    field: 'replicas.max',
    read: (s) => s.replicas?.max,
    higherIsWider: true,
    unsetIsWidest: false,
    write: true,
  },
  {
    field: 'replicas.maxStep',
    read: (s) => s.replicas?.maxStep,
    higherIsWider: true,
    unsetIsWidest: true,
    write: true,
  },
  {
    field: 'cooldownSeconds',
    read: (s) => s.cooldownSeconds,
    higherIsWider: false,
    unsetIsWidest: true,
    write: true,
  },
  {
    field: 'confirm.scaleToZero',
    read: (s) => s.confirm?.scaleToZero === true || undefined,
    higherIsWider: false,
    unsetIsWidest: true,
    write: true,
  },
  {
    field: 'confirm.above',
    read: (s) => s.confirm?.above,
    higherIsWider: true,
    unsetIsWidest: true,
    write: true,
  },
  {
    field: 'confirm.stepAbove',
    read: (s) => s.confirm?.stepAbove,
    higherIsWider: true,
    unsetIsWidest: true,
    write: true,
  },
  {
    field: 'rateLimit.callsPerMinute',
    read: (s) => s.rateLimit?.callsPerMinute,
    higherIsWider: true,
    unsetIsWidest: true,
    write: false,
  },
  {
    field: 'requireKubernetesRBAC',
    read: (s) => s.requireKubernetesRBAC === true || undefined,
    higherIsWider: false,
    unsetIsWidest: true,
    write: true,
  },
];

function direction(
  oldV: Value,
  newV: Value,
  higherIsWider: boolean,
  unsetIsWidest: boolean,
): 'widened' | 'narrowed' | undefined {
  if (oldV === newV) return undefined;
  if (oldV === undefined || newV === undefined) {
    if (!unsetIsWidest) return undefined;
    return newV === undefined ? 'widened' : 'narrowed';
  }
  const wider = higherIsWider ? Number(newV) > Number(oldV) : Number(newV) < Number(oldV);
  return wider ? 'widened' : 'narrowed';
}

/** The changed fields of a policy present, valid, in both versions. */
export function limitChanges(
  policy: string,
  oldSpec: LimitSpec,
  newSpec: LimitSpec,
  scales: boolean,
): LimitChange[] {
  const out: LimitChange[] = [];
  for (const f of FIELDS) {
    const oldV = f.read(oldSpec);
    const newV = f.read(newSpec);
    const d = direction(oldV, newV, f.higherIsWider, f.unsetIsWidest);
    if (d === undefined) continue;
    out.push({
      policy,
      field: f.field,
      ...(oldV === undefined ? {} : { old: oldV }),
      ...(newV === undefined ? {} : { new: newV }),
      direction: d,
      write: f.write && scales,
    });
  }
  return out;
}
