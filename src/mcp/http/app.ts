import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NO_TRACING, NOOP_SPAN } from '../../telemetry/index.js';
import { withLastResort } from '../../util/lastresort.js';
import { RateLimitedLog } from '../../util/logbudget.js';
import { parseTarget } from '../../util/target.js';
import { Auditor } from '../audit.js';
import { mcpMetrics } from '../metrics.js';
import { AuthGate } from './authgate.js';
import { createSdkBridge } from './bridge.js';
import { HostOriginGuard } from './hostorigin.js';
import {
  MCP_PATH,
  type McpAppDeps,
  PROTECTED_RESOURCE_METADATA_PATH,
  type ResolvedMcpAppOptions,
  resolveMcpAppOptions,
} from './options.js';
import { createMcpPost } from './post.js';
import { gateRefusals, jsonRpcError, type Prebuilt, send } from './respond.js';
import { buildSafety } from './safety.js';
import { CallerSlots } from './slots.js';
import { startRequestSpan } from './tracing.js';

/**
 * The MCP endpoint as a Node request listener: Streamable HTTP at /mcp (the 2026-07-28 revision and,
 * through the SDK's stateless legacy leg, the 2025-era `initialize` revisions down to 2024-11-05),
 * Bearer authentication, RFC 9728 metadata, Host/Origin validation, body limits, and JSON-RPC error
 * bodies for everything that goes wrong before the SDK sees a request. Everything it needs is injected.
 *
 * The gate below routes every request once: request id, target, span, Host, Origin, route, method;
 * a POST to /mcp goes on to ./post.ts. Whatever throws is answered 400 by the last resort
 * (src/util/lastresort.ts) instead of ending the process.
 */

/** The MCP endpoint as Node's http server calls it: `http.createServer(createMcpApp(deps))`. */
export type McpRequestListener = (req: IncomingMessage, res: ServerResponse) => void;

type Route = 'mcp' | 'metadata' | undefined;

const METADATA_MCP_PATH = `${PROTECTED_RESOURCE_METADATA_PATH}${MCP_PATH}`;

/** Routes as Express matched them: case-insensitive, one trailing slash allowed. */
function routeOf(path: string): Route {
  if (path === MCP_PATH) return 'mcp';
  const p = (path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path).toLowerCase();
  if (p === MCP_PATH) return 'mcp';
  if (p === PROTECTED_RESOURCE_METADATA_PATH || p === METADATA_MCP_PATH) return 'metadata';
  return undefined;
}

/** The RFC 9728 protected-resource metadata, built once. */
function metadataAnswer(opts: ResolvedMcpAppOptions): Prebuilt {
  const body = JSON.stringify({
    resource: opts.mcpUrl,
    bearer_methods_supported: ['header'],
    resource_name: 'KubeMCP',
    ...(opts.authorizationServers.length > 0
      ? { authorization_servers: [...opts.authorizationServers] }
      : {}),
  });
  return {
    status: 200,
    body,
    headers: {
      'Access-Control-Allow-Origin': '*',
      'Cache-Control': 'public, max-age=300',
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
    },
  };
}

const LAST_RESORT = {
  contentType: 'application/json; charset=utf-8',
  body: jsonRpcError(400, -32600, 'Invalid Request').body,
};
const LAST_RESORT_LOG = {
  level: 'error',
  summary: 'more requests whose listener threw were not logged',
} as const;

export function createMcpApp(deps: McpAppDeps): McpRequestListener {
  const opts = resolveMcpAppOptions(deps.options);
  const log =
    opts.logLevel === undefined
      ? deps.logger.child({ component: 'mcp' })
      : deps.logger.child({ component: 'mcp' }, { level: opts.logLevel });
  const metrics = mcpMetrics(deps.registry);
  // The audit has its own switch: its records are written at info whatever the general log level.
  const auditor = new Auditor(deps.logger.child({}, { level: 'info' }), metrics, { enabled: opts.audit });
  const refusals = gateRefusals(opts.bodyLimitBytes, opts.maxInflightPerCaller);
  const guard = new HostOriginGuard(opts, log, metrics, refusals);
  const safety = buildSafety(opts, deps.backend, deps.registry);
  const post = createMcpPost({
    opts,
    log,
    metrics,
    auth: new AuthGate(deps.authenticator, opts.metadataUrl, log, metrics),
    slots: new CallerSlots(opts.maxInflightPerCaller),
    refusals,
    safety,
    forward: createSdkBridge(deps, opts, { log, auditor, safety }),
  });
  const metadata = metadataAnswer(opts);
  const tracing = deps.tracing ?? NO_TRACING;

  const gate = (req: IncomingMessage, res: ServerResponse): void | Promise<void> => {
    // Request id: always ours (a caller must not choose the id its audit records carry). The
    // caller's own X-Request-Id is kept, sanitised, as a separate audit field.
    const requestId = randomUUID();
    res.setHeader('X-Request-Id', requestId);
    const head = req.method === 'HEAD';
    const target = parseTarget(req.url);
    if (target === undefined) {
      metrics.requestsRefused.inc({ reason: 'target' });
      log.debug({ requestId }, 'request refused: the target is not a path');
      return send(res, refusals.badTarget, head);
    }
    const route = routeOf(target.path);
    const span =
      tracing.enabled && target.path === MCP_PATH
        ? startRequestSpan(tracing, req, res, requestId)
        : NOOP_SPAN;
    const refused =
      guard.host(req, requestId) ?? (route === 'mcp' ? guard.origin(req, requestId) : undefined);
    if (refused !== undefined) return send(res, refused, head);
    if (route === 'metadata' && (req.method === 'GET' || head)) return send(res, metadata, head);
    if (route !== 'mcp') return send(res, refusals.notFound, head);
    // Stateless server: no standalone SSE stream (GET) and no session to delete (DELETE).
    if (req.method !== 'POST') return send(res, refusals.methodNotAllowed, head);
    return post(req, res, requestId, span);
  };

  return withLastResort(gate, LAST_RESORT, new RateLimitedLog(log, LAST_RESORT_LOG));
}
