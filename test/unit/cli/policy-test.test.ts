/**
 * `kubemcp test`: the example repository passes; breaking one of its policies (a wider namespace
 * glob, a higher max) fails the cases that guard against it, by name and with a readable reason;
 * the outputs (table, JSON, JUnit), --fail-only, --select, exit codes, and --scaffold.
 */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXAMPLE, edit, exampleCopy, MANIFEST_HEAD, run, scratch } from './support.js';

const BREAK_GLOB: [string, string] = ['names: ["web-*"]', 'names: ["*"]'];
const BREAK_MAX: [string, string] = ['max: 10', 'max: 20'];

describe('the example policy repository', () => {
  it('passes: every case, exit 0, a closing count', async () => {
    const r = await run(['test'], EXAMPLE);
    expect(r.err).toBe('');
    expect(r.status).toBe(0);
    expect(r.out).not.toMatch(/^FAIL/m);
    expect(r.out.split('\n').at(-1)).toBe('14 passed, 0 failed');
  });

  it('fails the named cases when a namespace glob is widened and max raised', async () => {
    const dir = exampleCopy();
    const file = join(dir, 'policies/web-autoscaler.yaml');
    edit(file, ...BREAK_GLOB);
    edit(file, ...BREAK_MAX);
    const r = await run(['test', '--fail-only'], dir);
    expect(r.status).toBe(1);
    const failed = r.out.split('\n').filter((l) => l.startsWith('FAIL'));
    expect(failed.map((l) => l.split(/\s{2,}/)[2])).toEqual([
      'autoscaler cannot touch payments',
      'autoscaler cannot scale web-prod past 10',
      'autoscaler cannot reach the operator',
    ]);
    expect(r.out).toContain(
      'expected deny PolicyDenied, got allow by web-autoscaler: McpPolicy web-autoscaler grants scale_deployment in namespace payments.',
    );
    expect(r.out).toContain('expected deny OutOfBounds, got deny ConfirmationRequired');
    expect(r.out).toMatch(
      /^warning: policies\/web-autoscaler\.yaml:\d+: McpPolicy web-autoscaler: OperatorNamespace/m,
    );
    expect(r.out.split('\n').at(-1)).toBe('11 passed, 3 failed');
  });

  it('fails only the bounds case when only max is raised past the confirmation', async () => {
    const dir = exampleCopy();
    edit(join(dir, 'policies/web-autoscaler.yaml'), 'max: 10\n', 'max: 20\n');
    edit(join(dir, 'policies/web-autoscaler.yaml'), 'above: 8', 'above: 15');
    const r = await run(['test', '--fail-only', '--output', 'json'], dir);
    expect(r.status).toBe(1);
    const body = JSON.parse(r.out) as {
      passed: number;
      failed: number;
      results: { name: string; got: string }[];
    };
    expect(body.failed).toBe(2);
    expect(body.results.map((x) => [x.name, x.got])).toEqual([
      ['a large scale-up needs a human', 'allow by web-autoscaler'],
      ['autoscaler cannot scale web-prod past 10', 'allow by web-autoscaler'],
    ]);
  });
});

const POLICY = `apiVersion: kubemcp.io/v1alpha1
kind: McpPolicy
metadata:
  name: bots
spec:
  subjects:
    - kind: Group
      name: system:serviceaccounts:agents
  namespaces:
    names: ["team-?"]
  tools: [scale_deployment, list_pods]
  replicas: { min: 1, max: 5, maxStep: 2 }
`;

const caseOf = (name: string, body: string) => `  - name: ${name}\n${body}`;

function manifest(...cases: string[]): string {
  return `${MANIFEST_HEAD}cases:\n${cases.join('')}`;
}

const SA_SCALES = caseOf(
  'a ServiceAccount of agents scales team-a',
  '    caller: { serviceAccount: agents/bot }\n    tool: scale_deployment\n    namespace: team-a\n    replicas: 3\n    currentReplicas: 2\n    expect: allow\n    policy: bots\n',
);
const USER_CANNOT = caseOf(
  'a user named like the ServiceAccount has no implicit group',
  '    caller: { user: bot }\n    tool: list_pods\n    namespace: team-a\n    expect: deny\n    code: PolicyDenied\n',
);

describe('kubemcp test, cases and outputs', () => {
  it('gives ServiceAccounts their implicit groups, users none', async () => {
    const dir = scratch({
      'policies/bots.yaml': POLICY,
      'kubemcp-test.yaml': manifest(SA_SCALES, USER_CANNOT),
    });
    const r = await run(['test'], dir);
    expect(r.status).toBe(0);
    expect(r.out.split('\n').at(-1)).toBe('2 passed, 0 failed');
  });

  it('asks for currentReplicas where maxStep needs it, naming the policy', async () => {
    const c = caseOf(
      'no current count',
      '    caller: { serviceAccount: agents/bot }\n    tool: scale_deployment\n    namespace: team-a\n    replicas: 3\n    expect: allow\n',
    );
    const dir = scratch({ 'policies/bots.yaml': POLICY, 'kubemcp-test.yaml': manifest(c) });
    const r = await run(['test'], dir);
    expect(r.status).toBe(1);
    expect(r.out).toContain('McpPolicy bots limits the change per call: give currentReplicas');
  });

  it('--select runs only matching cases; --fail-only hides passes', async () => {
    const dir = scratch({
      'policies/bots.yaml': POLICY,
      'kubemcp-test.yaml': manifest(SA_SCALES, USER_CANNOT),
    });
    const r = await run(['test', '--select', 'IMPLICIT'], dir);
    expect(r.out).toContain('a user named like');
    expect(r.out).not.toContain('scales team-a');
    expect(r.out.split('\n').at(-1)).toBe('1 passed, 0 failed');
    const quiet = await run(['test', '--fail-only'], dir);
    expect(quiet.out).not.toMatch(/^(PASS|RESULT)/m);
    expect(quiet.out.split('\n').at(-1)).toBe('2 passed, 0 failed');
  });

  it('writes a JUnit report with one testcase per case and the failure message', async () => {
    const wrong = caseOf(
      'wrongly expects a deny',
      '    caller: { serviceAccount: agents/bot }\n    tool: list_pods\n    namespace: team-b\n    expect: deny\n',
    );
    const dir = scratch({ 'policies/bots.yaml': POLICY, 'kubemcp-test.yaml': manifest(SA_SCALES, wrong) });
    const r = await run(['test', '--junit', 'report.xml'], dir);
    expect(r.status).toBe(1);
    const xml = readFileSync(join(dir, 'report.xml'), 'utf8');
    expect(xml).toContain('<testsuites name="kubemcp test" tests="2" failures="1" errors="0">');
    expect(xml.match(/<testcase /g)).toHaveLength(2);
    expect(xml).toMatch(
      /<testcase [^>]*name="wrongly expects a deny"[^>]*line="\d+"><failure message="expected deny, got allow by bots/,
    );
  });

  it('rejects a malformed manifest with exit 2 at file and line, running nothing', async () => {
    const bad = caseOf('bad tool', '    caller: { user: alice }\n    tool: delete_pods\n    expect: allow\n');
    const dir = scratch({ 'policies/bots.yaml': POLICY, 'kubemcp-test.yaml': manifest(SA_SCALES, bad) });
    const r = await run(['test'], dir);
    expect(r.status).toBe(2);
    expect(r.out).toMatch(
      /^error: kubemcp-test\.yaml:\d+: cases\[1\]\.tool: must be one of list_namespaces, .*, not "delete_pods"$/m,
    );
    const line = Number(/kubemcp-test\.yaml:(\d+)/.exec(r.out)?.[1]);
    expect(readFileSync(join(dir, 'kubemcp-test.yaml'), 'utf8').split('\n')[line - 1]).toContain(
      'delete_pods',
    );
  });

  it('rejects expectations that do not fit together (code with allow, policy with deny)', async () => {
    const both = caseOf(
      'mixed up',
      '    caller: { user: alice }\n    tool: list_pods\n    expect: deny\n    policy: bots\n',
    );
    const dir = scratch({ 'policies/bots.yaml': POLICY, 'kubemcp-test.yaml': manifest(both) });
    const r = await run(['test'], dir);
    expect(r.status).toBe(2);
    expect(r.out).toMatch(
      /^error: kubemcp-test\.yaml:\d+: cases\[0\]\.policy: policy goes with expect: allow$/m,
    );
  });

  it('rejects YAML that does not parse, a missing policy path and no manifest at all', async () => {
    const broken = scratch({ 'policies/bots.yaml': 'a: [1,\n', 'kubemcp-test.yaml': manifest(SA_SCALES) });
    const r1 = await run(['test'], broken);
    expect(r1.status).toBe(2);
    expect(r1.out).toMatch(/^error: policies\/bots\.yaml:\d+: not valid YAML/m);
    const missing = scratch({ 'kubemcp-test.yaml': manifest(SA_SCALES) });
    const r2 = await run(['test'], missing);
    expect(r2.status).toBe(2);
    expect(r2.out).toContain('error: policies: no such file or directory');
    const r3 = await run(['test'], scratch());
    expect(r3.status).toBe(2);
    expect(r3.out).toContain('no kubemcp-test.yaml found');
  });

  it('a usage error exits 2', async () => {
    expect((await run(['test', '--output', 'xml'], scratch())).status).toBe(2);
    expect((await run(['test', '--nope'], scratch())).status).toBe(2);
  });
});

describe('kubemcp test --scaffold', () => {
  it('writes a manifest that passes, with allow and boundary cases, and never overwrites', async () => {
    const dir = scratch({ 'bots.yaml': POLICY });
    const r = await run(['test', '--scaffold'], dir);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^wrote kubemcp-test\.yaml: \d+ cases from 1 policies$/);
    const text = readFileSync(join(dir, 'kubemcp-test.yaml'), 'utf8');
    expect(text).toContain('bots: scale_deployment in team-x');
    expect(text).toContain('bots: scale_deployment to 6');
    expect(text).toContain('bots: scale_deployment to 0');
    expect(text).toMatch(/bots: list_pods outside, in /);
    const tested = await run(['test'], dir);
    expect(tested.status).toBe(0);
    expect(tested.out).toMatch(/^\d+ passed, 0 failed$/m);
    expect(tested.out).toMatch(/deny OutOfBounds/);
    expect(tested.out).toMatch(/deny PolicyDenied/);
    const again = await run(['test', '--scaffold'], dir);
    expect(again.status).toBe(2);
    expect(again.err).toContain('exists');
    expect(existsSync(join(dir, 'kubemcp-test.yaml'))).toBe(true);
  });

  it('scaffolds a namespaced policy under its delegation, named namespace/name, and the cases pass', async () => {
    const dir = scratch({
      'shop.yaml': `apiVersion: kubemcp.io/v1alpha1
kind: McpDelegation
metadata: { name: shop }
spec:
  namespaces: { names: [shop] }
  ceiling: { tools: ["list_*", scale_deployment], maxReplicas: 6, maxStep: 2 }
---
apiVersion: kubemcp.io/v1alpha1
kind: McpNamespacePolicy
metadata: { name: agent, namespace: shop }
spec:
  subjects: [{ kind: ServiceAccount, name: agent, namespace: shop }]
  tools: [scale_deployment]
  replicas: { min: 1, max: 4, maxStep: 2 }
`,
    });
    const r = await run(['test', '--scaffold'], dir);
    expect(r.err).toBe('');
    expect(r.status).toBe(0);
    const text = readFileSync(join(dir, 'kubemcp-test.yaml'), 'utf8');
    expect(text).toContain('shop/agent: scale_deployment in shop');
    expect(text).toContain('policy: shop/agent');
    expect(text).toContain('shop/agent: scale_deployment to 5');
    expect(text).toMatch(/shop\/agent: scale_deployment outside, in /);
    const tested = await run(['test'], dir);
    expect(tested.status).toBe(0);
    expect(tested.out).toMatch(/^\d+ passed, 0 failed$/m);
  });
});
