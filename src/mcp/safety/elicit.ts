/**
 * Asking a human to confirm a scale through the MCP client (McpPolicy `confirm`).
 *
 * - Protocol revision 2026-07-28: the multi-round-trip flow. The tools/call answers `input_required`
 *   with a form-mode elicitation and a `requestState`; the client asks the person and retries the
 *   same call with the answer in `inputResponses`. The state is HMAC-signed (the SDK's
 *   createRequestStateCodec), expires after CONFIRMATION_TTL_SECONDS, and names the caller, the
 *   object and from → to: an answer counts only for exactly that call (a retry whose object has
 *   changed in between, or another caller, is asked again). The signing key must be the same on
 *   every replica that may receive the retry (see docs/security.md).
 * - Earlier revisions: served statelessly, one HTTP request per JSON-RPC message, so the server
 *   cannot send the client an `elicitation/create` request and receive its answer within the call.
 *   Such clients are refused with ConfirmationRequired (fail closed).
 */

import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  type InputRequiredResult,
  inputRequired,
  inputResponse,
  PROTOCOL_VERSION_META_KEY,
  type RequestStateCodec,
  type ServerContext,
} from '@modelcontextprotocol/server';
import type { ConfirmationRequest, Confirmer } from './confirm.js';
import { confirmationQuestion } from './confirm.js';

export const CONFIRMATION_TTL_SECONDS = 120;
const KEY = 'confirm';

/** What the signed requestState of a confirmation names. */
export interface ConfirmationState {
  readonly caller: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly from: number;
  readonly to: number;
}

/** Thrown by the confirmer to make the tools/call answer `input_required`. */
export class InputNeeded extends Error {
  constructor(readonly result: InputRequiredResult) {
    super('input required');
    this.name = 'InputNeeded';
  }
}

function stateOf(r: ConfirmationRequest): ConfirmationState {
  return { caller: r.caller, kind: r.kind, namespace: r.namespace, name: r.name, from: r.from, to: r.to };
}

function sameCall(a: unknown, b: ConfirmationState): boolean {
  if (typeof a !== 'object' || a === null) return false;
  const s = a as Record<string, unknown>;
  return (
    s.caller === b.caller &&
    s.kind === b.kind &&
    s.namespace === b.namespace &&
    s.name === b.name &&
    s.from === b.from &&
    s.to === b.to
  );
}

/** The request's `_meta` envelope (2026-07-28), typed loosely: the SDK types it as `{}`. */
function envelopeOf(ctx: ServerContext): Record<string, unknown> | undefined {
  return ctx.mcpReq.envelope as Record<string, unknown> | undefined;
}

function clientName(ctx: ServerContext): string {
  const info = envelopeOf(ctx)?.[CLIENT_INFO_META_KEY] as { name?: unknown; version?: unknown } | undefined;
  const name = typeof info?.name === 'string' ? info.name.slice(0, 100) : 'an unnamed client';
  const version = typeof info?.version === 'string' ? ` ${info.version.slice(0, 40)}` : '';
  return `${name}${version}`;
}

/** The confirmer of one tools/call request. */
export function confirmerFor(ctx: ServerContext, codec: RequestStateCodec<ConfirmationState>): Confirmer {
  return async (request) => {
    const envelope = envelopeOf(ctx);
    if (envelope?.[PROTOCOL_VERSION_META_KEY] === undefined) {
      return {
        outcome: 'unavailable',
        why: 'this protocol revision is served one request at a time, so KubeMCP cannot ask your client for a confirmation within the call (use the 2026-07-28 revision)',
      };
    }
    const caps = envelope[CLIENT_CAPABILITIES_META_KEY] as { elicitation?: unknown } | undefined;
    if (caps?.elicitation === undefined) {
      return { outcome: 'unavailable', why: 'your client did not declare the elicitation capability' };
    }
    const expected = stateOf(request);
    // The state was verified (signature, expiry) by the server's requestState hook before the handler ran.
    if (sameCall(ctx.mcpReq.requestState<ConfirmationState>(), expected)) {
      const answer = inputResponse(ctx.mcpReq.inputResponses, KEY);
      const via = `elicitation through ${clientName(ctx)}`;
      if (answer.kind === 'elicit') {
        if (answer.action === 'accept' && answer.content?.confirm === true)
          return { outcome: 'accepted', via };
        return { outcome: 'declined', via };
      }
    }
    throw new InputNeeded(
      inputRequired({
        inputRequests: {
          [KEY]: inputRequired.elicit({
            mode: 'form',
            message: confirmationQuestion(request),
            requestedSchema: {
              type: 'object',
              properties: {
                confirm: {
                  type: 'boolean',
                  title: 'Confirm this scale',
                  description: `Scale ${request.namespace}/${request.name} from ${request.from} to ${request.to} replicas`,
                },
              },
              required: ['confirm'],
            },
          }),
        },
        requestState: await codec.mint(expected, ctx),
      }),
    );
  };
}
