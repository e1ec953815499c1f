import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_SERVICE_NAME,
  loadTracingConfig,
  type TracingConfig,
  tracingEnabled,
} from '../../../src/config/index.js';
import { parseResourceAttributes } from '../../../src/config/tracing.js';

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

function on(env: Record<string, string>): TracingConfig {
  const config = loadTracingConfig(env);
  if (config === undefined) throw new Error(`tracing is off for ${JSON.stringify(env)}`);
  return config;
}

const ENDPOINT = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector.monitoring:4318' };

describe('when tracing is on', () => {
  it('is off with no OTEL_* variable at all', () => {
    expect(loadTracingConfig({})).toBeUndefined();
  });

  it('is off when only variables that configure an exporter but do not choose one are set', () => {
    expect(
      loadTracingConfig({
        OTEL_SERVICE_NAME: 'x',
        OTEL_TRACES_SAMPLER: 'always_on',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20secret',
      }),
    ).toBeUndefined();
  });

  it('is on when an OTLP endpoint is set, for every signal or for traces', () => {
    expect(tracingEnabled(ENDPOINT)).toBe(true);
    expect(tracingEnabled({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' })).toBe(true);
    // Set but empty counts as unset.
    expect(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' })).toBe(false);
  });

  it('is on with OTEL_TRACES_EXPORTER=otlp alone (the default endpoint), off with none', () => {
    expect(on({ OTEL_TRACES_EXPORTER: 'otlp' }).endpoint).toBe('http://localhost:4318/v1/traces');
    expect(loadTracingConfig({ ...ENDPOINT, OTEL_TRACES_EXPORTER: 'none' })).toBeUndefined();
    expect(tracingEnabled({ OTEL_TRACES_EXPORTER: ' OTLP , none' })).toBe(true);
  });

  it('OTEL_SDK_DISABLED=true wins over everything, and only "true" disables', () => {
    expect(loadTracingConfig({ ...ENDPOINT, OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'TRUE' })).toBeUndefined();
    expect(tracingEnabled({ ...ENDPOINT, OTEL_SDK_DISABLED: 'false' })).toBe(true);
    expect(tracingEnabled({ ...ENDPOINT, OTEL_SDK_DISABLED: '1' })).toBe(true);
  });

  it('refuses exporters it does not have, naming the variable', () => {
    expect(errorOf(() => loadTracingConfig({ OTEL_TRACES_EXPORTER: 'otlp,console' })).message).toMatch(
      /^OTEL_TRACES_EXPORTER: console is not supported/,
    );
    expect(errorOf(() => tracingEnabled({ OTEL_TRACES_EXPORTER: 'zipkin' })).message).toContain('zipkin');
  });

  it('reads nothing else while it is off: a malformed variable cannot stop an operator that does not trace', () => {
    expect(
      loadTracingConfig({ OTEL_TRACES_SAMPLER: 'nonsense', OTEL_RESOURCE_ATTRIBUTES: '=broken' }),
    ).toBeUndefined();
  });
});

describe('endpoint and protocol', () => {
  it('appends v1/traces to the base endpoint (with or without a trailing slash, keeping a path)', () => {
    expect(on(ENDPOINT).endpoint).toBe('http://collector.monitoring:4318/v1/traces');
    expect(on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gw.example/otlp/' }).endpoint).toBe(
      'https://gw.example/otlp/v1/traces',
    );
  });

  it('uses the traces endpoint as given, and prefers it to the base endpoint', () => {
    expect(
      on({ ...ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://other:9999/custom' }).endpoint,
    ).toBe('http://other:9999/custom');
  });

  it('refuses an endpoint that is not an http(s) URL', () => {
    expect(errorOf(() => on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).message).toMatch(
      /^OTEL_EXPORTER_OTLP_ENDPOINT: .* is not an http:\/\/ or https:\/\/ URL/,
    );
    expect(errorOf(() => on({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' })).message).toMatch(
      /^OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: .* is not a URL/,
    );
  });

  it('speaks http/protobuf by default, http/json on request; the traces variable wins', () => {
    expect(on(ENDPOINT).protocol).toBe('http/protobuf');
    expect(on({ ...ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).protocol).toBe('http/json');
    expect(
      on({
        ...ENDPOINT,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
      }).protocol,
    ).toBe('http/protobuf');
  });

  it('refuses grpc with the way out, and unknown protocols', () => {
    const grpc = errorOf(() => on({ ...ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' }));
    expect(grpc.message).toMatch(/^OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: grpc is not supported; use http\/protobuf/);
    expect(errorOf(() => on({ ...ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL: 'thrift' })).message).toContain(
      'OTEL_EXPORTER_OTLP_PROTOCOL',
    );
  });
});

describe('sampler', () => {
  it('is parentbased_always_on by default, ratio 1', () => {
    expect(on(ENDPOINT)).toMatchObject({ sampler: 'parentbased_always_on', samplerRatio: 1 });
  });

  it('takes the ratio of the traceidratio samplers from OTEL_TRACES_SAMPLER_ARG', () => {
    expect(
      on({ ...ENDPOINT, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }),
    ).toMatchObject({ sampler: 'parentbased_traceidratio', samplerRatio: 0.25 });
    expect(on({ ...ENDPOINT, OTEL_TRACES_SAMPLER: 'TraceIdRatio' })).toMatchObject({
      sampler: 'traceidratio',
      samplerRatio: 1,
    });
    // The argument of other samplers is ignored, as the specification says.
    expect(on({ ...ENDPOINT, OTEL_TRACES_SAMPLER: 'always_off', OTEL_TRACES_SAMPLER_ARG: 'x' }).sampler).toBe(
      'always_off',
    );
  });

  it('refuses a ratio outside 0..1 and samplers it does not have', () => {
    for (const arg of ['1.5', '-0.1', 'half']) {
      expect(
        errorOf(() => on({ ...ENDPOINT, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: arg }))
          .message,
      ).toMatch(/^OTEL_TRACES_SAMPLER_ARG: /);
    }
    expect(errorOf(() => on({ ...ENDPOINT, OTEL_TRACES_SAMPLER: 'jaeger_remote' })).message).toMatch(
      /^OTEL_TRACES_SAMPLER: "jaeger_remote" is not supported/,
    );
  });
});

describe('resource', () => {
  it('names the service kubemcp unless OTEL_SERVICE_NAME or service.name in OTEL_RESOURCE_ATTRIBUTES says otherwise', () => {
    expect(on(ENDPOINT).serviceName).toBe(DEFAULT_SERVICE_NAME);
    expect(on({ ...ENDPOINT, OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs' }).serviceName).toBe('from-attrs');
    expect(
      on({ ...ENDPOINT, OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs', OTEL_SERVICE_NAME: 'ops-kubemcp' })
        .serviceName,
    ).toBe('ops-kubemcp');
  });

  it('decodes OTEL_RESOURCE_ATTRIBUTES: comma-separated key=value, percent-encoded values', () => {
    expect(
      parseResourceAttributes(' deployment.environment.name = prod , k8s.cluster.name=eu%2C1 ,team=a%3Db, ,x='),
    ).toEqual({ 'deployment.environment.name': 'prod', 'k8s.cluster.name': 'eu,1', team: 'a=b', x: '' });
    expect(parseResourceAttributes(undefined)).toEqual({});
  });

  it('refuses an entry without a key and a value that is not valid percent-encoding', () => {
    expect(errorOf(() => parseResourceAttributes('novalue')).message).toMatch(/^OTEL_RESOURCE_ATTRIBUTES: "novalue"/);
    expect(errorOf(() => parseResourceAttributes('=v')).message).toContain('is not key=value');
    expect(errorOf(() => parseResourceAttributes('a=%E0%A4%A')).message).toContain('the value of a');
  });
});

describe('propagation', () => {
  it('continues W3C trace context by default and with tracecontext listed; not with none', () => {
    expect(on(ENDPOINT).propagateTraceContext).toBe(true);
    expect(on({ ...ENDPOINT, OTEL_PROPAGATORS: 'tracecontext,baggage' }).propagateTraceContext).toBe(true);
    expect(on({ ...ENDPOINT, OTEL_PROPAGATORS: 'baggage' }).propagateTraceContext).toBe(false);
    expect(on({ ...ENDPOINT, OTEL_PROPAGATORS: 'none' }).propagateTraceContext).toBe(false);
  });

  it('refuses propagators it does not have', () => {
    expect(errorOf(() => on({ ...ENDPOINT, OTEL_PROPAGATORS: 'tracecontext,b3' })).message).toMatch(
      /^OTEL_PROPAGATORS: b3 is not supported/,
    );
  });
});
