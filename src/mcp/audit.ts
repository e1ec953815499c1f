import type { Logger } from 'pino';
import type { Caller } from '../policy/types.js';
import type { DecisionRecord } from './guarded.js';
import type { McpMetrics } from './metrics.js';

/**
 * One structured audit record per tool call, written as JSON through a child pino logger
 * (`component: "audit"`, message "tool call"), and the matching Prometheus samples.
 */

export type AuditDecision = 'allow' | 'deny' | 'none';

export interface AuditRecord {
  readonly requestId: string;
  readonly caller: { readonly user: string; readonly groups: readonly string[] };
  readonly tool: string;
  readonly arguments: unknown;
  /** allow: every policy check passed; deny: one refused; none: refused before any check (Invalid). */
  readonly decision: AuditDecision;
  /** The policies that allowed the call, or those considered when it was denied. */
  readonly policies: readonly string[];
  /** `ok`, or the error code of the result. */
  readonly outcome: string;
  readonly durationMs: number;
  /** Agent safety: present (true) on a dry run. */
  readonly dryRun?: true;
  /** Agent safety: how a human confirmed the call (client name and the person's answer), when one did. */
  readonly confirmedVia?: string;
}

/** The agent-safety fields of an audit record. */
export type AuditSafety = Pick<AuditRecord, 'dryRun' | 'confirmedVia'>;

/** Summarises the decisions a GuardedClient took during one call. */
export function summariseDecisions(
  tool: string,
  records: readonly DecisionRecord[],
): { decision: AuditDecision; policies: string[] } {
  const denied = records.find((r) => !r.allowed);
  if (denied !== undefined) return { decision: 'deny', policies: [...denied.policies] };
  if (records.length > 0)
    return { decision: 'allow', policies: [...new Set(records.flatMap((r) => r.policies))] };
  // get_permissions needs no grant: a caller may always ask what it may do.
  return { decision: tool === 'get_permissions' ? 'allow' : 'none', policies: [] };
}

const MAX_AUDITED_ARGUMENT_CHARS = 4096;

/** Arguments as audited: as given when small, else a truncated JSON string. */
function auditedArguments(args: unknown): unknown {
  let json: string | undefined;
  try {
    json = JSON.stringify(args ?? {});
  } catch {
    return '[unserializable]';
  }
  if (json === undefined || json.length <= MAX_AUDITED_ARGUMENT_CHARS) return args ?? {};
  return { truncated: true, json: json.slice(0, MAX_AUDITED_ARGUMENT_CHARS) };
}

export class Auditor {
  private readonly logger: Logger;
  private readonly metrics: McpMetrics;

  constructor(logger: Logger, metrics: McpMetrics) {
    this.logger = logger.child({ component: 'audit' });
    this.metrics = metrics;
  }

  record(entry: Omit<AuditRecord, 'caller' | 'arguments'> & { caller: Caller; arguments: unknown }): void {
    const record: AuditRecord = {
      requestId: entry.requestId,
      caller: { user: entry.caller.username, groups: [...entry.caller.groups] },
      tool: entry.tool,
      arguments: auditedArguments(entry.arguments),
      decision: entry.decision,
      policies: entry.policies,
      outcome: entry.outcome,
      durationMs: Math.round(entry.durationMs * 1000) / 1000,
      ...(entry.dryRun === true ? { dryRun: true } : {}),
      ...(entry.confirmedVia === undefined ? {} : { confirmedVia: entry.confirmedVia }),
    };
    this.logger.info({ audit: record }, 'tool call');
    this.metrics.toolCalls.inc({ tool: entry.tool, decision: entry.decision, outcome: entry.outcome });
    this.metrics.toolLatency.observe({ tool: entry.tool }, entry.durationMs / 1000);
  }
}
