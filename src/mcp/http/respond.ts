import type { ServerResponse } from 'node:http';

/**
 * Answers built once and written with the plain Node API: the JSON-RPC error bodies and refusals of
 * everything that goes wrong before the SDK sees a request. No Express, no per-request JSON.
 */

export interface Prebuilt {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | number>>;
  readonly body: string;
}

/** A JSON-RPC error answer (`id: null`: the request was not read as a message). */
export function jsonRpcError(
  status: number,
  code: number,
  message: string,
  headers: Readonly<Record<string, string>> = {},
): Prebuilt {
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null });
  return {
    status,
    body,
    headers: {
      ...headers,
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
    },
  };
}

/** Writes `answer` (headers already set on `res`, such as X-Request-Id, are kept); no body for HEAD. */
export function send(res: ServerResponse, answer: Prebuilt, head = false): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(answer.status, answer.headers);
  res.end(head ? undefined : answer.body);
}

/** Text of a header-parameter or message: no quotes, backslashes or non-printable characters. */
export function quoteParam(text: string): string {
  return text.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, ' ');
}

/** The refusals that depend on nothing but the options, built once per app. */
export interface GateRefusals {
  readonly badTarget: Prebuilt;
  readonly hostForbidden: Prebuilt;
  readonly originForbidden: Prebuilt;
  readonly notFound: Prebuilt;
  readonly methodNotAllowed: Prebuilt;
  readonly unsupportedMediaType: Prebuilt;
  readonly tooLarge: Prebuilt;
  readonly parseError: Prebuilt;
  readonly tooMany: Prebuilt;
  readonly internal: Prebuilt;
}

export function gateRefusals(bodyLimitBytes: number, maxInflightPerCaller: number): GateRefusals {
  return {
    badTarget: jsonRpcError(400, -32600, 'Invalid Request: the request target is not a valid path'),
    hostForbidden: jsonRpcError(403, -32000, 'Forbidden: Host header not allowed'),
    originForbidden: jsonRpcError(403, -32000, 'Forbidden: Origin not allowed'),
    notFound: jsonRpcError(404, -32601, 'Not found'),
    methodNotAllowed: jsonRpcError(405, -32000, 'Method not allowed.', { Allow: 'POST' }),
    unsupportedMediaType: jsonRpcError(
      415,
      -32000,
      'Unsupported Media Type: Content-Type must be application/json',
    ),
    tooLarge: jsonRpcError(413, -32000, `Request body too large (limit ${bodyLimitBytes} bytes)`),
    parseError: jsonRpcError(400, -32700, 'Parse error: the request body is not valid JSON'),
    tooMany: jsonRpcError(
      429,
      -32000,
      `Too many requests in flight for this caller (at most ${maxInflightPerCaller}); retry shortly`,
      { 'Retry-After': '1', 'Cache-Control': 'no-store' },
    ),
    internal: jsonRpcError(500, -32603, 'Internal error'),
  };
}
