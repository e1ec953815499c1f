import { Counter, type Registry } from 'prom-client';

/**
 * Prometheus metrics of the agent-safety checks. Refusals themselves are counted by
 * kubemcp_mcp_tool_calls_total{outcome="RateLimited"|"ConfirmationRequired"|...}.
 */
export interface SafetyMetrics {
  /** SubjectAccessReview look-ups of requireKubernetesRBAC, by result (cache_hit | shared | allowed | denied | error). */
  readonly accessReviews: Counter<'result'>;
}

const cache = new WeakMap<Registry, SafetyMetrics>();

export function safetyMetrics(registry: Registry): SafetyMetrics {
  const existing = cache.get(registry);
  if (existing !== undefined) return existing;
  const metrics: SafetyMetrics = {
    accessReviews: new Counter({
      name: 'kubemcp_subjectaccessreview_lookups_total',
      help: 'SubjectAccessReview look-ups for requireKubernetesRBAC, by result (cache_hit; shared: joined a review in flight; or the answer of a review sent: allowed, denied, error)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
  };
  cache.set(registry, metrics);
  return metrics;
}
