/** Maps Kubernetes client failures to BackendError codes (a contract with the MCP layer). */

import { KubeApiError, KubeTimeoutError } from './client.js';
import { BackendError, type BackendErrorCode } from './types.js';

/** The HTTP status of a failed Kubernetes call, if the API server answered. */
export function httpStatus(err: unknown): number | undefined {
  if (err instanceof KubeApiError) return err.statusCode;
  return undefined;
}

/** The API server's own message (a metav1.Status body), when there is one. */
export function apiMessage(err: unknown): string | undefined {
  return err instanceof KubeApiError ? err.apiMessage : undefined;
}

export function codeForStatus(status: number | undefined): BackendErrorCode {
  if (status === undefined) return 'Unavailable';
  if (status === 404) return 'NotFound';
  if (status === 409) return 'Conflict';
  if (status === 400 || status === 422) return 'Invalid';
  if (status === 401 || status === 403) return 'Forbidden';
  return 'Unavailable';
}

/** What went wrong with a Kubernetes call, in one line (no request data), e.g. "the API server is unreachable: connect ECONNREFUSED …". */
export function failureText(err: unknown): string {
  if (err instanceof KubeTimeoutError) return `no answer from the API server within ${err.timeoutMs} ms`;
  const status = httpStatus(err);
  let detail = apiMessage(err);
  if (detail === undefined) {
    if (status !== undefined) detail = `HTTP ${status}`;
    else if (err instanceof Error) detail = (err.message.split('\n')[0] ?? '').slice(0, 300) || err.name;
    else detail = String(err);
  }
  return status === undefined ? `the API server is unreachable: ${detail}` : detail;
}

/** A BackendError for any failure of a Kubernetes call; `what` names the call for the message. */
export function toBackendError(err: unknown, what: string): BackendError {
  if (err instanceof BackendError) return err;
  const code = err instanceof KubeTimeoutError ? 'Unavailable' : codeForStatus(httpStatus(err));
  return new BackendError(code, `${what}: ${failureText(err)}`, { cause: err });
}

/**
 * Transport failures that happen before a request can reach the API server: nothing was sent, so a
 * write failed this way was certainly not applied.
 */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);

/** TLS verification failures (before any request byte is sent). */
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|DEPTH_ZERO_|SELF_SIGNED_|UNABLE_TO_|CERT_)/;

/**
 * Whether a write that failed with `err` may still have been applied: true when the request may have
 * reached the API server and no answer says it was refused — the connection broke before the answer
 * (reset, closed mid-answer) or the API server answered 500/502/504 (e.g. etcd timed out after the
 * write was proposed). False for refusals (4xx, 503, 429) and for failures before anything was sent
 * (connection refused, name resolution, TLS verification).
 */
export function writeMayHaveApplied(err: unknown): boolean {
  if (err instanceof KubeTimeoutError) return true;
  if (err instanceof KubeApiError)
    return err.statusCode === 500 || err.statusCode === 502 || err.statusCode === 504;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (NOT_SENT_CODES.has(code) || TLS_CODE.test(code))) return false;
  return true;
}
