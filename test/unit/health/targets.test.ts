import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { type HealthServer, startHealthServer } from '../../../src/health/index.js';
import { answerBeforeRouting, HOSTILE_TARGETS } from '../../hostile-targets.js';
import { rawRequest } from '../../rawhttp.js';

/** The probe port parses every request target without throwing (kubelet and any Pod reach it). */

describe('the health server and hostile request targets', () => {
  let server: HealthServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('answers each one (400 when it is no path, else by path) and keeps answering', async () => {
    server = await startHealthServer({ registry: new Registry(), port: 0, host: '127.0.0.1', checks: [] });
    const routed: Record<string, number> = { 'http://x/healthz': 200, 'http://x:99999/readyz?verbose': 200 };
    for (const target of HOSTILE_TARGETS) {
      for (const method of ['GET', 'HEAD']) {
        const a = await rawRequest(server.port, method, target);
        const want = answerBeforeRouting(target) ?? routed[target] ?? 404;
        expect(a.status, `${method} ${target.slice(0, 40)}`).toBe(want);
      }
    }
    expect((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status).toBe(200);
    const verbose = await rawRequest(server.port, 'GET', 'http://x:99999/readyz?verbose');
    expect(verbose.text).toContain('\nok\n');
  });
});
