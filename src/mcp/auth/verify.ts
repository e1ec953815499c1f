/**
 * Local verification of a ServiceAccount token: signature against the issuer's keys, then `aud`,
 * `exp`, `nbf`. Pure and synchronous: plain inputs in, a verdict out.
 *
 * Only tokens that claim this cluster's issuer (`iss`) or name one of its keys (`kid`) are judged
 * here; the rest (OIDC users, other clusters' tokens, opaque tokens) are `foreign` and go to the
 * TokenReview. A `valid` verdict still goes to the TokenReview too (only it knows whether the Pod or
 * Secret the token is bound to still exists); it is just served ahead of tokens not known to be
 * genuine.
 */

import { verify as verifySignature } from 'node:crypto';
import type { Claims, ParsedJwt } from './jwt.js';
import { JWS_ALGORITHMS, type JwsAlgorithm, type KeySet, type VerifyKey } from './keys.js';

/** Clock skew tolerated for `nbf` (a token minted by an API server whose clock is slightly ahead). */
export const NBF_SKEW_MS = 30_000;

export type RefusalCause =
  | 'bad_signature'
  | 'unknown_key'
  | 'unsupported_alg'
  | 'malformed'
  | 'wrong_audience'
  | 'expired'
  | 'not_yet_valid'
  | 'no_expiry';

export type LocalVerdict =
  /** Signed by one of the cluster's keys, for our audience, in its validity period. */
  | { readonly kind: 'valid'; readonly username: string }
  | { readonly kind: 'refused'; readonly cause: RefusalCause }
  /** Claims the cluster's issuer but names a key not in the set: worth one refresh of the keys. */
  | { readonly kind: 'unknown_key' }
  /** Not a token of this issuer: the TokenReview decides. */
  | { readonly kind: 'foreign' };

export const FOREIGN: LocalVerdict = { kind: 'foreign' };

const HASH: Readonly<Record<JwsAlgorithm, string>> = {
  RS256: 'sha256',
  ES256: 'sha256',
  ES384: 'sha384',
  ES512: 'sha512',
};

const refused = (cause: RefusalCause): LocalVerdict => ({ kind: 'refused', cause });

function checkSignature(jwt: ParsedJwt, alg: JwsAlgorithm, candidates: readonly VerifyKey[]): boolean {
  if (jwt.signature === undefined) return false;
  const data = Buffer.from(jwt.signingInput, 'utf8');
  for (const { alg: keyAlg, key } of candidates) {
    if (keyAlg !== alg) continue;
    try {
      const ok = verifySignature(
        HASH[alg],
        data,
        alg === 'RS256' ? key : { key, dsaEncoding: 'ieee-p1363' },
        jwt.signature,
      );
      if (ok) return true;
    } catch {
      // A signature of the wrong length or form: not valid.
    }
  }
  return false;
}

/** The verdict on `jwt` (with its decoded `claims`) against `keys`, for `audience`, at `nowMs`. */
export function verifyLocally(
  jwt: ParsedJwt,
  claims: Claims | undefined,
  keys: KeySet,
  audience: string,
  nowMs: number,
): LocalVerdict {
  const kid = typeof jwt.header.kid === 'string' ? jwt.header.kid : undefined;
  const known = kid === undefined ? undefined : keys.byKid.get(kid);
  if (known === undefined && claims?.iss !== keys.issuer) return FOREIGN;
  if (claims === undefined) return refused('malformed');
  const alg = jwt.header.alg;
  if (typeof alg !== 'string' || !(JWS_ALGORITHMS as readonly string[]).includes(alg)) {
    return refused('unsupported_alg'); // none, HS256 (a shared secret nobody has), …
  }
  // Claims first: they cost nothing, and a token they refuse is refused whoever signed it.
  if (claims.aud === undefined || !claims.aud.includes(audience)) return refused('wrong_audience');
  if (claims.exp === undefined) return refused('no_expiry');
  if (claims.exp * 1000 <= nowMs) return refused('expired');
  if (claims.nbf !== undefined && claims.nbf * 1000 > nowMs + NBF_SKEW_MS) return refused('not_yet_valid');
  if (claims.sub === undefined || claims.sub === '') return refused('malformed');
  if (jwt.signature === undefined) return refused('malformed');
  let candidates: readonly VerifyKey[];
  if (known !== undefined) candidates = [known];
  else if (kid === undefined) candidates = keys.anonymous;
  else return { kind: 'unknown_key' };
  if (candidates.length === 0) return { kind: 'unknown_key' };
  if (!checkSignature(jwt, alg as JwsAlgorithm, candidates)) return refused('bad_signature');
  // Signed by the cluster. A different `iss` (an issuer the API server accepted before a migration)
  // is the TokenReview's to judge; the token is genuine either way.
  return { kind: 'valid', username: claims.sub };
}
