/** Maps client-node failures to BackendError codes (a contract with the MCP layer). */

import { ApiException } from '@kubernetes/client-node';
import { BackendError, type BackendErrorCode } from './types.js';

/** The HTTP status of a client-node failure, if it has one. */
export function httpStatus(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  if (typeof err === 'object' && err !== null) {
    const e = err as { statusCode?: unknown; code?: unknown };
    if (typeof e.statusCode === 'number') return e.statusCode;
    if (typeof e.code === 'number') return e.code;
  }
  return undefined;
}

/** The API server's own message (a metav1.Status body), when there is one. */
export function apiMessage(err: unknown): string | undefined {
  if (!(err instanceof ApiException)) return undefined;
  const body: unknown = err.body;
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.trim() === '' ? undefined : body.slice(0, 500);
    }
  }
  if (typeof parsed === 'object' && parsed !== null) {
    const message = (parsed as { message?: unknown }).message;
    if (typeof message === 'string' && message !== '') return message;
  }
  return undefined;
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
  const prefix = code === 'Unavailable' && status === undefined ? 'the API server is unreachable: ' : '';
  return new BackendError(code, `${what}: ${prefix}${detail}`, { cause: err });
}
