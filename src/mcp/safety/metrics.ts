import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Prometheus metrics of the agent-safety checks. Refusals themselves are counted by
 * kubemcp_mcp_tool_calls_total{outcome="RateLimited"|"ConfirmationRequired"|...}.
 */
export interface SafetyMetrics {
  /** SubjectAccessReview look-ups of requireKubernetesRBAC, by result (cache_hit | shared | allowed | denied | error). */
  readonly accessReviews: Counter<'result'>;
  /**
   * Confirmations a policy's `confirm` rules asked for, by flow (input_required | elicitation/create)
   * and answer (accepted | declined | asked | unavailable; unavailable with its reason).
   */
  readonly confirmations: Counter<'flow' | 'answer' | 'reason'>;
  /** 2025-era questions sent with elicitation/create and waiting for their answer now. */
  readonly confirmationsPending: Gauge;
  /** Answer POSTs to elicitation/create, by result (delivered | unknown | other_replica). */
  readonly elicitationAnswers: Counter<'result'>;
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
    confirmations: new Counter({
      name: 'kubemcp_confirmations_total',
      help: 'Human confirmations a policy asked for, by flow, answer and (for unavailable) reason',
      labelNames: ['flow', 'answer', 'reason'] as const,
      registers: [registry],
    }),
    confirmationsPending: new Gauge({
      name: 'kubemcp_confirmations_pending',
      help: 'Questions sent with elicitation/create (2025-era clients) waiting for their answer',
      registers: [registry],
    }),
    elicitationAnswers: new Counter({
      name: 'kubemcp_elicitation_answers_total',
      help: 'Answers to elicitation/create received, by result (delivered, unknown: no such question for this caller, other_replica: asked by another replica)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
  };
  cache.set(registry, metrics);
  return metrics;
}
