/**
 * Asking a human to confirm a scale through the MCP client (McpPolicy `confirm`).
 *
 * - Protocol revision 2026-07-28: the multi-round-trip flow. The tools/call answers `input_required`
 *   with a form-mode elicitation and a `requestState`; the client asks the person and retries the
 *   same call with the answer in `inputResponses`. The state is HMAC-signed (the SDK's
 *   createRequestStateCodec), expires after CONFIRMATION_TTL_SECONDS, and names the caller, the
 *   object, from → to and the object's spec version (metadata.generation): an answer counts only
 *   for exactly that call on the object as it was shown (a retry whose object's spec has changed in
 *   between, or another caller, is asked again), and only once (a random nonce, per process). The signing key must be the same on
 *   every replica that may receive the retry (see docs/security.md).
 * - Earlier revisions (2025-03-26 to 2025-11-25): `elicitation/create` within the request. A client
 *   that declared form-mode elicitation at `initialize` got a signed session id saying so
 *   (safety/session.ts); the tools/call sends `elicitation/create` on its own SSE response, with an
 *   unguessable id, and waits (at most the confirmation timeout) for the client's answer, which comes
 *   back in a separate POST (safety/pending.ts). The question is bound to this very call (caller,
 *   object, from → to) because the call itself is waiting for it; the answer is accepted once, from
 *   the same caller only. No answer in time, a client without the capability, or a full registry:
 *   ConfirmationRequired (fail closed).
 */

import { randomBytes } from 'node:crypto';
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
import type { ConfirmationAnswer, ConfirmationRequest, Confirmer } from './confirm.js';
import { confirmationQuestion } from './confirm.js';
import type { PendingElicitations, PendingOutcome } from './pending.js';
import { clientReported, confirmedThrough, type SessionCheck } from './session.js';

export const CONFIRMATION_TTL_SECONDS = 120;
/** How long a 2025-era tools/call waits for the person's answer by default. */
export const DEFAULT_CONFIRMATION_TIMEOUT_SECONDS = 120;

/** How the confirmation of one call went, for its audit record and the metrics. */
export interface ConfirmationNote {
  /** asked: the 2026-07-28 flow answered input_required and waits for the retry. */
  readonly answer: 'accepted' | 'declined' | 'asked' | 'unavailable';
  /** input_required (2026-07-28) or elicitation/create (earlier revisions). */
  readonly flow: 'input_required' | 'elicitation/create';
  /** The MCP revision of the request. */
  readonly revision: string;
  /** clientInfo of the client that asked (name and version), when known. */
  readonly client?: string;
  /** Why no one could be asked (answer unavailable): no-capability, timeout, busy, error, gone, misrouted-session. */
  readonly reason?: string;
}

/** The 2025-era side of one request: what the client declared, and where answers come back. */
export interface LegacyElicitation {
  /** The Mcp-Session-Id of the request, checked (lazily: only a call that needs it pays). */
  readonly session: () => SessionCheck;
  /** The request's MCP-Protocol-Version header (what the client negotiated). */
  readonly revision: string;
  readonly pending: PendingElicitations;
  readonly timeoutMs: number;
  /** Writes a server-to-client request on this tools/call's SSE response. */
  readonly send: (message: {
    jsonrpc: '2.0';
    id: string;
    method: 'elicitation/create';
    params: Record<string, unknown>;
  }) => Promise<void>;
}
const KEY = 'confirm';

/** What the signed requestState of a confirmation names. */
export interface ConfirmationState {
  readonly caller: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly from: number;
  readonly to: number;
  /** The object's spec version when the person was asked (ConfirmationRequest.objectVersion). */
  readonly objectVersion: string;
  /** Random: an accepted answer is used once (per process; across replicas the object version binds it). */
  readonly nonce: string;
}

/** Nonces of answers already used, until their state expires. Bounded: oldest dropped first. */
const MAX_SPENT_NONCES = 10_000;
const spentNonces = new Map<string, number>();

/** Marks a nonce used; false when it was used before (within its state's lifetime). */
function spend(nonce: string, now: number): boolean {
  const until = spentNonces.get(nonce);
  if (until !== undefined && until > now) return false;
  spentNonces.delete(nonce);
  spentNonces.set(nonce, now + CONFIRMATION_TTL_SECONDS * 1000);
  if (spentNonces.size > MAX_SPENT_NONCES) {
    const oldest = spentNonces.keys().next().value;
    if (oldest !== undefined) spentNonces.delete(oldest);
  }
  return true;
}

/** Thrown by the confirmer to make the tools/call answer `input_required`. */
export class InputNeeded extends Error {
  constructor(readonly result: InputRequiredResult) {
    super('input required');
    this.name = 'InputNeeded';
  }
}

function stateOf(r: ConfirmationRequest): ConfirmationState {
  return {
    caller: r.caller,
    kind: r.kind,
    namespace: r.namespace,
    name: r.name,
    from: r.from,
    to: r.to,
    objectVersion: r.objectVersion ?? '',
    nonce: randomBytes(16).toString('base64url'),
  };
}

/** The nonce of a state signed for exactly this call on the object as it is now; undefined otherwise. */
function sameCall(a: unknown, b: ConfirmationState): string | undefined {
  if (typeof a !== 'object' || a === null) return undefined;
  const s = a as Record<string, unknown>;
  const same =
    s.caller === b.caller &&
    s.kind === b.kind &&
    s.namespace === b.namespace &&
    s.name === b.name &&
    s.from === b.from &&
    s.to === b.to &&
    s.objectVersion === b.objectVersion &&
    typeof s.nonce === 'string' &&
    s.nonce !== '';
  return same ? (s.nonce as string) : undefined;
}

/** The request's `_meta` envelope (2026-07-28), typed loosely: the SDK types it as `{}`. */
function envelopeOf(ctx: ServerContext): Record<string, unknown> | undefined {
  return ctx.mcpReq.envelope as Record<string, unknown> | undefined;
}

/** The clientInfo of a 2026-07-28 request, sanitised and capped like a 2025-era one. */
function clientName(ctx: ServerContext): string {
  return clientReported(envelopeOf(ctx)?.[CLIENT_INFO_META_KEY]);
}

/** The form both flows show: one boolean, `confirm`. */
function formOf(request: ConfirmationRequest) {
  return {
    mode: 'form' as const,
    message: confirmationQuestion(request),
    requestedSchema: {
      type: 'object' as const,
      properties: {
        confirm: {
          type: 'boolean' as const,
          title: 'Confirm this scale',
          description: `Scale ${request.namespace}/${request.name} from ${request.from} to ${request.to} replicas`,
        },
      },
      required: ['confirm'],
    },
  };
}

/**
 * The confirmer of one tools/call request. `legacy` is set for 2025-era requests; `note` learns how
 * the confirmation went (audit, metrics).
 */
export function confirmerFor(
  ctx: ServerContext,
  codec: RequestStateCodec<ConfirmationState>,
  legacy: LegacyElicitation | undefined,
  note: (n: ConfirmationNote) => void = () => {},
): Confirmer {
  return async (request) => {
    const envelope = envelopeOf(ctx);
    const revision = envelope?.[PROTOCOL_VERSION_META_KEY];
    if (typeof revision !== 'string') {
      if (legacy === undefined) {
        note({
          answer: 'unavailable',
          flow: 'elicitation/create',
          revision: 'unknown',
          reason: 'no-capability',
        });
        return { outcome: 'unavailable', why: 'this request cannot carry a question to your client' };
      }
      return askWithinRequest(ctx, request, legacy, note);
    }
    const caps = envelope?.[CLIENT_CAPABILITIES_META_KEY] as { elicitation?: unknown } | undefined;
    if (caps?.elicitation === undefined) {
      note({ answer: 'unavailable', flow: 'input_required', revision, reason: 'no-capability' });
      return { outcome: 'unavailable', why: 'your client did not declare the elicitation capability' };
    }
    const client = clientName(ctx);
    const expected = stateOf(request);
    // The state was verified (signature, expiry) by the server's requestState hook before the handler ran.
    const nonce = sameCall(ctx.mcpReq.requestState<ConfirmationState>(), expected);
    if (nonce !== undefined) {
      const answer = inputResponse(ctx.mcpReq.inputResponses, KEY);
      const via = confirmedThrough(client);
      // An answer counts once: a replay of a used state is asked again.
      if (answer.kind === 'elicit' && spend(nonce, Date.now())) {
        const accepted = answer.action === 'accept' && answer.content?.confirm === true;
        note({ answer: accepted ? 'accepted' : 'declined', flow: 'input_required', revision, client });
        return accepted ? { outcome: 'accepted', via } : { outcome: 'declined', via };
      }
    }
    note({ answer: 'asked', flow: 'input_required', revision, client });
    throw new InputNeeded(
      inputRequired({
        inputRequests: { [KEY]: inputRequired.elicit(formOf(request)) },
        requestState: await codec.mint(expected, ctx),
      }),
    );
  };
}

const MAX_CLIENT_ERROR_CHARS = 200;

/** 2025-era: `elicitation/create` on this call's SSE response, then wait for the answer POST. */
async function askWithinRequest(
  ctx: ServerContext,
  request: ConfirmationRequest,
  legacy: LegacyElicitation,
  note: (n: ConfirmationNote) => void,
): Promise<ConfirmationAnswer> {
  const flow = 'elicitation/create';
  const { revision } = legacy;
  const session = legacy.session();
  if (!session.ok) {
    note({ answer: 'unavailable', flow, revision, reason: 'no-capability' });
    return { outcome: 'unavailable', why: session.why };
  }
  const client = session.session.client;
  const seconds = Math.round(legacy.timeoutMs / 1000);
  const opened = legacy.pending.open(request.caller, legacy.timeoutMs, ctx.mcpReq.signal);
  if (!opened.ok) {
    note({ answer: 'unavailable', flow, revision, client, reason: 'busy' });
    return {
      outcome: 'unavailable',
      why:
        opened.why === 'caller_full'
          ? 'you already have as many confirmations waiting for an answer as KubeMCP allows; answer those first'
          : opened.why === 'namespace_full'
            ? 'the ServiceAccounts of your namespace already have as many confirmations waiting for an answer as KubeMCP allows; answer those first'
            : 'this KubeMCP replica has too many confirmations waiting for an answer; retry later',
    };
  }
  try {
    await legacy.send({
      jsonrpc: '2.0',
      id: opened.id,
      method: 'elicitation/create',
      params: formOf(request),
    });
  } catch {
    legacy.pending.cancel(opened.id);
    note({ answer: 'unavailable', flow, revision, client, reason: 'gone' });
    return { outcome: 'unavailable', why: 'the question could not be sent to your client' };
  }
  const outcome: PendingOutcome = await opened.outcome;
  const via = confirmedThrough(client);
  if (outcome.kind === 'timeout') {
    note({ answer: 'unavailable', flow, revision, client, reason: 'timeout' });
    return {
      outcome: 'unavailable',
      why: `no answer came back within ${seconds} s (when KubeMCP runs several replicas, the answer must reach the replica that asked: see the session affinity in docs/operations.md)`,
    };
  }
  if (outcome.kind === 'abandoned') {
    note({ answer: 'unavailable', flow, revision, client, reason: 'gone' });
    return { outcome: 'unavailable', why: 'your client went away before answering' };
  }
  const message = outcome.message;
  if (message.error !== undefined) {
    const text = String((message.error as { message?: unknown } | null)?.message ?? 'an error').slice(
      0,
      MAX_CLIENT_ERROR_CHARS,
    );
    note({ answer: 'unavailable', flow, revision, client, reason: 'error' });
    return { outcome: 'unavailable', why: `your client answered the question with an error (${text})` };
  }
  const result = message.result as { action?: unknown; content?: { confirm?: unknown } } | undefined;
  const accepted = result?.action === 'accept' && result.content?.confirm === true;
  note({ answer: accepted ? 'accepted' : 'declined', flow, revision, client });
  return accepted ? { outcome: 'accepted', via } : { outcome: 'declined', via };
}
