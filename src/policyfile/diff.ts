/**
 * `kubemcp diff`: what changes for whom between two versions of a set of McpPolicies and
 * McpNamespacePolicies (with the McpDelegations that decide whether the latter grant). Both sides are
 * compiled by the server's `compile`; grants are compared as (subject, tool, namespace scope) rows,
 * the union over all Ready policies (grants add up), so moving a grant from one policy to another
 * is no change, and a widened namespace glob shows as the new scope added and the old one removed.
 * A namespaced policy is named by its id, `namespace/name`; its scope is its own namespace.
 */

import { DELEGATION_KIND, KIND, NS_KIND } from '../api/v1alpha1/constants.js';
import { McpPolicySpecSchema } from '../api/v1alpha1/schema.js';
import { McpNamespacePolicySpecSchema } from '../api/v1alpha1/tenancy.js';
import { isScaleTool } from '../policy/tools.js';
import type { PolicyState } from '../policy/types.js';
import { type LimitChange, type LimitSpec, limitChanges } from './diff-limits.js';
import { type CompiledSet, docId, type PolicyDoc } from './policies.js';

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
  readonly kind: typeof KIND | typeof NS_KIND | typeof DELEGATION_KIND;
  /** The name, or `namespace/name` for an McpNamespacePolicy. */
  readonly policy: string;
  /** `now grants nothing` / `now grants`: an McpNamespacePolicy leaving or entering its ceiling. */
  readonly change: 'added' | 'removed' | 'now invalid' | 'now valid' | 'now grants nothing' | 'now grants';
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
  /** The McpPolicy and McpNamespacePolicy documents. */
  readonly docs: readonly PolicyDoc[];
  readonly compiled: CompiledSet;
}

function subjectText(s: { kind: string; name: string; namespace?: string }): string {
  return s.kind === 'ServiceAccount' ? `ServiceAccount ${s.namespace}/${s.name}` : `${s.kind} ${s.name}`;
}

/** The specs of the Ready policies, by id. */
function validSpecs(side: DiffSide): Map<string, LimitSpec> {
  const out = new Map<string, LimitSpec>();
  for (const d of side.docs) {
    const id = docId(d);
    if (!side.compiled.index.grants.has(id) || out.has(id)) continue;
    const schema = d.namespace === undefined ? McpPolicySpecSchema : McpNamespacePolicySpecSchema;
    const parsed = schema.safeParse(d.spec);
    if (parsed.success) out.set(id, parsed.data);
  }
  return out;
}

function grantRows(side: DiffSide, specs: Map<string, LimitSpec>): Map<string, GrantRow> {
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

function stateChanges(
  oldStates: ReadonlyMap<string, PolicyState>,
  newStates: ReadonlyMap<string, PolicyState>,
  kindOf: (id: string) => PolicyChange['kind'],
): PolicyChange[] {
  const out: PolicyChange[] = [];
  for (const id of [...new Set([...oldStates.keys(), ...newStates.keys()])].sort()) {
    const o = oldStates.get(id);
    const n = newStates.get(id);
    const kind = kindOf(id);
    if (!o && n) out.push({ kind, policy: id, change: 'added', ...(n.ready ? {} : { message: n.message }) });
    else if (o && !n) out.push({ kind, policy: id, change: 'removed' });
    else if (o && n && o.ready && !n.ready)
      out.push({
        kind,
        policy: id,
        change: n.reason === 'Invalid' ? 'now invalid' : 'now grants nothing',
        message: n.message,
      });
    else if (o && n && !o.ready && n.ready)
      out.push({ kind, policy: id, change: o.reason === 'Invalid' ? 'now valid' : 'now grants' });
  }
  return out;
}

function policyChanges(oldSide: DiffSide, newSide: DiffSide): PolicyChange[] {
  const o = oldSide.compiled.index;
  const n = newSide.compiled.index;
  return [
    ...stateChanges(o.delegations, n.delegations, () => DELEGATION_KIND),
    ...stateChanges(o.states, n.states, (id) => (id.includes('/') ? NS_KIND : KIND)),
  ];
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
