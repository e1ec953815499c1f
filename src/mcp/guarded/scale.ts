/**
 * A scale as an ordered list of small named steps. The call's one policy decision is taken before
 * (GuardedClient.scale: decide, then the cache health check); each attempt then runs
 *
 *   read → unchanged → limits → confirm → claim → write → event
 *
 * and every step reads the same decision. A step answers `next` (go on), `retry` (the API server
 * answered Conflict: back off and start a new attempt from a fresh read) or the outcome (done).
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { LeaseNamespaceMissing, type ScaleClaim } from '../../kube/scalehistory.js';
import type { ClusterBackend, ScalableKind, ScaleInfo } from '../../kube/types.js';
import { BackendError } from '../../kube/types.js';
import type { CallDecision } from '../../policy/decide.js';
import { decideScale, type LimitedGrant, needsCooldown } from '../../policy/limits.js';
import type { Caller } from '../../policy/types.js';
import { attr, type Span } from '../../telemetry/index.js';
import { fromBackendError, ToolError } from '../errors.js';
import {
  type ConfirmationRequest,
  type Confirmer,
  confirmationDeclined,
  confirmationRequired,
} from '../safety/confirm.js';
import { scaleRefusal } from '../safety/guard.js';
import { KIND_LABEL, LIST_TOOL } from './kinds.js';
import type { DecisionRecord } from './record.js';

export interface ScaleOutcome {
  readonly kind: ScalableKind;
  readonly namespace: string;
  readonly name: string;
  readonly from: number;
  readonly to: number;
  readonly changed: boolean;
  /** Ready replicas as last known (may lag a just-issued scale). */
  readonly readyReplicas: number;
  readonly policies: readonly string[];
  readonly attempts: number;
  /** True when nothing was written: the API server validated and admitted the change, and discarded it. */
  readonly dryRun: boolean;
  /** Set when a human confirmed the change (or, on a dry run, would have to). */
  readonly confirmation?: { readonly reasons: readonly string[]; readonly via?: string };
}

/** What the steps need from the client that runs them. */
export interface ScaleDeps {
  readonly caller: Caller;
  readonly backend: ClusterBackend;
  readonly trace: Span;
  readonly now: () => number;
  readonly maxAttempts: number;
  readonly confirm: Confirmer | undefined;
  /** Keeps a decision for the audit record and ends its span. */
  readonly record: (span: Span, decision: DecisionRecord, reason: string | undefined) => void;
}

type Current = ScaleInfo & { lastScaledAt?: number; claim?: ScaleClaim };

/** The state of one scale call, shared by its steps. */
export interface ScaleRun {
  readonly kind: ScalableKind;
  readonly namespace: string;
  readonly name: string;
  readonly replicas: number;
  readonly dryRun: boolean;
  readonly tool: string;
  /** `Deployment "web" in namespace "shop"`, as answers name the object. */
  readonly what: string;
  /** The call's one policy decision (allowed). */
  readonly decision: CallDecision;
  attempts: number;
  /** This attempt's read. */
  current?: Current;
  /** The policies that let this attempt through (the decision's, narrowed by the limits). */
  policies: readonly string[];
  confirmation?: ScaleOutcome['confirmation'];
  /** A human's answer holds for the change they were shown, across Conflict retries. */
  confirmed?: { readonly from: number; readonly via: string };
  written?: ScaleInfo;
}

type StepResult = 'next' | 'retry' | ScaleOutcome;
type Step = (run: ScaleRun, deps: ScaleDeps) => Promise<StepResult>;

/** The steps of one attempt, in order. */
export const SCALE_STEPS: readonly (readonly [name: string, step: Step])[] = [
  ['read', readStep],
  ['unchanged', unchangedStep],
  ['limits', limitsStep],
  ['confirm', confirmStep],
  ['claim', claimStep],
  ['write', writeStep],
  ['event', eventStep],
];

/** Runs the steps until one answers an outcome; a Conflict starts a new attempt (at most maxAttempts). */
export async function runScale(run: ScaleRun, deps: ScaleDeps): Promise<ScaleOutcome> {
  while (run.attempts < deps.maxAttempts) {
    run.attempts++;
    delete run.current;
    delete run.confirmation;
    delete run.written;
    run.policies = run.decision.policies;
    let retry = false;
    for (const [, step] of SCALE_STEPS) {
      const result = await step(run, deps);
      if (result === 'next') continue;
      if (result === 'retry') retry = true;
      else return result;
      break;
    }
    // Someone else wrote in between: back off a little (jittered, so concurrent scalers spread
    // out) and retry from a fresh read. Every write carries its read's resourceVersion.
    if (retry && run.attempts < deps.maxAttempts) await sleep(conflictBackoffMs(run.attempts));
  }
  throw new ToolError(
    'Conflict',
    `${run.what} kept changing while we tried to scale it; nothing was changed`,
    {
      reason: `The API server answered Conflict ${run.attempts} times in a row (someone else is updating it)`,
      suggestions: [
        'Retry the call in a moment',
        'Check whether an autoscaler or controller owns its replica count',
      ],
    },
  );
}

function limitedOf(run: ScaleRun): readonly LimitedGrant[] | undefined {
  return run.decision.limited;
}

function current(run: ScaleRun): Current {
  if (run.current === undefined) throw new Error('scale step ran before read');
  return run.current;
}

/**
 * read: the current scale. With a cool-down to enforce, also when KubeMCP last scaled the object
 * (a Lease in the cluster, the same for every replica of the operator) and the claim to record the
 * next scale with (src/kube/scalehistory.ts).
 */
async function readStep(run: ScaleRun, deps: ScaleDeps): Promise<StepResult> {
  const limited = limitedOf(run);
  try {
    if (limited === undefined || !needsCooldown(limited.map((g) => g.limits))) {
      run.current = await deps.backend.readScale(run.kind, run.namespace, run.name, deps.trace);
    } else if (deps.backend.readScaleHistory === undefined) {
      throw new ToolError('Unavailable', 'This server cannot read when the object was last scaled', {
        reason: 'A cool-down applies, and this backend cannot enforce it: the call is refused (fail closed)',
      });
    } else {
      run.current = await deps.backend.readScaleHistory(run.kind, run.namespace, run.name, deps.trace);
    }
  } catch (err) {
    throw scaleError(err, run);
  }
  return 'next';
}

/** unchanged: scaling to the current count changes nothing and asks nobody. */
async function unchangedStep(run: ScaleRun, deps: ScaleDeps): Promise<StepResult> {
  const now = current(run);
  if (now.replicas !== run.replicas) return 'next';
  return outcome(run, deps, now, false);
}

/** limits: step, cool-down and confirmation rules of the policies that allow the call. */
async function limitsStep(run: ScaleRun, deps: ScaleDeps): Promise<StepResult> {
  const limited = limitedOf(run);
  if (limited === undefined) return 'next';
  const now = current(run);
  const span = deps.trace.child(attr.SPAN_POLICY);
  const verdict = decideScale(limited, {
    from: now.replicas,
    to: run.replicas,
    now: deps.now(),
    ...(now.lastScaledAt === undefined ? {} : { lastScaledAt: now.lastScaledAt }),
  });
  const refusal = verdict.kind === 'deny' ? scaleRefusal(verdict, run.what) : undefined;
  deps.record(
    span,
    {
      tool: run.tool,
      namespace: run.namespace,
      replicas: run.replicas,
      allowed: verdict.kind !== 'deny',
      ...(verdict.kind === 'deny' ? { code: verdict.code } : {}),
      policies: verdict.policies,
    },
    refusal?.reason ??
      (verdict.kind === 'confirm' ? 'a human must confirm' : 'the agent-safety limits allow it'),
  );
  if (refusal !== undefined) throw refusal;
  run.policies = verdict.policies;
  if (verdict.kind === 'confirm') run.confirmation = { reasons: verdict.reasons };
  return 'next';
}

/**
 * confirm: when the limits want a human, ask through the caller's client. A dry run asks nobody (it
 * says the real call would need a confirmation). Within the call, an answer holds for the change the
 * person was shown: a retry after a Conflict that finds the same `from` does not ask again. Across
 * calls (2026-07-28 requestState), an answer is bound to the object's spec version (elicit.ts).
 */
async function confirmStep(run: ScaleRun, deps: ScaleDeps): Promise<StepResult> {
  const needed = run.confirmation;
  if (needed === undefined || run.dryRun) return 'next';
  const now = current(run);
  const same = run.confirmed;
  if (same !== undefined && same.from === now.replicas) {
    run.confirmation = { reasons: needed.reasons, via: same.via };
    return 'next';
  }
  const request: ConfirmationRequest = {
    caller: deps.caller.username,
    kind: run.kind,
    namespace: run.namespace,
    name: run.name,
    from: now.replicas,
    to: run.replicas,
    reasons: needed.reasons,
    objectVersion: objectVersion(run, deps, now),
  };
  const answer =
    deps.confirm === undefined
      ? ({ outcome: 'unavailable', why: 'this client cannot ask a human' } as const)
      : await deps.confirm(request);
  if (answer.outcome === 'unavailable') throw confirmationRequired(request, answer.why);
  if (answer.outcome === 'declined') throw confirmationDeclined(request, answer.via);
  run.confirmation = { reasons: needed.reasons, via: answer.via };
  run.confirmed = { from: now.replicas, via: answer.via };
  return 'next';
}

/**
 * The object's spec version a confirmation is bound to: its metadata.generation (from the watch
 * cache; the /scale subresource does not carry it), which every spec change (a scale included)
 * increments and status updates do not; the resourceVersion when the cache does not know it.
 */
function objectVersion(run: ScaleRun, deps: ScaleDeps, now: Current): string {
  const generation = deps.backend.get(run.kind, run.namespace, run.name)?.metadata?.generation;
  return generation === undefined ? `rv:${now.resourceVersion}` : `gen:${generation}`;
}

/**
 * claim: with a cool-down, record this scale before making it (a Lease): a replica that lost the
 * race retries from a fresh read and then sees the cool-down.
 */
async function claimStep(run: ScaleRun, deps: ScaleDeps): Promise<StepResult> {
  const limited = limitedOf(run);
  const claim = current(run).claim;
  if (run.dryRun || claim === undefined || limited === undefined) return 'next';
  if (deps.backend.claimScale === undefined) {
    throw new ToolError('Unavailable', 'This server cannot record scales for the cool-down', {
      reason: 'A cool-down applies, and this backend cannot enforce it: the call is refused (fail closed)',
    });
  }
  const longest = Math.max(...limited.map((g) => g.limits?.cooldownSeconds ?? 0));
  try {
    await deps.backend.claimScale(claim, deps.now(), longest, deps.trace);
  } catch (err) {
    if (err instanceof BackendError && err.code === 'Conflict') return 'retry';
    throw scaleError(err, run);
  }
  return 'next';
}

/** write: the /scale subresource, carrying the read's resourceVersion (dryRun=All on a dry run). */
async function writeStep(run: ScaleRun, deps: ScaleDeps): Promise<StepResult> {
  const now = current(run);
  try {
    run.written = await deps.backend.writeScale(
      run.kind,
      run.namespace,
      run.name,
      run.replicas,
      now.resourceVersion,
      run.dryRun
        ? { dryRun: true, trace: deps.trace }
        : deps.trace.recording
          ? { trace: deps.trace }
          : undefined,
    );
  } catch (err) {
    if (err instanceof BackendError && err.code === 'Conflict') return 'retry';
    throw scaleError(err, run);
  }
  if (run.dryRun) return outcome(run, deps, now, false);
  return 'next';
}

/** event: a `Scaled` Event on the object, best effort (a failed Event never fails a done scale). */
async function eventStep(run: ScaleRun, deps: ScaleDeps): Promise<StepResult> {
  const now = current(run);
  const written = run.written ?? now;
  const uid = written.uid ?? now.uid;
  const span = deps.trace.child(attr.SPAN_EVENT);
  span.setAttribute(attr.EVENT_REASON, 'Scaled');
  try {
    await deps.backend.recordScaleEvent(
      {
        kind: run.kind,
        namespace: run.namespace,
        name: run.name,
        ...(uid === undefined ? {} : { uid }),
        caller: deps.caller.username,
        policy: run.policies.join(', '),
        from: now.replicas,
        to: run.replicas,
      },
      span,
    );
  } catch {
    // Best effort by contract.
  } finally {
    span.end();
  }
  return outcome(run, deps, written, true, now.replicas);
}

function outcome(
  run: ScaleRun,
  deps: ScaleDeps,
  info: ScaleInfo,
  changed: boolean,
  from = info.replicas,
): ScaleOutcome {
  const ready =
    info.readyReplicas ?? deps.backend.get(run.kind, run.namespace, run.name)?.status?.readyReplicas ?? 0;
  return {
    kind: run.kind,
    namespace: run.namespace,
    name: run.name,
    from: changed ? from : current(run).replicas,
    to: run.replicas,
    changed,
    readyReplicas: ready,
    policies: run.policies,
    attempts: run.attempts,
    dryRun: run.dryRun,
    ...(run.confirmation === undefined ? {} : { confirmation: run.confirmation }),
  };
}

function scaleError(err: unknown, run: ScaleRun): unknown {
  if (!(err instanceof BackendError)) return err;
  if (err instanceof LeaseNamespaceMissing) {
    return new ToolError(
      'Unavailable',
      `KubeMCP cannot record the scale of ${run.what} for its cool-down; nothing was changed`,
      {
        reason: `A cool-down applies, and namespace "${err.leaseNamespace}", where KubeMCP keeps its scale records (Leases), does not exist: the call is refused (fail closed)`,
        suggestions: [
          'Ask the operator of KubeMCP to create its namespace, or to run it with --operator-namespace set to an existing one',
        ],
        cause: err,
      },
    );
  }
  const mapped = fromBackendError(err, run.what);
  if (mapped.code !== 'NotFound') return mapped;
  return new ToolError('NotFound', `${run.what} was not found`, {
    reason: `There is no ${KIND_LABEL[run.kind]} with that name in namespace "${run.namespace}"`,
    suggestions: [`Call ${LIST_TOOL[run.kind]} with namespace "${run.namespace}" to see what exists`],
    cause: err,
  });
}

/** Delay before retry `attempt` after a Conflict: 10-15 ms, doubling per attempt, at most 240 ms. */
function conflictBackoffMs(attempt: number): number {
  return Math.min(160, 10 * 2 ** (attempt - 1)) * (1 + Math.random() * 0.5);
}
