import type { IncomingMessage } from 'node:http';
import { validateHostHeader, validateOriginHeader } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { capForLog, RateLimitedLog } from '../../util/logbudget.js';
import type { McpMetrics } from '../metrics.js';
import type { ResolvedMcpAppOptions } from './options.js';
import type { GateRefusals, Prebuilt } from './respond.js';

/**
 * DNS-rebinding protection, checked once per request by the gate: the Host header must name us (every
 * path), and a browser's Origin must be one of ours (the MCP path). A refusal is counted, and logged
 * at warn (a browser page aiming at us, or allowedHosts not naming the address clients use), at most
 * 20 lines per 10 s, with the header's value capped.
 */
export class HostOriginGuard {
  private readonly allowedHosts: string[];
  private readonly allowedOrigins: string[];
  private readonly anyHost: boolean;
  private readonly anyOrigin: boolean;
  private readonly log: RateLimitedLog;

  constructor(
    opts: ResolvedMcpAppOptions,
    log: Logger,
    private readonly metrics: McpMetrics,
    private readonly refusals: GateRefusals,
  ) {
    this.allowedHosts = [...opts.allowedHosts];
    this.allowedOrigins = [...opts.allowedOrigins];
    this.anyHost = this.allowedHosts.includes('*');
    this.anyOrigin = this.allowedOrigins.includes('*');
    this.log = new RateLimitedLog(log, {
      level: 'warn',
      summary:
        'more requests refused for their Host or Origin were not logged (see kubemcp_mcp_requests_refused_total)',
    });
  }

  /** The refusal of a request whose Host header is not ours, or undefined. */
  host(req: IncomingMessage, requestId: string): Prebuilt | undefined {
    const host = req.headers.host;
    if (this.anyHost || validateHostHeader(host, this.allowedHosts).ok) return undefined;
    this.metrics.requestsRefused.inc({ reason: 'host' });
    this.log.write({ requestId, host: capForLog(host) }, 'request refused: Host not allowed');
    return this.refusals.hostForbidden;
  }

  /** The refusal of a request whose Origin header is present and not ours, or undefined. */
  origin(req: IncomingMessage, requestId: string): Prebuilt | undefined {
    const origin = req.headers.origin;
    if (this.anyOrigin || validateOriginHeader(origin, this.allowedOrigins).ok) return undefined;
    this.metrics.requestsRefused.inc({ reason: 'origin' });
    this.log.write({ requestId, origin: capForLog(origin) }, 'request refused: Origin not allowed');
    return this.refusals.originForbidden;
  }
}
