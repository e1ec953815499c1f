/**
 * A local HTTP server standing in for the API server in unit tests of src/kube, and a KubeClient
 * pointed at it. Both are closed by the test file's cleanups (run them in afterEach).
 */
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeClient } from '../../../src/kube/client.js';

export type Cleanups = Array<() => Promise<void> | void>;

/** Starts `handler` on a free loopback port; returns a client for it. */
export async function localApi(handler: RequestListener, cleanups: Cleanups): Promise<KubeClient> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const client = new KubeClient({
    server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tls: {},
    credentials: { get: async () => ({}), refresh: () => false },
    source: 'test',
  });
  cleanups.push(() => client.close());
  return client;
}
