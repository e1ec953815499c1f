import { createHash } from 'node:crypto';
import type { V1TokenReview } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { KubeApiError, type KubeClient } from '../kube/client.js';
import type { Caller } from '../policy/types.js';
import { mcpMetrics } from './metrics.js';

/**
 * Bearer-token authentication through Kubernetes TokenReview, with a small cache.
 *
 * - The cache key is the SHA-256 of the token; the token itself is never stored, logged or returned.
 * - A positive result lives at most min(maxTtlMs, the token's remaining life). The JWT `exp` claim is
 *   read WITHOUT verifying the signature, and only to bound the cache lifetime and fill `expiresAt`:
 *   the decision to accept a token is always the API server's.
 * - Negative results are cached briefly (so a client retrying a bad token does not hammer the API
 *   server); API-server failures are not cached at all.
 * - The cache holds at most maxEntries results (least recently used evicted first).
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

/** Runs a TokenReview for `token` asking for `audiences`. Throws when the API server cannot answer. */
export type TokenReviewFn = (token: string, audiences: readonly string[]) => Promise<ReviewResult>;

export type AuthFailureReason = 'invalid_token' | 'expired' | 'wrong_audience' | 'unavailable';

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
  authenticate(token: string): Promise<AuthOutcome>;
}

export interface TokenReviewAuthenticatorOptions {
  readonly review: TokenReviewFn;
  /** Default `kubemcp`. */
  readonly audience?: string;
  /** Upper bound on how long a positive result is reused. Default 60 s. */
  readonly maxTtlMs?: number;
  /** How long a negative result is reused. Default 5 s. */
  readonly negativeTtlMs?: number;
  /** Maximum cached results. Default 10,000. */
  readonly maxEntries?: number;
  /** Clock in ms; injectable for tests. */
  readonly now?: () => number;
  /** Where the cache hit/miss counter is registered. */
  readonly registry?: Registry;
  readonly logger?: Logger;
}

export const DEFAULT_AUDIENCE = 'kubemcp';

/** SHA-256 of the token, base64url: the only form of a token that is ever kept. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}

/**
 * The `exp` claim (seconds since epoch) of a JWT, or undefined when the token is not a JWT or has
 * none. The signature is NOT checked: use this only for cache lifetimes and `expiresAt`.
 */
export function jwtExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined || parts[1].length > 8192) return undefined;
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
}

/** Removes every occurrence of `secret` from `text` (defence in depth for error messages). */
function scrub(text: string, secret: string): string {
  return secret.length >= 8 ? text.split(secret).join('[REDACTED]') : text;
}

export function createTokenReviewAuthenticator(options: TokenReviewAuthenticatorOptions): Authenticator {
  const audience = options.audience ?? DEFAULT_AUDIENCE;
  const maxTtlMs = options.maxTtlMs ?? 60_000;
  const negativeTtlMs = options.negativeTtlMs ?? 5_000;
  const maxEntries = Math.max(1, options.maxEntries ?? 10_000);
  const now = options.now ?? Date.now;
  const metrics = options.registry === undefined ? undefined : mcpMetrics(options.registry);
  const cache = new Map<string, CacheEntry>();
  const inflight = new Map<string, Promise<AuthOutcome>>();

  function remember(key: string, outcome: AuthOutcome, ttlMs: number): void {
    if (ttlMs <= 0) return;
    cache.delete(key);
    while (cache.size >= maxEntries) {
      const oldest = cache.keys().next();
      if (oldest.done) break;
      cache.delete(oldest.value);
    }
    cache.set(key, { outcome, expiresAtMs: now() + ttlMs });
  }

  async function review(token: string, key: string): Promise<AuthOutcome> {
    const exp = jwtExpiry(token);
    const t = now();
    if (exp !== undefined && exp * 1000 <= t) {
      const outcome: AuthOutcome = { ok: false, reason: 'expired', message: 'The token has expired' };
      remember(key, outcome, negativeTtlMs);
      return outcome;
    }
    let result: ReviewResult;
    try {
      result = await options.review(token, [audience]);
    } catch (err) {
      const detail = err instanceof Error ? scrub(err.message, token).slice(0, 300) : 'unknown error';
      options.logger?.warn({ reason: detail }, 'TokenReview failed; answering 503');
      return { ok: false, reason: 'unavailable', message: 'The token could not be validated right now' };
    }
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
    const ttl = outcome.ok
      ? Math.min(maxTtlMs, exp === undefined ? maxTtlMs : exp * 1000 - now())
      : negativeTtlMs;
    remember(key, outcome, ttl);
    return outcome;
  }

  return {
    audience,
    async authenticate(token: string): Promise<AuthOutcome> {
      const key = tokenHash(token);
      const entry = cache.get(key);
      if (entry !== undefined && entry.expiresAtMs > now()) {
        // Refresh recency (LRU).
        cache.delete(key);
        cache.set(key, entry);
        metrics?.tokenCache.inc({ result: 'hit' });
        return entry.outcome;
      }
      if (entry !== undefined) cache.delete(key);
      metrics?.tokenCache.inc({ result: 'miss' });
      const pending = inflight.get(key);
      if (pending !== undefined) return pending;
      const p = review(token, key).finally(() => inflight.delete(key));
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
  return async (token, audiences) => {
    let status: V1TokenReview['status'];
    try {
      const res = await client.request<V1TokenReview>('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
        // A caller waits on this: a hung API server must not hold requests forever.
        timeoutMs: TOKEN_REVIEW_TIMEOUT_MS,
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token, audiences: [...audiences] },
        },
      });
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
