/**
 * Tracing configuration from the standard OpenTelemetry environment variables. Tracing is OFF
 * unless these say otherwise; when it is off, no other OTEL_* variable is read (a malformed one
 * cannot stop an operator that does not trace) and the SDK is never loaded.
 *
 * On exactly when OTEL_SDK_DISABLED is not `true` and either
 *   - OTEL_TRACES_EXPORTER names `otlp`, or
 *   - OTEL_TRACES_EXPORTER is unset (or empty) and OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
 *     OTEL_EXPORTER_OTLP_ENDPOINT is set.
 * (The specification's default exporter is `otlp`; ours is none, so that an operator never sends
 * spans to a collector nobody configured.) OTEL_TRACES_EXPORTER=none turns it off.
 *
 * What the exporter itself reads (the official OTLP exporter implements the specification's
 * precedence): OTEL_EXPORTER_OTLP[_TRACES]_HEADERS, _TIMEOUT, _COMPRESSION, _CERTIFICATE,
 * _CLIENT_KEY and _CLIENT_CERTIFICATE. The SDK reads OTEL_BSP_* (batching) and the span limits.
 */

import { ConfigError, type Env } from './load.js';

export type OtlpProtocol = 'http/protobuf' | 'http/json';

export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type SamplerName = (typeof SAMPLERS)[number];

export interface TracingConfig {
  readonly protocol: OtlpProtocol;
  /** The full URL spans are POSTed to. */
  readonly endpoint: string;
  readonly sampler: SamplerName;
  /** The ratio of the traceidratio samplers (OTEL_TRACES_SAMPLER_ARG), 0 to 1; default 1. */
  readonly samplerRatio: number;
  /** service.name: OTEL_SERVICE_NAME, else service.name of OTEL_RESOURCE_ATTRIBUTES, else kubemcp. */
  readonly serviceName: string;
  /** OTEL_RESOURCE_ATTRIBUTES, decoded (service.name included when it was given there). */
  readonly resourceAttributes: Readonly<Record<string, string>>;
  /** Continue a caller's W3C trace context (OTEL_PROPAGATORS includes tracecontext; the default). */
  readonly propagateTraceContext: boolean;
}

export const DEFAULT_SERVICE_NAME = 'kubemcp';
export const DEFAULT_OTLP_HTTP_ENDPOINT = 'http://localhost:4318/v1/traces';

function value(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function list(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
}

/** Whether the variables turn tracing on (see the module comment); throws on an exporter we lack. */
export function tracingEnabled(env: Env): boolean {
  if (value(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return false;
  const exporters = value(env, 'OTEL_TRACES_EXPORTER');
  if (exporters === undefined) {
    return (
      value(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') !== undefined ||
      value(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') !== undefined
    );
  }
  const names = list(exporters);
  const unsupported = names.filter((n) => n !== 'otlp' && n !== 'none');
  if (unsupported.length > 0) {
    throw new ConfigError(
      `OTEL_TRACES_EXPORTER: ${unsupported.join(', ')} is not supported (use otlp, or none to turn tracing off)`,
    );
  }
  return names.includes('otlp');
}

function protocol(env: Env): OtlpProtocol {
  const name = value(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL')
    ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
    : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const raw = value(env, name)?.toLowerCase() ?? 'http/protobuf';
  if (raw === 'http/protobuf' || raw === 'http/json') return raw;
  if (raw === 'grpc') {
    throw new ConfigError(
      `${name}: grpc is not supported; use http/protobuf (the collector's OTLP/HTTP port, 4318 by default)`,
    );
  }
  throw new ConfigError(`${name}: ${JSON.stringify(raw)} is not an OTLP protocol (http/protobuf or http/json)`);
}

function checkUrl(name: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name}: ${JSON.stringify(raw)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${name}: ${JSON.stringify(raw)} is not an http:// or https:// URL`);
  }
  return raw;
}

/** The traces URL: the signal's own endpoint as given, else the base endpoint plus v1/traces. */
function endpoint(env: Env): string {
  const traces = value(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  if (traces !== undefined) return checkUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', traces);
  const base = value(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  if (base === undefined) return DEFAULT_OTLP_HTTP_ENDPOINT;
  checkUrl('OTEL_EXPORTER_OTLP_ENDPOINT', base);
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}

function sampler(env: Env): { sampler: SamplerName; samplerRatio: number } {
  const raw = value(env, 'OTEL_TRACES_SAMPLER')?.toLowerCase() ?? 'parentbased_always_on';
  if (!(SAMPLERS as readonly string[]).includes(raw)) {
    throw new ConfigError(`OTEL_TRACES_SAMPLER: ${JSON.stringify(raw)} is not supported (${SAMPLERS.join(', ')})`);
  }
  const name = raw as SamplerName;
  const arg = value(env, 'OTEL_TRACES_SAMPLER_ARG');
  if (!name.endsWith('traceidratio') || arg === undefined) return { sampler: name, samplerRatio: 1 };
  const ratio = Number(arg);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    throw new ConfigError(`OTEL_TRACES_SAMPLER_ARG: ${JSON.stringify(arg)} is not a ratio between 0 and 1`);
  }
  return { sampler: name, samplerRatio: ratio };
}

/** OTEL_RESOURCE_ATTRIBUTES: `key=value` pairs separated by commas, values percent-encoded. */
export function parseResourceAttributes(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === undefined) return out;
  for (const pair of raw.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    const key = eq < 0 ? '' : pair.slice(0, eq).trim();
    if (key === '') {
      throw new ConfigError(`OTEL_RESOURCE_ATTRIBUTES: ${JSON.stringify(pair.trim())} is not key=value`);
    }
    try {
      out[key] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      throw new ConfigError(`OTEL_RESOURCE_ATTRIBUTES: the value of ${key} is not valid percent-encoding`);
    }
  }
  return out;
}

function propagateTraceContext(env: Env): boolean {
  const raw = value(env, 'OTEL_PROPAGATORS');
  if (raw === undefined) return true;
  const names = list(raw);
  // Baggage is accepted and not used (nothing here reads it).
  const unsupported = names.filter((n) => n !== 'tracecontext' && n !== 'baggage' && n !== 'none');
  if (unsupported.length > 0) {
    throw new ConfigError(
      `OTEL_PROPAGATORS: ${unsupported.join(', ')} is not supported (tracecontext, baggage or none)`,
    );
  }
  return names.includes('tracecontext');
}

/**
 * The tracing configuration, or undefined when tracing is off. Throws ConfigError (naming the
 * variable) when tracing is on and a variable cannot be used.
 */
export function loadTracingConfig(env: Env = process.env): TracingConfig | undefined {
  if (!tracingEnabled(env)) return undefined;
  const resourceAttributes = parseResourceAttributes(value(env, 'OTEL_RESOURCE_ATTRIBUTES'));
  return {
    protocol: protocol(env),
    endpoint: endpoint(env),
    ...sampler(env),
    serviceName: value(env, 'OTEL_SERVICE_NAME') ?? resourceAttributes['service.name'] ?? DEFAULT_SERVICE_NAME,
    resourceAttributes,
    propagateTraceContext: propagateTraceContext(env),
  };
}
