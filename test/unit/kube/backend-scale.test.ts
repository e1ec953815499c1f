/**
 * KubeBackend's /scale read and write against a local server that never answers: bounded,
 * Unavailable, request aborted; a write cut short says its outcome is unknown. A write whose
 * connection breaks after it went out, or that the API server fails with 500/504, says the same; a
 * refused connection or a 503/429 says nothing was changed.
 */

import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeBackend } from '../../../src/kube/backend.js';
import { KubeClient } from '../../../src/kube/client.js';
import { BackendError } from '../../../src/kube/types.js';
import { fromBackendError } from '../../../src/mcp/errors.js';
import { type Cleanups, localApi } from './local-api.js';

async function hangingBackend(options: { readTimeoutMs?: number; writeTimeoutMs?: number }) {
  const seen: IncomingMessage[] = [];
  const client = await localApi((req) => void seen.push(req), cleanups); // never answers
  return { backend: new KubeBackend({ client, ...options }), seen };
}

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('KubeBackend.readScale', () => {
  it('gives up after readTimeoutMs with Unavailable and aborts the request it sent', async () => {
    const { backend, seen } = await hangingBackend({ readTimeoutMs: 100 });

    const started = Date.now();
    const err = await backend.readScale('deployment', 'web', 'api').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).code).toBe('Unavailable');
    expect((err as BackendError).message).toBe(
      'read the scale of deployments web/api: no answer from the API server within 100 ms',
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(seen.map((r) => r.url)).toEqual(['/apis/apps/v1/namespaces/web/deployments/api/scale']);
    // The request was cut, not left running.
    await new Promise<void>((resolve) => {
      const req = seen[0];
      if (req?.destroyed || req?.socket.destroyed) resolve();
      else req?.once('close', () => resolve());
    });
  });
});

describe('KubeBackend.writeScale', () => {
  it('gives up after writeTimeoutMs with Unavailable, aborts the request, and says the outcome is unknown', async () => {
    const { backend, seen } = await hangingBackend({ writeTimeoutMs: 100 });
    const err = await backend.writeScale('deployment', 'web', 'api', 3, '42').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    const backendError = err as BackendError;
    expect(backendError.code).toBe('Unavailable');
    expect(backendError.outcomeUnknown).toBe(true);
    expect(backendError.message).toMatch(
      /^scale deployments web\/api to 3: no answer from the API server within 100 ms; the outcome is unknown/,
    );
    expect(seen.map((r) => [r.method, r.url])).toEqual([
      ['PUT', '/apis/apps/v1/namespaces/web/deployments/api/scale?fieldManager=kubemcp'],
    ]);
    await new Promise<void>((resolve) => {
      const req = seen[0];
      if (req?.destroyed || req?.socket.destroyed) resolve();
      else req?.once('close', () => resolve());
    });
    // What the agent reads: not "nothing was changed", but re-read before retrying.
    const tool = fromBackendError(backendError, 'deployment web/api').toBody();
    expect(tool.code).toBe('Unavailable');
    expect(tool.message).toContain('may or may not have been applied');
    expect(tool.message).not.toContain('nothing was changed');
    expect(tool.suggestions.join(' ')).toMatch(/Read the current replicas again/);
  });
});

describe('KubeBackend.writeScale when the connection or the server fails', () => {
  it('says the outcome is unknown when the connection breaks after the request went out', async () => {
    const seen: string[] = [];
    const client = await localApi((req) => {
      seen.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => req.socket.destroy()); // read the whole PUT, then drop the connection
    }, cleanups);
    const err = await new KubeBackend({ client })
      .writeScale('deployment', 'web', 'api', 3, '42')
      .catch((e: unknown) => e);
    expect(seen).toEqual(['PUT /apis/apps/v1/namespaces/web/deployments/api/scale?fieldManager=kubemcp']);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).code).toBe('Unavailable');
    expect((err as BackendError).outcomeUnknown).toBe(true);
    expect((err as BackendError).message).toMatch(
      /^scale deployments web\/api to 3: the API server is unreachable: .*; the outcome is unknown/,
    );
    const tool = fromBackendError(err as BackendError, 'deployment web/api').toBody();
    expect(tool.message).toContain('may or may not have been applied');
    expect(tool.message).not.toContain('nothing was changed');
  });

  it('says the outcome is unknown on a 500 or 504 from the API server, not on a 503 or 429', async () => {
    for (const [status, unknown] of [
      [500, true],
      [504, true],
      [503, false],
      [429, false],
    ] as const) {
      const client = await localApi((req, res) => {
        req.resume();
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', code: status, message: 'etcdserver: request timed out' }));
      }, cleanups);
      const err = (await new KubeBackend({ client })
        .writeScale('deployment', 'web', 'api', 3, '42')
        .catch((e: unknown) => e)) as BackendError;
      expect(err.code, String(status)).toBe('Unavailable');
      expect(err.outcomeUnknown, String(status)).toBe(unknown);
      expect(err.message, String(status)).toContain('etcdserver: request timed out');
    }
  });

  it('says nothing was changed when the connection is refused (nothing was sent)', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const client = new KubeClient({
      server: `http://127.0.0.1:${port}`,
      tls: {},
      credentials: { get: async () => ({}), refresh: () => false },
      source: 'test',
    });
    cleanups.push(() => client.close());
    const err = (await new KubeBackend({ client })
      .writeScale('deployment', 'web', 'api', 3, '42')
      .catch((e: unknown) => e)) as BackendError;
    expect(err.code).toBe('Unavailable');
    expect(err.outcomeUnknown).toBe(false);
    expect(err.message).toContain('ECONNREFUSED');
    expect(fromBackendError(err, 'deployment web/api').toBody().message).toContain('nothing was changed');
  });
});
