import type { IncomingMessage, ServerResponse } from 'node:http';
import { isJsonContentType } from '@modelcontextprotocol/server';
import express from 'express';
import type { Logger } from 'pino';
import type { Span } from '../../telemetry/index.js';
import { sanitiseClientRequestId } from '../audit.js';
import type { McpMetrics } from '../metrics.js';
import { clientOfInitialize } from '../safety/session.js';
import type { AuthGate, AuthVerdict } from './authgate.js';
import type { Forward } from './bridge.js';
import type { RequestContext } from './context.js';
import { messagesOf, redactHeaders } from './debug.js';
import { answerElicitation, declaresElicitationAtInitialize, isElicitationAnswer } from './elicitation.js';
import {
  MAX_BATCH_MESSAGES,
  MAX_JSON_DEPTH,
  MAX_JSON_ELEMENTS,
  MAX_JSON_MEMBERS,
  type ResolvedMcpAppOptions,
} from './options.js';
import { type GateRefusals, jsonRpcError, send } from './respond.js';
import type { SafetyParts } from './safety.js';
import { batchProblem, parseMessage } from './shape.js';
import type { CallerSlots } from './slots.js';
import { describeMcpRequest } from './tracing.js';

/**
 * A POST to /mcp whose Host and Origin passed, as an ordered list of steps, each of which answers
 * and stops or passes on: authenticate → take a caller slot → Content-Type → read the body (bounded)
 * → shape and parse → batch rules → an elicitation answer is delivered here → the SDK bridge. The
 * request context is built once, after authentication, and passed to every later step.
 */

export interface McpPostParts {
  readonly opts: ResolvedMcpAppOptions;
  readonly log: Logger;
  readonly metrics: McpMetrics;
  readonly auth: AuthGate;
  readonly slots: CallerSlots;
  readonly refusals: GateRefusals;
  readonly safety: SafetyParts;
  readonly forward: Forward;
}

export type McpPost = (
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
  span: Span,
) => Promise<void>;

const LIMITS = { maxDepth: MAX_JSON_DEPTH, maxMembers: MAX_JSON_MEMBERS, maxElements: MAX_JSON_ELEMENTS };

export function createMcpPost(parts: McpPostParts): McpPost {
  const { log, refusals, slots } = parts;
  const readBody = bodyReader(parts);
  return async (req, res, requestId, span) => {
    let verdict: AuthVerdict;
    try {
      verdict = await parts.auth.authenticate(req.headers, requestId, span);
    } catch (err) {
      log.error({ requestId, err }, 'unexpected error authenticating an MCP request');
      return send(res, refusals.internal);
    }
    if (!verdict.ok) return parts.auth.refuse(res, verdict);
    // One caller may not hold more than maxInflightPerCaller requests: the rest get 429 at once.
    const who = verdict.caller.username;
    if (!slots.tryAcquire(who, 1)) return tooMany(parts, res);
    const context: RequestContext = {
      requestId,
      clientRequestId: sanitiseClientRequestId(req.headers['x-request-id']),
      caller: verdict.caller,
      span,
      expiresAt: verdict.expiresAt,
      slots: 1,
    };
    res.once('close', () => slots.release(who, context.slots));
    if (!isJsonContentType(req.headers['content-type'] ?? null))
      return send(res, refusals.unsupportedMediaType);
    const body = await readBody(req, res, requestId);
    if (body === undefined) return;
    try {
      await serveMessage(parts, req, res, context, body);
    } catch (err) {
      log.error({ requestId, err }, 'unexpected error serving MCP request');
      send(res, refusals.internal);
    }
  };
}

function tooMany(parts: McpPostParts, res: ServerResponse): void {
  parts.metrics.callerLimited.inc();
  send(res, parts.refusals.tooMany);
}

/** Everything after the body is read: the message, the batch rules, then the answer. */
async function serveMessage(
  parts: McpPostParts,
  req: IncomingMessage,
  res: ServerResponse,
  context: RequestContext,
  body: Buffer,
): Promise<void> {
  const { log, refusals } = parts;
  const message = parseMessage(body, LIMITS, refusals.parseError);
  if (!message.ok) {
    log.debug({ requestId: context.requestId, reason: message.reason }, 'JSON body refused');
    send(res, message.refusal);
    return;
  }
  const { parsed } = message;
  const revision = req.headers['mcp-protocol-version'];
  if (context.span.recording) describeMcpRequest(context.span, parsed, revision);
  if (Array.isArray(parsed)) {
    const problem = batchProblem(parsed, revision, MAX_BATCH_MESSAGES);
    if (problem !== undefined) return send(res, problem);
    // Each message of a batch holds an in-flight slot of its caller (see docs/adr/0006).
    const extra = Math.min(parsed.length, parts.opts.maxInflightPerCaller) - 1;
    if (extra > 0) {
      if (!parts.slots.tryAcquire(context.caller.username, extra)) return tooMany(parts, res);
      context.slots += extra;
    }
  }
  if (isElicitationAnswer(parsed)) return answerElicitation(parsed, context, res, { ...parts.safety, log });
  // A 2025-era client that can be asked for confirmations gets a session id saying so (safety/session.ts).
  const sessionId = declaresElicitationAtInitialize(parsed)
    ? parts.safety.sessions.issue(context.caller.username, clientOfInitialize(parsed.params))
    : undefined;
  const debug = log.isLevelEnabled('debug');
  if (debug) {
    const headers = redactHeaders(req.headers);
    log.debug({ requestId: context.requestId, direction: 'in', headers, message: parsed }, 'JSON-RPC in');
  }
  const answered = await parts.forward(req, res, context, parsed, sessionId);
  if (debug) {
    const text = answered.body?.toString('utf8') ?? '';
    const out = { status: answered.status, message: messagesOf(answered.contentType, text) };
    log.debug({ requestId: context.requestId, direction: 'out', ...out }, 'JSON-RPC out');
  }
}

/**
 * Reads a body of at most bodyLimitBytes (body-parser's raw reader: Content-Length checked first,
 * gzip/deflate/br inflated, the limit counted on what is inflated); undefined when it answered the
 * request itself (413, another 4xx, or 500).
 */
function bodyReader(
  parts: McpPostParts,
): (req: IncomingMessage, res: ServerResponse, requestId: string) => Promise<Buffer | undefined> {
  const raw = express.raw({ type: () => true, limit: parts.opts.bodyLimitBytes }) as unknown as (
    req: IncomingMessage & { body?: unknown },
    res: ServerResponse,
    next: (err?: unknown) => void,
  ) => void;
  return (req, res, requestId) =>
    new Promise((resolve) => {
      const r = req as IncomingMessage & { body?: unknown };
      raw(r, res, (err?: unknown) => {
        if (err === undefined) {
          resolve(Buffer.isBuffer(r.body) ? r.body : Buffer.alloc(0));
          return;
        }
        const e = err as { type?: string; status?: number; statusCode?: number };
        const status = e.status ?? e.statusCode ?? 500;
        if (e.type === 'entity.too.large' || status === 413) send(res, parts.refusals.tooLarge);
        else if (status >= 400 && status < 500) send(res, jsonRpcError(status, -32600, 'Invalid request'));
        else {
          parts.log.error({ requestId, err }, 'unexpected error serving MCP request');
          send(res, parts.refusals.internal);
        }
        resolve(undefined);
      });
    });
}
