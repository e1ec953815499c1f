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
 * - An active caller's success is re-validated in the background before it expires (REFRESH_FROM).
 *   When many such re-validations queue at once (a fleet of agents resuming together on a busy
 *   server), a success whose re-validation is still waiting or running when it expires answers for
 *   at most maxStaleMs more, never past the token's own expiry, and only until that review answers;
 *   so callers never wait for a review of a token they were already using.
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
import { type McpMetrics, mcpMetrics } from '../metrics.js';
import { BoundedCache } from './cache.js';
import { type Claims, claimsOf, MAX_TOKEN_CHARS, type ParsedJwt, parseJwt, tokenHash } from './jwt.js';
import type { ServiceAccountKeys } from './keys.js';
import { type AuthMetrics, authMetrics } from './metrics.js';
import {
  BUSY,
  EXPIRED,
  INVALID,
  refusalOutcome,
  reviewOutcome,
  UNAVAILABLE,
  wrongAudience,
} from './outcomes.js';
import { type Priority, ReviewSlots } from './slots.js';
import type { Authenticator, AuthOutcome, ReviewResult, TokenReviewFn } from './types.js';
import { DEFAULT_AUDIENCE } from './types.js';
import { FOREIGN, type LocalVerdict, verifyLocally } from './verify.js';

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
  /**
   * How long past its cache life a success may still answer while its background re-validation is
   * waiting or running; also the longest a re-validation waits for a slot. Default 30 s.
   */
  readonly maxStaleMs?: number;
  /** Background re-validations waiting for a slot; beyond it the next call tries again. Default 1,024. */
  readonly maxQueuedRefreshes?: number;
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
const DEFAULT_MAX_STALE_MS = 30_000;

/**
 * A success is re-validated in the background by the first call after this share of its cache life
 * (a random point in [REFRESH_FROM, REFRESH_TO)), so that callers do not wait for the review when it
 * expires, and the results of many tokens reviewed together (a fleet of agents starting at once) do
 * not all expire in the same second. The cache life itself is unchanged.
 */
const REFRESH_FROM = 0.75;
const REFRESH_TO = 0.9;

const UNKNOWN_KEY: LocalVerdict = { kind: 'refused', cause: 'unknown_key' };

/** Removes every occurrence of `secret` from `text` (defence in depth for error messages). */
function scrub(text: string, secret: string): string {
  return secret.length >= 8 ? text.split(secret).join('[REDACTED]') : text;
}

/** What the authenticator needs of one token: its hash, parsed shape and claims. */
interface Presented {
  readonly token: string;
  readonly key: string;
  readonly jwt: ParsedJwt | undefined;
  readonly claims: Claims | undefined;
}

function present(token: string, key: string): Presented {
  const jwt = parseJwt(token);
  return { token, key, jwt, claims: claimsOf(jwt?.payload) };
}

function slotsOf(options: TokenReviewAuthenticatorOptions): ReviewSlots {
  const known = {
    maxQueued: Math.max(0, options.maxQueuedKnownReviews ?? 1_024),
    maxWaitMs: Math.max(1, options.maxUrgentWaitMs ?? 10_000),
  };
  return new ReviewSlots({
    maxRunning: Math.max(1, options.maxConcurrentReviews ?? DEFAULT_MAX_CONCURRENT_REVIEWS),
    queues: {
      urgent: known,
      verified: known,
      refresh: {
        maxQueued: Math.max(0, options.maxQueuedRefreshes ?? 1_024),
        maxWaitMs: Math.max(1, options.maxStaleMs ?? DEFAULT_MAX_STALE_MS),
      },
      unknown: {
        maxQueued: Math.max(0, options.maxQueuedReviews ?? DEFAULT_MAX_QUEUED_REVIEWS),
        maxWaitMs: Math.max(1, options.maxQueueWaitMs ?? 2_000),
      },
    },
    maxWaitersPerUser: Math.max(1, options.maxWaitersPerUser ?? 16),
  });
}

export function createTokenReviewAuthenticator(options: TokenReviewAuthenticatorOptions): Authenticator {
  return new CachingAuthenticator(options);
}

class CachingAuthenticator implements Authenticator {
  readonly audience: string;
  private readonly maxTtlMs: number;
  private readonly maxStaleMs: number;
  private readonly negativeTtlMs: number;
  private readonly now: () => number;
  private readonly metrics: McpMetrics | undefined;
  private readonly local: AuthMetrics | undefined;
  private readonly positive: BoundedCache;
  private readonly negative: BoundedCache;
  private readonly slots: ReviewSlots;
  /** Reviews under way, by token hash (bounded by the running reviews and the bounded queues). */
  private readonly inflight = new Map<string, Promise<AuthOutcome>>();
  /** Background re-validations under way, by token hash (bounded by the positive cache). */
  private readonly refreshing = new Map<string, Promise<AuthOutcome>>();

  constructor(private readonly options: TokenReviewAuthenticatorOptions) {
    this.audience = options.audience ?? DEFAULT_AUDIENCE;
    this.maxTtlMs = options.maxTtlMs ?? 60_000;
    this.maxStaleMs = Math.max(0, options.maxStaleMs ?? DEFAULT_MAX_STALE_MS);
    this.negativeTtlMs = options.negativeTtlMs ?? 5_000;
    this.now = options.now ?? Date.now;
    this.metrics = options.registry === undefined ? undefined : mcpMetrics(options.registry);
    this.local = options.registry === undefined ? undefined : authMetrics(options.registry);
    this.positive = new BoundedCache(
      Math.max(1, options.maxEntries ?? 10_000),
      true,
      Math.max(1, options.maxEntriesPerUser ?? 128),
    );
    this.negative = new BoundedCache(Math.max(1, options.maxNegativeEntries ?? 10_000));
    this.slots = slotsOf(options);
  }

  authenticate(token: string, trace: Span = NOOP_SPAN): Promise<AuthOutcome> {
    if (token.length > MAX_TOKEN_CHARS) {
      this.metrics?.tokenReviewsAvoided.inc({ reason: 'oversized' });
      return Promise.resolve(INVALID);
    }
    const key = tokenHash(token);
    const t = this.now();
    const entry = this.positive.get(key, t) ?? this.negative.get(key, t);
    if (entry !== undefined) {
      this.metrics?.tokenCache.inc({ result: 'hit' });
      trace.setAttribute(attr.AUTH_CACHE, 'hit');
      if (!entry.outcome.ok) this.metrics?.tokenReviewsAvoided.inc({ reason: 'negative_cache' });
      else if (t >= entry.refreshAtMs) this.refreshInBackground(token, key, entry.user);
      return Promise.resolve(entry.outcome);
    }
    const stale = this.refreshing.has(key) ? this.positive.peek(key) : undefined;
    if (stale !== undefined && t < stale.staleUntilMs) {
      // Expired while its re-validation (started within its life) waits or runs: still answers.
      this.metrics?.tokenCache.inc({ result: 'stale' });
      trace.setAttribute(attr.AUTH_CACHE, 'stale');
      return Promise.resolve(stale.outcome);
    }
    this.metrics?.tokenCache.inc({ result: 'miss' });
    const pending = this.inflight.get(key);
    if (pending !== undefined) {
      trace.setAttribute(attr.AUTH_CACHE, 'joined');
      return pending;
    }
    const refresh = this.refreshing.get(key);
    trace.setAttribute(attr.AUTH_CACHE, refresh === undefined ? 'miss' : 'joined');
    const p = (
      refresh === undefined
        ? this.validate(present(token, key), trace)
        : this.after(refresh, token, key, trace)
    ).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /**
   * Re-validates a cached success in the background; this call (and those until the result lands)
   * goes on with the cached success. Nothing is started, and nothing is parsed or verified, when a
   * review of this token is already under way or no slot or place in the queue is free: a later
   * call tries again.
   */
  private refreshInBackground(token: string, key: string, user: string | undefined): void {
    if (this.refreshing.has(key) || this.inflight.has(key) || !this.slots.hasRoom('refresh', user)) return;
    const refresh = this.validate(present(token, key), NOOP_SPAN, true).finally(() =>
      this.refreshing.delete(key),
    );
    this.refreshing.set(key, refresh);
  }

  /**
   * A caller whose success expired while its background re-validation is still under way waits for
   * that review rather than sending a second one for the same token. Only when the re-validation
   * ended without an answer (its queue was full, or the API server failed) does it ask again, with
   * the urgent priority of a caller known to be genuine.
   */
  private after(
    refresh: Promise<AuthOutcome>,
    token: string,
    key: string,
    trace: Span,
  ): Promise<AuthOutcome> {
    return refresh.then((outcome) =>
      outcome === BUSY || outcome === UNAVAILABLE ? this.validate(present(token, key), trace) : outcome,
    );
  }

  private remember(key: string, outcome: AuthOutcome, ttlMs: number): void {
    if (ttlMs <= 0) return;
    const t = this.now();
    if (!outcome.ok) {
      this.negative.set(key, outcome, t + ttlMs);
      return;
    }
    // Nothing to refresh when the token itself expires with the cached result.
    const tokenEndMs = outcome.expiresAt === undefined ? Number.POSITIVE_INFINITY : outcome.expiresAt * 1000;
    const renewable = tokenEndMs > t + ttlMs;
    const share = REFRESH_FROM + Math.random() * (REFRESH_TO - REFRESH_FROM);
    const refreshAt = renewable ? t + Math.floor(ttlMs * share) : Number.POSITIVE_INFINITY;
    const staleUntil = renewable ? Math.min(t + ttlMs + this.maxStaleMs, tokenEndMs) : t + ttlMs;
    this.positive.set(key, outcome, t + ttlMs, refreshAt, staleUntil);
  }

  /** A refusal decided from a foreign token's unverified claims alone, or undefined. */
  private hopeless(claims: Claims | undefined): AuthOutcome | undefined {
    if (claims === undefined) return undefined;
    if (claims.exp !== undefined && claims.exp * 1000 <= this.now()) return EXPIRED;
    if (claims.aud !== undefined && !claims.aud.includes(this.audience)) return wrongAudience(this.audience);
    return undefined;
  }

  /**
   * The local verdict, refreshing the keys once (within their floor) for an unknown key id.
   * Synchronous unless the keys must be fetched first.
   */
  private verdictOf(p: Presented): LocalVerdict | Promise<LocalVerdict> {
    const keys = this.options.keys;
    const jwt = p.jwt;
    if (keys === undefined || jwt === undefined) return FOREIGN;
    const set = keys.current();
    const verdict =
      set === undefined ? undefined : verifyLocally(jwt, p.claims, set, this.audience, this.now());
    if (verdict !== undefined && verdict.kind !== 'unknown_key') return this.counted(verdict);
    // No keys yet (the first load, or a retry after the floor), or an unknown key id.
    const refreshed = keys.refresh();
    if (refreshed === undefined) return this.counted(verdict === undefined ? FOREIGN : UNKNOWN_KEY);
    return refreshed.then(() => {
      const fresh = keys.current();
      if (fresh === undefined) return this.counted(FOREIGN);
      const again = verifyLocally(jwt, p.claims, fresh, this.audience, this.now());
      return this.counted(again.kind === 'unknown_key' ? UNKNOWN_KEY : again);
    });
  }

  private counted(verdict: LocalVerdict): LocalVerdict {
    this.local?.localVerifications.inc({ result: verdict.kind === 'refused' ? verdict.cause : verdict.kind });
    return verdict;
  }

  /** A refusal without a TokenReview (cached briefly, counted). */
  private refuseHere(key: string, outcome: AuthOutcome, reason: string): Promise<AuthOutcome> {
    this.metrics?.tokenReviewsAvoided.inc({ reason });
    this.positive.delete(key); // a background re-validation refused here: forget the success at once
    this.remember(key, outcome, this.negativeTtlMs);
    return Promise.resolve(outcome);
  }

  /** `background`: a re-validation no caller waits for (it queues behind tokens callers wait for). */
  private validate(p: Presented, trace: Span, background = false): Promise<AuthOutcome> {
    const verdict = this.verdictOf(p);
    return verdict instanceof Promise
      ? verdict.then((v) => this.decide(p, v, trace, background))
      : this.decide(p, verdict, trace, background);
  }

  private decide(
    p: Presented,
    verdict: LocalVerdict,
    trace: Span,
    background: boolean,
  ): Promise<AuthOutcome> {
    if (verdict.kind === 'refused') {
      return this.refuseHere(p.key, refusalOutcome(verdict.cause, this.audience), 'local_verification');
    }
    if (verdict.kind === 'foreign') {
      const refused = this.hopeless(p.claims);
      if (refused !== undefined && !refused.ok) return this.refuseHere(p.key, refused, refused.reason);
    }
    const before = this.positive.peek(p.key)?.user;
    const verified = verdict.kind === 'valid';
    const priority: Priority = background
      ? 'refresh'
      : before !== undefined
        ? 'urgent'
        : verified
          ? 'verified'
          : 'unknown';
    const user = before ?? (verified ? verdict.username : undefined);
    return this.review(p, trace, priority, user);
  }

  private async review(
    p: Presented,
    trace: Span,
    priority: Priority,
    user: string | undefined,
  ): Promise<AuthOutcome> {
    const slot = this.slots.acquire(priority, user);
    if (!(slot === true || (await slot))) {
      this.metrics?.tokenReviewsAvoided.inc({ reason: 'busy' });
      return BUSY;
    }
    let result: ReviewResult;
    this.metrics?.tokenReviewsInFlight.inc();
    try {
      result = await this.options.review(p.token, [this.audience], trace);
    } catch (err) {
      this.metrics?.tokenReviews.inc({ result: 'error' });
      const detail = err instanceof Error ? scrub(err.message, p.token).slice(0, 300) : 'unknown error';
      this.options.logger?.warn({ reason: detail }, 'TokenReview failed; answering 503');
      return UNAVAILABLE;
    } finally {
      this.metrics?.tokenReviewsInFlight.dec();
      this.slots.release();
    }
    const exp = p.claims?.exp;
    const outcome = reviewOutcome(result, this.audience, exp);
    this.metrics?.tokenReviews.inc({ result: outcome.ok ? 'authenticated' : 'rejected' });
    // A token that passed before and is refused now (its ServiceAccount deleted, say) is forgotten
    // at once, not at the end of its cached success.
    if (!outcome.ok) this.positive.delete(p.key);
    const ttl = outcome.ok
      ? Math.min(this.maxTtlMs, exp === undefined ? this.maxTtlMs : exp * 1000 - this.now())
      : this.negativeTtlMs;
    this.remember(p.key, outcome, ttl);
    return outcome;
  }
}
