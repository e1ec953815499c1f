/**
 * ServiceAccount tokens verified locally, against the real API server's issuer keys: `kubemcp serve`
 * (as the operator ServiceAccount, with the shipped RBAC) loads the issuer discovery documents, accepts
 * a real TokenRequest token, refuses a token signed with another key WITHOUT a TokenReview (counted on
 * its /metrics), and still refuses a genuine token whose bound Pod was deleted (only the TokenReview
 * knows that).
 */

import { generateKeyPairSync, sign } from 'node:crypto';
import { CoreV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { mcpFixture } from './fixture.js';
import { agentToken, rawPost, type ServeProcess, uniqueSuffix } from './mcp-support.js';
import { eventually, kubeConfig } from './support.js';

const s = uniqueSuffix();
const NS = `e2e-tokens-${s}`;
const POLICY = `e2e-tokens-${s}`;

/** The sum of a metric's samples (optionally those whose labels contain `labels`) on serve's /metrics. */
async function metric(serve: ServeProcess, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${serve.healthPort}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    if (labels !== '' && !line.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

const segments = (token: string) => token.split('.') as [string, string, string];
const decode = (segment: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;

/** `payload` under `header`, signed RS256 with a key that is not the cluster's. */
function forge(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

describe('ServiceAccount tokens verified against the cluster issuer keys', () => {
  const fx = mcpFixture({
    namespaces: [NS],
    serviceAccounts: [{ namespace: NS, name: 'agent' }],
    policies: {
      [POLICY]: {
        subjects: [{ kind: 'ServiceAccount', name: 'agent', namespace: NS }],
        namespaces: { names: [NS] },
        tools: ['list_pods'],
      },
    },
    serve: [{ identity: `e2e-tokens-${s}` }],
  });

  it('loads the issuer keys with the shipped RBAC and accepts a real TokenRequest token', async () => {
    const srv = fx.serve;
    await eventually(
      'local verification on',
      async () => (await metric(srv, 'kubemcp_token_local_verification_available')) === 1,
      20_000,
    );
    const token = await agentToken(NS, 'agent');
    const res = await rawPost(srv.url, `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.body).toContain('list_pods');
    expect(
      await metric(srv, 'kubemcp_token_local_verifications_total', 'result="valid"'),
    ).toBeGreaterThanOrEqual(1);
    expect(srv.lines.join('\n')).toContain('ServiceAccount token signatures are verified locally');
  });

  it('refuses tokens signed with another key, under the cluster key id or a made-up one, with 0 TokenReviews', async () => {
    const srv = fx.serve;
    const [h, p] = segments(await agentToken(NS, 'agent'));
    const header = decode(h);
    const payload = decode(p);
    expect(typeof header.kid).toBe('string');
    const reviewsBefore = await metric(srv, 'kubemcp_tokenreviews_total');
    const forged = [
      forge(header, payload), // the real kid and claims, another key
      forge({ ...header, kid: 'made-up' }, payload),
      forge(
        { alg: 'RS256', kid: header.kid },
        { ...payload, sub: 'system:serviceaccount:kube-system:admin' },
      ),
    ];
    for (const token of forged) {
      const res = await rawPost(srv.url, `Bearer ${token}`);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
    expect(await metric(srv, 'kubemcp_tokenreviews_total')).toBe(reviewsBefore);
    expect(
      await metric(srv, 'kubemcp_token_local_verifications_total', 'result="bad_signature"'),
    ).toBeGreaterThanOrEqual(2);
    expect(
      await metric(srv, 'kubemcp_token_local_verifications_total', 'result="unknown_key"'),
    ).toBeGreaterThanOrEqual(1);
  });

  it('refuses a genuine token whose bound Pod was deleted: the TokenReview is still asked', async () => {
    const srv = fx.serve;
    const core = kubeConfig().makeApiClient(CoreV1Api);
    const pod = await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name: 'bound' },
        spec: {
          serviceAccountName: 'agent',
          containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }],
        },
      },
    });
    const res = await core.createNamespacedServiceAccountToken({
      name: 'agent',
      namespace: NS,
      body: {
        spec: {
          audiences: ['kubemcp'],
          expirationSeconds: 3600,
          boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'bound', uid: pod.metadata?.uid ?? '' },
        },
      },
    });
    const token = res.status?.token ?? '';
    await core.deleteNamespacedPod({ namespace: NS, name: 'bound', gracePeriodSeconds: 0 });
    await eventually(
      'the Pod to be gone',
      async () => {
        try {
          await core.readNamespacedPod({ namespace: NS, name: 'bound' });
          return false;
        } catch {
          return true;
        }
      },
      30_000,
    );
    const validBefore = await metric(srv, 'kubemcp_token_local_verifications_total', 'result="valid"');
    const rejectedBefore = await metric(srv, 'kubemcp_tokenreviews_total', 'result="rejected"');
    const answer = await rawPost(srv.url, `Bearer ${token}`);
    expect(answer.status).toBe(401);
    // Its signature was good (verified here), and the TokenReview said no.
    expect(await metric(srv, 'kubemcp_token_local_verifications_total', 'result="valid"')).toBe(
      validBefore + 1,
    );
    expect(await metric(srv, 'kubemcp_tokenreviews_total', 'result="rejected"')).toBe(rejectedBefore + 1);
  });
});
