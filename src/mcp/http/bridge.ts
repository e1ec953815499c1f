import type { IncomingMessage, ServerResponse } from 'node:http';
import { createMcpHandler } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { Auditor } from '../audit.js';
import { GuardedClient } from '../guarded.js';
import { buildMcpServer } from '../server.js';
import { authInfoOf, contextOf, type RequestContext } from './context.js';
import type { McpAppDeps, ResolvedMcpAppOptions } from './options.js';
import type { SafetyParts } from './safety.js';

/**
 * The bridge to the SDK's fetch-style handler: a parsed message and its request context in, the
 * SDK's answer written to the Node response. The server factory reads the context the gate built
 * (through AuthInfo.extra) and builds, per request, the guarded client and the MCP server.
 */

/** Request headers the SDK never sees: the credential, cookies, and what only this hop means. */
const HOP_BY_HOP = new Set([
  'authorization',
  'connection',
  'content-length',
  'expect',
  'keep-alive',
  'proxy-authorization',
  'transfer-encoding',
  'upgrade',
  'cookie',
]);

export interface BridgeParts {
  readonly log: Logger;
  readonly auditor: Auditor;
  readonly safety: SafetyParts;
}

export type Forward = (
  req: IncomingMessage,
  res: ServerResponse,
  context: RequestContext,
  parsed: unknown,
  sessionId: string | undefined,
) => Promise<Answered>;

/** What was sent: the status, and (when debug logs are on) the content type and body. */
export interface Answered {
  readonly status: number;
  readonly contentType: string | null;
  readonly body: Buffer | undefined;
}

export function createSdkBridge(deps: McpAppDeps, opts: ResolvedMcpAppOptions, parts: BridgeParts): Forward {
  const handler = createMcpHandler(serverFactory(deps, opts, parts), {
    legacy: 'stateless',
    maxRequestBodySize: opts.bodyLimitBytes,
    onerror: (err) => parts.log.debug({ reason: err.message }, 'MCP request rejected or failed'),
  });
  // The Request's URL is ours: the caller's request target is never passed on.
  const endpoint = opts.mcpUrl;

  return async (req, res, context, parsed, sessionId) => {
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k)) continue;
      headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    }
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    // No body: the SDK takes the parsed message and never reads it, and a body would cost a copy
    // and a web stream per request.
    const request = new Request(endpoint, { method: 'POST', headers, signal: abort.signal });
    const response = await handler.fetch(request, { authInfo: authInfoOf(context), parsedBody: parsed });
    return writeResponse(res, response, sessionId, parts.log.isLevelEnabled('debug'));
  };
}

type ServerFactory = Parameters<typeof createMcpHandler>[0];

/** Per request: the guarded client and the MCP server, from the context the gate built. */
function serverFactory(deps: McpAppDeps, opts: ResolvedMcpAppOptions, parts: BridgeParts): ServerFactory {
  return (ctx) => {
    const context = contextOf(ctx.authInfo);
    if (context === undefined) throw new Error('An unauthenticated request reached the MCP handler');
    const headers = ctx.requestInfo?.headers;
    return buildMcpServer(
      {
        requestId: context.requestId,
        clientRequestId: context.clientRequestId,
        caller: context.caller,
        client: new GuardedClient(context.caller, deps.getIndex(), deps.backend, {
          now: opts.now,
          maxScaleAttempts: opts.maxScaleAttempts,
          safety: { rateLimiter: parts.safety.rateLimiter, access: parts.safety.access },
          trace: context.span,
        }),
        span: context.span,
        now: opts.now,
        auditor: parts.auditor,
        logger: parts.log,
        resourcePageSize: opts.resourcePageSize,
        confirmationCodec: parts.safety.confirmationCodec,
        onConfirmation: parts.safety.onConfirmation,
        ...(ctx.era === 'legacy'
          ? {
              legacyElicitation: {
                session: () =>
                  parts.safety.sessions.check(
                    headers?.get('mcp-session-id') ?? undefined,
                    context.caller.username,
                  ),
                // Absent header: the revision the transport assumes (2025-03-26).
                revision: headers?.get('mcp-protocol-version')?.slice(0, 32) ?? '2025-03-26',
                pending: parts.safety.pending,
                timeoutMs: opts.confirmationTimeoutMs,
              },
            }
          : {}),
      },
      opts.serverInfo,
    );
  };
}

/**
 * Writes the SDK's answer. A JSON answer is complete when the SDK returns it: it goes out in one write
 * with a Content-Length (less CPU per call than pumping a web stream into a chunked response); an SSE
 * stream is pumped until it ends or the client leaves. Returns the body when `keep` (debug logs).
 */
async function writeResponse(
  res: ServerResponse,
  response: Response,
  sessionId: string | undefined,
  keep: boolean,
): Promise<Answered> {
  const { status } = response;
  const contentType = response.headers.get('content-type');
  res.statusCode = status;
  response.headers.forEach((value, key) => {
    res.setHeader(key, value);
  });
  if (sessionId !== undefined && status === 200) res.setHeader('Mcp-Session-Id', sessionId);
  // Answers depend on the caller: never let a shared cache keep them.
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Vary', 'Authorization');
  const streamed = contentType?.includes('text/event-stream') ?? false;
  if (response.body === null) {
    res.end();
    return { status, contentType, body: undefined };
  }
  if (!streamed) {
    let buf: Buffer;
    try {
      buf = Buffer.from(await response.arrayBuffer());
    } catch (err) {
      if (res.destroyed) return { status, contentType, body: undefined };
      throw err;
    }
    res.setHeader('Content-Length', buf.length);
    res.end(buf);
    return { status, contentType, body: keep ? buf : undefined };
  }
  const chunks: Uint8Array[] = [];
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (res.destroyed) {
      await reader.cancel().catch(() => {});
      break;
    }
    if (keep) chunks.push(value);
    res.write(value);
  }
  res.end();
  return { status, contentType, body: keep ? Buffer.concat(chunks) : undefined };
}
