/**
 * `kubemcp test --scaffold`: a first test manifest from the policies it finds (McpPolicies, and
 * McpNamespacePolicies under their delegations, named `namespace/name`). Per Ready policy and tool, one allow case (a namespace the policy covers, the largest replica count it allows) and deny
 * cases at its boundaries (a namespace just outside it, one replica above max and below min). Each
 * expectation is what the engine answers now, so the file passes as written; a reviewer reads it
 * and keeps what the team relies on.
 */

import { stringify } from 'yaml';
import type { CompiledGrant } from '../policy/compiled.js';
import { isNamespaceName, namespacedPolicyId, type PolicyIndex } from '../policy/index.js';
import { isAlwaysAllowedTool, isScaleTool } from '../policy/tools.js';
import type { PolicySet } from './policies.js';
import { testCaller } from './run.js';
import {
  type PolicyTest,
  TEST_API_VERSION,
  TEST_KIND,
  type TestCaller,
  type TestCase,
} from './test-schema.js';
import { offlineVerdict } from './verdict.js';

function callerOf(spec: unknown): TestCaller | undefined {
  const subject = (spec as { subjects?: { kind: string; name: string; namespace?: string }[] }).subjects?.[0];
  if (!subject) return undefined;
  if (subject.kind === 'ServiceAccount') return { serviceAccount: `${subject.namespace}/${subject.name}` };
  if (subject.kind === 'Group') return { user: 'someone', groups: [subject.name] };
  return { user: subject.name };
}

/** A namespace the grant covers: an existing one, a name as written, or a glob filled in. */
function insideNamespace(grant: CompiledGrant): string {
  const existing = [...grant.coveredNamespaces].sort()[0];
  if (existing) return existing;
  const exact = [...grant.exactNamespaces][0];
  if (exact) return exact;
  for (const p of grant.namespacePatterns) {
    const filled = p.replace(/\*+/g, 'x').replace(/\?/g, 'x');
    if (isNamespaceName(filled)) return filled;
  }
  return 'default';
}

function outsideCandidates(inside: string): string[] {
  return [`${inside.slice(0, -1)}`, `x${inside}`, `${inside}x`, 'outside'].filter(isNamespaceName);
}

/** The case as the engine decides it now. */
function decided(index: PolicyIndex, policy: string, c: Omit<TestCase, 'expect'>): TestCase {
  const v = offlineVerdict(
    index,
    {
      caller: testCaller(c.caller),
      tool: c.tool,
      ...(c.namespace === undefined ? {} : { namespace: c.namespace }),
      ...(c.replicas === undefined ? {} : { replicas: c.replicas }),
    },
    c.currentReplicas,
  );
  if (v.allowed) return { ...c, expect: 'allow', ...(v.policies.includes(policy) ? { policy } : {}) };
  return { ...c, expect: 'deny', ...(v.code === undefined ? {} : { code: v.code }) };
}

function casesFor(index: PolicyIndex, grant: CompiledGrant, caller: TestCaller): TestCase[] {
  const out: TestCase[] = [];
  for (const tool of grant.toolList) {
    if (isAlwaysAllowedTool(tool)) continue;
    const ns = insideNamespace(grant);
    const scale = isScaleTool(tool) ? grant.replicas : undefined;
    const at = (replicas: number) => ({ replicas, currentReplicas: replicas > 0 ? replicas - 1 : 1 });
    const base = { caller, tool: tool as TestCase['tool'], namespace: ns };
    out.push(
      decided(index, grant.policy, {
        ...base,
        name: `${grant.policy}: ${tool} in ${ns}`,
        ...(scale ? at(scale.max) : {}),
      }),
    );
    if (!grant.allNamespaces) {
      for (const outside of outsideCandidates(ns)) {
        const c = decided(index, grant.policy, {
          ...base,
          name: `${grant.policy}: ${tool} outside, in ${outside}`,
          namespace: outside,
          ...(scale ? at(scale.max) : {}),
        });
        if (c.expect === 'deny') {
          out.push(c);
          break;
        }
      }
    }
    if (scale && scale.max < 10_000) {
      const c = decided(index, grant.policy, {
        ...base,
        name: `${grant.policy}: ${tool} to ${scale.max + 1}`,
        ...at(scale.max + 1),
      });
      if (c.expect === 'deny') out.push(c);
    }
    if (scale && scale.min > 0) {
      const c = decided(index, grant.policy, {
        ...base,
        name: `${grant.policy}: ${tool} to ${scale.min - 1}`,
        ...at(scale.min - 1),
      });
      if (c.expect === 'deny') out.push(c);
    }
  }
  return out;
}

/**
 * The manifest for the Ready policies of `index`; `set` holds their documents (for subjects): the
 * McpPolicies by name, the McpNamespacePolicies by `namespace/name` as the index knows them.
 */
export function scaffoldManifest(
  index: PolicyIndex,
  set: Pick<PolicySet, 'policies' | 'namespacePolicies'>,
  policyPaths: string[],
): PolicyTest {
  const docs = [
    ...set.policies.map((p) => ({ id: p.name, spec: p.spec })),
    ...(set.namespacePolicies ?? []).map((p) => ({
      id: namespacedPolicyId(p.namespace ?? '', p.name),
      spec: p.spec,
    })),
  ].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const cases: TestCase[] = [];
  for (const { id, spec } of docs) {
    const grant = index.grants.get(id);
    const caller = callerOf(spec);
    if (grant && caller) cases.push(...casesFor(index, grant, caller));
  }
  // Namespaces come from Namespace documents in the policy files, which the manifest reads again.
  return {
    apiVersion: TEST_API_VERSION,
    kind: TEST_KIND,
    metadata: { name: 'scaffold' },
    policies: policyPaths,
    cases,
  } as PolicyTest;
}

export function renderManifest(test: PolicyTest): string {
  return `# Written by kubemcp test --scaffold: each expectation is what the policies answer today.\n# Keep the cases your team relies on, fix the ones that surprise you, add the calls you fear.\n${stringify(test, { lineWidth: 0 })}`;
}
