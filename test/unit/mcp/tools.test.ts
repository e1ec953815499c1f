import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TOOLS } from '../../../src/mcp/tools.js';
import { KNOWN_TOOLS } from '../../../src/policy/tools.js';
import {
  call,
  connect,
  errorOf,
  type Harness,
  NOW,
  POLICIES,
  post,
  startHarness,
  TOKENS,
  textOf,
  toolCall,
  type Who,
} from './helpers.js';

/** Tools through the real SDK client (2026-07-28) against the in-process app and a fake cluster. */

let h: Harness;
const clients: Client[] = [];
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await h.close();
});
async function as(who: Who): Promise<Client> {
  const c = await connect(h, TOKENS[who]);
  clients.push(c);
  return c;
}
async function toolNames(who: Who): Promise<string[]> {
  return (await (await as(who)).listTools()).tools.map((t) => t.name);
}

describe('tools/list', () => {
  it('defines exactly the contract tools', () => {
    expect(TOOLS.map((t) => t.name).sort()).toEqual([...KNOWN_TOOLS].sort());
    for (const t of TOOLS) {
      expect(Object.keys(t.annotations).sort()).toEqual([
        'destructiveHint',
        'idempotentHint',
        'openWorldHint',
        'readOnlyHint',
      ]);
    }
  });

  it('shows each caller only what its policies grant, plus get_permissions', async () => {
    expect(await toolNames('alice')).toEqual([...KNOWN_TOOLS].sort((a, b) => order(a) - order(b)));
    expect(await toolNames('copilot')).toEqual([
      'list_namespaces',
      'list_pods',
      'list_deployments',
      'scale_deployment',
      'get_permissions',
    ]);
    expect(await toolNames('bob')).toEqual([
      'list_namespaces',
      'list_pods',
      'list_deployments',
      'list_statefulsets',
      'list_services',
      'get_permissions',
    ]);
    expect(await toolNames('mallory')).toEqual(['get_permissions']);
  });

  it("states the caller's replica bounds in the scale tool's description and input schema", async () => {
    const { tools } = await (await as('copilot')).listTools();
    const scale = tools.find((t) => t.name === 'scale_deployment');
    expect(scale?.description).toContain('between 1 and 10');
    expect(scale?.inputSchema.properties?.replicas).toMatchObject({
      type: 'integer',
      minimum: 1,
      maximum: 10,
    });
    expect(scale?.annotations).toEqual({
      title: 'Scale a Deployment',
      readOnlyHint: false,
      destructiveHint: true,
      idempotentHint: true,
      openWorldHint: false,
    });
  });

  it('follows policy changes without a restart', async () => {
    expect(await toolNames('copilot')).toContain('scale_deployment');
    h.setPolicies(POLICIES.filter((p) => p.name !== 'web-agents'));
    expect(await toolNames('copilot')).toEqual(['get_permissions']);
  });

  // One golden file per sample caller: what each sees (tools, descriptions with its bounds, schemas).
  // Compared as parsed JSON, so the files may be reformatted (biome) freely.
  // Regenerate deliberately with UPDATE_GOLDEN=1 and review the diff.
  for (const who of ['alice', 'copilot', 'bob', 'mallory'] as const) {
    it(`matches the golden tools/list snapshot of ${who}`, async () => {
      const golden = new URL(`./__snapshots__/tools-list.${who}.json`, import.meta.url);
      const { tools } = await (await as(who)).listTools();
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden, `${JSON.stringify(tools, null, 2)}\n`);
      if (!existsSync(golden))
        throw new Error(`missing ${golden.pathname}; run with UPDATE_GOLDEN=1 to create it`);
      expect(tools).toEqual(JSON.parse(readFileSync(golden, 'utf8')));
    });
  }
});

function order(name: string): number {
  return TOOLS.findIndex((t) => t.name === name);
}

describe('list tools', () => {
  it('lists pods only in the namespaces the caller may see, with limit and continue', async () => {
    const c = await as('copilot');
    const first = await call(c, 'list_pods', { limit: 3 });
    expect(first.isError).toBeFalsy();
    const page1 = first.structuredContent as {
      items: { namespace: string; name: string }[];
      nextCursor?: string;
      total: number;
    };
    expect(page1.total).toBe(4);
    expect(page1.items).toHaveLength(3);
    expect(page1.nextCursor).toEqual(expect.any(String));
    const second = await call(c, 'list_pods', { limit: 3, continue: page1.nextCursor });
    const page2 = second.structuredContent as typeof page1;
    expect(page2.items).toHaveLength(1);
    expect(page2.nextCursor).toBeUndefined();
    const all = [...page1.items, ...page2.items].map((p) => `${p.namespace}/${p.name}`);
    // Sorted by namespace, then name; no row repeated or skipped across pages.
    expect(all).toEqual([
      'web/web-7d8f9c-aaaaa',
      'web/web-7d8f9c-bbbbb',
      'web/web-7d8f9c-ccccc',
      'web-dev/api-dev-5c6d7-xxxxx',
    ]);
    expect(textOf(first)).toContain('3 of 4 pods');
    expect(textOf(first)).toContain('continue=');
  });

  it('shows compact rows with health', async () => {
    const c = await as('alice');
    const pods = (await call(c, 'list_pods', { namespace: 'web' })).structuredContent as {
      items: Record<string, unknown>[];
    };
    expect(pods.items[2]).toEqual({
      namespace: 'web',
      name: 'web-7d8f9c-ccccc',
      summary: 'web-7d8f9c-ccccc (ContainerCreating, 0/1 ready)',
      status: 'ContainerCreating',
      phase: 'Pending',
      ready: '0/1',
      restarts: 0,
      age: '10m',
      node: 'node-1',
      podIP: '10.0.0.10',
    });
    const deps = await call(c, 'list_deployments', { namespace: 'web' });
    expect((deps.structuredContent as { items: { summary: string }[] }).items.map((d) => d.summary)).toEqual([
      'api (2/2 ready)',
      'web (2/3 ready)',
    ]);
    expect(textOf(deps)).toContain('web/web (2/3 ready), age 3d');
    const sts = await call(c, 'list_statefulsets', {});
    expect((sts.structuredContent as { items: { summary: string }[] }).items[0]?.summary).toBe(
      'db (3/3 ready)',
    );
    const svc = await call(c, 'list_services', { namespace: 'web' });
    expect((svc.structuredContent as { items: unknown[] }).items[0]).toMatchObject({
      summary: 'web (ClusterIP 10.96.0.10, ports 80->8080/TCP)',
      selector: 'app=web',
    });
  });

  it('applies kubectl label selectors, equality- and set-based', async () => {
    const c = await as('alice');
    const names = async (labelSelector: string) =>
      (
        (await call(c, 'list_pods', { labelSelector })).structuredContent as { items: { name: string }[] }
      ).items.map((p) => p.name);
    expect(await names('app=web')).toHaveLength(3);
    expect(await names('app in (db, billing)')).toEqual(['billing-8f9a1-zzzzz', 'db-0']);
    expect(await names('tier!=frontend')).toEqual(['db-0']);
    expect(await names('app notin (web,api-dev,frontend,billing,coredns)')).toEqual(['db-0']);
    expect(await names('!tier')).toEqual([]);
    expect(await names('tier,app=frontend')).toEqual(['frontend-6b7c8-yyyyy']);
    const bad = await call(c, 'list_pods', { labelSelector: 'app in (web' });
    expect(bad.isError).toBe(true);
    expect(errorOf(bad).code).toBe('Invalid');
  });

  it('rejects a tampered or foreign cursor as Invalid', async () => {
    const c = await as('alice');
    const page = (await call(c, 'list_pods', { limit: 2 })).structuredContent as { nextCursor: string };
    const tampered = `${page.nextCursor.slice(0, -2)}xx`;
    expect(errorOf(await call(c, 'list_pods', { limit: 2, continue: tampered })).code).toBe('Invalid');
    expect(errorOf(await call(c, 'list_pods', { limit: 2, continue: 'not base64!' })).code).toBe('Invalid');
    // A cursor of another query (other namespace) does not resume this one.
    const foreign = await call(c, 'list_pods', { namespace: 'web', limit: 2, continue: page.nextCursor });
    expect(errorOf(foreign).code).toBe('Invalid');
  });

  it('lists the namespaces the caller may see with the tools it may use there', async () => {
    const c = await as('copilot');
    const res = await call(c, 'list_namespaces', {});
    const items = (res.structuredContent as { items: { name: string; tools: string[] }[] }).items;
    expect(items.map((n) => n.name)).toEqual(['web', 'web-dev']);
    expect(items[0]?.tools).toEqual(['list_deployments', 'list_pods', 'scale_deployment']);
  });

  it('shows namespaces a list_namespaces grant covers even without other tools there', async () => {
    h.setPolicies([
      ...POLICIES,
      {
        name: 'mallory-peek',
        generation: 1,
        spec: {
          subjects: [{ kind: 'User', name: 'mallory' }],
          namespaces: { names: ['payments'] },
          tools: ['list_namespaces'],
        },
      },
    ]);
    const res = await call(await as('mallory'), 'list_namespaces', {});
    expect((res.structuredContent as { items: unknown[] }).items).toEqual([
      expect.objectContaining({ name: 'payments', tools: [], labels: { team: 'payments' } }),
    ]);
    expect(errorOf(await call(await as('mallory'), 'list_pods', { namespace: 'payments' })).code).toBe(
      'PolicyDenied',
    );
  });

  it('rejects bad arguments as Invalid results', async () => {
    const c = await as('alice');
    for (const args of [{ limit: 501 }, { limit: 0 }, { namespace: 'Not_A_Namespace' }, { extra: true }]) {
      const res = await call(c, 'list_pods', args);
      expect(res.isError).toBe(true);
      expect(errorOf(res).code).toBe('Invalid');
    }
  });

  it('warns with the data age when the cluster connection is down', async () => {
    h.backend.health = { connected: false, synced: true, lastGoodAt: NOW - 42_000 };
    const res = await call(await as('alice'), 'list_pods', { namespace: 'web' });
    expect(res.isError).toBeFalsy();
    expect((res.structuredContent as { warning: string }).warning).toContain('42s');
    expect(textOf(res)).toMatch(/^WARNING: .*42s/);
  });
});

describe('refusals', () => {
  it('answers PolicyDenied for a forbidden namespace identically whether it exists or not', async () => {
    const c = await as('copilot');
    const existing = await call(c, 'list_pods', { namespace: 'production' });
    const missing = await call(c, 'list_pods', { namespace: 'no-such-ns' });
    expect(errorOf(existing).code).toBe('PolicyDenied');
    const normalise = (r: unknown, ns: string) => JSON.stringify(r).split(ns).join('<ns>');
    expect(normalise(existing, 'production')).toBe(normalise(missing, 'no-such-ns'));
    // Nothing about the other namespace leaked: the check happened before any cluster access.
    expect(h.backend.calls).toEqual([]);
    expect(JSON.stringify(existing)).not.toContain('frontend');

    const scaleExisting = await call(c, 'scale_deployment', {
      namespace: 'production',
      name: 'frontend',
      replicas: 2,
    });
    const scaleMissing = await call(c, 'scale_deployment', {
      namespace: 'no-such-ns',
      name: 'frontend',
      replicas: 2,
    });
    expect(errorOf(scaleExisting).code).toBe('PolicyDenied');
    expect(normalise(scaleExisting, 'production')).toBe(normalise(scaleMissing, 'no-such-ns'));
    expect(h.backend.calls).toEqual([]);
  });

  it('answers PolicyDenied for a known tool the caller was not granted', async () => {
    const res = await call(await as('mallory'), 'scale_deployment', {
      namespace: 'web',
      name: 'web',
      replicas: 2,
    });
    expect(errorOf(res).code).toBe('PolicyDenied');
    const list = await call(await as('mallory'), 'list_pods', {});
    expect(errorOf(list)).toMatchObject({
      code: 'PolicyDenied',
      suggestions: expect.arrayContaining([expect.stringContaining('get_permissions')]),
    });
    expect(h.backend.writes).toEqual([]);
  });

  it('answers an unknown tool with a JSON-RPC error (-32602)', async () => {
    await expect(
      (await as('alice')).callTool({ name: 'delete_everything', arguments: {} }),
    ).rejects.toMatchObject({
      code: -32602,
    });
  });

  it('answers OutOfBounds before touching the cluster', async () => {
    const c = await as('copilot');
    for (const replicas of [11, 0]) {
      const res = await call(c, 'scale_deployment', { namespace: 'web', name: 'web', replicas });
      expect(errorOf(res).code).toBe('OutOfBounds');
    }
    expect(h.backend.calls).toEqual([]);
    // A negative or non-integer count is not a bounds question: it is invalid input.
    expect(
      errorOf(await call(c, 'scale_deployment', { name: 'web', namespace: 'web', replicas: -1 })).code,
    ).toBe('Invalid');
    expect(
      errorOf(await call(c, 'scale_deployment', { name: 'web', namespace: 'web', replicas: 2.5 })).code,
    ).toBe('Invalid');
  });
});

describe('scale', () => {
  it('scales, says from what to what and how ready, and records an Event', async () => {
    const res = await call(await as('copilot'), 'scale_deployment', {
      namespace: 'web',
      name: 'web',
      replicas: 5,
    });
    expect(res.isError).toBeFalsy();
    expect(res.structuredContent).toMatchObject({
      from: 3,
      to: 5,
      changed: true,
      readyReplicas: 2,
      policies: ['web-agents'],
      message: 'scaled web from 3 to 5 (2/5 ready)',
    });
    expect(h.backend.events).toEqual([
      {
        kind: 'deployment',
        namespace: 'web',
        name: 'web',
        uid: 'uid-web-web',
        caller: 'system:serviceaccount:agents:copilot',
        policy: 'web-agents',
        from: 3,
        to: 5,
      },
    ]);
  });

  it('defaults the namespace to "default"', async () => {
    const res = await call(await as('alice'), 'scale_deployment', { name: 'web', replicas: 5 });
    expect(errorOf(res)).toMatchObject({ code: 'NotFound' });
    expect(h.backend.calls).toContain('readScale deployment default/web');
  });

  it('treats scaling to the current count as a no-op that says so', async () => {
    const res = await call(await as('alice'), 'scale_deployment', {
      namespace: 'web',
      name: 'api',
      replicas: 2,
    });
    expect(res.structuredContent).toMatchObject({ from: 2, to: 2, changed: false });
    expect(textOf(res)).toContain('already has 2 replicas');
    expect(h.backend.writes).toEqual([]);
    expect(h.backend.events).toEqual([]);
  });

  it('retries on Conflict from a fresh read, so no update is lost', async () => {
    h.backend.concurrentWriters = [{ replicas: 4 }];
    const res = await call(await as('copilot'), 'scale_deployment', {
      namespace: 'web',
      name: 'web',
      replicas: 6,
    });
    expect(res.structuredContent).toMatchObject({ from: 4, to: 6, changed: true });
    expect(h.backend.writes.map((w) => w.resourceVersion)).toEqual(['100', '101']);
    expect(h.backend.objects.deployment.find((d) => d.metadata?.name === 'web')?.spec?.replicas).toBe(6);
    expect(h.backend.events[0]).toMatchObject({ from: 4, to: 6 });
  });

  it('gives up with Conflict after a bounded number of attempts', async () => {
    h.backend.concurrentWriters = [{ replicas: 4 }, { replicas: 7 }, { replicas: 8 }, { replicas: 9 }];
    const res = await call(await as('copilot'), 'scale_deployment', {
      namespace: 'web',
      name: 'web',
      replicas: 6,
    });
    expect(errorOf(res).code).toBe('Conflict');
    expect(h.backend.writes).toHaveLength(3);
    expect(h.backend.events).toEqual([]);
  });

  it('answers Unavailable, changing nothing, when the cluster connection is down', async () => {
    h.backend.health = { connected: false, synced: true, lastGoodAt: NOW - 90_000 };
    const res = await call(await as('copilot'), 'scale_deployment', {
      namespace: 'web',
      name: 'web',
      replicas: 5,
    });
    expect(errorOf(res)).toMatchObject({ code: 'Unavailable', reason: expect.stringContaining('90s') });
    expect(h.backend.calls.filter((c) => c.startsWith('readScale') || c.startsWith('writeScale'))).toEqual(
      [],
    );
  });

  it('answers NotFound for a missing workload in an allowed namespace', async () => {
    const res = await call(await as('copilot'), 'scale_deployment', {
      namespace: 'web',
      name: 'nope',
      replicas: 2,
    });
    expect(errorOf(res)).toMatchObject({
      code: 'NotFound',
      suggestions: [expect.stringContaining('list_deployments')],
    });
  });

  it('works the same over a raw legacy (2024-11-05) request', async () => {
    const res = await post(
      h,
      toolCall('scale_statefulset', { namespace: 'production', name: 'db', replicas: 5 }),
      {
        token: TOKENS.alice,
      },
    );
    const result = (res.json as { result: { structuredContent: Record<string, unknown> } }).result;
    expect(result.structuredContent).toMatchObject({ kind: 'statefulset', from: 3, to: 5, changed: true });
  });
});

describe('get_permissions', () => {
  it('tells the caller what it may do', async () => {
    const res = await call(await as('copilot'), 'get_permissions');
    expect(res.structuredContent).toMatchObject({
      caller: { username: 'system:serviceaccount:agents:copilot' },
      tools: ['get_permissions', 'list_deployments', 'list_namespaces', 'list_pods', 'scale_deployment'],
      grants: [
        {
          policy: 'web-agents',
          allNamespaces: false,
          namespaces: ['web', 'web-dev'],
          namespacePatterns: ['web', 'web-*'],
          replicas: { min: 1, max: 10 },
        },
      ],
    });
    expect(textOf(res)).toContain('replicas 1-10');
  });

  it('is available to a caller without any grant', async () => {
    const res = await call(await as('mallory'), 'get_permissions');
    expect(res.isError).toBeFalsy();
    expect(res.structuredContent).toMatchObject({ tools: ['get_permissions'], grants: [] });
  });
});
