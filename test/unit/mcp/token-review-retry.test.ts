/**
 * The authenticator's calls to the API server, against a local server: a TokenReview whose
 * connection breaks before the answer is asked once more (it changes nothing), so a cut keep-alive
 * connection does not turn into a 503 for the caller, and an HTTP error answer is not retried; the
 * issuer discovery documents are read from their two paths, and a refusal names the path and status.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { kubeIssuerDiscovery, kubeTokenReview, ServiceAccountKeys } from '../../../src/mcp/auth.js';
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

describe('kubeIssuerDiscovery', () => {
  const jwk = {
    ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }),
    kid: 'k1',
    use: 'sig',
    alg: 'ES256',
  };
  const issuer = 'https://kubernetes.default.svc.cluster.local';

  it('reads the OpenID configuration and the JWKS (Accept: application/jwk-set+json) from the API server', async () => {
    const paths: string[] = [];
    const client = await localApi((req, res) => {
      paths.push(`${req.method} ${req.url} ${req.headers.accept}`);
      if (req.url === '/openid/v1/jwks' && req.headers.accept !== 'application/jwk-set+json') {
        res.writeHead(406, { 'content-type': 'application/json' }).end('{"kind":"Status","code":406}');
        return;
      }
      const body =
        req.url === '/.well-known/openid-configuration'
          ? { issuer, jwks_uri: `${issuer}/openid/v1/jwks` }
          : { keys: [jwk] };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    }, cleanups);
    const keys = new ServiceAccountKeys({ discover: kubeIssuerDiscovery(client), refreshFloorMs: 1000 });
    await keys.load();
    expect(paths).toEqual([
      'GET /.well-known/openid-configuration application/json',
      'GET /openid/v1/jwks application/jwk-set+json', // the API server answers 406 to application/json
    ]);
    expect(keys.current()?.issuer).toBe(issuer);
    expect([...(keys.current()?.byKid.keys() ?? [])]).toEqual(['k1']);
  });

  it('names the path and the HTTP status when the API server refuses, and keeps the keys it had', async () => {
    let forbid = false;
    const client = await localApi((req, res) => {
      if (forbid && req.url === '/openid/v1/jwks') {
        res
          .writeHead(403, { 'content-type': 'application/json' })
          .end('{"kind":"Status","code":403,"reason":"Forbidden"}');
        return;
      }
      const body = req.url === '/.well-known/openid-configuration' ? { issuer } : { keys: [jwk] };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    }, cleanups);
    const discover = kubeIssuerDiscovery(client);
    const keys = new ServiceAccountKeys({ discover, refreshFloorMs: 0 });
    await keys.load();
    forbid = true;
    await expect(discover()).rejects.toThrow('GET /openid/v1/jwks: HTTP 403 (Forbidden)');
    await keys.load();
    expect(keys.current()?.byKid.has('k1')).toBe(true);
  });
});
