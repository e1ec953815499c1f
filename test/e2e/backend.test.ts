/**
 * The ClusterBackend on a real API server: lists from watch caches (trimmed, typed), /scale reads and
 * writes with optimistic concurrency, Events on scaled objects, and cache health through an outage
 * (a TCP proxy in front of the API server is cut and restored: the caches recover without a restart).
 */

import net from 'node:net';
import { AppsV1Api, CoreV1Api, EventsV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeBackend } from '../../src/kube/backend.js';
import { KubeClient } from '../../src/kube/client.js';
import { loadKubeConfig } from '../../src/kube/kubeconfig.js';
import { BackendError } from '../../src/kube/types.js';
import { cluster, eventually, kubeClient, kubeConfig, scratchNamespace } from './support.js';

function deployment(name: string, replicas: number) {
  return {
    metadata: {
      name,
      labels: { app: name },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
    },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name: 'main',
              image: 'registry.k8s.io/pause:3.10',
              env: [{ name: 'A_SECRET', value: 'do-not-cache' }],
            },
          ],
          volumes: [{ name: 'scratch', emptyDir: {} }],
        },
      },
    },
  };
}

async function errorOf(p: Promise<unknown>): Promise<BackendError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof BackendError) return err;
    throw err;
  }
  throw new Error('expected a BackendError');
}

/** A kubeconfig like the run's, but whose server is `server`. */
/** A client of the run's cluster, credentials and all, that dials `server` instead. */
function clientFor(server: string): KubeClient {
  const connection = loadKubeConfig(cluster().kubeconfig);
  return new KubeClient({ ...connection, server });
}

/** A TCP proxy to the API server that the test can cut and restore. */
class CuttableProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async open(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}

describe('KubeBackend on a real API server', () => {
  const ns = scratchNamespace('backend');
  let backend: KubeBackend;
  const apps = () => kubeConfig().makeApiClient(AppsV1Api);
  const core = () => kubeConfig().makeApiClient(CoreV1Api);

  beforeAll(async () => {
    backend = new KubeBackend({ client: kubeClient(), reportingInstance: 'e2e-backend' });
    backend.start();
    await backend.waitForSync(30_000);
  });
  afterAll(async () => {
    await backend?.stop();
  });

  it('lists and gets from the watch caches, trimmed alike for listed and watched objects', async () => {
    const namespace = ns();
    await apps().createNamespacedDeployment({ namespace, body: deployment('web', 2) });
    await apps().createNamespacedStatefulSet({
      namespace,
      body: {
        metadata: { name: 'db' },
        spec: {
          serviceName: 'db',
          replicas: 1,
          selector: { matchLabels: { app: 'db' } },
          template: {
            metadata: { labels: { app: 'db' } },
            spec: { containers: [{ name: 'db', image: 'registry.k8s.io/pause:3.10' }] },
          },
        },
      },
    });
    await core().createNamespacedService({
      namespace,
      body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } },
    });

    const web = await eventually('web in the deployment cache', async () =>
      backend.get('deployment', namespace, 'web'),
    );
    expect(web.metadata?.managedFields).toBeUndefined();
    expect(web.metadata?.annotations?.['kubectl.kubernetes.io/last-applied-configuration']).toBeUndefined();
    expect(web.spec?.template.spec?.volumes).toBeUndefined();
    expect(web.spec?.template.spec?.containers[0]?.env).toBeUndefined();
    expect(web.spec?.template.spec?.containers[0]?.image).toBe('registry.k8s.io/pause:3.10');
    // Came through the watch (created after the sync): the API's JSON, RFC 3339 timestamps.
    const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
    expect(web.metadata?.creationTimestamp).toMatch(rfc3339);
    // A listed object (the namespace existed before the backend started): the same shape.
    const nsObj = backend.get('namespace', '', namespace);
    expect(nsObj?.metadata?.creationTimestamp).toMatch(rfc3339);

    expect(
      await eventually('db cached', async () => backend.get('statefulset', namespace, 'db')),
    ).toBeDefined();
    expect(
      await eventually('service cached', async () => backend.get('service', namespace, 'web')),
    ).toBeDefined();
    const pods = await eventually('two ready web pods in the pod cache', async () => {
      const mine = backend
        .list('pod')
        .items.filter((p) => p.metadata?.namespace === namespace && p.metadata?.labels?.app === 'web');
      return mine.length === 2 && mine.every((p) => p.status?.containerStatuses?.[0]?.ready)
        ? mine
        : undefined;
    });
    for (const p of pods) {
      expect(p.metadata?.managedFields).toBeUndefined();
      expect(p.spec?.containers[0]?.env).toBeUndefined();
      expect(p.spec?.volumes).toBeUndefined();
    }
    const snapshot = backend.list('deployment');
    expect(snapshot.health).toMatchObject({ connected: true, synced: true });
    expect(backend.list('deployment').items).toBe(snapshot.items); // unchanged cache: same array, no copy
    expect(backend.get('deployment', namespace, 'nope')).toBeUndefined();
  });

  it('reads and writes /scale with optimistic concurrency: a stale resourceVersion is a Conflict', async () => {
    const namespace = ns();
    const before = await backend.readScale('deployment', namespace, 'web');
    expect(before.replicas).toBe(2);
    expect(before.resourceVersion).not.toBe('');
    expect(before.uid).toBeDefined();

    const after = await backend.writeScale('deployment', namespace, 'web', 3, before.resourceVersion);
    expect(after.replicas).toBe(3);
    expect(after.resourceVersion).not.toBe(before.resourceVersion);

    const stale = await errorOf(
      backend.writeScale('deployment', namespace, 'web', 4, before.resourceVersion),
    );
    expect(stale.code).toBe('Conflict');
    expect(stale.message).toMatch(/has been modified/);
    expect((await backend.readScale('deployment', namespace, 'web')).replicas).toBe(3);

    const sts = await backend.readScale('statefulset', namespace, 'db');
    expect(sts.replicas).toBe(1);
    expect((await backend.writeScale('statefulset', namespace, 'db', 2, sts.resourceVersion)).replicas).toBe(
      2,
    );

    expect((await errorOf(backend.readScale('deployment', namespace, 'missing'))).code).toBe('NotFound');
    expect((await errorOf(backend.writeScale('deployment', namespace, 'missing', 1, '1'))).code).toBe(
      'NotFound',
    );
    expect(
      (await errorOf(backend.writeScale('deployment', namespace, 'web', -1, after.resourceVersion))).code,
    ).toBe('Invalid');
    await eventually('3 ready replicas reported by readScale', async () => {
      const s = await backend.readScale('deployment', namespace, 'web');
      return s.readyReplicas === 3;
    });
  });

  it('records a Scaled Event on the scaled object, and never throws when it cannot', async () => {
    const namespace = ns();
    const uid = backend.get('deployment', namespace, 'web')?.metadata?.uid;
    await backend.recordScaleEvent({
      kind: 'deployment',
      namespace,
      name: 'web',
      ...(uid ? { uid } : {}),
      caller: 'system:serviceaccount:agents:copilot',
      policy: 'web-scaler',
      from: 2,
      to: 3,
    });
    const events = kubeConfig().makeApiClient(EventsV1Api);
    const event = await eventually('the Scaled Event', async () => {
      const list = await events.listNamespacedEvent({ namespace });
      return list.items.find((e) => e.reason === 'Scaled' && e.regarding?.name === 'web');
    });
    expect(event.note).toBe(
      'scaled by system:serviceaccount:agents:copilot via McpPolicy web-scaler from 2 to 3',
    );
    expect(event.type).toBe('Normal');
    expect(event.reportingController).toBe('kubemcp.io/operator');
    expect(event.regarding).toMatchObject({ kind: 'Deployment', apiVersion: 'apps/v1', uid });
    // A namespace that does not exist: the API refuses, recordScaleEvent still resolves.
    await expect(
      backend.recordScaleEvent({
        kind: 'statefulset',
        namespace: 'no-such-namespace-e2e',
        name: 'x',
        caller: 'c',
        policy: 'p',
        from: 1,
        to: 2,
      }),
    ).resolves.toBeUndefined();
  });

  it('reports an unreachable API server as disconnected and never synced', async () => {
    const dead = new KubeBackend({
      client: clientFor('https://127.0.0.1:1'),
      backoff: { initialMs: 50, maxMs: 200 },
    });
    dead.start();
    try {
      await new Promise((r) => setTimeout(r, 500));
      const h = dead.health('pod');
      expect(h).toMatchObject({ connected: false, synced: false });
      expect(h.lastGoodAt).toBeUndefined();
      expect(dead.informer('pod').restarts).toBeGreaterThan(1); // kept retrying
      expect((await errorOf(dead.readScale('deployment', 'a', 'b'))).code).toBe('Unavailable');
      await expect(dead.waitForSync(100)).rejects.toThrow(/did not sync within 100 ms/);
    } finally {
      await dead.stop();
    }
  });

  it('serves the stale cache while the API server is unreachable and recovers without a restart', async () => {
    const namespace = ns();
    const target = new URL(loadKubeConfig(cluster().kubeconfig).server);
    const proxy = new CuttableProxy(target.hostname, Number(target.port));
    await proxy.open();
    const viaProxy = new KubeBackend({
      client: clientFor(`https://127.0.0.1:${proxy.port}`),
      backoff: { initialMs: 100, maxMs: 400 },
    });
    viaProxy.start();
    try {
      await viaProxy.waitForSync(30_000);
      expect(viaProxy.get('deployment', namespace, 'web')).toBeDefined();

      const cutAt = Date.now();
      await proxy.cut();
      const down = await eventually(
        'the deployment cache to report the broken watch',
        async () => {
          const h = viaProxy.health('deployment');
          return h.connected ? undefined : h;
        },
        10_000,
      );
      expect(down.synced).toBe(true);
      expect(down.lastGoodAt).toBeDefined();
      expect(down.lastGoodAt ?? 0).toBeLessThanOrEqual(Date.now());
      expect(down.lastGoodAt ?? 0).toBeGreaterThanOrEqual(cutAt - 120_000);
      // Still answers from the cache, flagged stale.
      const stale = viaProxy.list('deployment');
      expect(stale.health.connected).toBe(false);
      expect(stale.items.some((d) => d.metadata?.namespace === namespace && d.metadata?.name === 'web')).toBe(
        true,
      );
      expect((await errorOf(viaProxy.readScale('deployment', namespace, 'web'))).code).toBe('Unavailable');

      // A change made during the outage must show up after recovery.
      await apps().createNamespacedDeployment({ namespace, body: deployment('during-outage', 1) });
      await new Promise((r) => setTimeout(r, 800));
      expect(viaProxy.get('deployment', namespace, 'during-outage')).toBeUndefined();

      await proxy.open(); // same port
      await eventually(
        'the caches to reconnect',
        async () =>
          (['namespace', 'pod', 'deployment', 'statefulset', 'service'] as const).every(
            (k) => viaProxy.health(k).connected,
          ),
        15_000,
      );
      await eventually(
        'the deployment created during the outage in the cache',
        async () => viaProxy.get('deployment', namespace, 'during-outage'),
        10_000,
      );
      expect(viaProxy.informer('deployment').restarts).toBeGreaterThan(0);
      expect((await viaProxy.readScale('deployment', namespace, 'web')).replicas).toBe(3);
    } finally {
      await viaProxy.stop();
      await proxy.cut();
    }
  });
});
