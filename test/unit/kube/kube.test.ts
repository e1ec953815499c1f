import { describe, expect, it } from 'vitest';
import { Backoff } from '../../../src/kube/backoff.js';
import { KubeApiError } from '../../../src/kube/client.js';
import { codeForStatus, toBackendError } from '../../../src/kube/errors.js';
import { LAST_APPLIED_ANNOTATION, trimPod, trimPolicyObject, trimWorkload } from '../../../src/kube/trim.js';
import type { Deployment, Pod } from '../../../src/kube/types.js';
import { BackendError } from '../../../src/kube/types.js';

describe('Backoff', () => {
  it('grows exponentially up to the cap', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 });
    expect([1, 2, 3, 4, 5, 6].map(() => b.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(b.attempts).toBe(6);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('jitters each delay into [d·(1−jitter), d]', () => {
    const low = new Backoff({ initialMs: 1000, jitter: 0.5, random: () => 0.999999 });
    const high = new Backoff({ initialMs: 1000, jitter: 0.5, random: () => 0 });
    expect(low.next()).toBe(500);
    expect(high.next()).toBe(1000);
    const real = new Backoff({ initialMs: 1000, maxMs: 1000 });
    for (let i = 0; i < 50; i++) {
      const d = real.next();
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThanOrEqual(1000);
    }
  });
});

describe('trim', () => {
  it('keeps of a policy object only what the controller reads: keys, generation, guard, uid, spec, status', () => {
    const status = { observedGeneration: 2, conditions: [{ type: 'Ready', status: 'True' }] };
    const spec = { subjects: [], tools: ['list_pods'] };
    const t = trimPolicyObject({
      apiVersion: 'kubemcp.io/v1alpha1',
      kind: 'McpNamespacePolicy',
      metadata: {
        name: 'agent',
        namespace: 'team-a',
        uid: 'u-1',
        resourceVersion: '42',
        generation: 2,
        creationTimestamp: '2026-12-07T00:00:00Z',
        labels: { team: 'a' },
        annotations: { [LAST_APPLIED_ANNOTATION]: '{}', note: 'x' },
        managedFields: [{ manager: 'kubectl' }],
      },
      spec,
      status,
    });
    expect(t).toEqual({
      metadata: { name: 'agent', namespace: 'team-a', uid: 'u-1', resourceVersion: '42', generation: 2 },
      spec,
      status,
    });
    expect(trimPolicyObject({ metadata: { name: 'p' }, spec })).toEqual({ metadata: { name: 'p' }, spec });
  });

  it('drops managedFields, the last-applied annotation and heavy pod fields, keeping what lists show', () => {
    const pod: Pod = {
      metadata: {
        name: 'web-1',
        namespace: 'web',
        labels: { app: 'web' },
        annotations: { [LAST_APPLIED_ANNOTATION]: '{"huge":true}' },
        managedFields: [{ manager: 'kubectl' }],
      },
      spec: {
        nodeName: 'node-1',
        volumes: [{ name: 'data', emptyDir: {} }],
        containers: [
          {
            name: 'web',
            image: 'nginx:1',
            env: [{ name: 'SECRET', value: 'x' }],
            ports: [{ containerPort: 80 }],
            readinessProbe: { httpGet: { path: '/', port: 80 } },
            resources: { limits: { cpu: '1' } },
          },
        ],
        tolerations: [{ key: 'k' }],
      },
      status: {
        phase: 'Running',
        podIP: '10.0.0.1',
        containerStatuses: [
          { name: 'web', ready: true, restartCount: 2, image: 'nginx:1', imageID: '', started: true },
        ],
      },
    };
    const t = trimPod(pod);
    expect(t.metadata?.managedFields).toBeUndefined();
    expect(t.metadata?.annotations).toBeUndefined();
    expect(t.metadata?.labels).toEqual({ app: 'web' });
    expect(t.spec?.volumes).toBeUndefined();
    expect(t.spec?.tolerations).toBeUndefined();
    expect(t.spec?.nodeName).toBe('node-1');
    expect(t.spec?.containers).toEqual([{ name: 'web', image: 'nginx:1', ports: [{ containerPort: 80 }] }]);
    expect(t.status?.containerStatuses?.[0]?.restartCount).toBe(2);
  });

  it('trims a workload pod template and keeps other annotations', () => {
    const d: Deployment = {
      metadata: {
        name: 'web',
        annotations: { keep: 'me', [LAST_APPLIED_ANNOTATION]: '{}' },
        managedFields: [{}],
      },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { volumes: [{ name: 'v' }], containers: [{ name: 'c', image: 'i', command: ['sh'] }] },
        },
      },
    };
    const t = trimWorkload(d);
    expect(t.metadata?.annotations).toEqual({ keep: 'me' });
    expect(t.spec?.replicas).toBe(3);
    expect(t.spec?.template.spec?.volumes).toBeUndefined();
    expect(t.spec?.template.spec?.containers).toEqual([{ name: 'c', image: 'i' }]);
  });
});

describe('BackendError mapping', () => {
  it('maps HTTP statuses to stable codes', () => {
    expect(codeForStatus(404)).toBe('NotFound');
    expect(codeForStatus(409)).toBe('Conflict');
    expect(codeForStatus(422)).toBe('Invalid');
    expect(codeForStatus(400)).toBe('Invalid');
    expect(codeForStatus(403)).toBe('Forbidden');
    expect(codeForStatus(500)).toBe('Unavailable');
    expect(codeForStatus(503)).toBe('Unavailable');
    expect(codeForStatus(429)).toBe('Unavailable');
    expect(codeForStatus(undefined)).toBe('Unavailable');
  });

  it("keeps the API server's message and the cause", () => {
    const api = new KubeApiError(
      409,
      {
        kind: 'Status',
        reason: 'Conflict',
        message: 'the object has been modified; please apply your changes to the latest version',
      },
      'PUT /apis/apps/v1/namespaces/web/deployments/web/scale',
    );
    const e = toBackendError(api, 'scale deployments web/web to 3');
    expect(e).toBeInstanceOf(BackendError);
    expect(e.code).toBe('Conflict');
    expect(e.message).toBe(
      'scale deployments web/web to 3: the object has been modified; please apply your changes to the latest version',
    );
    expect(e.cause).toBe(api);
  });

  it('calls a network failure Unavailable', () => {
    const err = Object.assign(
      new Error('request to https://127.0.0.1:1/ failed, reason: connect ECONNREFUSED'),
      {
        code: 'ECONNREFUSED',
      },
    );
    const e = toBackendError(err, 'read the scale of deployments a/b');
    expect(e.code).toBe('Unavailable');
    expect(e.message).toMatch(/unreachable: request to .* ECONNREFUSED/);
  });
});
