/**
 * A cool-down claim in a namespace that does not exist (serve run outside a Pod): the API server
 * answers the Lease create 404, and the error names that namespace (LeaseNamespaceMissing), not the
 * workload.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { claimScale, LeaseNamespaceMissing } from '../../../src/kube/scalehistory.js';
import { type Cleanups, localApi } from './local-api.js';

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('claimScale without its namespace', () => {
  it('throws LeaseNamespaceMissing naming the Lease namespace', async () => {
    const client = await localApi((req, res) => {
      expect(req.method).toBe('POST');
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          message: 'namespaces "kubemcp-system" not found',
          reason: 'NotFound',
          code: 404,
        }),
      );
    }, cleanups);
    const claim = {
      namespace: 'kubemcp-system',
      leaseName: 'kubemcp-scale-u1',
      object: 'deployment shop/web',
    };
    const err = await claimScale(client, claim, Date.now(), 'me', 60, 5_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LeaseNamespaceMissing);
    expect((err as LeaseNamespaceMissing).leaseNamespace).toBe('kubemcp-system');
    expect((err as LeaseNamespaceMissing).code).toBe('NotFound');
  });
});
