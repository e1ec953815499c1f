/**
 * `kubemcp diff OLD NEW`: grants added and removed per (subject, tool, namespace scope), bounds and
 * limits widened or narrowed, new warnings, write widenings marked; text, JSON, Markdown; exit 0
 * unchanged, 1 changed, 2 unreadable input.
 */

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXAMPLE, edit, exampleCopy, run, scratch } from './support.js';

const policy = (name: string, spec: string) =>
  `apiVersion: kubemcp.io/v1alpha1\nkind: McpPolicy\nmetadata:\n  name: ${name}\nspec:\n${spec}`;

const READ =
  '  subjects: [{ kind: User, name: alice }]\n  namespaces: { names: [web] }\n  tools: [list_pods]\n';

describe('kubemcp diff', () => {
  it('the example against a copy of itself: no change, exit 0', async () => {
    const r = await run(['diff', join(EXAMPLE, 'policies'), join(exampleCopy(), 'policies')]);
    expect(r.status).toBe(0);
    expect(r.out).toBe('No change in what the McpPolicies grant.');
  });

  it('shows the widened glob and raised max of the example, marked as write widenings', async () => {
    const dir = exampleCopy();
    const file = join(dir, 'policies/web-autoscaler.yaml');
    edit(file, 'names: ["web-*"]', 'names: ["*"]');
    edit(file, 'max: 10', 'max: 20');
    const r = await run(['diff', join(EXAMPLE, 'policies'), join(dir, 'policies')]);
    expect(r.status).toBe(1);
    expect(r.out.split('\n')).toEqual(
      expect.arrayContaining([
        '  + ServiceAccount agents/autoscaler: scale_deployment in every namespace (McpPolicy web-autoscaler) [write]',
        '  + ServiceAccount agents/autoscaler: list_deployments in every namespace (McpPolicy web-autoscaler)',
        '  - ServiceAccount agents/autoscaler: scale_deployment in namespace web-* (McpPolicy web-autoscaler) [write]',
        '  + McpPolicy web-autoscaler: replicas.max 10 → 20 (widened) [write]',
      ]),
    );
    expect(r.out).toMatch(/^ {2}! McpPolicy web-autoscaler: OperatorNamespace: /m);
    expect(r.out.split('\n').at(-1)).toBe(
      '2 grants added, 2 removed, 1 limits changed, 1 new warnings; 2 widenings of write access.',
    );
    const md = await run(['diff', join(EXAMPLE, 'policies'), join(dir, 'policies'), '-o', 'markdown']);
    expect(md.status).toBe(1);
    expect(md.out).toContain('> **2 widenings of write access**');
    expect(md.out).toContain(
      '| ➕ added ⚠️ write | ServiceAccount agents/autoscaler | `scale_deployment` | every namespace | web-autoscaler |',
    );
    expect(md.out).toContain('| web-autoscaler | `replicas.max` | 10 | 20 | widened ⚠️ write |');
  });

  it('narrowing is told apart from widening, and a grant moved between policies is no change', async () => {
    const scale = (max: string, extra = '') =>
      `  subjects: [{ kind: User, name: bob }]\n  namespaces: { names: [web] }\n  tools: [scale_deployment]\n  replicas: { min: 1, max: ${max} }\n${extra}`;
    const before = scratch({
      'a.yaml': policy('alice-read', READ),
      'b.yaml': policy('bob-scale', scale('10')),
    });
    const after = scratch({
      'a.yaml': policy('alice-read-renamed', READ),
      'b.yaml': policy('bob-scale', scale('5', '  cooldownSeconds: 60\n')),
    });
    const r = await run(['diff', before, after, '--output', 'json']);
    expect(r.status).toBe(1);
    const d = JSON.parse(r.out) as Record<string, unknown>;
    expect(d.grantsAdded).toEqual([]);
    expect(d.grantsRemoved).toEqual([]);
    expect(d.writeWidenings).toBe(0);
    expect(d.limits).toEqual([
      { policy: 'bob-scale', field: 'replicas.max', old: 10, new: 5, direction: 'narrowed', write: true },
      { policy: 'bob-scale', field: 'cooldownSeconds', new: 60, direction: 'narrowed', write: true },
    ]);
    expect(d.policies).toEqual([
      { kind: 'McpPolicy', policy: 'alice-read', change: 'removed' },
      { kind: 'McpPolicy', policy: 'alice-read-renamed', change: 'added' },
    ]);
  });

  it('a policy that becomes invalid loses its grants, and says why', async () => {
    const before = scratch({ 'a.yaml': policy('alice-read', READ) });
    const after = scratch({ 'a.yaml': policy('alice-read', READ.replace('list_pods', 'list_secrets')) });
    const r = await run(['diff', before, after]);
    expect(r.status).toBe(1);
    expect(r.out).toContain(
      'McpPolicy alice-read: now invalid: spec.tools[0]: "list_secrets" matches no known tool',
    );
    expect(r.out).toContain('  - User alice: list_pods in namespace web (McpPolicy alice-read)');
  });

  it('names a namespaced grant added or removed with its namespace, and what a delegation changes', async () => {
    const delegation = (max: number) =>
      `apiVersion: kubemcp.io/v1alpha1\nkind: McpDelegation\nmetadata:\n  name: teams\nspec:\n  namespaces: { names: [team-a] }\n  ceiling: { tools: ["list_*", scale_deployment], maxReplicas: ${max} }\n`;
    const tenant = (name: string, tools: string) =>
      `apiVersion: kubemcp.io/v1alpha1\nkind: McpNamespacePolicy\nmetadata:\n  name: ${name}\n  namespace: team-a\nspec:\n  subjects: [{ kind: ServiceAccount, name: bot, namespace: team-a }]\n  tools: [${tools}]\n  replicas: { min: 1, max: 4 }\n`;
    const before = scratch({ 'd.yaml': delegation(5), 't.yaml': tenant('bot', 'list_pods') });
    const after = scratch({
      'd.yaml': delegation(5),
      't.yaml': `${tenant('bot', 'list_pods, scale_deployment')}---\n${tenant('reader', 'list_deployments')}`,
    });
    const r = await run(['diff', before, after]);
    expect(r.status).toBe(1);
    expect(r.out.split('\n')).toEqual(
      expect.arrayContaining([
        'McpNamespacePolicy team-a/reader: added',
        '  + ServiceAccount team-a/bot: scale_deployment in namespace team-a (McpNamespacePolicy team-a/bot) [write]',
        '  + ServiceAccount team-a/bot: list_deployments in namespace team-a (McpNamespacePolicy team-a/reader)',
      ]),
    );
    // A ceiling lowered below the policy's bound withdraws its grants: the diff says so.
    const lowered = scratch({
      'd.yaml': delegation(3),
      't.yaml': tenant('bot', 'list_pods, scale_deployment'),
    });
    const r2 = await run(['diff', after, lowered]);
    expect(r2.status).toBe(1);
    expect(r2.out.split('\n')).toEqual(
      expect.arrayContaining([
        'McpNamespacePolicy team-a/reader: removed',
        'McpNamespacePolicy team-a/bot: now grants nothing: Grants nothing: the policy exceeds what namespace team-a may grant: replicas.max 4 is above 3, the most allowed in this namespace.',
        '  - ServiceAccount team-a/bot: list_pods in namespace team-a (McpNamespacePolicy team-a/bot)',
        '  - ServiceAccount team-a/bot: scale_deployment in namespace team-a (McpNamespacePolicy team-a/bot) [write]',
      ]),
    );
    // Without any delegation nothing is in force: the first version granted nothing.
    const r3 = await run(['diff', join(after, 't.yaml'), after]);
    expect(r3.out.split('\n')).toEqual(
      expect.arrayContaining(['McpDelegation teams: added', 'McpNamespacePolicy team-a/bot: now grants']),
    );
  });

  it('unreadable input and wrong arguments exit 2', async () => {
    const good = scratch({ 'a.yaml': policy('alice-read', READ) });
    const r = await run(['diff', good, join(good, 'missing')]);
    expect(r.status).toBe(2);
    expect(r.err).toContain('missing: no such file or directory');
    expect((await run(['diff', good])).status).toBe(2);
    expect((await run(['diff', good, good, '-o', 'html'])).status).toBe(2);
  });
});
