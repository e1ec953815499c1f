/**
 * The list tools answer the same through a backend's sorted snapshot (listSorted, the KubeBackend
 * fast path) as through list() + paginate (the FakeBackend of the other tests): same rows, totals,
 * cursors, texts and refusals, for every caller, with namespaces, selectors and page chains.
 */

import type { Client } from '@modelcontextprotocol/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KindMap, NamespacedKind, SortedSnapshot } from '../../../src/kube/types.js';
import { call, connect, type Harness, post, startHarness, TOKENS, type Who } from './helpers.js';

let h: Harness;
const clients: Client[] = [];
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await h.close();
});

/** Gives the harness's FakeBackend a listSorted built from its objects, as KubeBackend has. */
function enableSorted(): string[] {
  const used: string[] = [];
  const backend = h.backend as typeof h.backend & {
    listSorted?: <K extends NamespacedKind>(kind: K) => SortedSnapshot<K>;
  };
  backend.listSorted = <K extends NamespacedKind>(kind: K): SortedSnapshot<K> => {
    used.push(kind);
    const items = backend.objects[kind] as KindMap[K][];
    const namespaces = [...new Set(items.map((o) => o.metadata?.namespace ?? ''))]
      .filter((n) => n !== '')
      .sort();
    return {
      namespaces,
      inNamespace: (ns) =>
        items
          .filter((o) => o.metadata?.namespace === ns)
          .sort((a, b) => ((a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : 1)),
      health: backend.health,
    };
  };
  return used;
}

async function as(who: Who): Promise<Client> {
  const c = await connect(h, TOKENS[who]);
  clients.push(c);
  return c;
}

const TOOLS = ['list_pods', 'list_deployments', 'list_statefulsets', 'list_services'];
const ARGS: Record<string, unknown>[] = [
  {},
  { limit: 1 },
  { limit: 2 },
  { namespace: 'web' },
  { namespace: 'web', limit: 1 },
  { namespace: 'payments' },
  { namespace: 'no-such-ns' },
  { labelSelector: 'app=web' },
  { labelSelector: 'tier!=data', limit: 2 },
  { labelSelector: 'app in (web,db)', limit: 1 },
];

/** Every page of every (tool, args) for a caller, following nextCursor. */
async function transcript(who: Who): Promise<unknown[]> {
  const c = await as(who);
  const out: unknown[] = [];
  for (const tool of TOOLS) {
    for (const args of ARGS) {
      let next: Record<string, unknown> = args;
      for (let page = 0; page < 20; page++) {
        const res = await call(c, tool, next);
        out.push({ tool, args: next, res });
        const cursor = (res.structuredContent as { nextCursor?: string } | undefined)?.nextCursor;
        if (cursor === undefined) break;
        next = { ...args, continue: cursor };
      }
    }
  }
  return out;
}

describe('list tools over a sorted snapshot', () => {
  it('answer exactly as over list() + paginate, for every caller', async () => {
    for (const who of ['alice', 'copilot', 'bob', 'mallory'] as const) {
      const plain = await transcript(who);
      const used = enableSorted();
      const sorted = await transcript(who);
      expect(sorted).toEqual(plain);
      if (who === 'alice') expect(used.length).toBeGreaterThan(0);
      delete (h.backend as { listSorted?: unknown }).listSorted;
    }
  }, 30_000);
});

describe('resources/list over sorted snapshots', () => {
  /** Every page of resources/list for a caller (raw JSON-RPC: the SDK client would merge pages). */
  async function resourceTranscript(who: Who): Promise<unknown[]> {
    const out: unknown[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const res = await post(
        h,
        { jsonrpc: '2.0', id: 1, method: 'resources/list', params: cursor === undefined ? {} : { cursor } },
        { token: TOKENS[who] },
      );
      const body = res.json as { result?: { nextCursor?: string }; error?: unknown };
      out.push(body);
      cursor = body.result?.nextCursor;
      if (cursor === undefined) return out;
    }
    throw new Error('resources/list did not end within 100 pages');
  }

  it('pages exactly as the copy-and-sort path, for every caller and page size', async () => {
    for (const pageSize of [1, 2, 3, 100]) {
      await h.close();
      h = await startHarness({ options: { resourcePageSize: pageSize } });
      for (const who of ['alice', 'copilot', 'bob', 'mallory'] as const) {
        const plain = await resourceTranscript(who);
        const used = enableSorted();
        const sorted = await resourceTranscript(who);
        expect(sorted).toEqual(plain);
        if (who === 'alice') {
          expect(used.length).toBeGreaterThan(0); // the sorted path was taken
          if (pageSize < 3) expect(plain.length).toBeGreaterThan(3); // and pages were chained
        }
        delete (h.backend as { listSorted?: unknown }).listSorted;
      }
    }
  });

  it('refuses a cursor of another query on both paths', async () => {
    const lists = await post(
      h,
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'list_pods', arguments: { limit: 1 } } },
      { token: TOKENS.alice },
    );
    const foreign = (lists.json as { result: { structuredContent: { nextCursor: string } } }).result
      .structuredContent.nextCursor;
    for (const sorted of [false, true]) {
      if (sorted) enableSorted();
      const res = await post(
        h,
        { jsonrpc: '2.0', id: 1, method: 'resources/list', params: { cursor: foreign } },
        { token: TOKENS.alice },
      );
      expect(res.json).toMatchObject({ error: { code: -32602, message: 'Invalid cursor' } });
    }
  });
});
