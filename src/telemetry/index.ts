/** Tracing: the facade every module uses, and the one place that loads the SDK when it is on. */

import type { Logger } from 'pino';
import type { TracingConfig } from '../config/tracing.js';
import { NO_TRACING, type Tracing } from './tracing.js';

export * as attr from './attributes.js';
export {
  type AttributeValue,
  type Headers,
  NO_TRACING,
  NOOP_SPAN,
  type Span,
  type SpanKind,
  type Tracing,
} from './tracing.js';

export interface StartTracingOptions {
  readonly serviceVersion: string;
  readonly instanceId: string;
  readonly logger: Logger;
}

/**
 * NO_TRACING when `config` is undefined (tracing off: nothing is loaded); otherwise loads the
 * OpenTelemetry SDK (a dynamic import) and returns tracing that exports to config.endpoint.
 */
export async function startTracing(
  config: TracingConfig | undefined,
  options: StartTracingOptions,
): Promise<Tracing> {
  if (config === undefined) return NO_TRACING;
  const { createOtelTracing } = await import('./otel.js');
  return createOtelTracing(config, options);
}
