/** Bearer-token authentication of MCP callers (see authenticator.ts). */

export {
  createTokenReviewAuthenticator,
  DEFAULT_MAX_CONCURRENT_REVIEWS,
  DEFAULT_MAX_QUEUED_REVIEWS,
  type TokenReviewAuthenticatorOptions,
} from './authenticator.js';
export { jwtExpiry, MAX_TOKEN_CHARS, tokenHash } from './jwt.js';
export {
  type DiscoveryDocuments,
  type DiscoveryFn,
  type KeySet,
  keySetOf,
  ServiceAccountKeys,
  type ServiceAccountKeysOptions,
} from './keys.js';
export { JWKS_PATH, kubeIssuerDiscovery, kubeTokenReview, OPENID_CONFIGURATION_PATH } from './kube.js';
export { type AuthMetrics, authMetrics } from './metrics.js';
export {
  type Authenticator,
  type AuthFailureReason,
  type AuthOutcome,
  DEFAULT_AUDIENCE,
  type ReviewResult,
  type TokenReviewFn,
} from './types.js';
