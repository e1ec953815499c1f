/**
 * Bearer-token authentication: ServiceAccount signatures checked locally, the TokenReview for what
 * only the API server knows, hardened against floods of bad tokens and of valid ones.
 *
 * - Every cache is keyed by the SHA-256 of the token; the token itself is never stored, logged or
 *   returned.
 * - Successes and failures live in two separate bounded caches, so a flood of failed tokens can never
 *   evict a caller that authenticated; one username holds at most maxEntriesPerUser successes. A
 *   success lives at most min(maxTtlMs, the token's remaining life); a failure negativeTtlMs.
 *   API-server failures are not cached at all.
 * - With `keys` (the cluster's ServiceAccount issuer keys), a token that claims that issuer must carry
 *   a valid signature, our audience and a current validity period, or it is refused without a
 *   TokenReview (verify.ts). A valid one is still reviewed (a token bound to a deleted Pod or Secret is
 *   revoked only there), ahead of tokens not known to be genuine.
 * - Other tokens (other issuers, not JWTs) go to the TokenReview; a JWT whose UNVERIFIED claims can
 *   never pass (`exp` in the past, an `aud` claim without our audience) is refused without one.
 * - TokenReviews run maxConcurrentReviews at once; waiting is bounded per queue, per username and in
 *   time (slots.ts); beyond that the answer is `busy` at once (HTTP 503 with Retry-After: the token
 *   may well be valid, so it is not a 401).
 */

import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { attr, NOOP_SPAN, type Span } from '../../telemetry/index.js';
import { mcpMetrics } from '../metrics.js';
import { BoundedCache } from './cache.js';
import { type Claims, claimsOf, MAX_TOKEN_CHARS, type ParsedJwt, parseJwt, tokenHash } from './jwt.js';
import type { ServiceAccountKeys } from './keys.js';
import { authMetrics } from './metrics.js';
import { type Priority, ReviewSlots } from './slots.js';
import {
  type Authenticator,
  type AuthOutcome,
  DEFAULT_AUDIENCE,
  type ReviewResult,
  type TokenReviewFn,
} from './types.js';
import { FOREIGN, type LocalVerdict, type RefusalCause, verifyLocally } from './verify.js';

export interface TokenReviewAuthenticatorOptions {
  readonly review: TokenReviewFn;
  /** The cluster's ServiceAccount issuer keys; without them every token goes to the TokenReview. */
  readonly keys?: ServiceAccountKeys;
  /** Default `kubemcp`. */
  readonly audience?: string;
  /** Upper bound on how long a positive result is reused. Default 60 s. */
  readonly maxTtlMs?: number;
  /** How long a negative result is reused. Default 5 s. */
  readonly negativeTtlMs?: number;
  /** Maximum cached successes. Default 10,000. */
  readonly maxEntries?: number;
  /** Maximum cached successes of one username. Default 128. */
  readonly maxEntriesPerUser?: number;
  /** Maximum cached failures (a separate cache). Default 10,000. */
  readonly maxNegativeEntries?: number;
  /** TokenReviews in flight at once. Default 4. */
  readonly maxConcurrentReviews?: number;
  /** Unknown tokens waiting for a review slot; beyond it the answer is `busy`. Default 32. */
  readonly maxQueuedReviews?: number;
  /** Longest wait of an unknown token for a slot before the answer is `busy`. Default 2 s. */
  readonly maxQueueWaitMs?: number;
  /**
   * Tokens known to be genuine (valid before, or signature verified here) waiting for a slot, per
   * queue. Default 1,024.
   */
  readonly maxQueuedKnownReviews?: number;
  /** Longest wait for a slot of a token known to be genuine. Default 10 s. */
  readonly maxUrgentWaitMs?: number;
  /** Waiters of one username (known-genuine queues). Default 16. */
  readonly maxWaitersPerUser?: number;
  /** Clock in ms; injectable for tests. */
  readonly now?: () => number;
  /** Where the cache hit/miss counter is registered. */
  readonly registry?: Registry;
  readonly logger?: Logger;
}

export const DEFAULT_MAX_CONCURRENT_REVIEWS = 4;
export const DEFAULT_MAX_QUEUED_REVIEWS = 32;

/**
 * A success is re-validated in the background by the first call after this share of its cache life
 * (a random point in [REFRESH_FROM, REFRESH_TO)), so that callers do not wait for the review when it
 * expires, and the results of many tokens reviewed together (a fleet of agents starting at once) do
 * not all expire in the same second. The cache life itself is unchanged.
 */
const REFRESH_FROM = 0.75;
const REFRESH_TO = 0.9;

/** Removes every occurrence of `secret` from `text` (defence in depth for error messages). */
function scrub(text: string, secret: string): string {
  return secret.length >= 8 ? text.split(secret).join('[REDACTED]') : text;
}

const BUSY: AuthOutcome = {
  ok: false,
  reason: 'busy',
  message: 'Too many tokens are being validated right now; retry shortly',
};
const INVALID: AuthOutcome = { ok: false, reason: 'invalid_token', message: 'The token is not valid' };
const UNKNOWN_KEY: LocalVerdict = { kind: 'refused', cause: 'unknown_key' };
const EXPIRED: AuthOutcome = { ok: false, reason: 'expired', message: 'The token has expired' };

function wrongAudience(audience: string): AuthOutcome {
  return {
    ok: false,
    reason: 'wrong_audience',
    message: `The token is not bound to the audience "${audience}"`,
  };
}

/** The answer to a local refusal. */
function refusalOutcome(cause: RefusalCause, audience: string): AuthOutcome {
  if (cause === 'expired') return EXPIRED;
  if (cause === 'wrong_audience') return wrongAudience(audience);
  return INVALID;
}

/** The outcome of a TokenReview answer. */
function reviewOutcome(result: ReviewResult, audience: string, exp: number | undefined): AuthOutcome {
  if (!result.authenticated || result.user === undefined || result.user.username === '') return INVALID;
  if (!(result.audiences ?? []).includes(audience)) return wrongAudience(audience);
  return {
    ok: true,
    caller: {
      username: result.user.username,
      groups: [...(result.user.groups ?? [])],
      // Kept for SubjectAccessReviews on the caller's behalf (requireKubernetesRBAC).
      ...(result.user.uid === undefined ? {} : { uid: result.user.uid }),
      ...(result.user.extra === undefined ? {} : { extra: result.user.extra }),
    },
    ...(exp === undefined ? {} : { expiresAt: exp }),
  };
}

/** What authenticate needs of one token: its hash, parsed shape and claims. */
interface Presented {
  readonly token: string;
  readonly key: string;
  readonly jwt: ParsedJwt | undefined;
  readonly claims: Claims | undefined;
}

export function createTokenReviewAuthenticator(options: TokenReviewAuthenticatorOptions): Authenticator {
  const audience = options.audience ?? DEFAULT_AUDIENCE;
  const maxTtlMs = options.maxTtlMs ?? 60_000;
  const negativeTtlMs = options.negativeTtlMs ?? 5_000;
  const now = options.now ?? Date.now;
  const metrics = options.registry === undefined ? undefined : mcpMetrics(options.registry);
  const local = options.registry === undefined ? undefined : authMetrics(options.registry);
  const positive = new BoundedCache(
    Math.max(1, options.maxEntries ?? 10_000),
    true,
    Math.max(1, options.maxEntriesPerUser ?? 128),
  );
  const negative = new BoundedCache(Math.max(1, options.maxNegativeEntries ?? 10_000));
  const knownQueue = {
    maxQueued: Math.max(0, options.maxQueuedKnownReviews ?? 1_024),
    maxWaitMs: Math.max(1, options.maxUrgentWaitMs ?? 10_000),
  };
  const slots = new ReviewSlots({
    maxRunning: Math.max(1, options.maxConcurrentReviews ?? DEFAULT_MAX_CONCURRENT_REVIEWS),
    queues: {
      urgent: knownQueue,
      verified: knownQueue,
      unknown: {
        maxQueued: Math.max(0, options.maxQueuedReviews ?? DEFAULT_MAX_QUEUED_REVIEWS),
        maxWaitMs: Math.max(1, options.maxQueueWaitMs ?? 2_000),
      },
    },
    maxWaitersPerUser: Math.max(1, options.maxWaitersPerUser ?? 16),
  });
  const inflight = new Map<string, Promise<AuthOutcome>>();
  /** Tokens being re-validated in the background (bounded by the positive cache). */
  const refreshing = new Set<string>();

  function remember(key: string, outcome: AuthOutcome, ttlMs: number): void {
    if (ttlMs <= 0) return;
    const t = now();
    if (!outcome.ok) {
      negative.set(key, outcome, t + ttlMs);
      return;
    }
    // Nothing to refresh when the token itself expires with the cached result.
    const renewable = outcome.expiresAt === undefined || outcome.expiresAt * 1000 > t + ttlMs;
    const share = REFRESH_FROM + Math.random() * (REFRESH_TO - REFRESH_FROM);
    positive.set(
      key,
      outcome,
      t + ttlMs,
      renewable ? t + Math.floor(ttlMs * share) : Number.POSITIVE_INFINITY,
    );
  }

  /** A refusal decided from a foreign token's unverified claims alone, or undefined. */
  function hopeless(claims: Claims | undefined): AuthOutcome | undefined {
    if (claims === undefined) return undefined;
    if (claims.exp !== undefined && claims.exp * 1000 <= now()) return EXPIRED;
    if (claims.aud !== undefined && !claims.aud.includes(audience)) return wrongAudience(audience);
    return undefined;
  }

  /**
   * The local verdict, refreshing the keys once (within their floor) for an unknown key id. Synchronous
   * unless the keys must be fetched first.
   */
  function verdictOf(p: Presented): LocalVerdict | Promise<LocalVerdict> {
    const keys = options.keys;
    if (keys === undefined || p.jwt === undefined) return FOREIGN;
    const set = keys.current();
    const verdict = set === undefined ? undefined : verifyLocally(p.jwt, p.claims, set, audience, now());
    if (verdict !== undefined && verdict.kind !== 'unknown_key') return counted(verdict);
    // No keys yet (the first load, or a retry after the floor), or an unknown key id.
    const refreshed = keys.refresh();
    if (refreshed === undefined) return counted(verdict === undefined ? FOREIGN : UNKNOWN_KEY);
    return refreshed.then(() => {
      const fresh = keys.current();
      if (fresh === undefined) return counted(FOREIGN);
      const again = verifyLocally(p.jwt as ParsedJwt, p.claims, fresh, audience, now());
      return counted(again.kind === 'unknown_key' ? UNKNOWN_KEY : again);
    });
  }

  function counted(verdict: LocalVerdict): LocalVerdict {
    local?.localVerifications.inc({ result: verdict.kind === 'refused' ? verdict.cause : verdict.kind });
    return verdict;
  }

  /** A refusal without a TokenReview (cached briefly, counted). */
  function refuseHere(key: string, outcome: AuthOutcome, reason: string): AuthOutcome {
    metrics?.tokenReviewsAvoided.inc({ reason });
    positive.delete(key); // a background re-validation refused here: forget the success at once
    remember(key, outcome, negativeTtlMs);
    return outcome;
  }

  /** `background`: a re-validation no caller waits for (it queues with the unknown tokens). */
  function validate(p: Presented, trace: Span, background = false): Promise<AuthOutcome> {
    const verdict = verdictOf(p);
    return verdict instanceof Promise
      ? verdict.then((v) => decide(p, v, trace, background))
      : decide(p, verdict, trace, background);
  }

  function decide(
    p: Presented,
    verdict: LocalVerdict,
    trace: Span,
    background: boolean,
  ): Promise<AuthOutcome> {
    if (verdict.kind === 'refused') {
      return Promise.resolve(
        refuseHere(p.key, refusalOutcome(verdict.cause, audience), 'local_verification'),
      );
    }
    if (verdict.kind === 'foreign') {
      const refused = hopeless(p.claims);
      if (refused !== undefined && !refused.ok)
        return Promise.resolve(refuseHere(p.key, refused, refused.reason));
    }
    const before = background ? undefined : positive.peek(p.key)?.user;
    const priority: Priority =
      before !== undefined ? 'urgent' : verdict.kind === 'valid' && !background ? 'verified' : 'unknown';
    const user = before ?? (verdict.kind === 'valid' ? verdict.username : undefined);
    return review(p, trace, priority, user);
  }

  async function review(
    p: Presented,
    trace: Span,
    priority: Priority,
    user: string | undefined,
  ): Promise<AuthOutcome> {
    const slot = slots.acquire(priority, user);
    if (!(slot === true || (await slot))) {
      metrics?.tokenReviewsAvoided.inc({ reason: 'busy' });
      return BUSY;
    }
    let result: ReviewResult;
    metrics?.tokenReviewsInFlight.inc();
    try {
      result = await options.review(p.token, [audience], trace);
    } catch (err) {
      metrics?.tokenReviews.inc({ result: 'error' });
      const detail = err instanceof Error ? scrub(err.message, p.token).slice(0, 300) : 'unknown error';
      options.logger?.warn({ reason: detail }, 'TokenReview failed; answering 503');
      return { ok: false, reason: 'unavailable', message: 'The token could not be validated right now' };
    } finally {
      metrics?.tokenReviewsInFlight.dec();
      slots.release();
    }
    const exp = p.claims?.exp;
    const outcome = reviewOutcome(result, audience, exp);
    metrics?.tokenReviews.inc({ result: outcome.ok ? 'authenticated' : 'rejected' });
    // A token that passed before and is refused now (its ServiceAccount deleted, say) is forgotten
    // at once, not at the end of its cached success.
    if (!outcome.ok) positive.delete(p.key);
    const ttl = outcome.ok
      ? Math.min(maxTtlMs, exp === undefined ? maxTtlMs : exp * 1000 - now())
      : negativeTtlMs;
    remember(p.key, outcome, ttl);
    return outcome;
  }

  function present(token: string, key: string): Presented {
    const jwt = parseJwt(token);
    return { token, key, jwt, claims: claimsOf(jwt?.payload) };
  }

  return {
    audience,
    async authenticate(token: string, trace: Span = NOOP_SPAN): Promise<AuthOutcome> {
      if (token.length > MAX_TOKEN_CHARS) {
        metrics?.tokenReviewsAvoided.inc({ reason: 'oversized' });
        return INVALID;
      }
      const key = tokenHash(token);
      const t = now();
      const entry = positive.get(key, t) ?? negative.get(key, t);
      if (entry !== undefined) {
        metrics?.tokenCache.inc({ result: 'hit' });
        trace.setAttribute(attr.AUTH_CACHE, 'hit');
        if (!entry.outcome.ok) metrics?.tokenReviewsAvoided.inc({ reason: 'negative_cache' });
        else if (t >= entry.refreshAtMs && !refreshing.has(key) && !inflight.has(key)) {
          // Re-validate in the background; this call (and those until the result lands) goes on with
          // the cached success, which is still within its cache life. Callers never join it: one
          // whose success has expired meanwhile asks with the urgent priority of its own review.
          refreshing.add(key);
          void validate(present(token, key), NOOP_SPAN, true).finally(() => refreshing.delete(key));
        }
        return entry.outcome;
      }
      metrics?.tokenCache.inc({ result: 'miss' });
      const pending = inflight.get(key);
      if (pending !== undefined) {
        trace.setAttribute(attr.AUTH_CACHE, 'joined');
        return pending;
      }
      trace.setAttribute(attr.AUTH_CACHE, 'miss');
      const p = validate(present(token, key), trace).finally(() => inflight.delete(key));
      inflight.set(key, p);
      return p;
    },
  };
}
