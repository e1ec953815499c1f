import type { IncomingMessage, ServerResponse } from 'node:http';
import { attr, type Span, type Tracing } from '../../telemetry/index.js';
import { MCP_PATH } from './options.js';

/**
 * The server span of a request to the MCP endpoint (tracing on only): started by the gate, continuing
 * the caller's W3C trace context, ended when the response closes. Its children are added where the
 * work happens (authentication, policy decisions, cache reads, API requests, Events).
 */
export function startRequestSpan(
  tracing: Tracing,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
): Span {
  const method = req.method ?? 'GET';
  const span = tracing.startServerSpan(`${method} ${MCP_PATH}`, req.headers);
  span.setAttribute(attr.HTTP_REQUEST_METHOD, method);
  span.setAttribute(attr.HTTP_ROUTE, MCP_PATH);
  span.setAttribute(attr.REQUEST_ID, requestId);
  res.once('close', () => {
    span.setAttribute(attr.HTTP_RESPONSE_STATUS_CODE, res.statusCode);
    if (res.statusCode >= 500) span.fail(String(res.statusCode));
    else if (!res.writableFinished) span.fail('aborted', 'the connection closed before the answer was sent');
    span.end();
  });
  return span;
}

/** Longest caller-supplied text (tool name, URI, id, version) kept as a span attribute. */
const MAX_ATTRIBUTE_CHARS = 256;

function clip(text: string): string {
  return text.length > MAX_ATTRIBUTE_CHARS ? `${text.slice(0, MAX_ATTRIBUTE_CHARS)}…` : text;
}

/**
 * The MCP attributes of a request's server span (tracing on only), from the parsed body: method,
 * JSON-RPC id, tool name or resource URI, protocol version; for a single tools/call the span is
 * renamed `tools/call <tool>` (the MCP semantic conventions' name). Never a header value but the
 * protocol version, never arguments.
 */
export function describeMcpRequest(
  span: Span,
  parsed: unknown,
  versionHeader: string | string[] | undefined,
): void {
  if (Array.isArray(parsed)) {
    span.setAttribute(attr.BATCH_SIZE, parsed.length);
  } else if (typeof parsed === 'object' && parsed !== null) {
    const { method, id, params } = parsed as { method?: unknown; id?: unknown; params?: unknown };
    const p = (typeof params === 'object' && params !== null ? params : {}) as {
      name?: unknown;
      uri?: unknown;
      protocolVersion?: unknown;
    };
    if (typeof method === 'string') {
      const name = clip(method);
      span.setAttribute(attr.MCP_METHOD_NAME, name);
      if (method === 'tools/call' && typeof p.name === 'string') {
        const tool = clip(p.name);
        span.setAttribute(attr.GEN_AI_TOOL_NAME, tool);
        span.setAttribute(attr.GEN_AI_OPERATION_NAME, 'execute_tool');
        span.updateName(`tools/call ${tool}`);
      } else {
        span.updateName(name);
      }
      if (method === 'resources/read' && typeof p.uri === 'string') {
        span.setAttribute(attr.MCP_RESOURCE_URI, clip(p.uri));
      }
      if (method === 'initialize' && typeof p.protocolVersion === 'string') {
        span.setAttribute(attr.MCP_PROTOCOL_VERSION, clip(p.protocolVersion));
      }
    }
    if (typeof id === 'string' || typeof id === 'number')
      span.setAttribute(attr.JSONRPC_REQUEST_ID, clip(String(id)));
  }
  if (typeof versionHeader === 'string') span.setAttribute(attr.MCP_PROTOCOL_VERSION, clip(versionHeader));
}
