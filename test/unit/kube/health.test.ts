import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { type HealthServer, operatorMetrics, startHealthServer } from '../../../src/health/index.js';

describe('the health server', () => {
  let server: HealthServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('answers /healthz always, /readyz only when every check passes, /metrics from the registry', async () => {
    const registry = new Registry();
    const metrics = operatorMetrics(registry, () => 10_000);
    let synced = false;
    let connected = true;
    metrics.trackCache('pod', () => ({ connected, synced: true, lastGoodAt: 4_000 }));
    metrics.leader.set(1);
    server = await startHealthServer({
      registry,
      port: 0,
      host: '127.0.0.1',
      checks: [{ name: 'caches', check: () => synced || 'watch caches have not synced yet' }],
    });
    const base = `http://127.0.0.1:${server.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toContain('[-] caches failed: watch caches have not synced yet');
    synced = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    let text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('kubemcp_leader 1');
    expect(text).toContain('kubemcp_cache_age_seconds{kind="pod"} 0');
    connected = false;
    text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('kubemcp_cache_age_seconds{kind="pod"} 6');
    expect(text).toContain('kubemcp_cache_connected{kind="pod"} 0');
    expect(operatorMetrics(registry)).toBe(metrics);
  });
});
