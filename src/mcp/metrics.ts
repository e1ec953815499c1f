import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * Prometheus metrics of the MCP layer. Registered once per Registry: asking again for the same
 * registry returns the same collectors (so several apps or authenticators can share one registry).
 */
export interface McpMetrics {
  /** Tool calls by tool, decision (allow | deny | none) and outcome (ok | an error code). */
  readonly toolCalls: Counter<'tool' | 'decision' | 'outcome'>;
  /** Tool-call latency in seconds, by tool. */
  readonly toolLatency: Histogram<'tool'>;
  /** TokenReview cache lookups by result (hit | stale | miss). */
  readonly tokenCache: Counter<'result'>;
  /**
   * Requests refused with 401/503 by reason (missing | invalid_token | expired | wrong_audience |
   * unavailable | busy).
   */
  readonly authFailures: Counter<'reason'>;
  /** TokenReviews sent to the API server, by result (authenticated | rejected | error). */
  readonly tokenReviews: Counter<'result'>;
  /** Tokens refused without a TokenReview, by reason (negative_cache | expired | wrong_audience | busy). */
  readonly tokenReviewsAvoided: Counter<'reason'>;
  /** TokenReviews in flight now. */
  readonly tokenReviewsInFlight: Gauge;
  /** resources/read and resources/list requests by method, decision and outcome. */
  readonly resourceRequests: Counter<'method' | 'decision' | 'outcome'>;
  /** Requests refused with 429 because their caller had too many requests in flight. */
  readonly callerLimited: Counter;
  /**
   * Requests refused before authentication by reason: host (Host header not allowed), origin (Origin
   * not allowed), target (a request target that is not a path).
   */
  readonly requestsRefused: Counter<'reason'>;
}

const cache = new WeakMap<Registry, McpMetrics>();

export function mcpMetrics(registry: Registry): McpMetrics {
  const existing = cache.get(registry);
  if (existing !== undefined) return existing;
  const metrics: McpMetrics = {
    toolCalls: new Counter({
      name: 'kubemcp_mcp_tool_calls_total',
      help: 'MCP tool calls by tool, policy decision and outcome',
      labelNames: ['tool', 'decision', 'outcome'] as const,
      registers: [registry],
    }),
    toolLatency: new Histogram({
      name: 'kubemcp_mcp_tool_call_duration_seconds',
      help: 'MCP tool call latency in seconds',
      labelNames: ['tool'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    tokenCache: new Counter({
      name: 'kubemcp_tokenreview_cache_lookups_total',
      help: 'TokenReview cache lookups by result (hit, stale: expired but its re-validation under way, or miss)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    authFailures: new Counter({
      name: 'kubemcp_mcp_auth_failures_total',
      help: 'MCP requests refused by authentication, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    tokenReviews: new Counter({
      name: 'kubemcp_tokenreviews_total',
      help: 'TokenReviews sent to the API server, by result (authenticated, rejected or error)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    tokenReviewsAvoided: new Counter({
      name: 'kubemcp_tokenreviews_avoided_total',
      help: 'Bearer tokens refused without a TokenReview, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    tokenReviewsInFlight: new Gauge({
      name: 'kubemcp_tokenreviews_in_flight',
      help: 'TokenReviews waiting for the API server now',
      registers: [registry],
    }),
    resourceRequests: new Counter({
      name: 'kubemcp_mcp_resource_requests_total',
      help: 'MCP resources/read and resources/list requests by method, policy decision and outcome',
      labelNames: ['method', 'decision', 'outcome'] as const,
      registers: [registry],
    }),
    callerLimited: new Counter({
      name: 'kubemcp_mcp_caller_limited_total',
      help: 'MCP requests refused with 429 because their caller had too many requests in flight',
      registers: [registry],
    }),
    requestsRefused: new Counter({
      name: 'kubemcp_mcp_requests_refused_total',
      help: 'MCP requests refused before authentication, by reason (host, origin, target)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
  };
  cache.set(registry, metrics);
  return metrics;
}
