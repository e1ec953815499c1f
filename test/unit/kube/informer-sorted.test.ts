/**
 * The informer against a small local API server (paged lists, a watch stream the test writes to):
 * chunked first list, sorted views (namespaces(), sortedInNamespace()) through adds, updates and
 * deletes; re-watch after a routine close, relist after 410 Gone, serving stale data while the server
 * fails; compactObject.
 */

import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeClient } from '../../../src/kube/client.js';
import type { KubeConnection } from '../../../src/kube/connection.js';
import { type InformerOptions, ResilientInformer } from '../../../src/kube/informer.js';
import { compactObject, trimPod } from '../../../src/kube/trim.js';
import type { Pod } from '../../../src/kube/types.js';

const pod = (namespace: string, name: string, rv: string, app = 'x'): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { namespace, name, resourceVersion: rv, labels: { app } },
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface FakeApi {
  readonly client: KubeClient;
  /** Query strings of every list request, in order. */
  readonly lists: URLSearchParams[];
  /** Query strings of every watch request, in order. */
  readonly watches: URLSearchParams[];
  /** The open watch stream, if any. */
  stream(): ServerResponse | undefined;
  /** What the list answers: items and the list's resourceVersion. */
  state: { items: Pod[]; resourceVersion: string };
  /** When set, list requests answer with this HTTP status. */
  failLists?: number;
  /** When set, watch requests answer with this HTTP status (then it is cleared). */
  failNextWatch?: number;
}

/** A tiny API server: a paged list of `state.items` and a watch stream the test writes to. */
async function fakeApi(): Promise<FakeApi> {
  let stream: ServerResponse | undefined;
  const api: FakeApi = {
    client: undefined as unknown as KubeClient,
    lists: [],
    watches: [],
    stream: () => stream,
    state: { items: [], resourceVersion: '1' },
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/api/v1/pods') {
      res.writeHead(404).end();
      return;
    }
    if (url.searchParams.get('watch') === 'true') {
      api.watches.push(url.searchParams);
      if (api.failNextWatch !== undefined) {
        const code = api.failNextWatch;
        api.failNextWatch = undefined;
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ kind: 'Status', code, reason: 'Expired', message: 'too old resource version' }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      stream = res;
      return;
    }
    api.lists.push(url.searchParams);
    if (api.failLists !== undefined) {
      res.writeHead(api.failLists, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', code: api.failLists, message: 'nope' }));
      return;
    }
    const limit = Number(url.searchParams.get('limit') ?? 500);
    const start = Number(url.searchParams.get('continue') ?? 0);
    const end = start + limit;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        kind: 'PodList',
        metadata: {
          resourceVersion: api.state.resourceVersion,
          ...(end < api.state.items.length ? { continue: String(end) } : {}),
        },
        items: api.state.items.slice(start, end),
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const connection: KubeConnection = {
    server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tls: {},
    credentials: { get: async () => ({}), refresh: () => false },
    source: 'test',
  };
  (api as { client: KubeClient }).client = new KubeClient(connection);
  cleanups.push(() => api.client.close());
  return api;
}

const FAST = { initialMs: 5, maxMs: 20 };

function informerOn(api: FakeApi, extra: Partial<InformerOptions<Pod>> = {}): ResilientInformer<Pod> {
  const informer = new ResilientInformer<Pod>({
    client: api.client,
    kind: 'pod',
    path: '/api/v1/pods',
    backoff: FAST,
    ...extra,
  });
  cleanups.push(() => informer.stop());
  return informer;
}

describe('ResilientInformer', () => {
  it('lists in pages, trimming each page, and watches from the resourceVersion of the list', async () => {
    const api = await fakeApi();
    api.state = { items: Array.from({ length: 7 }, (_, i) => pod('ns', `p${i}`, '9')), resourceVersion: '9' };
    let transformed = 0;
    const informer = informerOn(api, {
      listPageSize: 3,
      transform: (o) => {
        transformed++;
        return o;
      },
    });
    informer.start();
    await informer.waitForSync(5000);
    expect(api.lists.map((q) => [q.get('limit'), q.get('continue')])).toEqual([
      ['3', null],
      ['3', '3'],
      ['3', '6'],
    ]);
    expect(transformed).toBe(7);
    expect(api.watches[0]?.get('resourceVersion')).toBe('9');
    expect(api.watches[0]?.get('allowWatchBookmarks')).toBe('true');
    expect(Number(api.watches[0]?.get('timeoutSeconds'))).toBeGreaterThanOrEqual(300);
    expect(informer.sortedInNamespace('ns').map((p) => p.metadata?.name)).toEqual(
      api.state.items.map((p) => p.metadata?.name),
    );
    expect(informer.health()).toMatchObject({ connected: true, synced: true });
  });

  it('lists namespaces and per-namespace objects in order, and follows adds, updates and deletes', async () => {
    const api = await fakeApi();
    api.state = { items: [pod('b', 'x', '1'), pod('a', 'y', '1'), pod('a', 'b', '1')], resourceVersion: '1' };
    const informer = informerOn(api);
    informer.start();
    await informer.waitForSync(5000);
    await until('the watch', () => api.stream() !== undefined);
    const stream = api.stream();
    const names = (ns: string) => informer.sortedInNamespace(ns).map((p) => p.metadata?.name);
    const send = (type: string, object: Pod) => stream?.write(`${JSON.stringify({ type, object })}\n`);

    expect(informer.namespaces()).toEqual(['a', 'b']);
    expect(names('a')).toEqual(['b', 'y']);
    expect(names('b')).toEqual(['x']);
    expect(names('none')).toEqual([]);
    expect(informer.sortedInNamespace('a')).toBe(informer.sortedInNamespace('a')); // cached
    const before = informer.sortedInNamespace('b');

    send('ADDED', pod('c', 'z', '2'));
    send('ADDED', pod('a', 'a', '3'));
    await until('the adds', () => informer.get('a', 'a') !== undefined);
    expect(informer.namespaces()).toEqual(['a', 'b', 'c']);
    expect(names('a')).toEqual(['a', 'b', 'y']);
    expect(informer.sortedInNamespace('b')).toBe(before); // untouched namespace: same view

    send('MODIFIED', pod('a', 'b', '4', 'changed'));
    await until('the update', () => informer.get('b', 'a')?.metadata?.resourceVersion === '4');
    expect(informer.sortedInNamespace('a').find((p) => p.metadata?.name === 'b')?.metadata?.labels?.app).toBe(
      'changed',
    );
    expect(informer.namespaces()).toEqual(['a', 'b', 'c']);

    send('DELETED', pod('b', 'x', '5'));
    await until('the delete', () => informer.get('x', 'b') === undefined);
    expect(informer.namespaces()).toEqual(['a', 'c']);
    expect(names('b')).toEqual([]);
    expect(
      informer
        .list()
        .map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`)
        .sort(),
    ).toEqual(['a/a', 'a/b', 'a/y', 'c/z']);
  });
});

describe('ResilientInformer recovery', () => {
  it('watches again from the last resourceVersion (bookmarks included) when the server ends the stream', async () => {
    const api = await fakeApi();
    api.state = { items: [pod('a', 'x', '5')], resourceVersion: '5' };
    const informer = informerOn(api);
    informer.start();
    await informer.waitForSync(5000);
    await until('the watch', () => api.stream() !== undefined);
    api.stream()?.write(`${JSON.stringify({ type: 'ADDED', object: pod('a', 'y', '6') })}\n`);
    api
      .stream()
      ?.write(`${JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '8' } } })}\n`);
    await until('the add', () => informer.get('y', 'a') !== undefined);
    const first = api.stream();
    first?.end();
    await until('a second watch', () => api.watches.length === 2);
    expect(api.watches[1]?.get('resourceVersion')).toBe('8');
    expect(api.lists).toHaveLength(1); // no relist for a routine close
    expect(informer.restarts).toBe(0);
  });

  it('lists again on 410 Gone, telling handlers what was added, updated and deleted meanwhile', async () => {
    const api = await fakeApi();
    api.state = {
      items: [pod('a', 'keep', '1'), pod('a', 'change', '1'), pod('a', 'gone', '1')],
      resourceVersion: '1',
    };
    const informer = informerOn(api);
    const seen: string[] = [];
    informer.on('add', (p) => seen.push(`add ${p.metadata?.name}`));
    informer.on('update', (p) => seen.push(`update ${p.metadata?.name}`));
    informer.on('delete', (p) => seen.push(`delete ${p.metadata?.name}`));
    informer.start();
    await informer.waitForSync(5000);
    await until('the watch', () => api.stream() !== undefined);
    seen.length = 0;
    api.state = {
      items: [pod('a', 'keep', '1'), pod('a', 'change', '7'), pod('b', 'new', '7')],
      resourceVersion: '7',
    };
    api
      .stream()
      ?.write(
        `${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old' } })}\n`,
      );
    await until('the relist', () => api.watches.length === 2);
    expect(api.lists).toHaveLength(2);
    expect(api.watches[1]?.get('resourceVersion')).toBe('7');
    expect(seen.sort()).toEqual(['add new', 'delete gone', 'update change']);
    expect(informer.namespaces()).toEqual(['a', 'b']);
    expect(informer.list()).toHaveLength(3);
  });

  it('lists again when the watch request itself answers 410 Gone', async () => {
    const api = await fakeApi();
    api.state = { items: [pod('a', 'x', '3')], resourceVersion: '3' };
    const informer = informerOn(api);
    informer.start();
    await informer.waitForSync(5000);
    await until('the watch', () => api.stream() !== undefined);
    api.failNextWatch = 410;
    api.state = { items: [pod('a', 'x', '3'), pod('a', 'y', '9')], resourceVersion: '9' };
    api.stream()?.end(); // routine close: the re-watch from rv 3 is refused with HTTP 410
    await until('a watch from the new list', () => api.watches.at(-1)?.get('resourceVersion') === '9');
    expect(api.watches.map((q) => q.get('resourceVersion'))).toEqual(['3', '3', '9']);
    expect(api.lists).toHaveLength(2);
    expect(informer.get('y', 'a')).toBeDefined();
    expect(informer.restarts).toBe(0); // Gone is not a failure: no backoff
  });

  it('keeps serving the cache while the server fails, reports it disconnected, and recovers', async () => {
    const api = await fakeApi();
    api.state = { items: [pod('a', 'x', '1')], resourceVersion: '1' };
    const health: string[] = [];
    const informer = informerOn(api, {
      onHealthChange: (h) =>
        health.push(`${h.connected ? 'connected' : 'broken'}${h.synced ? '' : ', not synced'}`),
    });
    informer.start();
    await informer.waitForSync(5000);
    await until('the watch', () => api.stream() !== undefined);
    api.failLists = 503;
    // A broken watch is retried from the same resourceVersion; make that fail as well with Gone,
    // so the informer must list, and the list fails until the server is back.
    api.stream()?.write(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410 } })}\n`);
    await until('failed lists', () => api.lists.length >= 3);
    expect(informer.health().connected).toBe(false);
    expect(informer.get('x', 'a')).toBeDefined(); // stale but served
    expect(informer.error).toMatch(/nope \(503\)/);
    api.failLists = undefined;
    await until('reconnected', () => informer.health().connected);
    expect(health).toEqual(['connected, not synced', 'connected', 'broken', 'connected']);
    expect(informer.restarts).toBeGreaterThanOrEqual(2);
  });

  it('takes a watch that stays silent (no event, no bookmark) for idleTimeoutMs for dead: stale meanwhile, then watched again', async () => {
    const api = await fakeApi();
    api.state = { items: [pod('a', 'x', '4')], resourceVersion: '4' };
    const health: string[] = [];
    const errors: (string | undefined)[] = [];
    const informer: ResilientInformer<Pod> = informerOn(api, {
      idleTimeoutMs: 150,
      onHealthChange: (h) => {
        health.push(h.connected ? 'connected' : 'stale');
        if (!h.connected) errors.push(informer.error);
      },
    });
    informer.start();
    await informer.waitForSync(5000);
    await until('the watch', () => api.stream() !== undefined);
    // The server accepted the watch and then says nothing, not even a bookmark.
    await until('a second watch', () => api.watches.length >= 2);
    expect(api.watches[1]?.get('resourceVersion')).toBe('4'); // from where it was: no relist
    expect(api.lists).toHaveLength(1);
    expect(informer.restarts).toBeGreaterThanOrEqual(1);
    await until('connected again', () => informer.health().connected);
    // synced, then stale when the idle watch is dropped, then connected again.
    expect(health.slice(0, 4)).toEqual(['connected', 'connected', 'stale', 'connected']);
    expect(errors[0]).toMatch(/^the watch delivered no event or bookmark for/);
    expect(informer.get('x', 'a')).toBeDefined(); // the cache is still served meanwhile
  });

  it('a watch that delivers bookmarks is not idle', async () => {
    const api = await fakeApi();
    api.state = { items: [], resourceVersion: '4' };
    const informer = informerOn(api, { idleTimeoutMs: 200 });
    informer.start();
    await informer.waitForSync(5000);
    await until('the watch', () => api.stream() !== undefined);
    for (let i = 0; i < 12; i++) {
      api
        .stream()
        ?.write(
          `${JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: String(5 + i) } } })}\n`,
        );
      await sleep(50);
    }
    expect(api.watches).toHaveLength(1);
    expect(informer.health().connected).toBe(true);
  });

  it('stops: no more requests, and stop() resolves with a watch open', async () => {
    const api = await fakeApi();
    const informer = informerOn(api);
    informer.start();
    await informer.waitForSync(5000);
    await until('the watch', () => api.stream() !== undefined);
    await informer.stop();
    const requests = api.lists.length + api.watches.length;
    await sleep(50);
    expect(api.lists.length + api.watches.length).toBe(requests);
    expect(informer.health().connected).toBe(false);
  });
});

describe('compactObject', () => {
  it('keeps the JSON, drops undefined fields, and shares equal strings between objects', () => {
    const parse = (json: string): Pod => JSON.parse(json) as Pod;
    const time = '2026-11-01T12:00:00Z';
    const pa = trimPod(
      parse(
        JSON.stringify({
          metadata: { name: 'a', creationTimestamp: time },
          spec: { containers: [{ name: 'c', image: 'i', env: [{ name: 'X', value: '1' }] }] },
          status: {
            phase: 'Running',
            conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: time }],
          },
        }),
      ),
    );
    (pa.metadata as { uid?: string }).uid = undefined;
    const ca = compactObject(pa);
    const cb = compactObject(parse(JSON.stringify({ metadata: { name: 'b', creationTimestamp: time } })));
    expect(JSON.stringify(ca)).toBe(JSON.stringify(pa));
    expect('uid' in (ca.metadata ?? {})).toBe(false);
    expect(ca.spec?.containers).toEqual([{ name: 'c', image: 'i' }]);
    expect(ca.metadata?.creationTimestamp).toBe(time);
    expect(cb.metadata?.creationTimestamp).toBe(time);
    // %HaveSameMap-free check of sharing: the compacted objects are plain, fast-mode literals.
    expect(Object.getPrototypeOf(ca.metadata)).toBe(Object.prototype);
  });
});
