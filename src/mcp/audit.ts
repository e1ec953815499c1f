import type { Logger } from 'pino';
import type { Caller } from '../policy/types.js';
import type { DecisionRecord } from './guarded.js';
import type { McpMetrics } from './metrics.js';

/**
 * One structured audit record per tool call, resource read and resource list, written as JSON through
 * a child pino logger (`component: "audit"`; message "tool call", "resource read" or "resource list"),
 * and the matching Prometheus samples. The audit has its own switch (on by default), independent of
 * the log level: a silent general log does not silence it, and turning it off keeps the metrics.
 */

export type AuditDecision = 'allow' | 'deny' | 'none';

/** The MCP requests that are audited. */
export type AuditedMethod = 'tools/call' | 'resources/read' | 'resources/list';

export interface AuditRecord {
  /** Our id of the HTTP request (also sent back as X-Request-Id); never taken from the caller. */
  readonly requestId: string;
  /** The caller's own X-Request-Id, sanitised and capped, when it sent one. Not trusted for anything. */
  readonly clientRequestId?: string;
  readonly caller: { readonly user: string; readonly groups: readonly string[] };
  readonly method: AuditedMethod;
  /** tools/call: the tool asked for. */
  readonly tool?: string;
  /** tools/call: the arguments as given (truncated when large). */
  readonly arguments?: unknown;
  /** resources/read: the URI asked for (capped). */
  readonly uri?: string;
  /** resources/list: whether a cursor was passed. */
  readonly cursor?: boolean;
  /**
   * The call's one policy decision (GuardedClient): allow: every policy check passed (a call waiting
   * for a human's confirmation, outcome InputRequired, included; for a list: some kind was
   * readable); deny: one refused (for a list: nothing readable); none: refused before any check
   * (invalid arguments or URI).
   */
  readonly decision: AuditDecision;
  /**
   * The policies that allowed the call with all its arguments (narrowed by a scale's limits), or
   * those considered when it was denied (or whose limit refused it).
   */
  readonly policies: readonly string[];
  /** `ok`, or the error code of the result. */
  readonly outcome: string;
  readonly durationMs: number;
  /** Agent safety: present (true) on a dry run. */
  readonly dryRun?: true;
  /** Agent safety: how a human confirmed the call (client name and the person's answer), when one did. */
  readonly confirmedVia?: string;
  /**
   * Agent safety: a call a policy's `confirm` rules matched. The person was asked through the
   * caller's own client (the answer is authenticated as `caller`): `answer` accepted | declined |
   * asked (2026-07-28: input_required sent, the retry carries the answer) | unavailable (nobody could
   * be asked: `reason`); `flow` input_required | elicitation/create; the request's MCP `revision`;
   * the `client` (clientInfo name and version) when known.
   */
  readonly confirmation?: AuditConfirmation;
}

export interface AuditConfirmation {
  readonly answer: 'accepted' | 'declined' | 'asked' | 'unavailable';
  readonly flow: 'input_required' | 'elicitation/create';
  readonly revision: string;
  readonly client?: string;
  readonly reason?: string;
}

/** The agent-safety fields of an audit record. */
export type AuditSafety = Pick<AuditRecord, 'dryRun' | 'confirmedVia'>;

/** Summarises the decisions a GuardedClient took during one tool call or resource read. */
export function summariseDecisions(
  tool: string,
  records: readonly DecisionRecord[],
): { decision: AuditDecision; policies: string[] } {
  const denied = records.find((r) => !r.allowed);
  if (denied !== undefined) return { decision: 'deny', policies: [...denied.policies] };
  // The call's one decision comes first; a later step (a scale's limits) narrows its policies.
  const last = records[records.length - 1];
  if (last !== undefined) return { decision: 'allow', policies: [...last.policies] };
  // get_permissions needs no grant: a caller may always ask what it may do.
  return { decision: tool === 'get_permissions' ? 'allow' : 'none', policies: [] };
}

/**
 * resources/list never refuses: it shows what the caller may read. Allow when some kind was
 * readable (with the policies that made it so), deny when none was.
 */
export function summariseListDecisions(records: readonly DecisionRecord[]): {
  decision: AuditDecision;
  policies: string[];
} {
  const allowed = records.filter((r) => r.allowed);
  if (allowed.length > 0)
    return { decision: 'allow', policies: [...new Set(allowed.flatMap((r) => r.policies))] };
  return { decision: records.length > 0 ? 'deny' : 'none', policies: [] };
}

const MAX_AUDITED_ARGUMENT_CHARS = 4096;
export const MAX_AUDITED_URI_CHARS = 512;
export const MAX_CLIENT_REQUEST_ID_CHARS = 128;

/**
 * The first `max` characters of `JSON.stringify(value)`, and whether that is all of it, written by a
 * serialiser that stops once it has `max` characters: a 1 MiB argument costs what its first 4 KiB
 * cost, not a whole serialisation thrown away after the cut. Throws where JSON.stringify throws
 * (BigInt; a cycle shows as nesting past MAX_AUDITED_DEPTH).
 */
export function cappedJson(value: unknown, max: number): { text: string; complete: boolean } {
  const out = new CappedWriter(max);
  if (!out.value(value, 0)) out.raw('null');
  return { text: out.text(), complete: !out.full() };
}

/** Deeper than this is a cycle or a hostile value (request bodies are capped at 64 levels). */
const MAX_AUDITED_DEPTH = 256;

class CappedWriter {
  private readonly parts: string[] = [];
  private length = 0;
  constructor(private readonly max: number) {}

  full(): boolean {
    return this.length > this.max;
  }

  text(): string {
    const text = this.parts.join('');
    return text.length > this.max ? text.slice(0, this.max) : text;
  }

  raw(text: string): void {
    this.parts.push(text);
    this.length += text.length;
  }

  /** Writes `value` as JSON.stringify would (false: nothing, as for undefined or a function). */
  value(value: unknown, depth: number): boolean {
    if (this.full()) return true;
    let v = value;
    if (typeof v === 'object' && v !== null && typeof (v as { toJSON?: unknown }).toJSON === 'function')
      v = (v as { toJSON: () => unknown }).toJSON();
    switch (typeof v) {
      case 'string': {
        // Escaping only lengthens a string: one character past what is left is enough to be cut.
        const room = this.max - this.length + 1;
        this.raw(JSON.stringify(v.length > room ? v.slice(0, room) : v));
        return true;
      }
      case 'number':
        this.raw(Number.isFinite(v) ? String(v) : 'null');
        return true;
      case 'boolean':
        this.raw(v ? 'true' : 'false');
        return true;
      case 'bigint':
        throw new TypeError('BigInt value can not be serialized in JSON');
      case 'object':
        if (v === null) this.raw('null');
        else if (depth >= MAX_AUDITED_DEPTH) throw new TypeError('value nested too deeply to audit');
        else if (Array.isArray(v)) this.array(v, depth + 1);
        else this.object(v as Record<string, unknown>, depth + 1);
        return true;
      default:
        return false;
    }
  }

  private array(items: readonly unknown[], depth: number): void {
    this.raw('[');
    for (let i = 0; i < items.length && !this.full(); i++) {
      if (i > 0) this.raw(',');
      if (!this.value(items[i], depth)) this.raw('null');
    }
    this.raw(']');
  }

  private object(record: Record<string, unknown>, depth: number): void {
    this.raw('{');
    let first = true;
    for (const key of Object.keys(record)) {
      if (this.full()) break;
      const v = record[key];
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
      this.raw(`${first ? '' : ','}${JSON.stringify(key)}:`);
      first = false;
      this.value(v, depth);
    }
    this.raw('}');
  }
}

/** Arguments as audited: as given when small, else the first 4096 characters of their JSON. */
function auditedArguments(args: unknown): unknown {
  let json: { text: string; complete: boolean };
  try {
    json = cappedJson(args ?? {}, MAX_AUDITED_ARGUMENT_CHARS);
  } catch {
    return '[unserializable]';
  }
  if (json.complete) return args ?? {};
  return { truncated: true, json: json.text };
}

/** A caller string as audited: at most `max` characters, with a marker when cut. */
function capped(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…[${text.length - max} more chars]`;
}

/**
 * The caller's X-Request-Id as it may appear in a log: at most 128 characters, anything outside
 * `A-Z a-z 0-9 . _ : / + = @ -` replaced by `_`. Undefined when absent or empty.
 */
export function sanitiseClientRequestId(value: string | string[] | undefined): string | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw === '') return undefined;
  return raw.slice(0, MAX_CLIENT_REQUEST_ID_CHARS).replace(/[^A-Za-z0-9._:/+=@-]/g, '_');
}

const MESSAGE: Readonly<Record<AuditedMethod, string>> = {
  'tools/call': 'tool call',
  'resources/read': 'resource read',
  'resources/list': 'resource list',
};

export interface AuditEntry {
  readonly requestId: string;
  readonly clientRequestId?: string | undefined;
  readonly caller: Caller;
  readonly method: AuditedMethod;
  readonly tool?: string;
  readonly arguments?: unknown;
  readonly uri?: string;
  readonly cursor?: boolean;
  readonly decision: AuditDecision;
  readonly policies: readonly string[];
  readonly outcome: string;
  readonly durationMs: number;
  /** Agent safety: true on a dry run. */
  readonly dryRun?: boolean;
  /** Agent safety: how a human confirmed the call, when one did. */
  readonly confirmedVia?: string;
  /** Agent safety: how the confirmation of a call went, when a rule matched. */
  readonly confirmation?: AuditConfirmation;
}

export interface AuditorOptions {
  /** Write audit records (default true). Metrics are counted either way. */
  readonly enabled?: boolean;
}

export class Auditor {
  private readonly logger: Logger;
  private readonly metrics: McpMetrics;
  readonly enabled: boolean;

  constructor(logger: Logger, metrics: McpMetrics, options: AuditorOptions = {}) {
    this.logger = logger.child({ component: 'audit' });
    this.metrics = metrics;
    this.enabled = options.enabled ?? true;
  }

  record(entry: AuditEntry): void {
    const durationMs = Math.round(entry.durationMs * 1000) / 1000;
    if (entry.method === 'tools/call') {
      // Tool names a caller made up must not become label values (unbounded series).
      const tool = entry.outcome === 'UnknownTool' ? '(unknown)' : (entry.tool ?? '');
      this.metrics.toolCalls.inc({ tool, decision: entry.decision, outcome: entry.outcome });
      this.metrics.toolLatency.observe({ tool }, entry.durationMs / 1000);
    } else {
      this.metrics.resourceRequests.inc({
        method: entry.method,
        decision: entry.decision,
        outcome: entry.outcome,
      });
    }
    if (!this.enabled) return;
    const record: AuditRecord = {
      requestId: entry.requestId,
      ...(entry.clientRequestId === undefined ? {} : { clientRequestId: entry.clientRequestId }),
      caller: { user: entry.caller.username, groups: [...entry.caller.groups] },
      method: entry.method,
      ...(entry.tool === undefined ? {} : { tool: entry.tool }),
      ...(entry.method === 'tools/call' ? { arguments: auditedArguments(entry.arguments) } : {}),
      ...(entry.uri === undefined ? {} : { uri: capped(entry.uri, MAX_AUDITED_URI_CHARS) }),
      ...(entry.cursor === undefined ? {} : { cursor: entry.cursor }),
      decision: entry.decision,
      policies: entry.policies,
      outcome: entry.outcome,
      durationMs,
      ...(entry.dryRun === true ? { dryRun: true } : {}),
      ...(entry.confirmedVia === undefined ? {} : { confirmedVia: entry.confirmedVia }),
      ...(entry.confirmation === undefined ? {} : { confirmation: entry.confirmation }),
    };
    this.logger.info({ audit: record }, MESSAGE[entry.method]);
  }
}
