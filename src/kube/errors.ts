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

/** A BackendError for any failure of a Kubernetes call; `what` names the call for the message. */
export function toBackendError(err: unknown, what: string): BackendError {
  if (err instanceof BackendError) return err;
  const status = httpStatus(err);
  const code = codeForStatus(status);
  let detail = apiMessage(err);
  if (detail === undefined) {
    if (status !== undefined) detail = `HTTP ${status}`;
    else if (err instanceof Error) detail = (err.message.split('\n')[0] ?? '').slice(0, 300) || err.name;
    else detail = String(err);
  }
  if (err instanceof KubeTimeoutError) {
    return new BackendError(
      'Unavailable',
      `${what}: no answer from the API server within ${err.timeoutMs} ms`,
      {
        cause: err,
      },
    );
  }
  const prefix = code === 'Unavailable' && status === undefined ? 'the API server is unreachable: ' : '';
  return new BackendError(code, `${what}: ${prefix}${detail}`, { cause: err });
}
