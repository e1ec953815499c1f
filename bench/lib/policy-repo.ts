/**
 * A generated policy repository for bench/policy-test.ts: POLICIES McpPolicies in multi-document
 * files of 50, and CASES cases in one kubemcp-test.yaml. Each expectation is derived from how the
 * policies were built, not from the engine, so a run where every case passes is a correct run.
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const PER_FILE = 50;

function policyYaml(p: number): string {
  const max = 10 + (p % 5);
  return `apiVersion: kubemcp.io/v1alpha1
kind: McpPolicy
metadata:
  name: team-${p}
spec:
  subjects:
    - kind: ServiceAccount
      name: agent-${p}
      namespace: agents
  namespaces:
    names: ["team-${p}", "team-${p}-*"]
  tools: [list_pods, scale_deployment]
  replicas:
    min: 1
    max: ${max}
${p % 3 === 0 ? '    maxStep: 3\n' : ''}`;
}

/** Case i of a repository of `policies` policies. */
function caseYaml(i: number, policies: number): string {
  const p = i % policies;
  const max = 10 + (p % 5);
  const head = `  - name: case ${i} (team-${p})\n    caller: { serviceAccount: agents/agent-${p} }\n`;
  switch (i % 5) {
    case 0:
      return `${head}    tool: list_pods\n    namespace: team-${p}\n    expect: allow\n    policy: team-${p}\n`;
    case 1:
      return `${head}    tool: scale_deployment\n    namespace: team-${p}-x\n    replicas: ${max}\n    currentReplicas: ${max - 1}\n    expect: allow\n`;
    case 2:
      return `${head}    tool: scale_deployment\n    namespace: team-${p}\n    replicas: ${max + 1}\n    currentReplicas: ${max}\n    expect: deny\n    code: OutOfBounds\n`;
    case 3:
      return `${head}    tool: list_pods\n    namespace: team-${(p + 1) % policies}\n    expect: deny\n    code: PolicyDenied\n`;
    default:
      return p % 3 === 0
        ? `${head}    tool: scale_deployment\n    namespace: team-${p}\n    replicas: 5\n    currentReplicas: 1\n    expect: deny\n    code: OutOfBounds\n`
        : `${head}    tool: scale_deployment\n    namespace: team-${p}\n    replicas: 5\n    currentReplicas: 1\n    expect: allow\n`;
  }
}

/** Writes the repository under `dir` (policies/ and kubemcp-test.yaml). */
export function writePolicyRepo(dir: string, policies: number, cases: number): void {
  mkdirSync(join(dir, 'policies'), { recursive: true });
  for (let f = 0; f * PER_FILE < policies; f++) {
    const docs: string[] = [];
    for (let p = f * PER_FILE; p < Math.min(policies, (f + 1) * PER_FILE); p++) docs.push(policyYaml(p));
    writeFileSync(join(dir, 'policies', `policies-${String(f).padStart(3, '0')}.yaml`), docs.join('---\n'));
  }
  const body: string[] = [];
  for (let i = 0; i < cases; i++) body.push(caseYaml(i, policies));
  writeFileSync(
    join(dir, 'kubemcp-test.yaml'),
    `apiVersion: cli.kubemcp.io/v1alpha1\nkind: PolicyTest\npolicies: [policies]\ncases:\n${body.join('')}`,
  );
}
