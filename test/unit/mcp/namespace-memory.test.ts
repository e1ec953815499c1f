/**
 * Listing namespaces that do not exist leaves nothing behind: 100,000 list_pods calls, each naming
 * a different namespace that a `team-*` grant covers but that has no objects, through the real
 * KubeBackend and its informers (fed by a tiny local API server with empty lists), grow the heap by
 * less than 5 MiB. Before the informer stopped remembering empty namespaces, each call kept one
 * entry for good (about 10 MiB per 100,000 calls, without bound).
 */

import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeBackend } from '../../../src/kube/backend.js';
import { KubeClient } from '../../../src/kube/client.js';
import type { KubeConnection } from '../../../src/kube/connection.js';
import { GuardedClient } from '../../../src/mcp/guarded.js';
import { findTool } from '../../../src/mcp/tools.js';
import { compile, type PolicyIndex } from '../../../src/policy/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const CALLS = 100_000;
const MiB = 2 ** 20;

let backend: KubeBackend;
let client: KubeClient;
const streams: ServerResponse[] = [];
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  res.writeHead(200, { 'content-type': 'application/json' });
  if (url.searchParams.get('watch') === 'true') {
    res.flushHeaders();
    streams.push(res);
    return;
  }
  res.end(JSON.stringify({ kind: 'List', metadata: { resourceVersion: '1' }, items: [] }));
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const connection: KubeConnection = {
    server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tls: {},
    credentials: { get: async () => ({}), refresh: () => false },
    source: 'test',
  };
  client = new KubeClient(connection);
  backend = new KubeBackend({ client });
  backend.start();
  await backend.waitForSync(10_000);
});

afterAll(async () => {
  await backend.stop();
  client.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('namespaces that do not exist', () => {
  it(`${CALLS.toLocaleString('en')} list_pods calls on missing namespaces grow the heap by less than 5 MiB`, async () => {
    const index: PolicyIndex = compile({
      policies: [
        {
          name: 'teams',
          spec: {
            subjects: [{ kind: 'User', name: 'eve' }],
            namespaces: { names: ['team-*'] },
            tools: ['list_pods'],
          },
        },
      ],
      namespaces: [],
    });
    const caller = { username: 'eve', groups: [] };
    const tool = findTool('list_pods');
    if (tool === undefined) throw new Error('no list_pods');
    const callOnce = async (i: number) => {
      const guarded = new GuardedClient(caller, index, backend);
      const args = tool.inputSchema.parse({ namespace: `team-${i}` });
      const out = (await tool.handler(args, { client: guarded, now: Date.now() })) as {
        structured: { total: number };
      };
      expect(out.structured.total).toBe(0);
    };
    // Warm up (code, the fingerprint memo at its bound), then measure.
    for (let i = 0; i < 5_000; i++) await callOnce(CALLS + i);
    const before = heapAfterGc();
    for (let i = 0; i < CALLS; i++) await callOnce(i);
    const growth = heapAfterGc() - before;
    console.log(`heap growth after ${CALLS} calls: ${(growth / MiB).toFixed(2)} MiB`);
    expect(growth).toBeLessThan(5 * MiB);
  }, 120_000);
});
