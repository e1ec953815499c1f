/**
 * The operator's Kubernetes REST client: JSON requests and watch streams over node:http(s) with one
 * keep-alive agent. It does what the operator needs (lists, watches, a few writes) and nothing more,
 * which keeps the serving process small: @kubernetes/client-node loads every API group's generated
 * models at import (≈ 85 MiB of RSS before the first request), more than the whole operator may use
 * with 10,000 pods cached. client-node's types are still used (type-only imports cost nothing).
 *
 * Errors: an API server answer other than 2xx is a KubeApiError carrying the HTTP status and the
 * server's Status message; a transport failure (refused, reset, timeout) is the Node error as is.
 * Neither carries a request body or header, so no token can leak through an error message.
 */

import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { attr, NOOP_SPAN, type Span } from '../telemetry/index.js';
import type { Credentials, KubeConnection } from './connection.js';
import { type HeaderMap, impersonationHeaders } from './impersonation.js';
import { kubePathTemplate } from './path-template.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export const MERGE_PATCH = 'application/merge-patch+json';

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export interface RequestOptions {
  readonly query?: Query;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** Content-Type of the body; default application/json. */
  readonly contentType?: string;
  /** Accept header; default application/json (the JWKS endpoint answers only application/jwk-set+json). */
  readonly accept?: string;
  /** Aborts the request. */
  readonly signal?: AbortSignal;
  /** Gives up after this many ms (the request is aborted; its outcome on the server is unknown). */
  readonly timeoutMs?: number;
  /** The span this request is part of: the request gets a client span under it (tracing on). */
  readonly trace?: Span;
}

/** A metav1.Status, as the API server sends with errors. */
export interface ApiStatus {
  readonly kind?: string;
  readonly status?: string;
  readonly message?: string;
  readonly reason?: string;
  readonly code?: number;
}

/** The API server answered with an error status. */
export class KubeApiError extends Error {
  readonly statusCode: number;
  /** The Status reason, e.g. NotFound, Conflict, Expired. */
  readonly reason: string | undefined;
  /** The API server's own message, when it sent one. */
  readonly apiMessage: string | undefined;

  constructor(statusCode: number, status: ApiStatus | undefined, what: string) {
    const apiMessage =
      typeof status?.message === 'string' && status.message !== '' ? status.message : undefined;
    super(`${what}: HTTP ${statusCode}${apiMessage ? `: ${apiMessage}` : ''}`);
    this.name = 'KubeApiError';
    this.statusCode = statusCode;
    this.reason = status?.reason;
    this.apiMessage = apiMessage;
  }
}

/** A request's timeoutMs passed without a complete answer (its outcome on the server is unknown). */
export class KubeTimeoutError extends Error {
  constructor(
    what: string,
    readonly timeoutMs: number,
    cause: unknown,
  ) {
    super(`${what}: no answer from the API server within ${timeoutMs} ms`, { cause });
    this.name = 'KubeTimeoutError';
  }
}

/** One event of a watch stream. */
export interface WatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: unknown;
}

export interface WatchOptions {
  readonly query?: Query;
  readonly signal?: AbortSignal;
  /** Called once the API server has accepted the watch (HTTP 200). */
  readonly onEstablished?: () => void;
}

/** The most of an error body read into a message; the rest is dropped. */
const MAX_ERROR_BODY = 64 * 1024;

function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const s = params.toString();
  return s === '' ? '' : `?${s}`;
}

function parseStatus(text: string): ApiStatus | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as ApiStatus) : undefined;
  } catch {
    const trimmed = text.trim().slice(0, 500);
    return trimmed === '' ? undefined : { message: trimmed };
  }
}

function readBody(res: IncomingMessage, limit = Number.POSITIVE_INFINITY): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      if (size >= limit) return;
      size += chunk.length;
      chunks.push(chunk);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
    res.on('close', () => {
      // After 'end' this is a no-op (the promise is settled); before it, the body was cut short.
      if (!res.complete) reject(new Error('the API server closed the response early'));
    });
  });
}

export interface KubeClientOptions {
  /** Sent as User-Agent. */
  readonly userAgent?: string;
}

export class KubeClient {
  readonly server: string;
  private readonly base: URL;
  private readonly secure: boolean;
  private readonly credentials: Credentials;
  private readonly userAgent: string;
  private readonly impersonationHeaders: HeaderMap;
  private agent: HttpAgent;
  /** The client certificate the agent was built with (exec plugins may rotate it). */
  private agentCert: string | undefined;

  constructor(
    readonly connection: KubeConnection,
    options: KubeClientOptions = {},
  ) {
    this.server = connection.server;
    this.base = new URL(connection.server);
    if (this.base.protocol !== 'https:' && this.base.protocol !== 'http:') {
      throw new Error(`unsupported API server URL ${connection.server} (want https:// or http://)`);
    }
    this.secure = this.base.protocol === 'https:';
    this.credentials = connection.credentials;
    this.userAgent = options.userAgent ?? 'kubemcp';
    this.impersonationHeaders = impersonationHeaders(connection.impersonate);
    this.agentCert = connection.tls.cert;
    this.agent = this.makeAgent(connection.tls.cert, connection.tls.key);
  }

  private makeAgent(cert: string | undefined, key: string | undefined): HttpAgent {
    const common = { keepAlive: true, keepAliveMsecs: 30_000, scheduling: 'lifo' as const };
    if (!this.secure) return new HttpAgent(common);
    const tls = this.connection.tls;
    return new HttpsAgent({
      ...common,
      ...(tls.ca === undefined ? {} : { ca: tls.ca }),
      ...(cert === undefined ? {} : { cert }),
      ...(key === undefined ? {} : { key }),
      ...(tls.serverName === undefined ? {} : { servername: tls.serverName }),
      rejectUnauthorized: !tls.insecureSkipTLSVerify,
    });
  }

  /** The agent for the current credentials, rebuilt when an exec plugin hands out a new client certificate. */
  private async prepare(): Promise<{ agent: HttpAgent; headers: HeaderMap }> {
    const creds = await this.credentials.get();
    if (creds.cert !== undefined && creds.cert !== this.agentCert) {
      this.agent.destroy();
      this.agent = this.makeAgent(creds.cert, creds.key);
      this.agentCert = creds.cert;
    }
    const headers: HeaderMap = {
      'user-agent': this.userAgent,
      accept: 'application/json',
      ...this.impersonationHeaders,
    };
    if (creds.token !== undefined) headers.authorization = `Bearer ${creds.token}`;
    return { agent: this.agent, headers };
  }

  private url(path: string, query: Query | undefined): URL {
    const prefix = this.base.pathname.replace(/\/$/, '');
    return new URL(`${prefix}${path}${queryString(query)}`, this.base.origin);
  }

  private send(
    method: HttpMethod,
    url: URL,
    agent: HttpAgent,
    headers: HeaderMap,
    payload: Buffer | undefined,
    signal: AbortSignal | undefined,
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = (this.secure ? httpsRequest : httpRequest)(
        url,
        {
          method,
          agent,
          headers: payload === undefined ? headers : { ...headers, 'content-length': String(payload.length) },
          ...(signal ? { signal } : {}),
        },
        resolve,
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** One JSON request; resolves with the parsed answer (undefined for an empty body). */
  async request<T>(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<T> {
    const url = this.url(path, options.query);
    const what = `${method} ${url.pathname}`;
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const timeout = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
    const active = [options.signal, timeout].filter((s): s is AbortSignal => s !== undefined);
    const signal = active.length <= 1 ? active[0] : anySignal(active);
    const span = (options.trace ?? NOOP_SPAN).child('kube', 'client');
    if (span.recording) this.describe(span, method, path);
    try {
      return await this.exchange<T>(method, url, what, payload, options, signal, span);
    } catch (err) {
      const timedOut = timeout?.aborted === true && options.signal?.aborted !== true;
      if (span.recording) {
        if (timedOut) span.fail('timeout', `no answer within ${options.timeoutMs} ms`);
        else if (err instanceof KubeApiError) span.fail(String(err.statusCode), err.reason);
        else span.fail(err instanceof Error ? err.name : 'Error');
      }
      if (timedOut) throw new KubeTimeoutError(what, options.timeoutMs ?? 0, err);
      throw err;
    } finally {
      span.end();
    }
  }

  /** Name and attributes of a request's client span: the path's template, never a query or body. */
  private describe(span: Span, method: HttpMethod, path: string): void {
    const { template, resource, namespace } = kubePathTemplate(path);
    span.updateName(`${method} ${resource}`);
    span.setAttribute(attr.HTTP_REQUEST_METHOD, method);
    span.setAttribute(attr.URL_TEMPLATE, template);
    span.setAttribute(attr.SERVER_ADDRESS, this.base.hostname);
    span.setAttribute(attr.KUBE_SOURCE, 'api');
    span.setAttribute(attr.KUBE_RESOURCE, resource);
    if (namespace !== undefined) span.setAttribute(attr.K8S_NAMESPACE_NAME, namespace);
  }

  private async exchange<T>(
    method: HttpMethod,
    url: URL,
    what: string,
    payload: Buffer | undefined,
    options: Pick<RequestOptions, 'contentType' | 'accept'>,
    signal: AbortSignal | undefined,
    span: Span,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const { agent, headers } = await this.prepare();
      if (payload !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
      if (options.accept !== undefined) headers.accept = options.accept;
      const res = await this.send(method, url, agent, headers, payload, signal);
      const status = res.statusCode ?? 0;
      span.setAttribute(attr.HTTP_RESPONSE_STATUS_CODE, status);
      if (attempt > 0) span.setAttribute('http.request.resend_count', attempt);
      if (status === 401 && attempt === 0 && this.credentials.refresh()) {
        res.resume();
        continue; // an exec plugin's credential expired early: fetch a new one and try once more
      }
      if (status < 200 || status >= 300) {
        const text = await readBody(res, MAX_ERROR_BODY);
        throw new KubeApiError(status, parseStatus(text), what);
      }
      const text = await readBody(res);
      return (text === '' ? undefined : JSON.parse(text)) as T;
    }
  }

  /**
   * Watches a collection until the server ends the stream (resolves), the stream fails (rejects) or
   * `signal` aborts (resolves). Each event is parsed and handed to `onEvent` in order; an ERROR event
   * is delivered like the others (its object is a Status).
   */
  async watch(path: string, onEvent: (event: WatchEvent) => void, options: WatchOptions = {}): Promise<void> {
    const url = this.url(path, { ...options.query, watch: true });
    const what = `watch ${url.pathname}`;
    const { agent, headers } = await this.prepare();
    let res: IncomingMessage;
    try {
      res = await this.send('GET', url, agent, headers, undefined, options.signal);
    } catch (err) {
      if (options.signal?.aborted) return;
      throw err;
    }
    const status = res.statusCode ?? 0;
    if (status !== 200) {
      const text = await readBody(res, MAX_ERROR_BODY);
      if (status === 401) this.credentials.refresh();
      throw new KubeApiError(status, parseStatus(text), what);
    }
    options.onEstablished?.();
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      let failed = false;
      const fail = (err: unknown): void => {
        if (failed) return;
        failed = true;
        res.destroy();
        if (options.signal?.aborted) resolve();
        else reject(err);
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (failed) return;
        buffered += chunk;
        let start = 0;
        let newline = buffered.indexOf('\n');
        while (newline !== -1) {
          const line = buffered.slice(start, newline);
          start = newline + 1;
          if (line.trim() !== '') {
            let event: WatchEvent;
            try {
              event = JSON.parse(line) as WatchEvent;
            } catch {
              fail(new Error(`${what}: the API server sent a line that is not JSON`));
              return;
            }
            try {
              onEvent(event);
            } catch (err) {
              fail(err);
              return;
            }
          }
          newline = buffered.indexOf('\n', start);
        }
        buffered = start === 0 ? buffered : buffered.slice(start);
      });
      res.on('end', () => {
        if (!failed) resolve();
      });
      res.on('error', fail);
      res.on('aborted', () => fail(new Error(`${what}: the API server closed the stream`)));
      res.on('close', () => {
        if (!failed && !res.complete) fail(new Error(`${what}: the connection closed mid-stream`));
      });
    });
  }

  /** Closes idle keep-alive connections (open watches end when their signal aborts). */
  close(): void {
    this.agent.destroy();
  }
}

/** AbortSignal.any (Node ≥ 20.3) with a fallback for older 20.x. */
function anySignal(signals: AbortSignal[]): AbortSignal {
  const any = (AbortSignal as unknown as { any?: (s: AbortSignal[]) => AbortSignal }).any;
  if (any) return any(signals);
  const controller = new AbortController();
  for (const s of signals) {
    if (s.aborted) controller.abort(s.reason);
    else s.addEventListener('abort', () => controller.abort(s.reason), { once: true });
  }
  return controller.signal;
}
