/**
 * A loopback reverse proxy that adds `Authorization: Bearer <token>` to requests that carry none,
 * and forwards everything else byte for byte (method, path, every other header including Host and
 * Origin, body, status, response headers, streamed body).
 *
 * Why: the MCP conformance suite (@modelcontextprotocol/conformance) has no way to send credentials
 * — it has no auth scenarios against servers — while KubeMCP answers 401 to any request without a
 * valid Kubernetes token. The proxy plays the part of an MCP client configured with a token, so the
 * suite exercises the real server (real TokenReview, real policies) and nothing in KubeMCP is
 * switched off for the test. Host/Origin checks (DNS-rebinding scenario) still run in KubeMCP itself,
 * since the proxy forwards those headers unchanged.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AuthProxy {
  /** http://127.0.0.1:<port> */
  readonly base: string;
  readonly port: number;
  /** Requests forwarded so far. */
  readonly forwarded: () => number;
  close(): Promise<void>;
}

export async function startAuthProxy(target: string, token: string): Promise<AuthProxy> {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let count = 0;
  const server = http.createServer((req, res) => {
    count++;
    const headers = { ...req.headers };
    if (headers.authorization === undefined) headers.authorization = `Bearer ${token}`;
    const out = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers,
        agent,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.statusMessage, up.rawHeaders);
        up.pipe(res);
      },
    );
    out.on('error', (err) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
      }
      res.end(`auth proxy: upstream error: ${err.message}`);
    });
    req.pipe(out);
    res.on('close', () => {
      if (!res.writableFinished) out.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    forwarded: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}
