/**
 * The cluster's ServiceAccount issuer and its public keys, read from the API server's OIDC discovery
 * (`/.well-known/openid-configuration`, `/openid/v1/jwks`), so that ServiceAccount token signatures
 * can be checked here instead of by a TokenReview each.
 *
 * - Loaded once at start; refreshed when a token names a key id (`kid`) not in the set, but never
 *   more often than once per `refreshFloorMs`: tokens with made-up key ids cannot make it fetch per
 *   request. At most `maxWaiters` requests wait for a refresh at a time.
 * - When discovery is unavailable (RBAC, no issuer configured, an unusable answer) there are no keys
 *   and every token goes to the TokenReview as before; this is logged once per change and exported
 *   as `kubemcp_token_local_verification_available` 0. A failed refresh keeps the keys it had.
 */

import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { authMetrics } from './metrics.js';

export const JWS_ALGORITHMS = ['RS256', 'ES256', 'ES384', 'ES512'] as const;
export type JwsAlgorithm = (typeof JWS_ALGORITHMS)[number];

export interface VerifyKey {
  readonly alg: JwsAlgorithm;
  readonly key: KeyObject;
}

/** One usable answer of the discovery endpoints. */
export interface KeySet {
  readonly issuer: string;
  /** Keys by `kid`. */
  readonly byKid: ReadonlyMap<string, VerifyKey>;
  /** Keys published without a `kid` (tried for tokens without one). */
  readonly anonymous: readonly VerifyKey[];
}

/** The two documents as the API server sent them (parsed JSON, not yet checked). */
export interface DiscoveryDocuments {
  readonly configuration: unknown;
  readonly jwks: unknown;
}

/** Fetches the discovery documents; throws with a short reason (never a token) when it cannot. */
export type DiscoveryFn = () => Promise<DiscoveryDocuments>;

const MAX_KEYS = 64;
const MAX_ISSUER_CHARS = 1024;

function algOf(jwk: Record<string, unknown>): JwsAlgorithm | undefined {
  if (typeof jwk.alg === 'string') {
    return (JWS_ALGORITHMS as readonly string[]).includes(jwk.alg) ? (jwk.alg as JwsAlgorithm) : undefined;
  }
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'EC') {
    return jwk.crv === 'P-256'
      ? 'ES256'
      : jwk.crv === 'P-384'
        ? 'ES384'
        : jwk.crv === 'P-521'
          ? 'ES512'
          : undefined;
  }
  return undefined;
}

/** The discovery answer as a KeySet; throws Error with what is wrong with it. */
export function keySetOf(docs: DiscoveryDocuments): KeySet {
  const conf = docs.configuration as { issuer?: unknown } | null | undefined;
  const issuer = typeof conf === 'object' && conf !== null ? conf.issuer : undefined;
  if (typeof issuer !== 'string' || issuer === '' || issuer.length > MAX_ISSUER_CHARS) {
    throw new Error('the OpenID configuration names no issuer');
  }
  const list = (docs.jwks as { keys?: unknown } | null | undefined)?.keys;
  if (!Array.isArray(list)) throw new Error('the JWKS document has no "keys" array');
  const byKid = new Map<string, VerifyKey>();
  const anonymous: VerifyKey[] = [];
  for (const jwk of list.slice(0, MAX_KEYS)) {
    if (typeof jwk !== 'object' || jwk === null) continue;
    const fields = jwk as Record<string, unknown>;
    if (fields.use !== undefined && fields.use !== 'sig') continue;
    const alg = algOf(fields);
    if (alg === undefined || (alg === 'RS256') !== (fields.kty === 'RSA')) continue;
    let key: KeyObject;
    try {
      key = createPublicKey({ key: fields as JsonWebKey, format: 'jwk' });
    } catch {
      continue;
    }
    if (key.type !== 'public') continue;
    if (typeof fields.kid === 'string' && fields.kid !== '') byKid.set(fields.kid, { alg, key });
    else anonymous.push({ alg, key });
  }
  if (byKid.size === 0 && anonymous.length === 0) {
    throw new Error('the JWKS document holds no usable RS256/ES256/ES384/ES512 signing key');
  }
  return { issuer, byKid, anonymous };
}

export interface ServiceAccountKeysOptions {
  readonly discover: DiscoveryFn;
  /** Least time between two fetches (a refresh asked sooner is not made). */
  readonly refreshFloorMs: number;
  /** Requests that may wait for a fetch at once; more go on without it. */
  readonly maxWaiters?: number;
  readonly now?: () => number;
  readonly logger?: Logger;
  readonly registry?: Registry;
}

export class ServiceAccountKeys {
  private set: KeySet | undefined;
  private loading: Promise<void> | undefined;
  private lastAttemptMs = Number.NEGATIVE_INFINITY;
  private waiters = 0;
  /** The last reason logged (undefined: keys in use), so each change is logged once. */
  private logged: string | undefined = 'not loaded';
  private readonly now: () => number;
  private readonly maxWaiters: number;

  constructor(private readonly options: ServiceAccountKeysOptions) {
    this.now = options.now ?? Date.now;
    this.maxWaiters = options.maxWaiters ?? 64;
    if (options.registry !== undefined) authMetrics(options.registry).localVerificationAvailable.set(0);
  }

  /** The keys in use, or undefined when none could be loaded (every token then goes to TokenReview). */
  current(): KeySet | undefined {
    return this.set;
  }

  /** Loads (or reloads) the keys now; resolves when done, whether it worked or not. */
  load(): Promise<void> {
    if (this.loading !== undefined) return this.loading;
    this.lastAttemptMs = this.now();
    this.loading = this.fetch().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  /**
   * A promise to wait on for fresher keys, or undefined when there is none to wait for: the floor
   * since the last fetch has not passed (and none is in flight), or too many requests wait already.
   */
  refresh(): Promise<void> | undefined {
    if (this.loading === undefined && this.now() - this.lastAttemptMs < this.options.refreshFloorMs) {
      return undefined;
    }
    if (this.waiters >= this.maxWaiters) return undefined;
    this.waiters++;
    return this.load().finally(() => {
      this.waiters--;
    });
  }

  private async fetch(): Promise<void> {
    let problem: string;
    try {
      this.set = keySetOf(await this.options.discover());
      this.report(undefined);
      return;
    } catch (err) {
      problem = err instanceof Error ? err.message.slice(0, 300) : 'unknown error';
    }
    // A failed refresh keeps the keys it had: they were the cluster's a moment ago.
    if (this.set === undefined) this.report(problem);
    else
      this.options.logger?.warn(
        { problem },
        'could not refresh the ServiceAccount issuer keys; keeping the last ones',
      );
  }

  private report(problem: string | undefined): void {
    if (this.options.registry !== undefined) {
      authMetrics(this.options.registry).localVerificationAvailable.set(problem === undefined ? 1 : 0);
    }
    if (problem === this.logged) return;
    this.logged = problem;
    if (problem === undefined) {
      this.options.logger?.info(
        { issuer: this.set?.issuer, keys: (this.set?.byKid.size ?? 0) + (this.set?.anonymous.length ?? 0) },
        'ServiceAccount token signatures are verified locally; forged tokens are refused without a TokenReview',
      );
    } else {
      this.options.logger?.warn(
        { problem },
        'ServiceAccount token signatures cannot be verified locally (issuer discovery unavailable); every token goes to a TokenReview. Remedy: let the operator read /.well-known/openid-configuration and /openid/v1/jwks (ClusterRole system:service-account-issuer-discovery)',
      );
    }
  }
}
