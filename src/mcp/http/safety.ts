import { randomBytes } from 'node:crypto';
import { createRequestStateCodec, type RequestStateCodec } from '@modelcontextprotocol/server';
import type { Registry } from 'prom-client';
import type { ClusterBackend } from '../../kube/types.js';
import { AccessReviewer } from '../safety/access.js';
import { CONFIRMATION_TTL_SECONDS, type ConfirmationState } from '../safety/elicit.js';
import { type SafetyMetrics, safetyMetrics } from '../safety/metrics.js';
import { PendingElicitations } from '../safety/pending.js';
import { RateLimiter } from '../safety/ratelimit.js';
import { LegacySessions } from '../safety/session.js';
import { currentKeyCodec } from '../safety/statecodec.js';
import type { ResolvedMcpAppOptions } from './options.js';

/** The agent-safety parts one MCP app shares between its requests. */
export interface SafetyParts {
  readonly metrics: SafetyMetrics;
  /** Rate limits are counted per process (docs/security.md). */
  readonly rateLimiter: RateLimiter;
  /** SubjectAccessReviews of requireKubernetesRBAC, cached at most 10 s (safety/access.ts). */
  readonly access: AccessReviewer;
  readonly confirmationCodec: RequestStateCodec<ConfirmationState>;
  /** Session ids of 2025-era clients that can be asked for confirmations (safety/session.ts). */
  readonly sessions: LegacySessions;
  /** 2025-era questions waiting for the answer POST: bounded per caller and in all (safety/pending.ts). */
  readonly pending: PendingElicitations;
  readonly onConfirmation: (n: { flow: string; answer: string; reason?: string }) => void;
}

export function buildSafety(
  opts: ResolvedMcpAppOptions,
  backend: ClusterBackend,
  registry: Registry,
): SafetyParts {
  const metrics = safetyMetrics(registry);
  const reviewAccess = backend.reviewAccess?.bind(backend);
  const access = new AccessReviewer(reviewAccess, {
    now: opts.now,
    onLookup: (result) => metrics.accessReviews.inc({ result }),
  });
  // Signs the state of human confirmations (safety/elicit.ts) and the session ids of 2025-era
  // clients that can be asked. Every replica that may receive the retry must share the key: set
  // confirmationKey (`kubemcp serve` reads it from a Secret or a file); the default, a random key
  // per process, only verifies what comes back to the same process.
  const confirmationKey = opts.confirmationKey ?? randomBytes(32);
  const confirmationCodec =
    typeof confirmationKey === 'function'
      ? currentKeyCodec<ConfirmationState>(confirmationKey, CONFIRMATION_TTL_SECONDS)
      : createRequestStateCodec<ConfirmationState>({
          key: confirmationKey,
          ttlSeconds: CONFIRMATION_TTL_SECONDS,
        });
  return {
    metrics,
    rateLimiter: new RateLimiter(),
    access,
    confirmationCodec,
    sessions: new LegacySessions(confirmationKey, opts.now),
    pending: new PendingElicitations({
      maxPerCaller: opts.maxPendingConfirmations.perCaller,
      maxTotal: opts.maxPendingConfirmations.total,
      onSize: (n) => metrics.confirmationsPending.set(n),
    }),
    onConfirmation: (n) => {
      metrics.confirmations.inc({ flow: n.flow, answer: n.answer, reason: n.reason ?? '' });
    },
  };
}
