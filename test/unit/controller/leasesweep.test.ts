/**
 * The leader's sweep of cool-down Leases (src/controller/leasesweep.ts): it sweeps while started
 * (leading), counts deletions and failures, and sends nothing once stopped.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import pino from 'pino';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ScaleLeaseSweeper } from '../../../src/controller/leasesweep.js';
import { microTime } from '../../../src/kube/microtime.js';
import { type Cleanups, localApi } from '../kube/local-api.js';

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function counters() {
  const registry = new Registry();
  return {
    deleted: new Counter({ name: 'deleted', help: 'd', registers: [registry] }),
    errors: new Counter({ name: 'errors', help: 'e', registers: [registry] }),
  };
}

const value = async (c: Counter) => (await c.get()).values[0]?.value ?? 0;

describe('ScaleLeaseSweeper', () => {
  it('sweeps every interval while started, and not at all once stopped', async () => {
    const requests: string[] = [];
    let fail = false;
    let leases = [
      {
        metadata: { name: 'kubemcp-scale-x', uid: 'u', resourceVersion: '1' },
        spec: { renewTime: microTime(Date.now() - 3 * 86_400_000), leaseDurationSeconds: 60 },
      },
    ];
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      requests.push(`${req.method} ${req.url}`);
      res.setHeader('content-type', 'application/json');
      if (fail) {
        res.statusCode = 403;
        return res.end(JSON.stringify({ kind: 'Status', reason: 'Forbidden', code: 403 }));
      }
      if (req.method === 'DELETE') {
        leases = [];
        return res.end('{}');
      }
      return res.end(JSON.stringify({ items: leases, metadata: {} }));
    };
    const client = await localApi(handler, cleanups);
    const { deleted, errors } = counters();
    const sweeper = new ScaleLeaseSweeper({
      client,
      namespace: 'kubemcp-system',
      intervalMs: 20,
      logger: pino({ level: 'silent' }),
      deleted,
      errors,
    });
    cleanups.push(() => sweeper.stop());
    expect(requests).toEqual([]); // nothing before start
    sweeper.start();
    for (let i = 0; i < 100 && (await value(deleted)) < 1; i++) await sleep(10);
    expect(await value(deleted)).toBe(1);
    expect(requests).toContain(
      'DELETE /apis/coordination.k8s.io/v1/namespaces/kubemcp-system/leases/kubemcp-scale-x',
    );
    fail = true;
    for (let i = 0; i < 100 && (await value(errors)) < 1; i++) await sleep(10);
    expect(await value(errors)).toBeGreaterThanOrEqual(1);
    await sweeper.stop();
    const seen = requests.length;
    await sleep(100);
    expect(requests.length).toBe(seen);
  });
});
