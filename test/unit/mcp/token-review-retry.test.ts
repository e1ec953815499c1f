/**
 * kubeTokenReview against a local server: a TokenReview whose connection breaks before the answer is
 * asked once more (it changes nothing), so a cut keep-alive connection does not turn into a 503 for
 * the caller; an HTTP error answer is not retried.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { kubeTokenReview } from '../../../src/mcp/auth.js';
import { type Cleanups, localApi } from '../kube/local-api.js';

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const AUTHENTICATED = JSON.stringify({
  apiVersion: 'authentication.k8s.io/v1',
  kind: 'TokenReview',
  status: { authenticated: true, user: { username: 'system:serviceaccount:a:b', groups: ['g'] } },
});

describe('kubeTokenReview', () => {
  it('asks once more when the connection breaks before the answer', async () => {
    let requests = 0;
    const client = await localApi((req, res) => {
      requests++;
      req.resume();
      req.on('end', () => {
        if (requests === 1)
          req.socket.destroy(); // the first one is cut
        else res.writeHead(201, { 'content-type': 'application/json' }).end(AUTHENTICATED);
      });
    }, cleanups);
    const result = await kubeTokenReview(client)('t0ken', ['kubemcp']);
    expect(requests).toBe(2);
    expect(result).toMatchObject({ authenticated: true, user: { username: 'system:serviceaccount:a:b' } });
  });

  it('gives up after the second broken connection, and never retries an HTTP error', async () => {
    let requests = 0;
    const cut = await localApi((req) => {
      requests++;
      req.resume();
      req.on('end', () => req.socket.destroy());
    }, cleanups);
    await expect(kubeTokenReview(cut)('t0ken', ['kubemcp'])).rejects.toThrow('TokenReview request failed');
    expect(requests).toBe(2);

    requests = 0;
    const failing = await localApi((req, res) => {
      requests++;
      req.resume();
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"kind":"Status","code":500}');
    }, cleanups);
    await expect(kubeTokenReview(failing)('t0ken', ['kubemcp'])).rejects.toThrow(
      'TokenReview request failed (HTTP 500)',
    );
    expect(requests).toBe(1);
  });
});
