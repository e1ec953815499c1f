/**
 * McpNamespacePolicies and McpDelegations in policy files: `kubemcp test`, `check -f` and the loading
 * they share read them as they read McpPolicies, compile them with the server's engine (a tenant's
 * grant counts only inside a delegation's ceiling), name a namespaced policy `namespace/name`, and
 * reject what the API server or the controller would reject at file and line.
 */

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileSet, loadPolicyFiles } from '../../../src/policyfile/policies.js';
import { EXAMPLE, exampleCopy, MANIFEST_HEAD, run, scratch } from './support.js';

const DELEGATION = `apiVersion: kubemcp.io/v1alpha1
kind: McpDelegation
metadata:
  name: teams
spec:
  namespaces: { names: [team-a] }
  ceiling: { tools: ["list_*", scale_deployment], maxReplicas: 5 }
`;

const tenant = (
  name: string,
  spec: string,
  meta = '  namespace: team-a\n',
) => `apiVersion: kubemcp.io/v1alpha1
kind: McpNamespacePolicy
metadata:
  name: ${name}
${meta}spec:
${spec}`;

const BOT_SPEC =
  '  subjects: [{ kind: ServiceAccount, name: bot, namespace: team-a }]\n  tools: [list_pods, scale_deployment]\n  replicas: { min: 1, max: 4 }\n';

const CASE_ALLOW = `cases:
  - name: bot scales team-a
    caller: { serviceAccount: team-a/bot }
    tool: scale_deployment
    namespace: team-a
    replicas: 3
    expect: allow
    policy: team-a/bot
`;

describe('policy files with the tenancy kinds', () => {
  it('loads both kinds and compiles them with the server engine', () => {
    const dir = scratch({
      'd.yaml': DELEGATION,
      't.yaml': tenant('bot', BOT_SPEC),
      'ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n',
    });
    const loaded = loadPolicyFiles(['.'], dir, dir);
    expect(loaded.problems).toEqual([]);
    expect(loaded.delegations.map((d) => d.name)).toEqual(['teams']);
    expect(loaded.namespacePolicies.map((p) => [p.namespace, p.name, p.file, p.line])).toEqual([
      ['team-a', 'bot', 't.yaml', 1],
    ]);
    const compiled = compileSet(loaded);
    expect(compiled.problems).toEqual([]);
    expect(compiled.index.grants.get('team-a/bot')?.policyNamespace).toBe('team-a');
    expect(compiled.index.delegations.get('teams')?.ready).toBe(true);
  });

  it('kubemcp test: a tenant case passes by namespace/name; without the delegation it fails and warns', async () => {
    const dir = scratch({
      'kubemcp-test.yaml': MANIFEST_HEAD + CASE_ALLOW,
      'policies/d.yaml': DELEGATION,
      'policies/t.yaml': tenant('bot', BOT_SPEC),
    });
    const ok = await run(['test'], dir);
    expect(ok.err).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.out).toMatch(/^PASS .* bot scales team-a +allow by team-a\/bot +allow by team-a\/bot$/m);

    const alone = scratch({
      'kubemcp-test.yaml': MANIFEST_HEAD + CASE_ALLOW,
      'policies/t.yaml': tenant('bot', BOT_SPEC),
    });
    const r = await run(['test'], alone);
    expect(r.status).toBe(1);
    expect(r.out).toContain(
      'warning: policies/t.yaml:1: McpNamespacePolicy team-a/bot: NotDelegated: Grants nothing: namespace team-a does not accept McpNamespacePolicies',
    );
    expect(r.out).toMatch(/^FAIL .* bot scales team-a .* deny PolicyDenied$/m);
  });

  it('rejects an invalid namespaced policy or delegation, and a missing namespace, at file and line', async () => {
    const dir = scratch({
      'kubemcp-test.yaml': MANIFEST_HEAD + CASE_ALLOW,
      'policies/d.yaml': DELEGATION.replace('maxReplicas: 5', 'maxStep: 2'),
      'policies/t.yaml': `${tenant('bot', BOT_SPEC.replace('list_pods', 'list_secrets'))}---\n${tenant('nons', BOT_SPEC, '')}---\n${tenant('bot', BOT_SPEC)}`,
    });
    const r = await run(['test'], dir);
    expect(r.status).toBe(2);
    const errors = r.out.split('\n').filter((l) => l.startsWith('error: '));
    expect(errors).toEqual(
      expect.arrayContaining([
        'error: policies/d.yaml:7: McpDelegation teams is invalid: spec.ceiling.maxReplicas: a ceiling whose tools can match a scale_* tool needs maxReplicas (the highest replicas.max a tenant may set)',
        expect.stringMatching(
          /^error: policies\/t\.yaml:8: McpNamespacePolicy team-a\/bot is invalid: spec\.tools\[0\]: "list_secrets" matches no known tool/,
        ),
        'error: policies/t.yaml:14: metadata.namespace is required for kind McpNamespacePolicy',
        'error: policies/t.yaml:20: McpNamespacePolicy team-a/bot is also defined at policies/t.yaml:1',
      ]),
    );
    expect(r.out).not.toMatch(/^(PASS|FAIL) /m);
  });

  it('kubemcp check -f decides with the example repository’s tenant policy, naming it with its namespace', async () => {
    const args = ['check', '--as', 'system:serviceaccount:shop:agent', '--tool', 'scale_deployment'];
    const yes = await run([...args, '-n', 'shop', '--replicas', '4', '-f', join(EXAMPLE, 'policies')]);
    expect(yes.status).toBe(0);
    expect(yes.out).toMatch(/^yes — allowed by McpNamespacePolicy shop\/shop-agent$/m);
    const elsewhere = await run([
      ...args,
      '-n',
      'web-prod',
      '--replicas',
      '4',
      '-f',
      join(EXAMPLE, 'policies'),
    ]);
    expect(elsewhere.status).toBe(1);
    expect(elsewhere.out).toContain('code: PolicyDenied');
  });

  it('the example repository fails its tenant case by name when the delegation is removed', async () => {
    const dir = exampleCopy();
    const r = await run(['test', '--fail-only', join(dir, 'kubemcp-test.yaml')], dir);
    expect(r.status).toBe(0);
    rmSync(join(dir, 'policies/shop-delegation.yaml'));
    const broken = await run(['test', '--fail-only'], dir);
    expect(broken.status).toBe(1);
    expect(broken.out).toMatch(/^FAIL .* shop agent scales shop within its ceiling /m);
    expect(broken.out).toContain('McpNamespacePolicy shop/shop-agent: NotDelegated');
  });
});
