/**
 * The probe and metrics server (port 8081): /healthz (the process answers), /readyz (caches synced
 * and the first policy index published; `?verbose` lists every check, warnings included), /metrics
 * (Prometheus). Plain node:http: no MCP, no policy.
 */

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { withLastResort } from '../util/lastresort.js';
import { RateLimitedLog } from '../util/logbudget.js';
import { hasQueryParam, parseTarget } from '../util/target.js';

export interface ReadinessCheck {
  readonly name: string;
  /** True when ready; a string says why not. */
  readonly check: () => boolean | string;
  /**
   * A warning only: its failure is shown by /readyz?verbose (`[!] name warning: ...`) but does not
   * make the replica unready (e.g. leader election: every replica enforces whether it leads or not).
   */
  readonly warnOnly?: boolean;
}

export interface HealthServerOptions {
  readonly registry: Registry;
  readonly checks: readonly ReadinessCheck[];
  readonly port: number;
  readonly host?: string;
  /** Where refused targets and the last-resort handler log (rate-limited); none: not logged. */
  readonly logger?: Logger;
}

export interface HealthServer {
  readonly server: http.Server;
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  close(): Promise<void>;
}

function readiness(checks: readonly ReadinessCheck[]): { ok: boolean; lines: string[] } {
  const lines: string[] = [];
  let ok = true;
  for (const c of checks) {
    let result: boolean | string;
    try {
      result = c.check();
    } catch (err) {
      result = err instanceof Error ? err.message : String(err);
    }
    if (result === true) lines.push(`[+] ${c.name} ok`);
    else if (c.warnOnly) {
      lines.push(`[!] ${c.name} warning${typeof result === 'string' ? `: ${result}` : ''}`);
    } else {
      ok = false;
      lines.push(`[-] ${c.name} failed${typeof result === 'string' ? `: ${result}` : ''}`);
    }
  }
  return { ok, lines };
}

export function createHealthHandler(
  options: Pick<HealthServerOptions, 'registry' | 'checks' | 'logger'>,
): http.RequestListener {
  const log =
    options.logger === undefined
      ? undefined
      : new RateLimitedLog(options.logger.child({ component: 'health' }), {
          level: 'warn',
          summary: 'more failed probe requests were not logged',
        });
  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const text = (status: number, body: string): void => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const target = parseTarget(req.url);
    if (target === undefined) {
      text(400, 'bad request target\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    switch (target.path) {
      case '/healthz':
      case '/livez':
        text(200, 'ok\n');
        return;
      case '/readyz': {
        const { ok, lines } = readiness(options.checks);
        const verbose = hasQueryParam(target.query, 'verbose');
        text(ok ? 200 : 503, ok && !verbose ? 'ok\n' : `${lines.join('\n')}\n${ok ? 'ok' : 'not ready'}\n`);
        return;
      }
      case '/metrics':
        options.registry
          .metrics()
          .then((body) => {
            res.writeHead(200, { 'content-type': options.registry.contentType, 'cache-control': 'no-store' });
            res.end(req.method === 'HEAD' ? undefined : body);
          })
          .catch((err: unknown) =>
            text(500, `metrics failed: ${err instanceof Error ? err.message : String(err)}\n`),
          );
        return;
      default:
        text(404, 'not found\n');
    }
  };
  return withLastResort(handle, { contentType: 'text/plain; charset=utf-8', body: 'bad request\n' }, log);
}

/** Starts the server; resolves once it listens. */
export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const server = http.createServer(createHealthHandler(options));
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
