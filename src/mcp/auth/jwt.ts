/**
 * The shape of a bearer token: its SHA-256 (the only form ever kept), and its JWT segments parsed
 * WITHOUT trusting them. Nothing here checks a signature (see verify.ts).
 */

import { createHash } from 'node:crypto';

/**
 * Longest bearer token looked at. Node's default header limit (16 KiB for all headers) keeps real
 * requests below it; a longer token is refused without a TokenReview.
 */
export const MAX_TOKEN_CHARS = 16 * 1024;
/** Longest JWT header or payload segment decoded. */
const MAX_SEGMENT_CHARS = 8192;
const BASE64URL_RE = /^[A-Za-z0-9_-]*$/;

/** SHA-256 of the token, base64url: the only form of a token that is ever kept. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}

/** A token split into its three JWT segments, header and payload decoded, NOTHING verified. */
export interface ParsedJwt {
  readonly header: Readonly<Record<string, unknown>>;
  /** undefined when the payload segment is not a base64url JSON object. */
  readonly payload: Readonly<Record<string, unknown>> | undefined;
  /** `<header>.<payload>`, the bytes the signature covers. */
  readonly signingInput: string;
  /** The signature segment, base64url (undefined when it is not valid base64url). */
  readonly signature: Buffer | undefined;
}

function decodeObject(segment: string): Record<string, unknown> | undefined {
  if (segment.length === 0 || segment.length > MAX_SEGMENT_CHARS || !BASE64URL_RE.test(segment)) {
    return undefined;
  }
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The token's JWT segments, or undefined when it is not a JWT at all (not three segments, or a
 * header that is not a base64url JSON object): such tokens may belong to other authenticators.
 */
export function parseJwt(token: string): ParsedJwt | undefined {
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  if (second < 0 || token.indexOf('.', second + 1) >= 0) return undefined;
  const header = decodeObject(token.slice(0, first));
  if (header === undefined) return undefined;
  const sig = token.slice(second + 1);
  return {
    header,
    payload: decodeObject(token.slice(first + 1, second)),
    signingInput: token.slice(0, second),
    signature: sig.length > 0 && BASE64URL_RE.test(sig) ? Buffer.from(sig, 'base64url') : undefined,
  };
}

/** The claims of a JWT payload this package reads, typed; each undefined when absent or ill-typed. */
export interface Claims {
  readonly iss?: string;
  readonly sub?: string;
  /** undefined: no `aud` claim (or not a string / string array). */
  readonly aud?: readonly string[];
  readonly exp?: number;
  readonly nbf?: number;
  /** Whether the payload carries the `kubernetes.io` claim of a ServiceAccount token. */
  readonly kubernetes: boolean;
}

export function claimsOf(payload: Readonly<Record<string, unknown>> | undefined): Claims | undefined {
  if (payload === undefined) return undefined;
  const { iss, sub, aud, exp, nbf } = payload;
  const audiences =
    typeof aud === 'string'
      ? [aud]
      : Array.isArray(aud) && aud.every((a) => typeof a === 'string')
        ? (aud as string[])
        : undefined;
  const k8s = payload['kubernetes.io'];
  return {
    ...(typeof iss === 'string' ? { iss } : {}),
    ...(typeof sub === 'string' ? { sub } : {}),
    ...(audiences === undefined ? {} : { aud: audiences }),
    ...(typeof exp === 'number' && Number.isFinite(exp) ? { exp } : {}),
    ...(typeof nbf === 'number' && Number.isFinite(nbf) ? { nbf } : {}),
    kubernetes: typeof k8s === 'object' && k8s !== null,
  };
}

/**
 * The `exp` claim (seconds since epoch) of a JWT, or undefined when the token is not a JWT or has
 * none. The signature is NOT checked: use this only for cache lifetimes and `expiresAt`.
 */
export function jwtExpiry(token: string): number | undefined {
  return claimsOf(parseJwt(token)?.payload)?.exp;
}
