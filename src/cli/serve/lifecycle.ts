/** Listening and closing the HTTP servers of `kubemcp serve`. */

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export function listening(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    if (server.listening) {
      resolve((server.address() as AddressInfo).port);
      return;
    }
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * In a Pod, the Service keeps sending new connections to a terminating Pod until its endpoint is
 * removed and every node's proxy rules follow (about a second, more on a busy cluster). On
 * shutdown the MCP server therefore keeps serving this long (not ready, every response closing its
 * connection so that clients reconnect through the Service) before it stops accepting. Outside a
 * Pod (no KUBERNETES_SERVICE_HOST) nothing routes to it that way, and it stops at once.
 */
export const DRAIN_DELAY_MS = process.env.KUBERNETES_SERVICE_HOST ? 5_000 : 0;

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    // In-flight requests get a moment; then connections are cut.
    setTimeout(() => server.closeAllConnections(), 5_000).unref();
  });
}
