/**
 * KubeBackend's /scale read and write against a local server that never answers: bounded,
 * Unavailable, request aborted; a write cut short says its outcome is unknown.
 */

import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeBackend } from '../../../src/kube/backend.js';
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
