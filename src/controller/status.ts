/**
 * Pure status logic of the McpPolicy controller: the status a compiled PolicyState calls for, whether
 * it differs from what the object shows (so we write only on change), and which Event a change of
 * validity calls for. No I/O.
 */

import {
  CONDITION_READY,
  CONDITION_WARNINGS,
  type Condition,
  type McpPolicyStatus,
  REASON_ACCEPTED,
  REASON_INVALID,
} from '../api/v1alpha1/index.js';
import type { PolicyState } from '../policy/types.js';
import { warningsMessage, warningsReason } from '../policy/warnings.js';

/** A Kubernetes timestamp (metav1.Time): RFC 3339, whole seconds, UTC. */
export function kubeTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Reads a status of unknown shape (from the API server) leniently; junk becomes undefined fields. */
export function readStatus(raw: unknown): McpPolicyStatus | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  const conditions = Array.isArray(r.conditions)
    ? r.conditions.filter(
        (c): c is Condition =>
          typeof c === 'object' && c !== null && typeof (c as { type?: unknown }).type === 'string',
      )
    : undefined;
  return {
    ...(typeof r.observedGeneration === 'number' ? { observedGeneration: r.observedGeneration } : {}),
    ...(conditions ? { conditions } : {}),
    ...(typeof r.matchedNamespaces === 'number' ? { matchedNamespaces: r.matchedNamespaces } : {}),
  };
}

export function readyCondition(status: McpPolicyStatus | undefined): Condition | undefined {
  return status?.conditions?.find((c) => c.type === CONDITION_READY);
}

/**
 * The status `state` calls for. The Ready condition keeps its lastTransitionTime while its status
 * (True/False) stays the same, as metav1 conditions do. A Warnings condition (True) is present while
 * a Ready policy has warnings, and removed otherwise; other condition types are kept as they are.
 */
export function desiredStatus(
  state: PolicyState,
  current: McpPolicyStatus | undefined,
  nowMs: number,
): McpPolicyStatus {
  const previous = readyCondition(current);
  const status: Condition['status'] = state.ready ? 'True' : 'False';
  const ready: Condition = {
    type: CONDITION_READY,
    status,
    observedGeneration: state.generation,
    lastTransitionTime:
      previous && previous.status === status && previous.lastTransitionTime
        ? previous.lastTransitionTime
        : kubeTime(nowMs),
    reason: state.reason,
    message: state.message,
  };
  const others = (current?.conditions ?? []).filter(
    (c) => c.type !== CONDITION_READY && c.type !== CONDITION_WARNINGS,
  );
  const conditions: Condition[] = [ready];
  const warnings = state.ready ? (state.warnings ?? []) : [];
  if (warnings.length > 0) {
    const before = current?.conditions?.find((c) => c.type === CONDITION_WARNINGS);
    conditions.push({
      type: CONDITION_WARNINGS,
      status: 'True',
      observedGeneration: state.generation,
      lastTransitionTime:
        before && before.status === 'True' && before.lastTransitionTime
          ? before.lastTransitionTime
          : kubeTime(nowMs),
      reason: warningsReason(warnings),
      message: warningsMessage(warnings),
    });
  }
  return {
    observedGeneration: state.generation,
    conditions: [...conditions, ...others],
    matchedNamespaces: state.matchedNamespaces,
  };
}

function sameCondition(a: Condition, b: Condition): boolean {
  return (
    a.type === b.type &&
    a.status === b.status &&
    a.reason === b.reason &&
    a.message === b.message &&
    (a.observedGeneration ?? undefined) === (b.observedGeneration ?? undefined) &&
    Date.parse(a.lastTransitionTime) === Date.parse(b.lastTransitionTime)
  );
}

/** Whether two statuses say the same (condition order aside). */
export function statusEqual(a: McpPolicyStatus | undefined, b: McpPolicyStatus | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if ((a.observedGeneration ?? undefined) !== (b.observedGeneration ?? undefined)) return false;
  if ((a.matchedNamespaces ?? undefined) !== (b.matchedNamespaces ?? undefined)) return false;
  const ca = a.conditions ?? [];
  const cb = b.conditions ?? [];
  if (ca.length !== cb.length) return false;
  return ca.every((c) => {
    const other = cb.find((o) => o.type === c.type);
    return other !== undefined && sameCondition(c, other);
  });
}

/** Whether two compiled states would produce different statuses. */
export function stateEqual(a: PolicyState | undefined, b: PolicyState | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.generation === b.generation &&
    a.ready === b.ready &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.matchedNamespaces === b.matchedNamespaces &&
    JSON.stringify(a.warnings ?? []) === JSON.stringify(b.warnings ?? [])
  );
}

export interface ValidityEvent {
  readonly type: 'Normal' | 'Warning';
  /** Accepted, or the Ready=False reason (Invalid, NotDelegated, ExceedsCeiling). */
  readonly reason: string;
  readonly note: string;
}

/**
 * The Event a status change calls for: when the policy becomes valid or invalid (or gets its first
 * status), and when a new generation is still invalid for a different reason. Otherwise none.
 */
export function validityEvent(
  current: McpPolicyStatus | undefined,
  next: McpPolicyStatus,
): ValidityEvent | undefined {
  const before = readyCondition(current);
  const after = readyCondition(next);
  if (!after) return undefined;
  const event: ValidityEvent =
    after.status === 'True'
      ? { type: 'Normal', reason: REASON_ACCEPTED, note: after.message }
      : { type: 'Warning', reason: after.reason || REASON_INVALID, note: after.message };
  if (!before || before.status !== after.status) return event;
  if (
    after.status === 'False' &&
    before.message !== after.message &&
    before.observedGeneration !== after.observedGeneration
  ) {
    return event;
  }
  return undefined;
}
