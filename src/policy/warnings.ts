/**
 * Warnings for valid but risky grants ("footguns"), shown in an McpPolicy's status (a `Warnings`
 * condition next to Ready=True) and by `kubemcp check`. Pure: a compiled grant, the spec as written
 * and the operator's namespace in, warnings out. A warning never changes what a policy grants.
 */

import type { CompiledGrant } from './compiled.js';
import { isScaleTool } from './tools.js';
import type { PolicyWarning } from './types.js';

/** Groups every authenticated (or unauthenticated) caller belongs to. */
export const EVERYONE_GROUPS: ReadonlyMap<string, string> = new Map([
  ['system:authenticated', 'every authenticated caller'],
  ['system:serviceaccounts', 'every ServiceAccount of every namespace'],
  ['system:unauthenticated', 'every unauthenticated caller'],
]);

const NAMESPACE_SERVICE_ACCOUNTS = 'system:serviceaccounts:';

export interface WarningInput {
  readonly grant: CompiledGrant;
  readonly subjects: readonly { readonly kind: string; readonly name: string }[];
  /** The namespace the operator runs in; omit when unknown (no operator-namespace warning). */
  readonly operatorNamespace?: string;
}

/** Whether the grant covers `namespace`, whether or not it exists now. */
export function grantCovers(grant: CompiledGrant, namespace: string): boolean {
  return (
    grant.allNamespaces ||
    grant.coveredNamespaces.has(namespace) ||
    grant.exactNamespaces.has(namespace) ||
    grant.namespaceGlobs.some((match) => match(namespace))
  );
}

/** The warnings of one valid policy, in a stable order (by code, then subject order). */
export function policyWarnings(input: WarningInput): PolicyWarning[] {
  const { grant, operatorNamespace } = input;
  const warnings: PolicyWarning[] = [];
  const scaleTools = grant.toolList.filter(isScaleTool);

  if (operatorNamespace !== undefined && grantCovers(grant, operatorNamespace)) {
    warnings.push({
      code: 'OperatorNamespace',
      message:
        scaleTools.length > 0
          ? `covers the operator's own namespace "${operatorNamespace}" with ${scaleTools.join(', ')}: an agent could scale the operator itself, e.g. to 0; exclude that namespace`
          : `covers the operator's own namespace "${operatorNamespace}": agents see the operator's own workloads; exclude that namespace`,
    });
  }

  for (const subject of input.subjects) {
    if (subject.kind !== 'Group') continue;
    const everyone = EVERYONE_GROUPS.get(subject.name);
    if (everyone !== undefined) {
      warnings.push({
        code: 'EveryoneSubject',
        message: `subject Group ${subject.name} means ${everyone}: name the ServiceAccounts, users or groups of the agents instead`,
      });
    } else if (subject.name.startsWith(NAMESPACE_SERVICE_ACCOUNTS)) {
      const ns = subject.name.slice(NAMESPACE_SERVICE_ACCOUNTS.length);
      warnings.push({
        code: 'NamespaceServiceAccounts',
        message: `subject Group ${subject.name} means every ServiceAccount of namespace "${ns}", including ones created later: prefer naming the agents' ServiceAccounts`,
      });
    }
  }

  // The API server fills in the CRD's default (min: 0), so a defaulted 0 and a written 0 look the
  // same on a stored object: both are reported.
  if (scaleTools.length > 0 && grant.replicas?.min === 0) {
    warnings.push({
      code: 'ScaleToZero',
      message: `replicas.min is 0 (the default when it is not set): ${scaleTools.join(', ')} may scale a workload to zero (an outage); set replicas.min to 1 or more unless scaling to zero is intended`,
    });
  }
  return warnings;
}

/** The `reason` of a Warnings condition: the distinct codes, comma-separated, in order. */
export function warningsReason(warnings: readonly PolicyWarning[]): string {
  return [...new Set(warnings.map((w) => w.code))].join(',');
}

/** The `message` of a Warnings condition: one sentence per warning. */
export function warningsMessage(warnings: readonly PolicyWarning[]): string {
  return warnings.map((w) => `${w.code}: ${w.message}.`).join(' ');
}
