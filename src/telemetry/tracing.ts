/**
 * The tracing facade: the only tracing API the rest of the operator uses. It imports nothing from
 * OpenTelemetry. Tracing is off by default; then every call goes to NOOP_SPAN, whose methods do
 * nothing and whose child() returns itself, so a traced code path allocates nothing for tracing.
 * When the OTEL_* variables turn it on (src/config/tracing.ts), `startTracing` loads the SDK
 * (./otel.ts) with a dynamic import, and spans become OpenTelemetry spans.
 *
 * Parents are passed explicitly (a Span's child()), not through an async context: no
 * AsyncLocalStorage, so even with tracing on no async hook runs on every promise.
 */

/** An attribute value; never a secret (tokens, header values) or data the caller may not see. */
export type AttributeValue = string | number | boolean | readonly string[];

/** The span kinds used here (OpenTelemetry's SpanKind). */
export type SpanKind = 'server' | 'client' | 'internal';

export interface Span {
  /**
   * Whether this span records anything. False for the no-op span (tracing off, or a trace the
   * sampler dropped): skip computing attribute values that cost something.
   */
  readonly recording: boolean;
  setAttribute(key: string, value: AttributeValue): void;
  /** Renames the span (the server span gets its MCP method once the body is parsed). */
  updateName(name: string): void;
  /**
   * Marks the span failed: status ERROR with `description`, and `error.type` set to `type`. The
   * description must be short and free of secrets (an error code, a reason, never a message body).
   */
  fail(type: string, description?: string): void;
  end(): void;
  /** Starts a child span (not ended: call end()). The no-op span returns itself. */
  child(name: string, kind?: SpanKind): Span;
}

/** Request headers as node:http gives them. */
export type Headers = Readonly<Record<string, string | string[] | undefined>>;

export interface Tracing {
  readonly enabled: boolean;
  /**
   * The server span of one incoming request, continuing the trace context of the caller's W3C
   * `traceparent` / `tracestate` headers when they are valid (a new trace otherwise).
   */
  startServerSpan(name: string, headers: Headers): Span;
  /** Exports every ended span still buffered, then stops exporting; resolves within the timeout. */
  shutdown(): Promise<void>;
}

function noop(): void {}

/** The span of tracing off: every method does nothing, child() is itself. */
export const NOOP_SPAN: Span = Object.freeze({
  recording: false,
  setAttribute: noop,
  updateName: noop,
  fail: noop,
  end: noop,
  child: (): Span => NOOP_SPAN,
});

/** Tracing off: no SDK loaded, every span NOOP_SPAN. */
export const NO_TRACING: Tracing = Object.freeze({
  enabled: false,
  startServerSpan: (): Span => NOOP_SPAN,
  shutdown: async (): Promise<void> => {},
});
