/**
 * Degraded mode on a real outage: kube-apiserver is stopped (only it: etcd and the other components
 * keep running) while `kubemcp serve` keeps serving. Lists still answer from the watch caches with a
 * warning naming the age of the data; a scale answers Unavailable and changes nothing. Then the same
 * kube-apiserver is started again (same port, etcd, certificates and keys, via the harness) and both
 * work again WITHOUT restarting kubemcp serve.
 *
 * Needs the local control plane (the harness stops and starts one of its processes); skipped on an
 * external cluster.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { startComponent, stopComponent } from '../cluster/cluster.js';
import { OPERATOR_NAMESPACE } from '../cluster/operator.js';
import { mcpFixture } from './fixture.js';
import {
  agentToken,
  connect,
  errorOf,
  type McpCaller,
  OPERATOR_LEASE,
  okOf,
  permissionProblems,
  rawPost,
  readDeployment,
  uniqueSuffix,
  waitClusterUsable,
  waitReady,
} from './mcp-support.js';
import { cluster, eventually, kubeConfig } from './support.js';

const s = uniqueSuffix();
const NS = `e2e-mcp-outage-${s}`;
const AGENTS_NS = `e2e-mcp-outage-agents-${s}`;
const POLICY = `e2e-mcp-${s}-outage`;
const APISERVER = 'kube-apiserver';

interface Listing {
  items: Array<{ namespace: string; name: string; replicas: number }>;
  warning?: string;
}

/** The age in seconds a staleness warning names ("… last confirmed 3s ago …"). */
function ageOf(warning: string | undefined): number {
  const m = /unreachable: this data comes from a cache last confirmed (\d+)(s|m|h|d) ago/.exec(warning ?? '');
  if (!m) throw new Error(`not a staleness warning: ${warning}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

describe.skipIf(cluster().dir === undefined)('degraded mode: kube-apiserver stopped and restarted', () => {
  let apiserverDown = false;
  const clients: McpCaller[] = [];

  const fx = mcpFixture({
    namespaces: [NS, AGENTS_NS],
    deployments: [{ namespace: NS, name: 'steady', replicas: 2 }],
    serviceAccounts: [{ namespace: AGENTS_NS, name: 'agent' }],
    policies: {
      [POLICY]: {
        subjects: [{ kind: 'ServiceAccount', name: 'agent', namespace: AGENTS_NS }],
        namespaces: { names: [NS] },
        tools: ['list_deployments', 'list_pods', 'scale_deployment'],
        replicas: { min: 1, max: 5 },
      },
    },
    serve: [
      {
        identity: `e2e-mcp-outage-${s}`,
        // Informers retry a lost watch with backoff capped at 2 s (default 3 s), so recovery is quick.
        extraArgs: ['--watch-backoff-max', '2'],
      },
    ],
    clusterReachable: () => !apiserverDown,
    cleanup: async () => {
      const dir = cluster().dir;
      if (apiserverDown && dir !== undefined) {
        await startComponent(dir, APISERVER);
        apiserverDown = false;
      }
      // The cluster's controllers reconnect with their own backoff: leave a working cluster to later files.
      await waitClusterUsable(`e2e-mcp-outage-${s}`);
      for (const c of clients) await c.close().catch(() => undefined);
    },
    afterStop: async () => {
      await kubeConfig()
        .makeApiClient(CoordinationV1Api)
        .deleteNamespacedLease({ name: OPERATOR_LEASE, namespace: OPERATOR_NAMESPACE })
        .catch(() => undefined);
    },
  });

  it('serves stale lists with a warning and refuses scales while the API server is down, then recovers', async () => {
    const dir = cluster().dir as string;
    const srv = fx.serve;
    // Fresh tokens: TokenReview results are cached for at most 60 s from the review, and the outage
    // phase below relies on that cache (kubemcp cannot ask the API server while it is down).
    const token = await agentToken(AGENTS_NS, 'agent');
    const unseen = await agentToken(AGENTS_NS, 'agent');
    const v2 = await connect('v2', srv.url, token);
    const v1 = await connect('v1', srv.url, token);
    clients.push(v2, v1);
    const list = async (c: McpCaller) =>
      okOf<Listing>(await c.callTool('list_deployments', { namespace: NS }));
    const before = await eventually('the cache to show steady 2/2', async () => {
      const l = await list(v2);
      return l.items.some((r) => r.name === 'steady' && r.replicas === 2) ? l : undefined;
    });
    expect(before.warning).toBeUndefined();
    expect((await list(v1)).warning).toBeUndefined();

    // ── outage ──
    const stoppedAt = Date.now();
    await stopComponent(dir, APISERVER, { signal: 'SIGKILL' });
    apiserverDown = true;

    const stale = await eventually(
      'a staleness warning',
      async () => {
        const l = await list(v2);
        return l.warning !== undefined ? l : undefined;
      },
      15_000,
    );
    console.log(`degraded: warning after ${Date.now() - stoppedAt} ms: ${stale.warning}`);
    expect(stale.items.map((r) => `${r.name} ${r.replicas}`)).toEqual(['steady 2']);
    const firstAge = ageOf(stale.warning);
    expect(firstAge).toBeGreaterThanOrEqual(Math.floor((Date.now() - stoppedAt) / 1000) - 1);
    const text = (await v2.callTool('list_deployments', { namespace: NS })).content[0]?.text ?? '';
    expect(text.split('\n')[0]).toMatch(/^WARNING: The Kubernetes API server is unreachable/);
    const v1Stale = await list(v1);
    expect(v1Stale.items.map((r) => r.name)).toEqual(['steady']);
    expect(v1Stale.warning).toBeDefined();
    const pods = okOf<Listing>(await v1.callTool('list_pods', { namespace: NS }));
    expect(pods.items).toHaveLength(2);
    expect(ageOf(pods.warning)).toBeGreaterThanOrEqual(0);

    // The age grows while the outage lasts.
    await sleep(2_100);
    expect(ageOf((await list(v2)).warning)).toBeGreaterThanOrEqual(firstAge + 2);

    // A scale is refused as Unavailable, by either client.
    for (const c of [v2, v1]) {
      const error = errorOf(
        await c.callTool('scale_deployment', { namespace: NS, name: 'steady', replicas: 3 }),
      );
      expect(error.code).toBe('Unavailable');
      expect(error.message).toContain('unreachable');
      expect(error.reason).toContain('no change was made');
    }
    // A token kubemcp has not reviewed yet cannot be checked now: 503 with Retry-After, not 401.
    const unavailable = await rawPost(srv.url, `Bearer ${unseen}`);
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers.get('retry-after')).toBe('5');

    // ── recovery: the same kube-apiserver (port, etcd, certificates, keys), kubemcp serve untouched ──
    const restartedAt = Date.now();
    await startComponent(dir, APISERVER);
    apiserverDown = false;
    console.log(`degraded: outage lasted ${((restartedAt - stoppedAt) / 1000).toFixed(1)} s`);

    // Nothing was half-done: the refused scale never reached the API server.
    expect((await readDeployment(NS, 'steady')).spec?.replicas).toBe(2);

    const fresh = await eventually(
      'lists without a warning again',
      async () => {
        const l = await list(v2);
        return l.warning === undefined ? l : undefined;
      },
      30_000,
    );
    console.log(`degraded: fresh lists ${Date.now() - restartedAt} ms after the restart`);
    expect(fresh.items.map((r) => r.name)).toEqual(['steady']);
    const scaled = await eventually(
      'a scale to succeed again',
      async () => {
        const r = await v1.callTool('scale_deployment', { namespace: NS, name: 'steady', replicas: 3 });
        return r.isError === true ? undefined : okOf<{ from: number; to: number; changed: boolean }>(r);
      },
      30_000,
    );
    expect(scaled).toMatchObject({ from: 2, to: 3, changed: true });
    console.log(`degraded: scale accepted ${Date.now() - restartedAt} ms after the restart`);
    // The cluster's own controllers reconnect with their own backoff: the new pod may take a while.
    await waitReady(NS, 'steady', 3);
    console.log(`degraded: steady 3/3 ready ${Date.now() - restartedAt} ms after the restart`);
    await eventually('the cache to follow the new pods', async () => {
      const l = await list(v2);
      return (
        l.warning === undefined &&
        okOf<Listing>(await v2.callTool('list_pods', { namespace: NS })).items.length === 3
      );
    });
    // A token reviewed for the first time now is accepted (TokenReview works again).
    expect((await rawPost(srv.url, `Bearer ${unseen}`)).status).toBe(200);

    // The same serve process went through it all, and it saw the outage.
    expect(srv.child.exitCode).toBeNull();
    expect(srv.child.signalCode).toBeNull();
    expect(srv.lines.some((l) => l.includes('watch failed; restarting'))).toBe(true);
    expect(permissionProblems(srv)).toEqual([]);
    const audits = srv.audits().filter((a) => a.tool === 'scale_deployment');
    expect(audits.slice(0, 2).map((a) => a.outcome)).toEqual(['Unavailable', 'Unavailable']);
    expect(audits.at(-1)?.outcome).toBe('ok');
  });
});
