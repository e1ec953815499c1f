import type { Caller } from '../../policy/types.js';
import type { Span } from '../../telemetry/index.js';

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

export const DEFAULT_AUDIENCE = 'kubemcp';
