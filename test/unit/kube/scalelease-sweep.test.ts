/**
 * Garbage collection of cool-down Leases (src/kube/scalehistory.ts): which Leases may go (pure), and
 * the sweep's requests against a local stand-in of the API server (paged list, deletes with uid and
 * resourceVersion preconditions, a Lease claimed again in between kept).
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { microTime } from '../../../src/kube/microtime.js';
import {
  expiredScaleLeases,
  MAX_COOLDOWN_SECONDS,
  type ScaleLeaseListItem,
  sweepScaleLeases,
} from '../../../src/kube/scalehistory.js';
import { type Cleanups, localApi } from './local-api.js';

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const NOW = Date.parse('2026-12-02T12:00:00Z');
const DAY = MAX_COOLDOWN_SECONDS * 1000;

function lease(
  name: string,
  ageMs: number | undefined,
  durationSeconds: number | undefined,
  extra: { rv?: string; created?: number } = {},
): ScaleLeaseListItem {
  return {
    metadata: {
      name,
      uid: `uid-${name}`,
      resourceVersion: extra.rv ?? '10',
      ...(extra.created === undefined ? {} : { creationTimestamp: new Date(extra.created).toISOString() }),
    },
    spec: {
      ...(ageMs === undefined ? {} : { renewTime: microTime(NOW - ageMs) }),
      ...(durationSeconds === undefined ? {} : { leaseDurationSeconds: durationSeconds }),
    },
  };
}

describe('expiredScaleLeases', () => {
  it('selects cool-down Leases older than the longest cool-down a policy may set, and twice their own', () => {
    const picked = expiredScaleLeases(
      [
        lease('kubemcp-scale-a', DAY + 1_000, 60), // a day and a second old, 60 s cool-down: goes
        lease('kubemcp-scale-b', DAY - 1_000, 60), // just under a day: a raised policy could still refuse with it
        lease('kubemcp-scale-c', 10_000, 5), // expired long ago by its own 5 s, but recent: kept
        lease('kubemcp-scale-d', 1.5 * DAY, 86_400), // hold expired half a cool-down ago: kept
        lease('kubemcp-scale-e', 2 * DAY + 1_000, 86_400), // hold expired more than a cool-down ago: goes
        lease('kubemcp-operator', 10 * DAY, 15), // the leader-election Lease: never
        lease('other', 10 * DAY, 15), // not ours: never
      ],
      NOW,
    );
    expect(picked).toEqual([
      { name: 'kubemcp-scale-a', uid: 'uid-kubemcp-scale-a', resourceVersion: '10' },
      { name: 'kubemcp-scale-e', uid: 'uid-kubemcp-scale-e', resourceVersion: '10' },
    ]);
  });

  it('falls back to the creation time without a renewTime, and keeps what it cannot date or pin', () => {
    const picked = expiredScaleLeases(
      [
        lease('kubemcp-scale-old', undefined, undefined, { created: NOW - 2 * DAY }),
        lease('kubemcp-scale-new', undefined, undefined, { created: NOW - 1_000 }),
        lease('kubemcp-scale-undated', undefined, 60),
        { metadata: { name: 'kubemcp-scale-norv', uid: 'u' }, spec: { renewTime: microTime(NOW - 3 * DAY) } },
        {
          metadata: { name: 'kubemcp-scale-nouid', resourceVersion: '1' },
          spec: { renewTime: microTime(NOW - 3 * DAY) },
        },
      ],
      NOW,
    );
    expect(picked.map((p) => p.name)).toEqual(['kubemcp-scale-old']);
  });
});

describe('sweepScaleLeases', () => {
  it('pages through the list and deletes with preconditions; a Lease claimed since the list is kept', async () => {
    const page1 = [lease('kubemcp-scale-a', 2 * DAY, 60, { rv: '5' }), lease('kubemcp-scale-b', 1_000, 60)];
    const page2 = [
      lease('kubemcp-scale-c', 3 * DAY, 60, { rv: '7' }),
      lease('kubemcp-operator', 2 * DAY, 15),
    ];
    const calls: Array<{ method: string; url: string; body?: unknown }> = [];
    const handler = async (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      calls.push({
        method: req.method ?? '',
        url: req.url ?? '',
        ...(text ? { body: JSON.parse(text) } : {}),
      });
      res.setHeader('content-type', 'application/json');
      const url = new URL(req.url ?? '', 'http://x');
      if (req.method === 'GET') {
        const second = url.searchParams.get('continue') === 'p2';
        return res.end(
          JSON.stringify({ items: second ? page2 : page1, metadata: second ? {} : { continue: 'p2' } }),
        );
      }
      // kubemcp-scale-c was claimed again after the list: its precondition fails.
      if (url.pathname.endsWith('/kubemcp-scale-c')) {
        res.statusCode = 409;
        return res.end(JSON.stringify({ kind: 'Status', reason: 'Conflict', code: 409 }));
      }
      return res.end(JSON.stringify({ kind: 'Status', status: 'Success' }));
    };
    const client = await localApi(handler, cleanups);
    let counted = 0;
    const result = await sweepScaleLeases(client, 'kubemcp-system', () => NOW, {
      onDeleted: () => counted++,
    });
    expect(result).toEqual({ listed: 4, deleted: 1, skipped: 1 });
    expect(counted).toBe(1);
    const base = '/apis/coordination.k8s.io/v1/namespaces/kubemcp-system/leases';
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      `GET ${base}?limit=500`,
      `GET ${base}?limit=500&continue=p2`,
      `DELETE ${base}/kubemcp-scale-a`,
      `DELETE ${base}/kubemcp-scale-c`,
    ]);
    expect(calls[2]?.body).toEqual({
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      preconditions: { uid: 'uid-kubemcp-scale-a', resourceVersion: '5' },
    });
  });
});
