import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Metrics of local token verification. Registered once per Registry (asking again returns the same
 * collectors). The TokenReview metrics themselves are in ../metrics.ts.
 */
export interface AuthMetrics {
  /**
   * Tokens checked against the cluster's ServiceAccount issuer keys, by result: valid, foreign (not
   * a token of that issuer: the TokenReview decides), or why it was refused (bad_signature,
   * unknown_key, unsupported_alg, malformed, wrong_audience, expired, not_yet_valid, no_expiry).
   */
  readonly localVerifications: Counter<'result'>;
  /** 1 while the issuer's keys are loaded (local verification on), 0 while every token goes to TokenReview. */
  readonly localVerificationAvailable: Gauge;
}

const cache = new WeakMap<Registry, AuthMetrics>();

export function authMetrics(registry: Registry): AuthMetrics {
  const existing = cache.get(registry);
  if (existing !== undefined) return existing;
  const metrics: AuthMetrics = {
    localVerifications: new Counter({
      name: 'kubemcp_token_local_verifications_total',
      help: 'Bearer tokens checked against the ServiceAccount issuer keys, by result',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    localVerificationAvailable: new Gauge({
      name: 'kubemcp_token_local_verification_available',
      help: '1 while ServiceAccount token signatures are verified locally, 0 while every token goes to a TokenReview',
      registers: [registry],
    }),
  };
  cache.set(registry, metrics);
  return metrics;
}
