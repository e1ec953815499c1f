/**
 * Tracing on: the OpenTelemetry SDK behind the facade of ./tracing.ts. Loaded only by
 * startTracing() (./index.ts) with a dynamic import, so a process with tracing off never loads it.
 *
 * Spans go through a BatchSpanProcessor (bounded queue: a slow or absent collector drops spans,
 * never holds a request) to the official OTLP/HTTP exporter, protobuf or JSON.
 */

import {
  type Context,
  DiagLogLevel,
  defaultTextMapGetter,
  diag,
  type Span as OtelApiSpan,
  SpanKind as OtelSpanKind,
  ROOT_CONTEXT,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as OTLPJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { Logger } from 'pino';
import type { TracingConfig } from '../config/tracing.js';
import { ERROR_TYPE } from './attributes.js';
import {
  type AttributeValue,
  type Headers,
  NOOP_SPAN,
  type Span,
  type SpanKind,
  type Tracing,
} from './tracing.js';

/** The longest shutdown() waits for the last spans to be exported. */
export const SHUTDOWN_TIMEOUT_MS = 5_000;
/** At most one SDK warning (e.g. a failed export) is logged per this many ms. */
const DIAG_LOG_INTERVAL_MS = 30_000;

const KINDS: Readonly<Record<SpanKind, OtelSpanKind>> = {
  server: OtelSpanKind.SERVER,
  client: OtelSpanKind.CLIENT,
  internal: OtelSpanKind.INTERNAL,
};

class OtelSpan implements Span {
  readonly recording = true;
  constructor(
    private readonly tracer: Tracer,
    private readonly span: OtelApiSpan,
  ) {}

  setAttribute(key: string, value: AttributeValue): void {
    this.span.setAttribute(key, value as string | number | boolean | string[]);
  }

  updateName(name: string): void {
    this.span.updateName(name);
  }

  fail(type: string, description?: string): void {
    this.span.setAttribute(ERROR_TYPE, type);
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: description ?? type });
  }

  end(): void {
    this.span.end();
  }

  child(name: string, kind: SpanKind = 'internal'): Span {
    return wrap(
      this.tracer,
      this.tracer.startSpan(name, { kind: KINDS[kind] }, trace.setSpan(ROOT_CONTEXT, this.span)),
    );
  }
}

/** A span the sampler dropped is the no-op span: its children cost nothing either. */
function wrap(tracer: Tracer, span: OtelApiSpan): Span {
  return span.isRecording() ? new OtelSpan(tracer, span) : NOOP_SPAN;
}

function makeSampler(config: TracingConfig): Sampler {
  switch (config.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(config.samplerRatio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.samplerRatio) });
  }
}

function describe(parts: readonly unknown[]): string {
  return parts.map((p) => (p instanceof Error ? p.message : typeof p === 'string' ? p : String(p))).join(' ');
}

/** The SDK's own warnings and errors (failed exports) as log lines, at most one per interval. */
function diagnostics(logger: Logger): void {
  const log = logger.child({ component: 'tracing' });
  let last = 0;
  let suppressed = 0;
  const emit = (level: 'warn' | 'error', parts: readonly unknown[]): void => {
    const now = Date.now();
    if (now - last < DIAG_LOG_INTERVAL_MS) {
      suppressed++;
      return;
    }
    last = now;
    log[level]({ suppressed, detail: describe(parts).slice(0, 300) }, 'OpenTelemetry SDK reported a problem');
    suppressed = 0;
  };
  diag.setLogger(
    {
      // Component loggers put their name first: 'OTLPExportDelegate', 'Export failed …'.
      error: (...parts: unknown[]) => emit('error', parts),
      warn: (...parts: unknown[]) => emit('warn', parts),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
}

export interface OtelTracingOptions {
  readonly serviceVersion: string;
  /** service.instance.id (the operator's identity: Pod name plus a random suffix). */
  readonly instanceId: string;
  readonly logger: Logger;
}

export function createOtelTracing(config: TracingConfig, options: OtelTracingOptions): Tracing {
  diagnostics(options.logger);
  const exporter =
    config.protocol === 'http/json'
      ? new OTLPJsonTraceExporter({ url: config.endpoint })
      : new OTLPProtoTraceExporter({ url: config.endpoint });
  const resource = defaultResource().merge(
    resourceFromAttributes({
      [ATTR_SERVICE_VERSION]: options.serviceVersion,
      'service.instance.id': options.instanceId,
      ...config.resourceAttributes,
      [ATTR_SERVICE_NAME]: config.serviceName,
    }),
  );
  const provider = new BasicTracerProvider({
    resource,
    sampler: makeSampler(config),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('kubemcp', options.serviceVersion);
  const propagator = config.propagateTraceContext ? new W3CTraceContextPropagator() : undefined;
  let stopped: Promise<void> | undefined;

  return {
    enabled: true,
    startServerSpan(name: string, headers: Headers): Span {
      const parent: Context =
        propagator === undefined
          ? ROOT_CONTEXT
          : propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
      return wrap(tracer, tracer.startSpan(name, { kind: OtelSpanKind.SERVER }, parent));
    },
    shutdown(): Promise<void> {
      stopped ??= Promise.race([
        provider.shutdown().catch(() => {}),
        new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_TIMEOUT_MS).unref()),
      ]).finally(() => {
        diag.disable();
      });
      return stopped;
    },
  };
}
