/**
 * The informer's chunked first list, and its sorted views (namespaces(), sortedInNamespace()) through
 * adds, updates and deletes; compactObject. The watch is a small local HTTP server speaking the watch
 * protocol; the list is injected.
 */

import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { type ListPage, ResilientInformer } from '../../../src/kube/informer.js';
import { compactObject, trimPod } from '../../../src/kube/trim.js';

const pod = (namespace: string, name: string, rv: string, app = 'x'): V1Pod => ({
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

async function watchServer(): Promise<{ kc: KubeConfig; stream: () => ServerResponse | undefined }> {
  let stream: ServerResponse | undefined;
  const server = createServer((req, res) => {
    if (!req.url?.startsWith('/api/v1/pods')) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    stream = res;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'c',
        server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        skipTLSVerify: true,
      },
    ],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return { kc, stream: () => stream };
}

describe('ResilientInformer', () => {
  it('lists in pages, trimming each page, and watches from the resourceVersion of the list', async () => {
    const { kc } = await watchServer();
    const all = Array.from({ length: 7 }, (_, i) => pod('ns', `p${i}`, '9'));
    const pages: ListPage[] = [];
    let transformed = 0;
    const informer = new ResilientInformer<V1Pod>({
      kubeConfig: kc,
      kind: 'pod',
      path: '/api/v1/pods',
      listPageSize: 3,
      transform: (o) => {
        transformed++;
        return o;
      },
      list: async (page) => {
        pages.push(page);
        const start = Number(page.continue ?? 0);
        const end = start + page.limit;
        return {
          apiVersion: 'v1',
          kind: 'PodList',
          metadata: { resourceVersion: '9', ...(end < all.length ? { _continue: String(end) } : {}) },
          items: all.slice(start, end),
        };
      },
    });
    informer.start();
    cleanups.push(() => informer.stop());
    await informer.waitForSync(5000);
    expect(pages).toEqual([{ limit: 3 }, { limit: 3, continue: '3' }, { limit: 3, continue: '6' }]);
    expect(transformed).toBe(7);
    expect(informer.sortedInNamespace('ns').map((p) => p.metadata?.name)).toEqual(
      all.map((p) => p.metadata?.name),
    );
  });

  it('lists namespaces and per-namespace objects in order, and follows adds, updates and deletes', async () => {
    const server = await watchServer();
    const kc = server.kc;
    const informer = new ResilientInformer<V1Pod>({
      kubeConfig: kc,
      kind: 'pod',
      path: '/api/v1/pods',
      list: async () => ({
        apiVersion: 'v1',
        kind: 'PodList',
        metadata: { resourceVersion: '1' },
        items: [pod('b', 'x', '1'), pod('a', 'y', '1'), pod('a', 'b', '1')],
      }),
    });
    informer.start();
    cleanups.push(() => informer.stop());
    await informer.waitForSync(5000);
    await until('the watch', () => server.stream() !== undefined);
    const stream = server.stream();
    const names = (ns: string) => informer.sortedInNamespace(ns).map((p) => p.metadata?.name);
    const send = (type: string, object: V1Pod) => stream?.write(`${JSON.stringify({ type, object })}\n`);

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

describe('compactObject', () => {
  it('keeps the JSON and the Dates, drops undefined fields and class prototypes, shares equal Dates', () => {
    class Meta {
      name?: string;
      creationTimestamp?: Date;
      uid?: string;
    }
    const a = Object.assign(new Meta(), { name: 'a', creationTimestamp: new Date(1000), uid: undefined });
    const b = Object.assign(new Meta(), { name: 'b', creationTimestamp: new Date(1000) });
    const pa = trimPod({
      metadata: a,
      spec: { containers: [{ name: 'c', image: 'i', env: [{ name: 'X', value: '1' }] }] },
      status: {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date(1000) }],
      },
    } as V1Pod);
    const ca = compactObject(pa);
    const cb = compactObject({ metadata: b } as V1Pod);
    expect(JSON.stringify(ca)).toBe(JSON.stringify(pa));
    expect(Object.getPrototypeOf(ca.metadata)).toBe(Object.prototype);
    expect('uid' in (ca.metadata ?? {})).toBe(false);
    expect(ca.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(ca.metadata?.creationTimestamp).toBe(cb.metadata?.creationTimestamp);
    expect(ca.status?.conditions?.[0]?.lastTransitionTime).toBe(ca.metadata?.creationTimestamp);
    expect(ca.spec?.containers).toEqual([{ name: 'c', image: 'i' }]);
  });
});
