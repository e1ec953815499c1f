import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import {
  type AuthInfo,
  createMcpHandler,
  createRequestStateCodec,
  isJsonContentType,
  validateHostHeader,
  validateOriginHeader,
} from '@modelcontextprotocol/server';
import express, {
  type Request as ExpressRequest,
  type Response as ExpressResponse,
  type NextFunction,
} from 'express';
import type { Level, Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ClusterBackend } from '../kube/types.js';
import type { PolicyIndex } from '../policy/index.js';
import type { Caller } from '../policy/types.js';
import { attr, NO_TRACING, NOOP_SPAN, type Span, type Tracing } from '../telemetry/index.js';
import { Auditor, sanitiseClientRequestId } from './audit.js';
import type { Authenticator, AuthOutcome } from './auth.js';
import { GuardedClient } from './guarded.js';
import { mcpMetrics } from './metrics.js';
import { DEFAULT_RESOURCE_PAGE_SIZE } from './resources.js';
import { AccessReviewer } from './safety/access.js';
import {
  CONFIRMATION_TTL_SECONDS,
  type ConfirmationState,
  DEFAULT_CONFIRMATION_TIMEOUT_SECONDS,
} from './safety/elicit.js';
import { safetyMetrics } from './safety/metrics.js';
import { PendingElicitations } from './safety/pending.js';
import { RateLimiter } from './safety/ratelimit.js';
import { clientOfInitialize, declaresFormElicitation, LegacySessions } from './safety/session.js';
import { currentKeyCodec } from './safety/statecodec.js';
import { buildMcpServer } from './server.js';

/**
 * The MCP endpoint as an express app: Streamable HTTP at /mcp (the 2026-07-28 revision and, through
 * the SDK's stateless legacy leg, the 2025-era `initialize` revisions down to 2024-11-05), Bearer
 * authentication, RFC 9728 metadata, Host/Origin validation, body limits, and JSON-RPC error bodies for
 * everything that goes wrong before the SDK sees a request. Everything it needs is injected.
 */

export const MCP_PATH = '/mcp';
export const PROTECTED_RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;
export const DEFAULT_PUBLIC_URL = 'http://localhost:8080';
/** In-flight requests one caller may have before it gets 429. */
export const DEFAULT_MAX_INFLIGHT_PER_CALLER = 8;
/** Most messages in one JSON-RPC batch (2025-03-26 clients only; see docs/adr/0006). */
export const MAX_BATCH_MESSAGES = 10;
/** Deepest JSON nesting accepted in a body (MCP messages need a handful of levels). */
export const MAX_JSON_DEPTH = 64;
/**
 * Most object members (`"key": value` pairs) accepted in a body. A real request has a few dozen;
 * each member costs the SDK's and our schema validation tens of microseconds, so 60,000 of them in a
 * 1 MiB body would hold the event loop for over a second.
 */
export const MAX_JSON_MEMBERS = 1000;
/** The revisions whose requests may come as a JSON-RPC batch (batching left MCP in 2025-06-18). */
const BATCH_REVISIONS = new Set(['2024-11-05', '2025-03-26']);

export interface McpAppOptions {
  /**
   * The base URL clients use to reach this server (scheme, host, port); the MCP endpoint is
   * `<publicUrl>/mcp`. Used in the protected-resource metadata and the WWW-Authenticate challenge.
   * Default http://localhost:8080.
   */
  readonly publicUrl?: string;
  /** Host header names accepted (port-agnostic; `*` accepts any). Default: publicUrl's host and localhost. */
  readonly allowedHosts?: readonly string[];
  /** Origin hostnames accepted when an Origin header is present (`*` accepts any). Default: allowedHosts. */
  readonly allowedOrigins?: readonly string[];
  /** Largest accepted request body in bytes; larger bodies get 413. Default 1 MiB. */
  readonly bodyLimitBytes?: number;
  /** Level of the MCP layer's logger; `debug` logs every JSON-RPC message in and out. Default: the logger's. */
  readonly logLevel?: Level;
  /** Authorization servers advertised in the metadata (e.g. the cluster's ServiceAccount issuer). */
  readonly authorizationServers?: readonly string[];
  /** Page size of resources/list. Default 100. */
  readonly resourcePageSize?: number;
  /** Scale attempts on Conflict. Default 3. */
  readonly maxScaleAttempts?: number;
  /**
   * HMAC key (≥ 32 bytes) of human-confirmation state and of 2025-era session ids; shared by every
   * replica. A function is asked at every sign and verify (the key may arrive or change while the
   * server runs). Default: random per process.
   */
  readonly confirmationKey?: Uint8Array | (() => Uint8Array);
  /** How long a 2025-era tools/call waits for the person's answer to elicitation/create. Default 120 s. */
  readonly confirmationTimeoutSeconds?: number;
  /** Questions waiting for an answer (2025-era) per caller, and in all; beyond them fail closed. Default 2 and 256. */
  readonly maxPendingConfirmations?: { readonly perCaller?: number; readonly total?: number };
  /** Clock (ms since epoch); injectable for tests. */
  readonly now?: () => number;
  /** serverInfo reported to clients. */
  readonly serverInfo?: { readonly name: string; readonly version: string };
  /** Write audit records (independent of the log level). Default true. */
  readonly audit?: boolean;
  /** Requests one caller (by username) may have in flight; beyond it 429. Default 8. */
  readonly maxInflightPerCaller?: number;
}

export interface McpAppDeps {
  /** Validates Bearer tokens (see createTokenReviewAuthenticator). */
  readonly authenticator: Authenticator;
  /** The current compiled policies; called once per request, so policy changes apply without restart. */
  readonly getIndex: () => PolicyIndex;
  /** The cluster, without policy. Only GuardedClients touch it. */
  readonly backend: ClusterBackend;
  readonly logger: Logger;
  /** Where the MCP metrics are registered. */
  readonly registry: Registry;
  /** Tracing (src/telemetry); default off. */
  readonly tracing?: Tracing;
  readonly options?: McpAppOptions;
}

/** Options with every default filled in (the one place defaults live). */
export interface ResolvedMcpAppOptions {
  readonly publicUrl: URL;
  readonly mcpUrl: string;
  readonly metadataUrl: string;
  readonly allowedHosts: readonly string[];
  readonly allowedOrigins: readonly string[];
  readonly bodyLimitBytes: number;
  readonly logLevel: Level | undefined;
  readonly authorizationServers: readonly string[];
  readonly resourcePageSize: number;
  readonly maxScaleAttempts: number;
  readonly confirmationKey: Uint8Array | (() => Uint8Array) | undefined;
  readonly confirmationTimeoutMs: number;
  readonly maxPendingConfirmations: { readonly perCaller?: number; readonly total?: number };
  readonly now: () => number;
  readonly serverInfo: { readonly name: string; readonly version: string };
  readonly audit: boolean;
  readonly maxInflightPerCaller: number;
}

export function resolveMcpAppOptions(options: McpAppOptions = {}): ResolvedMcpAppOptions {
  const publicUrl = new URL(options.publicUrl ?? DEFAULT_PUBLIC_URL);
  const base = `${publicUrl.origin}${publicUrl.pathname.replace(/\/+$/, '')}`;
  const allowedHosts = options.allowedHosts ?? [
    ...new Set([publicUrl.hostname, 'localhost', '127.0.0.1', '[::1]']),
  ];
  return {
    publicUrl,
    mcpUrl: `${base}${MCP_PATH}`,
    metadataUrl: `${publicUrl.origin}${PROTECTED_RESOURCE_METADATA_PATH}`,
    allowedHosts,
    allowedOrigins: options.allowedOrigins ?? allowedHosts,
    bodyLimitBytes: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
    logLevel: options.logLevel,
    authorizationServers: options.authorizationServers ?? [],
    resourcePageSize: options.resourcePageSize ?? DEFAULT_RESOURCE_PAGE_SIZE,
    maxScaleAttempts: options.maxScaleAttempts ?? 3,
    confirmationKey: options.confirmationKey,
    confirmationTimeoutMs:
      Math.max(1, options.confirmationTimeoutSeconds ?? DEFAULT_CONFIRMATION_TIMEOUT_SECONDS) * 1000,
    maxPendingConfirmations: options.maxPendingConfirmations ?? {},
    now: options.now ?? Date.now,
    serverInfo: options.serverInfo ?? { name: 'kubemcp', version: '0.1.0' },
    audit: options.audit ?? true,
    maxInflightPerCaller: Math.max(1, options.maxInflightPerCaller ?? DEFAULT_MAX_INFLIGHT_PER_CALLER),
  };
}

/** What the auth step learned about a request; travels to the SDK factory inside AuthInfo.extra. */
interface RequestContext {
  /** Ours, never the caller's. */
  readonly requestId: string;
  /** The caller's X-Request-Id, sanitised (audit only). */
  readonly clientRequestId?: string | undefined;
  readonly caller: Caller;
  /** The request's server span (the no-op span when tracing is off). */
  readonly span: Span;
}
const CONTEXT_KEY = 'kubemcp';
/** The server span of each request to the MCP endpoint, by its response, when tracing is on. */
const requestSpans = new WeakMap<ServerResponse, Span>();

function spanOf(res: ServerResponse): Span {
  return requestSpans.get(res) ?? NOOP_SPAN;
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
function describeMcpRequest(span: Span, parsed: unknown, versionHeader: string | string[] | undefined): void {
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

/** A refused authentication: what to answer, built once per distinct refusal. */
interface Refusal {
  readonly ok: false;
  readonly status: number;
  /** The kubemcp_mcp_auth_failures_total label. */
  readonly reason: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}
type AuthVerdict = (AuthOutcome & { ok: true }) | Refusal;

/** The MCP endpoint as Node's http server calls it: `http.createServer(createMcpApp(deps))`. */
export type McpRequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** The path of a request target, without its query. */
function pathOf(url: string | undefined): string {
  if (url === undefined) return '';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function contextOf(authInfo: AuthInfo | undefined): RequestContext | undefined {
  const ctx = authInfo?.extra?.[CONTEXT_KEY] as RequestContext | undefined;
  return ctx !== undefined && typeof ctx.requestId === 'string' && typeof ctx.caller === 'object'
    ? ctx
    : undefined;
}

const BEARER_RE = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
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
const AUTH_LOG_WINDOW_MS = 10_000;
const AUTH_LOG_BURST = 20;
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

function requestIdOf(res: ExpressResponse): string {
  return String(res.getHeader('x-request-id') ?? '');
}

function sendJsonRpcError(
  res: ExpressResponse,
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res
    .status(status)
    .type('application/json')
    .send(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

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

/** In-flight request slots per caller identity. */
class CallerSlots {
  private readonly inflight = new Map<string, number>();
  constructor(readonly limit: number) {}

  /** Takes `n` slots of `who`, or none (false) when that would pass the limit. */
  tryAcquire(who: string, n: number): boolean {
    const current = this.inflight.get(who) ?? 0;
    if (current + n > this.limit) return false;
    this.inflight.set(who, current + n);
    return true;
  }

  release(who: string, n: number): void {
    const left = (this.inflight.get(who) ?? 0) - n;
    if (left > 0) this.inflight.set(who, left);
    else this.inflight.delete(who);
  }
}

/** The JSON-RPC messages in a response body (plain JSON or SSE `data:` lines), for debug logs. */
function messagesOf(contentType: string | null, text: string): unknown {
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

/**
 * What is wrong with the SHAPE of the JSON text in `body`, or undefined: nesting deeper than
 * `maxDepth`, or more than `maxMembers` object members. One linear pass over the bytes, before
 * JSON.parse, whose cost grows much faster than linearly with nesting (a 1 MiB body of brackets holds
 * the event loop for half a second) and whose result would then overflow the stack of every
 * recursive walker. Brackets and colons inside strings do not count.
 */
export function jsonShapeProblem(body: Uint8Array, maxDepth: number, maxMembers: number): string | undefined {
  let depth = 0;
  let members = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return `JSON nested deeper than ${maxDepth} levels`;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    } else if (c === 0x3a) {
      if (++members > maxMembers) return `JSON with more than ${maxMembers} object members`;
    }
  }
  return undefined;
}

function quoteParam(text: string): string {
  return text.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, ' ');
}

/** A JSON-RPC response whose id has the shape of our elicitation ids. */
interface ElicitationAnswer extends Record<string, unknown> {
  readonly id: string;
}

function isElicitationAnswer(parsed: unknown): parsed is ElicitationAnswer {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return false;
  const m = parsed as Record<string, unknown>;
  return m.method === undefined && ('result' in m || 'error' in m) && PendingElicitations.isOurs(m.id);
}

function declaresElicitationAtInitialize(parsed: unknown): parsed is { params: unknown } {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return false;
  const m = parsed as { method?: unknown; params?: unknown };
  return m.method === 'initialize' && declaresFormElicitation(m.params);
}

export function createMcpApp(deps: McpAppDeps): McpRequestListener {
  const opts = resolveMcpAppOptions(deps.options);
  const log =
    opts.logLevel === undefined
      ? deps.logger.child({ component: 'mcp' })
      : deps.logger.child({ component: 'mcp' }, { level: opts.logLevel });
  const metrics = mcpMetrics(deps.registry);
  // The audit has its own switch: its records are written at info whatever the general log level.
  const auditLogger = deps.logger.child({}, { level: 'info' });
  const auditor = new Auditor(auditLogger, metrics, { enabled: opts.audit });
  const callerSlots = new CallerSlots(opts.maxInflightPerCaller);
  // Agent safety: rate limits are counted per process (docs/security.md).
  const rateLimiter = new RateLimiter();
  // SubjectAccessReviews of requireKubernetesRBAC, cached at most 10 s (safety/access.ts).
  const reviewAccess = deps.backend.reviewAccess?.bind(deps.backend);
  const accessReviews = safetyMetrics(deps.registry).accessReviews;
  const access = new AccessReviewer(reviewAccess, {
    now: opts.now,
    onLookup: (result) => accessReviews.inc({ result }),
  });
  // Signs the state of human confirmations (safety/elicit.ts) and the session ids of 2025-era
  // clients that can be asked (safety/session.ts). Every replica that may receive the retry must
  // share the key: set confirmationKey (`kubemcp serve` reads it from a Secret or a file); the
  // default, a random key per process, only verifies what comes back to the same process.
  const confirmationKey = opts.confirmationKey ?? randomBytes(32);
  const confirmationCodec =
    typeof confirmationKey === 'function'
      ? currentKeyCodec<ConfirmationState>(confirmationKey, CONFIRMATION_TTL_SECONDS)
      : createRequestStateCodec<ConfirmationState>({
          key: confirmationKey,
          ttlSeconds: CONFIRMATION_TTL_SECONDS,
        });
  const safety = safetyMetrics(deps.registry);
  const sessions = new LegacySessions(confirmationKey, opts.now);
  // 2025-era questions waiting for the answer POST: bounded per caller and in all (safety/pending.ts).
  const pending = new PendingElicitations({
    maxPerCaller: opts.maxPendingConfirmations.perCaller,
    maxTotal: opts.maxPendingConfirmations.total,
    onSize: (n) => safety.confirmationsPending.set(n),
  });
  const onConfirmation = (n: { flow: string; answer: string; reason?: string }): void => {
    safety.confirmations.inc({ flow: n.flow, answer: n.answer, reason: n.reason ?? '' });
  };
  const anyHost = opts.allowedHosts.includes('*');
  const anyOrigin = opts.allowedOrigins.includes('*');
  const tracing = deps.tracing ?? NO_TRACING;

  const handler = createMcpHandler(
    (ctx) => {
      const context = contextOf(ctx.authInfo);
      if (context === undefined) throw new Error('An unauthenticated request reached the MCP handler');
      const client = new GuardedClient(context.caller, deps.getIndex(), deps.backend, {
        now: opts.now,
        maxScaleAttempts: opts.maxScaleAttempts,
        safety: { rateLimiter, access },
        trace: context.span,
      });
      return buildMcpServer(
        {
          requestId: context.requestId,
          clientRequestId: context.clientRequestId,
          caller: context.caller,
          client,
          span: context.span,
          now: opts.now,
          auditor,
          logger: log,
          resourcePageSize: opts.resourcePageSize,
          confirmationCodec,
          onConfirmation,
          ...(ctx.era === 'legacy'
            ? {
                legacyElicitation: {
                  session: () =>
                    sessions.check(
                      ctx.requestInfo?.headers.get('mcp-session-id') ?? undefined,
                      context.caller.username,
                    ),
                  // Absent header: the revision the transport assumes (2025-03-26).
                  revision:
                    ctx.requestInfo?.headers.get('mcp-protocol-version')?.slice(0, 32) ?? '2025-03-26',
                  pending,
                  timeoutMs: opts.confirmationTimeoutMs,
                },
              }
            : {}),
        },
        opts.serverInfo,
      );
    },
    {
      legacy: 'stateless',
      maxRequestBodySize: opts.bodyLimitBytes,
      onerror: (err) => log.debug({ reason: err.message }, 'MCP request rejected or failed'),
    },
  );

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  // Request id: always ours (a caller must not choose the id its audit records carry). The caller's
  // own X-Request-Id is kept, sanitised, as a separate audit field.
  app.use((_req: ExpressRequest, res: ExpressResponse, next: NextFunction) => {
    if (!res.hasHeader('X-Request-Id')) res.setHeader('X-Request-Id', randomUUID());
    next();
  });

  const allowedHosts = [...opts.allowedHosts];
  const allowedOrigins = [...opts.allowedOrigins];
  const hostAllowed = (host: string | undefined): boolean =>
    anyHost || validateHostHeader(host, allowedHosts).ok;
  const originAllowed = (origin: string | undefined): boolean =>
    anyOrigin || validateOriginHeader(origin, allowedOrigins).ok;

  /** Starts the server span of a request to the MCP endpoint (tracing on only); it ends when the response closes. */
  const startRequestSpan = (req: IncomingMessage, res: ServerResponse, requestId: string): Span => {
    const method = req.method ?? 'GET';
    const span = tracing.startServerSpan(`${method} ${MCP_PATH}`, req.headers);
    span.setAttribute(attr.HTTP_REQUEST_METHOD, method);
    span.setAttribute(attr.HTTP_ROUTE, MCP_PATH);
    span.setAttribute(attr.REQUEST_ID, requestId);
    requestSpans.set(res, span);
    res.once('close', () => {
      span.setAttribute(attr.HTTP_RESPONSE_STATUS_CODE, res.statusCode);
      if (res.statusCode >= 500) span.fail(String(res.statusCode));
      else if (!res.writableFinished)
        span.fail('aborted', 'the connection closed before the answer was sent');
      span.end();
    });
    return span;
  };

  // Tracing (on only when configured): one server span per request to the MCP endpoint, continuing
  // the caller's W3C trace context. Its children are added where the work happens (authentication,
  // policy decisions, cache reads, API requests, Events). The listener in front of Express starts it
  // for the requests it authenticates; this middleware for the others. Off, it is not installed.
  if (tracing.enabled) {
    app.use((req: ExpressRequest, res: ExpressResponse, next: NextFunction) => {
      if (req.path === MCP_PATH && !requestSpans.has(res)) startRequestSpan(req, res, requestIdOf(res));
      next();
    });
  }

  // DNS-rebinding protection, part 1: the Host header must name us.
  app.use((req: ExpressRequest, res: ExpressResponse, next: NextFunction) => {
    if (hostAllowed(req.headers.host)) {
      next();
      return;
    }
    log.info({ requestId: requestIdOf(res), host: req.headers.host }, 'request refused: Host not allowed');
    sendJsonRpcError(res, 403, -32000, 'Forbidden: Host header not allowed');
  });

  const metadata = {
    resource: opts.mcpUrl,
    bearer_methods_supported: ['header'],
    resource_name: 'KubeMCP',
    ...(opts.authorizationServers.length > 0
      ? { authorization_servers: [...opts.authorizationServers] }
      : {}),
  };
  app.get(
    [PROTECTED_RESOURCE_METADATA_PATH, `${PROTECTED_RESOURCE_METADATA_PATH}${MCP_PATH}`],
    (_req, res) => {
      res.setHeader('Access-Control-Allow-Origin', '*');
      res.setHeader('Cache-Control', 'public, max-age=300');
      res.status(200).json(metadata);
    },
  );

  // DNS-rebinding protection, part 2: a browser Origin must be one of ours.
  const originCheck = (req: ExpressRequest, res: ExpressResponse, next: NextFunction): void => {
    if (originAllowed(req.headers.origin)) {
      next();
      return;
    }
    log.info(
      { requestId: requestIdOf(res), origin: req.headers.origin },
      'request refused: Origin not allowed',
    );
    sendJsonRpcError(res, 403, -32000, 'Forbidden: Origin not allowed');
  };

  // Authentication failures are logged at info, at most AUTH_LOG_BURST per AUTH_LOG_WINDOW_MS: a flood
  // of bad tokens must not become a flood of log lines (the metrics count every one).
  let authLogWindowStart = 0;
  let authLogged = 0;
  let authSuppressed = 0;
  const authFailureLog = (requestId: string, reason: string): void => {
    const t = Date.now();
    if (t - authLogWindowStart >= AUTH_LOG_WINDOW_MS) {
      if (authSuppressed > 0) {
        log.info(
          { suppressed: authSuppressed, windowSeconds: AUTH_LOG_WINDOW_MS / 1000 },
          'more authentication failures were not logged (see kubemcp_mcp_auth_failures_total)',
        );
      }
      authLogWindowStart = t;
      authLogged = 0;
      authSuppressed = 0;
    }
    if (authLogged < AUTH_LOG_BURST) {
      authLogged++;
      log.info({ requestId, reason }, 'authentication failed');
    } else {
      authSuppressed++;
      log.debug({ requestId, reason }, 'authentication failed');
    }
  };

  const callers = new WeakMap<ExpressRequest, RequestContext & { expiresAt?: number; slots: number }>();
  // Verdicts reached by the request listener in front of Express (see the end of this function).
  const verdicts = new WeakMap<IncomingMessage, AuthVerdict>();

  const challengeHeader = (description: string | undefined): string => {
    const params = [`realm="kubemcp"`, `resource_metadata="${opts.metadataUrl}"`];
    if (description !== undefined)
      params.push('error="invalid_token"', `error_description="${quoteParam(description)}"`);
    return `Bearer ${params.join(', ')}`;
  };
  const refusal = (
    status: number,
    reason: string,
    body: { error: string; error_description: string },
    headers: Record<string, string>,
  ): Refusal => ({
    ok: false,
    status,
    reason,
    headers: { ...headers, 'Cache-Control': 'no-store' },
    body: JSON.stringify(body),
  });
  const invalid = (reason: string, description: string): Refusal =>
    refusal(
      401,
      reason,
      { error: 'invalid_token', error_description: description },
      { 'WWW-Authenticate': challengeHeader(description) },
    );
  // The refusals that do not depend on the token, built once.
  const MISSING = refusal(
    401,
    'missing',
    {
      error: 'unauthorized',
      error_description: 'A Bearer token is required (Authorization: Bearer <token>)',
    },
    { 'WWW-Authenticate': challengeHeader(undefined) },
  );
  const MALFORMED = invalid('invalid_token', 'The Authorization header is not a Bearer token');
  const refusals = new Map<string, Refusal>();
  const refusalFor = (outcome: AuthOutcome & { ok: false }): Refusal => {
    const key = `${outcome.reason}\n${outcome.message}`;
    let r = refusals.get(key);
    if (r === undefined) {
      r =
        outcome.reason === 'unavailable' || outcome.reason === 'busy'
          ? refusal(
              503,
              outcome.reason,
              { error: 'temporarily_unavailable', error_description: outcome.message },
              { 'Retry-After': outcome.reason === 'busy' ? '1' : '5' },
            )
          : invalid(outcome.reason, outcome.message);
      // The messages are the authenticator's fixed texts; the bound is a guard, not a cache policy.
      if (refusals.size < 64) refusals.set(key, r);
    }
    return r;
  };

  /**
   * Authentication of one request from its headers alone: the caller, or the refusal to send. It
   * logs (rate-limited) but writes nothing, so that the listener in front of Express and the Express
   * middleware share it.
   */
  const authenticateHeaders = async (
    headers: IncomingHttpHeaders,
    requestId: string,
    span: Span,
  ): Promise<AuthVerdict> => {
    const authSpan = span.child(attr.SPAN_AUTHENTICATE);
    const verdict = await authenticateWith(headers, requestId, authSpan);
    authSpan.setAttribute(attr.AUTH_RESULT, verdict.ok ? 'ok' : verdict.reason);
    if (verdict.ok) span.setAttribute(attr.USER_NAME, verdict.caller.username);
    else authSpan.fail(verdict.reason);
    authSpan.end();
    return verdict;
  };
  const authenticateWith = async (
    headers: IncomingHttpHeaders,
    requestId: string,
    authSpan: Span,
  ): Promise<AuthVerdict> => {
    const header = headers.authorization;
    if (header === undefined || header === '') {
      log.debug({ requestId }, 'request without credentials');
      return MISSING;
    }
    const match = BEARER_RE.exec(header);
    if (match === null || match[1] === undefined) {
      authFailureLog(requestId, 'malformed');
      return MALFORMED;
    }
    const outcome = await deps.authenticator.authenticate(match[1], authSpan);
    if (outcome.ok) return outcome;
    authFailureLog(requestId, outcome.reason);
    return refusalFor(outcome);
  };

  /** Writes a refusal with the plain Node API: no Express on this path, which must stay cheap. */
  const sendRefusal = (res: ServerResponse, verdict: Refusal): void => {
    metrics.authFailures.inc({ reason: verdict.reason });
    if (res.headersSent) {
      res.end();
      return;
    }
    res.writeHead(verdict.status, {
      ...verdict.headers,
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(verdict.body),
    });
    res.end(verdict.body);
  };

  const authenticate = async (
    req: ExpressRequest,
    res: ExpressResponse,
    next: NextFunction,
  ): Promise<void> => {
    const span = spanOf(res);
    const verdict = verdicts.get(req) ?? (await authenticateHeaders(req.headers, requestIdOf(res), span));
    if (!verdict.ok) return sendRefusal(res, verdict);
    // One caller may not hold more than maxInflightPerCaller requests: the rest get 429 at once.
    const who = verdict.caller.username;
    if (!callerSlots.tryAcquire(who, 1)) return tooMany(res, null);
    const context = {
      requestId: requestIdOf(res),
      clientRequestId: sanitiseClientRequestId(req.headers['x-request-id']),
      caller: verdict.caller,
      span,
      slots: 1,
      ...(verdict.expiresAt === undefined ? {} : { expiresAt: verdict.expiresAt }),
    };
    callers.set(req, context);
    res.once('close', () => callerSlots.release(who, context.slots));
    next();
  };

  const tooMany = (res: ExpressResponse, id: string | number | null): void => {
    metrics.callerLimited.inc();
    if (res.headersSent) {
      res.end();
      return;
    }
    res.setHeader('Retry-After', '1');
    res.setHeader('Cache-Control', 'no-store');
    res
      .status(429)
      .type('application/json')
      .send(
        JSON.stringify({
          jsonrpc: '2.0',
          error: {
            code: -32000,
            message: `Too many requests in flight for this caller (at most ${opts.maxInflightPerCaller}); retry shortly`,
          },
          id,
        }),
      );
  };

  const requireJson = (req: ExpressRequest, res: ExpressResponse, next: NextFunction): void => {
    if (isJsonContentType(req.headers['content-type'] ?? null)) {
      next();
      return;
    }
    sendJsonRpcError(res, 415, -32000, 'Unsupported Media Type: Content-Type must be application/json');
  };

  const readBody = express.raw({ type: () => true, limit: opts.bodyLimitBytes });

  const serve = async (req: ExpressRequest, res: ExpressResponse): Promise<void> => {
    const context = callers.get(req);
    if (context === undefined) throw new Error('unauthenticated request reached serve()');
    const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const shape = jsonShapeProblem(body, MAX_JSON_DEPTH, MAX_JSON_MEMBERS);
    if (shape !== undefined) {
      log.debug({ requestId: context.requestId, reason: shape }, 'JSON body refused');
      sendJsonRpcError(res, 400, -32600, `Invalid Request: ${shape}`);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      log.debug({ requestId: context.requestId }, 'malformed JSON body');
      sendJsonRpcError(res, 400, -32700, 'Parse error: the request body is not valid JSON');
      return;
    }
    const span = context.span;
    if (span.recording) describeMcpRequest(span, parsed, req.headers['mcp-protocol-version']);
    if (Array.isArray(parsed)) {
      // JSON-RPC batches: only the 2025-03-26 era has them (and 2024-11-05 servers accepted them);
      // small, and each message holds an in-flight slot of its caller (see docs/adr/0006).
      const revision = req.headers['mcp-protocol-version'];
      if (typeof revision === 'string' && !BATCH_REVISIONS.has(revision)) {
        sendJsonRpcError(
          res,
          400,
          -32600,
          `Invalid Request: MCP ${quoteParam(revision.slice(0, 32))} has no JSON-RPC batches`,
        );
        return;
      }
      if (parsed.length === 0 || parsed.length > MAX_BATCH_MESSAGES) {
        sendJsonRpcError(
          res,
          400,
          -32600,
          `Invalid Request: a batch holds 1 to ${MAX_BATCH_MESSAGES} messages (got ${parsed.length})`,
        );
        return;
      }
      const extra = Math.min(parsed.length, opts.maxInflightPerCaller) - 1;
      if (extra > 0) {
        if (!callerSlots.tryAcquire(context.caller.username, extra)) {
          tooMany(res, null);
          return;
        }
        (context as { slots: number }).slots += extra;
      }
    }
    if (isElicitationAnswer(parsed)) {
      answerElicitation(parsed, context, res);
      return;
    }
    // A 2025-era client that can be asked for confirmations gets a session id saying so (safety/session.ts).
    const sessionId = declaresElicitationAtInitialize(parsed)
      ? sessions.issue(context.caller.username, clientOfInitialize(parsed.params))
      : undefined;
    const debug = log.isLevelEnabled('debug');
    if (debug) {
      log.debug(
        {
          requestId: context.requestId,
          direction: 'in',
          headers: redactHeaders(req.headers),
          message: parsed,
        },
        'JSON-RPC in',
      );
    }

    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k)) continue;
      headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    }
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    // No body: the SDK takes the parsed message (parsedBody below) and never reads it, and a body
    // would cost a copy and a web stream per request.
    const request = new Request(new URL(req.originalUrl, opts.publicUrl), {
      method: 'POST',
      headers,
      signal: abort.signal,
    });
    // The token itself never goes past authentication: the SDK gets the identity, not the credential.
    const authInfo: AuthInfo = {
      token: '[redacted]',
      clientId: context.caller.username,
      scopes: [],
      ...(context.expiresAt === undefined ? {} : { expiresAt: context.expiresAt }),
      extra: {
        [CONTEXT_KEY]: {
          requestId: context.requestId,
          clientRequestId: context.clientRequestId,
          caller: context.caller,
          span: context.span,
        } satisfies RequestContext,
      },
    };
    const response = await handler.fetch(request, { authInfo, parsedBody: parsed });

    res.status(response.status);
    response.headers.forEach((value, key) => {
      res.setHeader(key, value);
    });
    if (sessionId !== undefined && response.status === 200) res.setHeader('Mcp-Session-Id', sessionId);
    // Answers depend on the caller: never let a shared cache keep them.
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Vary', 'Authorization');
    const chunks: Uint8Array[] = [];
    const streamed = response.headers.get('content-type')?.includes('text/event-stream') ?? false;
    if (response.body !== null && !streamed) {
      // A JSON answer is complete when the SDK returns it: send it in one write with a Content-Length
      // instead of pumping a web stream into a chunked response (less CPU per call, one syscall).
      let buf: Buffer;
      try {
        buf = Buffer.from(await response.arrayBuffer());
      } catch (err) {
        if (res.destroyed) return;
        throw err;
      }
      if (debug) chunks.push(buf);
      res.setHeader('Content-Length', buf.length);
      res.end(buf);
    } else if (response.body !== null) {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (res.destroyed) {
          await reader.cancel().catch(() => {});
          break;
        }
        if (debug) chunks.push(value);
        res.write(value);
      }
      res.end();
    } else {
      res.end();
    }
    if (debug) {
      const text = Buffer.concat(chunks).toString('utf8');
      log.debug(
        {
          requestId: context.requestId,
          direction: 'out',
          status: response.status,
          message: messagesOf(response.headers.get('content-type'), text),
        },
        'JSON-RPC out',
      );
    }
  };

  /**
   * The client's answer to an elicitation/create of a 2025-era tools/call: handed to the waiting call
   * when it is that caller's pending question (once), refused otherwise. Never reaches the SDK.
   */
  const answerElicitation = (
    message: ElicitationAnswer,
    context: RequestContext,
    res: ExpressResponse,
  ): void => {
    const result = pending.deliver(message.id, context.caller.username, message);
    safety.elicitationAnswers.inc({ result });
    if (result === 'delivered') {
      res.setHeader('Cache-Control', 'no-store');
      res.status(202).end();
      return;
    }
    if (result === 'other_replica') {
      log.info(
        { requestId: context.requestId, caller: context.caller.username },
        'an answer to a confirmation reached a replica that did not ask it: route each client to one replica (session affinity)',
      );
      sendJsonRpcError(
        res,
        409,
        -32600,
        'Invalid Request: this answer belongs to a question another KubeMCP replica asked; it was not delivered (the load balancer must send a client to one replica: session affinity)',
      );
      return;
    }
    log.debug({ requestId: context.requestId }, 'answer to an unknown elicitation refused');
    // 400, not 404: a 404 would tell a 2025-era client that its session is gone.
    sendJsonRpcError(
      res,
      400,
      -32600,
      'Invalid Request: no question with this id is waiting for your answer (already answered, expired, or not asked of you)',
    );
  };

  app.post(MCP_PATH, originCheck, authenticate, requireJson, readBody, serve);
  // Stateless server: no standalone SSE stream (GET) and no session to delete (DELETE).
  app.all(MCP_PATH, originCheck, (_req: ExpressRequest, res: ExpressResponse) => {
    sendJsonRpcError(res, 405, -32000, 'Method not allowed.', { Allow: 'POST' });
  });

  app.use((_req: ExpressRequest, res: ExpressResponse) => {
    sendJsonRpcError(res, 404, -32601, 'Not found');
  });

  // Last resort: a JSON-RPC error body, never HTML or a stack trace.
  app.use((err: unknown, _req: ExpressRequest, res: ExpressResponse, _next: NextFunction) => {
    const e = err as { type?: string; status?: number; statusCode?: number };
    const status = e.status ?? e.statusCode ?? 500;
    if (e.type === 'entity.too.large' || status === 413) {
      sendJsonRpcError(res, 413, -32000, `Request body too large (limit ${opts.bodyLimitBytes} bytes)`);
      return;
    }
    if (status >= 400 && status < 500) {
      sendJsonRpcError(res, status, -32600, 'Invalid request');
      return;
    }
    log.error({ requestId: requestIdOf(res), err }, 'unexpected error serving MCP request');
    sendJsonRpcError(res, 500, -32603, 'Internal error');
  });

  // In front of Express: a POST to the MCP path whose Host and Origin pass is authenticated first, and
  // a refusal (no token, a bad one, the TokenReview queue full) is answered from here. A flood of bad
  // tokens then costs the Node HTTP parser and one small write per request, not Express's routing
  // and response helpers (about a third of the CPU: bench/reject-cost.ts). Everything else, and
  // every authenticated request, goes through the Express app with the same middleware as before.
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (
      req.method !== 'POST' ||
      pathOf(req.url) !== MCP_PATH ||
      !hostAllowed(req.headers.host) ||
      !originAllowed(req.headers.origin)
    ) {
      app(req, res);
      return;
    }
    const requestId = randomUUID();
    res.setHeader('X-Request-Id', requestId);
    const span = tracing.enabled ? startRequestSpan(req, res, requestId) : NOOP_SPAN;
    authenticateHeaders(req.headers, requestId, span).then(
      (verdict) => {
        if (!verdict.ok) {
          sendRefusal(res, verdict);
          return;
        }
        verdicts.set(req, verdict);
        app(req, res);
      },
      (err: unknown) => {
        log.error({ requestId, err }, 'unexpected error authenticating an MCP request');
        if (res.headersSent) {
          res.end();
          return;
        }
        const body = JSON.stringify({
          jsonrpc: '2.0',
          error: { code: -32603, message: 'Internal error' },
          id: null,
        });
        res.writeHead(500, {
          'Content-Type': 'application/json; charset=utf-8',
          'Content-Length': Buffer.byteLength(body),
        });
        res.end(body);
      },
    );
  };
}
