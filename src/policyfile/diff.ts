/**
 * `kubemcp diff`: what changes for whom between two versions of a set of McpPolicies. Both sides are
 * compiled by the server's `compile`; grants are compared as (subject, tool, namespace scope) rows,
 * the union over all Ready policies (grants add up), so moving a grant from one policy to another
 * is no change, and a widened namespace glob shows as the new scope added and the old one removed.
 */

import { type McpPolicySpec, McpPolicySpecSchema } from '../api/v1alpha1/schema.js';
import { isScaleTool } from '../policy/tools.js';
import { type LimitChange, limitChanges } from './diff-limits.js';
import type { CompiledSet, PolicyDoc } from './policies.js';

export type { LimitChange } from './diff-limits.js';

export interface GrantRow {
  /** `ServiceAccount agents/web-agent`, `User alice`, `Group sre`. */
  readonly subject: string;
  readonly tool: string;
  /** `namespace web-*`, `every namespace`, `namespaces with team=web`. */
  readonly scope: string;
  /** A scale tool: the grant can change the cluster. */
  readonly write: boolean;
  readonly policies: readonly string[];
}

export interface PolicyChange {
  readonly policy: string;
  readonly change: 'added' | 'removed' | 'now invalid' | 'now valid';
  readonly message?: string;
}

export interface WarningRow {
  readonly policy: string;
  readonly code: string;
  readonly message: string;
}

export interface PolicyDiff {
  readonly changed: boolean;
  readonly policies: readonly PolicyChange[];
  readonly grantsAdded: readonly GrantRow[];
  readonly grantsRemoved: readonly GrantRow[];
  readonly limits: readonly LimitChange[];
  readonly newWarnings: readonly WarningRow[];
  /** Added write grants plus widened write limits: what a second reviewer should look at. */
  readonly writeWidenings: number;
}

export interface DiffSide {
  readonly docs: readonly PolicyDoc[];
  readonly compiled: CompiledSet;
}

function subjectText(s: { kind: string; name: string; namespace?: string }): string {
  return s.kind === 'ServiceAccount' ? `ServiceAccount ${s.namespace}/${s.name}` : `${s.kind} ${s.name}`;
}

function validSpecs(side: DiffSide): Map<string, McpPolicySpec> {
  const out = new Map<string, McpPolicySpec>();
  for (const d of side.docs) {
    if (!side.compiled.index.grants.has(d.name) || out.has(d.name)) continue;
    const parsed = McpPolicySpecSchema.safeParse(d.spec);
    if (parsed.success) out.set(d.name, parsed.data);
  }
  return out;
}

function grantRows(side: DiffSide, specs: Map<string, McpPolicySpec>): Map<string, GrantRow> {
  const rows = new Map<string, { row: GrantRow; policies: string[] }>();
  for (const [name, spec] of specs) {
    const grant = side.compiled.index.grants.get(name);
    if (!grant) continue;
    const scopes = grant.allNamespaces
      ? ['every namespace']
      : [
          ...grant.namespacePatterns.map((p) => `namespace ${p}`),
          ...(grant.namespaceSelector === undefined
            ? []
            : [`namespaces with ${grant.namespaceSelector || 'any labels'}`]),
        ];
    for (const s of spec.subjects)
      for (const tool of grant.toolList)
        for (const scope of scopes) {
          const subject = subjectText(s);
          const key = `${subject}\0${tool}\0${scope}`;
          const hit = rows.get(key);
          if (hit) hit.policies.push(name);
          else
            rows.set(key, {
              row: { subject, tool, scope, write: isScaleTool(tool), policies: [] },
              policies: [name],
            });
        }
  }
  return new Map([...rows].map(([k, v]) => [k, { ...v.row, policies: [...new Set(v.policies)].sort() }]));
}

function policyChanges(oldSide: DiffSide, newSide: DiffSide): PolicyChange[] {
  const out: PolicyChange[] = [];
  const oldStates = oldSide.compiled.index.states;
  const newStates = newSide.compiled.index.states;
  for (const name of [...new Set([...oldStates.keys(), ...newStates.keys()])].sort()) {
    const o = oldStates.get(name);
    const n = newStates.get(name);
    if (!o && n) out.push({ policy: name, change: 'added', ...(n.ready ? {} : { message: n.message }) });
    else if (o && !n) out.push({ policy: name, change: 'removed' });
    else if (o && n && o.ready && !n.ready)
      out.push({ policy: name, change: 'now invalid', message: n.message });
    else if (o && n && !o.ready && n.ready) out.push({ policy: name, change: 'now valid' });
  }
  return out;
}

function newWarnings(oldSide: DiffSide, newSide: DiffSide): WarningRow[] {
  const key = (w: { policy: string; warning: { code: string; message: string } }) =>
    `${w.policy}\0${w.warning.code}\0${w.warning.message}`;
  const before = new Set(oldSide.compiled.warnings.map(key));
  return newSide.compiled.warnings
    .filter((w) => !before.has(key(w)))
    .map((w) => ({ policy: w.policy, code: w.warning.code, message: w.warning.message }));
}

function sortRows(rows: GrantRow[]): GrantRow[] {
  const k = (r: GrantRow) => `${r.subject}\0${r.tool}\0${r.scope}`;
  return rows.sort((a, b) => (k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0));
}

export function diffPolicies(oldSide: DiffSide, newSide: DiffSide): PolicyDiff {
  const oldSpecs = validSpecs(oldSide);
  const newSpecs = validSpecs(newSide);
  const oldRows = grantRows(oldSide, oldSpecs);
  const newRows = grantRows(newSide, newSpecs);
  const grantsAdded = sortRows([...newRows].filter(([k]) => !oldRows.has(k)).map(([, r]) => r));
  const grantsRemoved = sortRows([...oldRows].filter(([k]) => !newRows.has(k)).map(([, r]) => r));
  const limits: LimitChange[] = [];
  for (const [name, n] of [...newSpecs].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const o = oldSpecs.get(name);
    const scales = newSide.compiled.index.grants.get(name)?.toolList.some(isScaleTool) ?? false;
    if (o) limits.push(...limitChanges(name, o, n, scales));
  }
  const policies = policyChanges(oldSide, newSide);
  const warnings = newWarnings(oldSide, newSide);
  const writeWidenings =
    grantsAdded.filter((r) => r.write).length +
    limits.filter((l) => l.write && l.direction === 'widened').length;
  return {
    changed:
      policies.length + grantsAdded.length + grantsRemoved.length + limits.length + warnings.length > 0,
    policies,
    grantsAdded,
    grantsRemoved,
    limits,
    newWarnings: warnings,
    writeWidenings,
  };
}
