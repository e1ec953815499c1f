/** The answers of the authenticator, as values: refusals, and the outcome of a TokenReview. */

import type { AuthOutcome, ReviewResult } from './types.js';
import type { RefusalCause } from './verify.js';

export const BUSY: AuthOutcome = {
  ok: false,
  reason: 'busy',
  message: 'Too many tokens are being validated right now; retry shortly',
};
export const INVALID: AuthOutcome = { ok: false, reason: 'invalid_token', message: 'The token is not valid' };
export const EXPIRED: AuthOutcome = { ok: false, reason: 'expired', message: 'The token has expired' };
export const UNAVAILABLE: AuthOutcome = {
  ok: false,
  reason: 'unavailable',
  message: 'The token could not be validated right now',
};

export function wrongAudience(audience: string): AuthOutcome {
  return {
    ok: false,
    reason: 'wrong_audience',
    message: `The token is not bound to the audience "${audience}"`,
  };
}

/** The answer to a local refusal. */
export function refusalOutcome(cause: RefusalCause, audience: string): AuthOutcome {
  if (cause === 'expired') return EXPIRED;
  if (cause === 'wrong_audience') return wrongAudience(audience);
  return INVALID;
}

/** The outcome of a TokenReview answer. */
export function reviewOutcome(result: ReviewResult, audience: string, exp: number | undefined): AuthOutcome {
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
