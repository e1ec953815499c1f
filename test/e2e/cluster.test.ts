/**
 * The harness's own proof that the cluster is real: version, scale subresource, and pods made
 * Ready by the fake node.
 */
import { ApiException, AppsV1Api, VersionApi } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { cluster, eventually, kubeConfig, scratchNamespace } from './support.js';

describe('the e2e cluster', () => {
  const ns = scratchNamespace('cluster');

  it('is a real Kubernetes API server of the expected version', async () => {
    const version = await kubeConfig().makeApiClient(VersionApi).getCode();
    if (cluster().mode !== 'external') {
      expect(version.gitVersion).toMatch(/^v1\.37\./);
    }
    expect(Number(version.major)).toBe(1);
  });

  it('scales a Deployment through its /scale subresource and the pods become Ready', async () => {
    const apps = kubeConfig().makeApiClient(AppsV1Api);
    const namespace = ns();
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'web', image: 'registry.k8s.io/pause:3.10' }] },
          },
        },
      },
    });
    const before = await apps.readNamespacedDeploymentScale({ name: 'web', namespace });
    expect(before.spec?.replicas).toBe(3);

    // Read-modify-write of /scale with its resourceVersion; the controllers may bump it in between (409).
    const scaled = await eventually('the scale write to go through', async () => {
      const current = await apps.readNamespacedDeploymentScale({ name: 'web', namespace });
      try {
        return await apps.replaceNamespacedDeploymentScale({
          name: 'web',
          namespace,
          body: { ...current, spec: { replicas: 5 } },
        });
      } catch (err) {
        if (err instanceof ApiException && err.code === 409) return undefined;
        throw err;
      }
    });
    expect(scaled.spec?.replicas).toBe(5);

    const ready = await eventually('5 ready replicas', async () => {
      const d = await apps.readNamespacedDeployment({ name: 'web', namespace });
      return d.status?.readyReplicas === 5 ? d : undefined;
    });
    expect(ready.status?.replicas).toBe(5);
    const after = await apps.readNamespacedDeploymentScale({ name: 'web', namespace });
    expect(after.status?.replicas).toBe(5);
  });
});
