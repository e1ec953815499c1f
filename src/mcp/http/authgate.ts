import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { attr, type Span } from '../../telemetry/index.js';
import { RateLimitedLog } from '../../util/logbudget.js';
import type { Authenticator, AuthOutcome } from '../auth.js';
import type { McpMetrics } from '../metrics.js';
import { type Prebuilt, quoteParam, send } from './respond.js';

/**
 * Authentication at the gate, from the headers alone: the caller, or the refusal to send (401, or 503
 * when tokens cannot be checked now). Refusals are built once per distinct reason and message, and
 * written with the plain Node API: a flood of bad tokens costs the HTTP parser and one small write per
 * request (bench/reject-cost.ts). Failures are logged at info, at most 20 per 10 s.
 */

/** A refused authentication: what to answer, and its kubemcp_mcp_auth_failures_total label. */
export interface AuthRefusal extends Prebuilt {
  readonly ok: false;
  readonly reason: string;
}
export type AuthVerdict = (AuthOutcome & { ok: true }) | AuthRefusal;

const BEARER_RE = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

export class AuthGate {
  private readonly missing: AuthRefusal;
  private readonly malformed: AuthRefusal;
  private readonly refusals = new Map<string, AuthRefusal>();
  private readonly failures: RateLimitedLog;

  constructor(
    private readonly authenticator: Authenticator,
    private readonly metadataUrl: string,
    private readonly log: Logger,
    private readonly metrics: McpMetrics,
  ) {
    this.failures = new RateLimitedLog(log, {
      level: 'info',
      summary: 'more authentication failures were not logged (see kubemcp_mcp_auth_failures_total)',
    });
    this.missing = this.refusal(
      401,
      'missing',
      {
        error: 'unauthorized',
        error_description: 'A Bearer token is required (Authorization: Bearer <token>)',
      },
      { 'WWW-Authenticate': this.challenge(undefined) },
    );
    this.malformed = this.invalid('invalid_token', 'The Authorization header is not a Bearer token');
  }

  /** The caller of a request, or its refusal; the authentication span is a child of `span`. */
  async authenticate(headers: IncomingHttpHeaders, requestId: string, span: Span): Promise<AuthVerdict> {
    const authSpan = span.child(attr.SPAN_AUTHENTICATE);
    const verdict = await this.check(headers.authorization, requestId, authSpan);
    authSpan.setAttribute(attr.AUTH_RESULT, verdict.ok ? 'ok' : verdict.reason);
    if (verdict.ok) span.setAttribute(attr.USER_NAME, verdict.caller.username);
    else authSpan.fail(verdict.reason);
    authSpan.end();
    return verdict;
  }

  /** Counts and writes a refusal. */
  refuse(res: ServerResponse, refusal: AuthRefusal): void {
    this.metrics.authFailures.inc({ reason: refusal.reason });
    send(res, refusal);
  }

  private async check(header: string | undefined, requestId: string, authSpan: Span): Promise<AuthVerdict> {
    if (header === undefined || header === '') {
      this.log.debug({ requestId }, 'request without credentials');
      return this.missing;
    }
    const match = BEARER_RE.exec(header);
    if (match === null || match[1] === undefined) {
      this.failures.write({ requestId, reason: 'malformed' }, 'authentication failed');
      return this.malformed;
    }
    const outcome = await this.authenticator.authenticate(match[1], authSpan);
    if (outcome.ok) return outcome;
    this.failures.write({ requestId, reason: outcome.reason }, 'authentication failed');
    return this.refusalFor(outcome);
  }

  private refusalFor(outcome: AuthOutcome & { ok: false }): AuthRefusal {
    const key = `${outcome.reason}\n${outcome.message}`;
    let r = this.refusals.get(key);
    if (r === undefined) {
      r =
        outcome.reason === 'unavailable' || outcome.reason === 'busy'
          ? this.refusal(
              503,
              outcome.reason,
              { error: 'temporarily_unavailable', error_description: outcome.message },
              { 'Retry-After': outcome.reason === 'busy' ? '1' : '5' },
            )
          : this.invalid(outcome.reason, outcome.message);
      // The messages are the authenticator's fixed texts; the bound is a guard, not a cache policy.
      if (this.refusals.size < 64) this.refusals.set(key, r);
    }
    return r;
  }

  private challenge(description: string | undefined): string {
    const params = [`realm="kubemcp"`, `resource_metadata="${this.metadataUrl}"`];
    if (description !== undefined)
      params.push('error="invalid_token"', `error_description="${quoteParam(description)}"`);
    return `Bearer ${params.join(', ')}`;
  }

  private invalid(reason: string, description: string): AuthRefusal {
    return this.refusal(
      401,
      reason,
      { error: 'invalid_token', error_description: description },
      { 'WWW-Authenticate': this.challenge(description) },
    );
  }

  private refusal(
    status: number,
    reason: string,
    body: { error: string; error_description: string },
    headers: Record<string, string>,
  ): AuthRefusal {
    const text = JSON.stringify(body);
    return {
      ok: false,
      status,
      reason,
      body: text,
      headers: {
        ...headers,
        'Cache-Control': 'no-store',
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(text),
      },
    };
  }
}
