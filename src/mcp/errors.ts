import type { CallToolResult } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { BackendError } from '../kube/types.js';

/**
 * The stable codes of a refused or failed tool call (docs/contract.md, "The MCP endpoint"). A tool result with
 * `isError: true` always carries `structuredContent.error` with one of these codes.
 */
export const TOOL_ERROR_CODES = [
  'PolicyDenied',
  'OutOfBounds',
  'NotFound',
  'Conflict',
  'Unavailable',
  'Invalid',
  // Agent safety (v0.2): a rate limit or cool-down (with retryAfterSeconds), and a call a human must
  // confirm when the client cannot ask one (fail closed).
  'RateLimited',
  'ConfirmationRequired',
] as const;
export type ToolErrorCode = (typeof TOOL_ERROR_CODES)[number];

export const ToolErrorBodySchema = z
  .object({
    code: z.enum(TOOL_ERROR_CODES).describe('Stable error code'),
    message: z.string().describe('What went wrong, in one sentence'),
    reason: z.string().describe('Why'),
    suggestions: z.array(z.string()).describe('What to try next'),
    retryAfterSeconds: z
      .number()
      .int()
      .optional()
      .describe('RateLimited only: seconds to wait before the call can pass'),
  })
  .describe('Present only when the call was refused or failed (isError: true)');
export type ToolErrorBody = z.infer<typeof ToolErrorBodySchema>;

/** The structuredContent of an error result: `{ error: {...} }` and nothing else. */
export const ToolErrorResultSchema = z.object({ error: ToolErrorBodySchema });

/** A refusal or failure a tool reports to the caller as an `isError` result (never a JSON-RPC error). */
export class ToolError extends Error {
  readonly code: ToolErrorCode;
  readonly reason: string;
  readonly suggestions: readonly string[];
  readonly retryAfterSeconds?: number;

  constructor(
    code: ToolErrorCode,
    message: string,
    details: {
      reason?: string;
      suggestions?: readonly string[];
      cause?: unknown;
      retryAfterSeconds?: number;
    } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ToolError';
    this.code = code;
    this.reason = details.reason ?? message;
    this.suggestions = details.suggestions ?? [];
    if (details.retryAfterSeconds !== undefined) this.retryAfterSeconds = details.retryAfterSeconds;
  }

  toBody(): ToolErrorBody {
    return {
      code: this.code,
      message: this.message,
      reason: this.reason,
      suggestions: [...this.suggestions],
      ...(this.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: this.retryAfterSeconds }),
    };
  }
}

/**
 * Maps a BackendError (the cluster layer's stable codes) to a ToolError. `Forbidden` means the
 * operator's own ServiceAccount lacks RBAC, which the caller cannot fix: it is reported as Unavailable.
 */
export function fromBackendError(err: BackendError, what: string): ToolError {
  switch (err.code) {
    case 'NotFound':
      return new ToolError('NotFound', `${what} was not found`, {
        reason: err.message,
        suggestions: ['Check the name and namespace; list the objects first to see what exists'],
        cause: err,
      });
    case 'Conflict':
      return new ToolError('Conflict', `${what} was changed by someone else while we were updating it`, {
        reason: err.message,
        suggestions: ['Retry the call; it re-reads the current state first'],
        cause: err,
      });
    case 'Invalid':
      return new ToolError('Invalid', `The API server rejected the request for ${what}`, {
        reason: err.message,
        suggestions: ['Check the arguments'],
        cause: err,
      });
    case 'Forbidden':
      return new ToolError('Unavailable', `The operator is not permitted to do this for ${what}`, {
        reason: "The KubeMCP operator's own ServiceAccount lacks the RBAC permission this call needs",
        suggestions: ['Ask a cluster admin to check the KubeMCP installation (config/rbac)'],
        cause: err,
      });
    case 'Unavailable':
      if (err.outcomeUnknown) {
        return new ToolError(
          'Unavailable',
          `The Kubernetes API server did not answer in time for ${what}; the change may or may not have been applied`,
          {
            reason: err.message,
            suggestions: [
              'Read the current replicas again (list_deployments or list_statefulsets) before retrying',
            ],
            cause: err,
          },
        );
      }
      return new ToolError('Unavailable', `The Kubernetes API server is unavailable; nothing was changed`, {
        reason: err.message,
        suggestions: ['Retry in a little while'],
        cause: err,
      });
  }
}

/** Converts anything thrown by a tool handler to a ToolError. Unknown errors never leak their text. */
export function toToolError(err: unknown, what: string): ToolError {
  if (err instanceof ToolError) return err;
  if (err instanceof BackendError) return fromBackendError(err, what);
  return new ToolError('Unavailable', 'The call failed because of an internal error; nothing was changed', {
    reason: 'Unexpected server error (details are in the server log)',
    suggestions: ['Retry the call; if it keeps failing, report it to the cluster admin'],
    cause: err,
  });
}

/** The `isError` tool result for a ToolError: structuredContent.error plus a short readable text. */
export function toolErrorResult(err: ToolError): CallToolResult {
  const body = err.toBody();
  const lines = [`${body.code}: ${body.message}`];
  if (body.reason !== body.message) lines.push(`Reason: ${body.reason}`);
  for (const s of body.suggestions) lines.push(`- ${s}`);
  return {
    isError: true,
    content: [{ type: 'text', text: lines.join('\n') }],
    structuredContent: { error: body },
  };
}
