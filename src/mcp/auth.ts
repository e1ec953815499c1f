import { createHash } from 'node:crypto';
import type { V1TokenReview } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { KubeApiError, type KubeClient, KubeTimeoutError } from '../kube/client.js';
import type { Caller } from '../policy/types.js';
import { attr, NOOP_SPAN, type Span } from '../telemetry/index.js';
import { mcpMetrics } from './metrics.js';

/**
 * Bearer-token authentication through Kubernetes TokenReview, hardened against floods of bad tokens.
 *
 * - Every cache is keyed by the SHA-256 of the token; the token itself is never stored, logged or
 *   returned.
 * - Successes and failures live in two separate bounded caches, so a flood of failed tokens can never
 *   evict a caller that authenticated. A success lives at most min(maxTtlMs, the token's remaining
 *   life); a failure negativeTtlMs. API-server failures are not cached at all.
 * - A token that parses as a JWT whose UNVERIFIED claims can never pass (`exp` in the past, or an
 *   `aud` claim without our audience) is refused without a TokenReview. Unverified claims are only
 *   ever used to refuse (and to bound cache lifetimes): the decision to accept a token is always the
 *   API server's. Tokens that are not JWTs go to the TokenReview (other authenticators exist).
 * - At most maxConcurrentReviews TokenReviews run at once, and at most maxQueuedReviews wait for a
 *   slot (each at most maxQueueWaitMs); beyond that the answer is `busy` at once (HTTP 503 with
 *   Retry-After: the token may well be valid, so it is not a 401).
 */

/** The answer of one TokenReview, as the authenticator needs it. */
export interface ReviewResult {
  readonly authenticated: boolean;
  readonly user?: {
    readonly username: string;
    readonly groups?: readonly string[];
    readonly uid?: string;
    readonly extra?: Readonly<Record<string, readonly string[]>>;
  };
  /** Audiences the token is valid for, as the API server reports them (intersection with those asked). */
  readonly audiences?: readonly string[];
  readonly error?: string;
}

/**
 * Runs a TokenReview for `token` asking for `audiences`. Throws when the API server cannot answer.
 * `trace`: the span the review is part of (tracing).
 */
export type TokenReviewFn = (
  token: string,
  audiences: readonly string[],
  trace?: Span,
) => Promise<ReviewResult>;

export type AuthFailureReason = 'invalid_token' | 'expired' | 'wrong_audience' | 'unavailable' | 'busy';

export type AuthOutcome =
  | {
      readonly ok: true;
      readonly caller: Caller /** Token expiry, seconds since epoch, when known. */;
      readonly expiresAt?: number;
    }
  | { readonly ok: false; readonly reason: AuthFailureReason; readonly message: string };

export interface Authenticator {
  /** The audience tokens must be bound to (e.g. `kubemcp`). */
  readonly audience: string;
  /**
   * `trace`: the authentication's span; it gets the cache lookup's result (hit, miss or joined) as
   * an attribute and the TokenReview request as a child. Never the token.
   */
  authenticate(token: string, trace?: Span): Promise<AuthOutcome>;
}

export interface TokenReviewAuthenticatorOptions {
  readonly review: TokenReviewFn;
  /** Default `kubemcp`. */
  readonly audience?: string;
  /** Upper bound on how long a positive result is reused. Default 60 s. */
  readonly maxTtlMs?: number;
  /** How long a negative result is reused. Default 5 s. */
  readonly negativeTtlMs?: number;
  /** Maximum cached successes. Default 10,000. */
  readonly maxEntries?: number;
  /** Maximum cached failures (a separate cache). Default 10,000. */
  readonly maxNegativeEntries?: number;
  /** TokenReviews in flight at once. Default 4. */
  readonly maxConcurrentReviews?: number;
  /** TokenReviews waiting for a slot; beyond it the answer is `busy`. Default 32. */
  readonly maxQueuedReviews?: number;
  /** Longest wait for a slot before the answer is `busy`. Default 2 s. */
  readonly maxQueueWaitMs?: number;
  /**
   * Longest wait for a slot of a caller whose token was valid before (its cached success expired);
   * those wait ahead of every other review, first come first served. Default 10 s.
   */
  readonly maxUrgentWaitMs?: number;
  /** Clock in ms; injectable for tests. */
  readonly now?: () => number;
  /** Where the cache hit/miss counter is registered. */
  readonly registry?: Registry;
  readonly logger?: Logger;
}

export const DEFAULT_AUDIENCE = 'kubemcp';
export const DEFAULT_MAX_CONCURRENT_REVIEWS = 4;
export const DEFAULT_MAX_QUEUED_REVIEWS = 32;

/** SHA-256 of the token, base64url: the only form of a token that is ever kept. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}

/** The claims of a JWT we look at, UNVERIFIED. */
interface UnverifiedClaims {
  readonly exp?: number;
  /** undefined: no `aud` claim (or not a string / string array). */
  readonly aud?: readonly string[];
}

const MAX_JWT_PAYLOAD_CHARS = 8192;

/**
 * The `exp` and `aud` claims of a token that parses as a JWT (three base64url segments, a JSON object
 * header and payload), or undefined when it does not. The signature is NOT checked.
 */
function unverifiedClaims(token: string): UnverifiedClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] === undefined || parts[1] === undefined) return undefined;
  if (parts[1].length > MAX_JWT_PAYLOAD_CHARS || parts[0].length > MAX_JWT_PAYLOAD_CHARS) return undefined;
  try {
    const header: unknown = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (typeof header !== 'object' || header === null || Array.isArray(header)) return undefined;
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
    const { exp, aud } = payload as { exp?: unknown; aud?: unknown };
    const audiences =
      typeof aud === 'string'
        ? [aud]
        : Array.isArray(aud) && aud.every((a) => typeof a === 'string')
          ? (aud as string[])
          : undefined;
    return {
      ...(typeof exp === 'number' && Number.isFinite(exp) ? { exp } : {}),
      ...(audiences === undefined ? {} : { aud: audiences }),
    };
  } catch {
    return undefined;
  }
}

/**
 * The `exp` claim (seconds since epoch) of a JWT, or undefined when the token is not a JWT or has
 * none. The signature is NOT checked: use this only for cache lifetimes and `expiresAt`.
 */
export function jwtExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined || parts[1].length > MAX_JWT_PAYLOAD_CHARS)
    return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (typeof payload !== 'object' || payload === null) return undefined;
    const exp = (payload as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp : undefined;
  } catch {
    return undefined;
  }
}

interface CacheEntry {
  readonly outcome: AuthOutcome;
  readonly expiresAtMs: number;
  /** From this time on, a hit also re-validates the token in the background (successes only). */
  readonly refreshAtMs: number;
}

/**
 * A success is re-validated in the background by the first call after this share of its cache life
 * (a random point in [REFRESH_FROM, REFRESH_TO)), so that callers do not wait for the review when it
 * expires, and the results of many tokens reviewed together (a fleet of agents starting at once) do
 * not all expire in the same second. The cache life itself is unchanged: a token is never trusted
 * longer than before.
 */
const REFRESH_FROM = 0.75;
const REFRESH_TO = 0.9;

/** A bounded map of results by token hash; the oldest (least recently used) entry goes first. */
class BoundedCache {
  private readonly entries = new Map<string, CacheEntry>();
  constructor(
    private readonly maxEntries: number,
    /** Keep expired entries (until replaced or evicted) so that has() still knows the token. */
    private readonly keepExpired = false,
  ) {}

  get(key: string, now: number): CacheEntry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (entry.expiresAtMs <= now) {
      if (this.keepExpired) this.entries.set(key, entry);
      return undefined;
    }
    this.entries.set(key, entry); // refresh recency
    return entry;
  }

  /** Whether `key` has an entry, expired or not. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  set(key: string, outcome: AuthOutcome, expiresAtMs: number, refreshAtMs = expiresAtMs): void {
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    this.entries.set(key, { outcome, expiresAtMs, refreshAtMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}

/**
 * A counting semaphore with two FIFO wait queues: an urgent one (tokens that were valid before) and
 * a bounded one for the rest; each wait is bounded.
 */
class ReviewSlots {
  private running = 0;
  private readonly urgent: Waiter[] = [];
  private readonly waiting: Waiter[] = [];
  constructor(
    private readonly max: number,
    private readonly maxQueued: number,
    private readonly maxWaitMs: number,
    private readonly maxUrgentWaitMs: number,
  ) {}

  /**
   * Resolves true with a slot held, or false (at once when the queue is full, else after the wait).
   * An `urgent` waiter (a token that was valid before, its caller waiting) is served before every
   * other, first come first served, waits longer and is never refused for a full queue: a flood of
   * unknown tokens cannot lock out callers whose cached result just expired, and a fleet of agents
   * whose results expire together is re-validated in order, not starved by later arrivals.
   */
  acquire(urgent = false): Promise<boolean> | boolean {
    if (this.running < this.max) {
      this.running++;
      return true;
    }
    if (!urgent && this.waiting.length >= this.maxQueued) return false;
    const queue = urgent ? this.urgent : this.waiting;
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(waiter.timer);
          resolve(true);
        },
        timer: setTimeout(
          () => {
            const i = queue.indexOf(waiter);
            if (i >= 0) queue.splice(i, 1);
            resolve(false);
          },
          urgent ? this.maxUrgentWaitMs : this.maxWaitMs,
        ),
      };
      waiter.timer.unref?.();
      queue.push(waiter);
    });
  }

  release(): void {
    const next = this.urgent.shift() ?? this.waiting.shift();
    if (next !== undefined)
      next.grant(); // the slot passes on: running stays the same
    else this.running--;
  }
}

interface Waiter {
  readonly grant: () => void;
  readonly timer: NodeJS.Timeout;
}

/** Removes every occurrence of `secret` from `text` (defence in depth for error messages). */
function scrub(text: string, secret: string): string {
  return secret.length >= 8 ? text.split(secret).join('[REDACTED]') : text;
}

const BUSY: AuthOutcome = {
  ok: false,
  reason: 'busy',
  message: 'Too many tokens are being validated right now; retry shortly',
};

export function createTokenReviewAuthenticator(options: TokenReviewAuthenticatorOptions): Authenticator {
  const audience = options.audience ?? DEFAULT_AUDIENCE;
  const maxTtlMs = options.maxTtlMs ?? 60_000;
  const negativeTtlMs = options.negativeTtlMs ?? 5_000;
  const now = options.now ?? Date.now;
  const metrics = options.registry === undefined ? undefined : mcpMetrics(options.registry);
  const positive = new BoundedCache(Math.max(1, options.maxEntries ?? 10_000), true);
  const negative = new BoundedCache(Math.max(1, options.maxNegativeEntries ?? 10_000));
  const slots = new ReviewSlots(
    Math.max(1, options.maxConcurrentReviews ?? DEFAULT_MAX_CONCURRENT_REVIEWS),
    Math.max(0, options.maxQueuedReviews ?? DEFAULT_MAX_QUEUED_REVIEWS),
    Math.max(1, options.maxQueueWaitMs ?? 2_000),
    Math.max(1, options.maxUrgentWaitMs ?? 10_000),
  );
  const inflight = new Map<string, Promise<AuthOutcome>>();
  /** Tokens being re-validated in the background (bounded by the positive cache). */
  const refreshing = new Set<string>();

  function remember(key: string, outcome: AuthOutcome, ttlMs: number): void {
    if (ttlMs <= 0) return;
    const t = now();
    if (outcome.ok) {
      // Nothing to refresh when the token itself expires with the cached result.
      const renewable = outcome.expiresAt === undefined || outcome.expiresAt * 1000 > t + ttlMs;
      const share = REFRESH_FROM + Math.random() * (REFRESH_TO - REFRESH_FROM);
      positive.set(
        key,
        outcome,
        t + ttlMs,
        renewable ? t + Math.floor(ttlMs * share) : Number.POSITIVE_INFINITY,
      );
    } else {
      negative.set(key, outcome, t + ttlMs);
    }
  }

  /** A refusal decided from the token's unverified claims alone, or undefined. */
  function hopeless(
    claims: UnverifiedClaims | undefined,
  ): (AuthOutcome & { ok: false; reason: 'expired' | 'wrong_audience' }) | undefined {
    if (claims === undefined) return undefined;
    if (claims.exp !== undefined && claims.exp * 1000 <= now()) {
      return { ok: false, reason: 'expired', message: 'The token has expired' };
    }
    if (claims.aud !== undefined && !claims.aud.includes(audience)) {
      return {
        ok: false,
        reason: 'wrong_audience',
        message: `The token is not bound to the audience "${audience}"`,
      };
    }
    return undefined;
  }

  /** `background`: a re-validation no caller waits for (it queues with the unknown tokens). */
  async function review(token: string, key: string, trace: Span, background = false): Promise<AuthOutcome> {
    const claims = unverifiedClaims(token);
    const refused = hopeless(claims);
    if (refused !== undefined) {
      metrics?.tokenReviewsAvoided.inc({ reason: refused.reason });
      remember(key, refused, negativeTtlMs);
      return refused;
    }
    // A token that passed before (its cached success has expired, its caller waiting) is
    // re-validated ahead of the rest.
    const slot = slots.acquire(!background && positive.has(key));
    if (!(slot === true || (await slot))) {
      metrics?.tokenReviewsAvoided.inc({ reason: 'busy' });
      return BUSY;
    }
    let result: ReviewResult;
    metrics?.tokenReviewsInFlight.inc();
    try {
      result = await options.review(token, [audience], trace);
    } catch (err) {
      metrics?.tokenReviews.inc({ result: 'error' });
      const detail = err instanceof Error ? scrub(err.message, token).slice(0, 300) : 'unknown error';
      options.logger?.warn({ reason: detail }, 'TokenReview failed; answering 503');
      return { ok: false, reason: 'unavailable', message: 'The token could not be validated right now' };
    } finally {
      metrics?.tokenReviewsInFlight.dec();
      slots.release();
    }
    const exp = claims?.exp;
    let outcome: AuthOutcome;
    if (!result.authenticated || result.user === undefined || result.user.username === '') {
      outcome = { ok: false, reason: 'invalid_token', message: 'The token is not valid' };
    } else if (!(result.audiences ?? []).includes(audience)) {
      outcome = {
        ok: false,
        reason: 'wrong_audience',
        message: `The token is not bound to the audience "${audience}"`,
      };
    } else {
      outcome = {
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
    metrics?.tokenReviews.inc({ result: outcome.ok ? 'authenticated' : 'rejected' });
    // A token that passed before and is refused now (its ServiceAccount deleted, say) is forgotten
    // at once, not at the end of its cached success.
    if (!outcome.ok) positive.delete(key);
    const ttl = outcome.ok
      ? Math.min(maxTtlMs, exp === undefined ? maxTtlMs : exp * 1000 - now())
      : negativeTtlMs;
    remember(key, outcome, ttl);
    return outcome;
  }

  return {
    audience,
    async authenticate(token: string, trace: Span = NOOP_SPAN): Promise<AuthOutcome> {
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
          void review(token, key, NOOP_SPAN, true).finally(() => refreshing.delete(key));
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
      const p = review(token, key, trace).finally(() => inflight.delete(key));
      inflight.set(key, p);
      return p;
    },
  };
}

/**
 * The production TokenReviewFn: POST a TokenReview with the operator's own credentials. Errors are
 * re-thrown without the response body (the API server echoes the token in a TokenReview).
 */
const TOKEN_REVIEW_TIMEOUT_MS = 10_000;

export function kubeTokenReview(client: KubeClient): TokenReviewFn {
  return async (token, audiences, trace) => {
    const review = () =>
      client.request<V1TokenReview>('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
        // A caller waits on this: a hung API server must not hold requests forever.
        timeoutMs: TOKEN_REVIEW_TIMEOUT_MS,
        trace,
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token, audiences: [...audiences] },
        },
      });
    let status: V1TokenReview['status'];
    try {
      let res: V1TokenReview | undefined;
      try {
        res = await review();
      } catch (err) {
        // The connection broke (a keep-alive connection a proxy or the network cut, a reset): a
        // TokenReview changes nothing, so it is asked once more, on another connection, rather than
        // answering the caller 503. An answer (an HTTP status) or a timeout is not retried.
        if (err instanceof KubeApiError || err instanceof KubeTimeoutError) throw err;
        res = await review();
      }
      status = res?.status;
    } catch (err) {
      const code = err instanceof KubeApiError ? ` (HTTP ${err.statusCode})` : '';
      throw new Error(`TokenReview request failed${code}`);
    }
    const username = status?.user?.username;
    return {
      authenticated: status?.authenticated === true,
      ...(username === undefined
        ? {}
        : {
            user: {
              username,
              groups: status?.user?.groups ?? [],
              ...(status?.user?.uid === undefined ? {} : { uid: status.user.uid }),
              ...(status?.user?.extra === undefined ? {} : { extra: status.user.extra }),
            },
          }),
      ...(status?.audiences === undefined ? {} : { audiences: status.audiences }),
      ...(status?.error === undefined ? {} : { error: status.error }),
    };
  };
}
