import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { SafetyMetrics } from '../safety/metrics.js';
import { PendingElicitations } from '../safety/pending.js';
import { declaresFormElicitation } from '../safety/session.js';
import type { RequestContext } from './context.js';
import { jsonRpcError, send } from './respond.js';

/**
 * The client's answer to an elicitation/create of a 2025-era tools/call, which arrives as a POST of
 * its own: handed to the waiting call when it is that caller's pending question (once), refused
 * otherwise. It never reaches the SDK.
 */

/** A JSON-RPC response whose id has the shape of our elicitation ids. */
export interface ElicitationAnswer extends Record<string, unknown> {
  readonly id: string;
}

export function isElicitationAnswer(parsed: unknown): parsed is ElicitationAnswer {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return false;
  const m = parsed as Record<string, unknown>;
  return m.method === undefined && ('result' in m || 'error' in m) && PendingElicitations.isOurs(m.id);
}

/** An initialize of a 2025-era client that can be asked for confirmations (it gets a session id). */
export function declaresElicitationAtInitialize(parsed: unknown): parsed is { params: unknown } {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return false;
  const m = parsed as { method?: unknown; params?: unknown };
  return m.method === 'initialize' && declaresFormElicitation(m.params);
}

const OTHER_REPLICA = jsonRpcError(
  409,
  -32600,
  'Invalid Request: this answer belongs to a question another KubeMCP replica asked; it was not delivered (the load balancer must send a client to one replica: session affinity)',
);
// 400, not 404: a 404 would tell a 2025-era client that its session is gone.
const NOT_WAITING = jsonRpcError(
  400,
  -32600,
  'Invalid Request: no question with this id is waiting for your answer (already answered, expired, or not asked of you)',
);

export function answerElicitation(
  message: ElicitationAnswer,
  context: RequestContext,
  res: ServerResponse,
  parts: { readonly pending: PendingElicitations; readonly metrics: SafetyMetrics; readonly log: Logger },
): void {
  const result = parts.pending.deliver(message.id, context.caller.username, message);
  parts.metrics.elicitationAnswers.inc({ result });
  if (result === 'delivered') {
    res.setHeader('Cache-Control', 'no-store');
    res.statusCode = 202;
    res.end();
    return;
  }
  if (result === 'other_replica') {
    parts.log.info(
      { requestId: context.requestId, caller: context.caller.username },
      'an answer to a confirmation reached a replica that did not ask it: route each client to one replica (session affinity)',
    );
    send(res, OTHER_REPLICA);
    return;
  }
  parts.log.debug({ requestId: context.requestId }, 'answer to an unknown elicitation refused');
  send(res, NOT_WAITING);
}
