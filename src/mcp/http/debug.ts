import type { IncomingHttpHeaders } from 'node:http';

/** What a debug log of the MCP endpoint may show of a request and its answer. */

/**
 * The request headers whose values a debug log may show. Every other header is logged by name with
 * the value `[REDACTED]`: credentials come in many names (cookies, `*-token`, `*-authorization`, API
 * keys of proxies in front of us), so only headers known to carry none are shown.
 */
const SAFE_HEADERS = new Set([
  'accept',
  'accept-encoding',
  'accept-language',
  'cache-control',
  'connection',
  'content-length',
  'content-type',
  'host',
  'last-event-id',
  'mcp-method',
  'mcp-name',
  'mcp-protocol-version',
  'origin',
  'pragma',
  'traceparent',
  'tracestate',
  'user-agent',
  'via',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-proto',
  'x-real-ip',
  'x-request-id',
]);
const MAX_LOGGED_HEADER_CHARS = 256;

/** Headers as a debug log may show them: values of SAFE_HEADERS only (capped), the rest redacted. */
export function redactHeaders(headers: IncomingHttpHeaders): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    if (!SAFE_HEADERS.has(k)) {
      out[k] = '[REDACTED]';
      continue;
    }
    const text = Array.isArray(v) ? v.join(', ') : v;
    out[k] = text.length > MAX_LOGGED_HEADER_CHARS ? `${text.slice(0, MAX_LOGGED_HEADER_CHARS)}…` : text;
  }
  return out;
}

/** The JSON-RPC messages in a response body (plain JSON or SSE `data:` lines), for debug logs. */
export function messagesOf(contentType: string | null, text: string): unknown {
  try {
    if (contentType?.includes('text/event-stream')) {
      return text
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as unknown);
    }
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return text.slice(0, 2000);
  }
}
