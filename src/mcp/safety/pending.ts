/**
 * Elicitations waiting for their answer (2025-era revisions).
 *
 * A 2025-era `tools/call` that needs a human sends `elicitation/create` on its own SSE response and
 * waits here; the client answers with a JSON-RPC response in a separate POST, which the HTTP layer
 * hands to deliver(). An answer counts only when
 *  - its id names a pending elicitation of THIS process (ids are 32 random bytes: unguessable),
 *  - it is authenticated as the caller the question was asked of (another caller's answer is refused
 *    and leaves the question pending), and
 *  - it is the first one (the entry is removed when answered, timed out or abandoned: a replayed
 *    answer finds nothing).
 * Memory is bounded: at most `maxPerCaller` pending questions per caller (a username), at most
 * `maxPerNamespace` for the ServiceAccounts of one namespace (whoever may create ServiceAccounts
 * there could otherwise mint usernames until the replica's cap is full), and `maxTotal` in all;
 * beyond that the call is refused at once (fail closed) rather than queued.
 *
 * Ids name the process that asked (`kmce1.<process tag>.<random>`), so an answer that reaches another
 * replica is told apart from a forged one (and reported as misrouted: see docs/operations.md).
 */

import { randomBytes } from 'node:crypto';

export const ELICITATION_ID_PREFIX = 'kmce1';
export const DEFAULT_MAX_PENDING_PER_CALLER = 2;
export const DEFAULT_MAX_PENDING_PER_NAMESPACE = 16;
export const DEFAULT_MAX_PENDING_TOTAL = 256;

const SA_PREFIX = 'system:serviceaccount:';

/** The namespace of a ServiceAccount username, or undefined for any other caller. */
function serviceAccountNamespace(username: string): string | undefined {
  if (!username.startsWith(SA_PREFIX)) return undefined;
  const end = username.indexOf(':', SA_PREFIX.length);
  return end > SA_PREFIX.length ? username.slice(SA_PREFIX.length, end) : undefined;
}

/** What came back for one elicitation. */
export type PendingOutcome =
  | { readonly kind: 'answered'; readonly message: Record<string, unknown> }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'abandoned' };

export type OpenResult =
  | { readonly ok: true; readonly id: string; readonly outcome: Promise<PendingOutcome> }
  | { readonly ok: false; readonly why: 'caller_full' | 'namespace_full' | 'total_full' };

export type DeliverResult = 'delivered' | 'unknown' | 'other_replica';

interface Entry {
  readonly caller: string;
  readonly resolve: (outcome: PendingOutcome) => void;
  readonly timer: NodeJS.Timeout;
  readonly onAbort: () => void;
  readonly signal: AbortSignal | undefined;
}

export interface PendingOptions {
  readonly maxPerCaller?: number;
  readonly maxPerNamespace?: number;
  readonly maxTotal?: number;
  /** Called whenever the number of pending elicitations changes (a gauge). */
  readonly onSize?: (size: number) => void;
}

export class PendingElicitations {
  /** Names this process in the ids it mints. */
  readonly tag = randomBytes(6).toString('base64url');
  private readonly entries = new Map<string, Entry>();
  private readonly perCaller = new Map<string, number>();
  private readonly perNamespace = new Map<string, number>();
  private readonly maxPerCaller: number;
  private readonly maxPerNamespace: number;
  private readonly maxTotal: number;
  private readonly onSize: ((size: number) => void) | undefined;

  constructor(options: PendingOptions = {}) {
    this.maxPerCaller = Math.max(1, options.maxPerCaller ?? DEFAULT_MAX_PENDING_PER_CALLER);
    this.maxPerNamespace = Math.max(1, options.maxPerNamespace ?? DEFAULT_MAX_PENDING_PER_NAMESPACE);
    this.maxTotal = Math.max(1, options.maxTotal ?? DEFAULT_MAX_PENDING_TOTAL);
    this.onSize = options.onSize;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Whether `id` has the shape of an id this server mints (any process). */
  static isOurs(id: unknown): id is string {
    return typeof id === 'string' && id.startsWith(`${ELICITATION_ID_PREFIX}.`) && id.length <= 128;
  }

  /**
   * Registers a question asked of `caller`; its outcome settles with the answer, after `timeoutMs`,
   * or when `signal` aborts (the client went away), whichever comes first.
   */
  open(caller: string, timeoutMs: number, signal?: AbortSignal): OpenResult {
    if (this.entries.size >= this.maxTotal) return { ok: false, why: 'total_full' };
    const mine = this.perCaller.get(caller) ?? 0;
    if (mine >= this.maxPerCaller) return { ok: false, why: 'caller_full' };
    const ns = serviceAccountNamespace(caller);
    const inNamespace = ns === undefined ? 0 : (this.perNamespace.get(ns) ?? 0);
    if (inNamespace >= this.maxPerNamespace) return { ok: false, why: 'namespace_full' };
    const id = `${ELICITATION_ID_PREFIX}.${this.tag}.${randomBytes(32).toString('base64url')}`;
    let resolve!: (outcome: PendingOutcome) => void;
    const outcome = new Promise<PendingOutcome>((r) => {
      resolve = r;
    });
    const settle = (o: PendingOutcome): void => {
      if (this.remove(id)) resolve(o);
    };
    const timer = setTimeout(() => settle({ kind: 'timeout' }), timeoutMs);
    timer.unref();
    const onAbort = (): void => settle({ kind: 'abandoned' });
    this.entries.set(id, { caller, resolve, timer, onAbort, signal });
    this.perCaller.set(caller, mine + 1);
    if (ns !== undefined) this.perNamespace.set(ns, inNamespace + 1);
    this.onSize?.(this.entries.size);
    if (signal !== undefined) {
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    }
    return { ok: true, id, outcome };
  }

  /**
   * Hands the client's JSON-RPC response to the question it answers. Unknown, already answered,
   * timed-out and other callers' ids are all `unknown` (and leave any pending question as it is).
   */
  deliver(id: string, caller: string, message: Record<string, unknown>): DeliverResult {
    const entry = this.entries.get(id);
    if (entry === undefined || entry.caller !== caller) {
      const tag = id.split('.')[1];
      return entry === undefined && tag !== undefined && tag !== this.tag && PendingElicitations.isOurs(id)
        ? 'other_replica'
        : 'unknown';
    }
    this.remove(id);
    entry.resolve({ kind: 'answered', message });
    return 'delivered';
  }

  /** Gives up a question (it could not be sent): its outcome settles as abandoned. */
  cancel(id: string): void {
    const entry = this.entries.get(id);
    if (entry !== undefined && this.remove(id)) entry.resolve({ kind: 'abandoned' });
  }

  /** Drops an entry and its timer and listener; false when it was already gone. */
  private remove(id: string): boolean {
    const entry = this.entries.get(id);
    if (entry === undefined) return false;
    this.entries.delete(id);
    clearTimeout(entry.timer);
    entry.signal?.removeEventListener('abort', entry.onAbort);
    const left = (this.perCaller.get(entry.caller) ?? 1) - 1;
    if (left > 0) this.perCaller.set(entry.caller, left);
    else this.perCaller.delete(entry.caller);
    const ns = serviceAccountNamespace(entry.caller);
    if (ns !== undefined) {
      const inNamespace = (this.perNamespace.get(ns) ?? 1) - 1;
      if (inNamespace > 0) this.perNamespace.set(ns, inNamespace);
      else this.perNamespace.delete(ns);
    }
    this.onSize?.(this.entries.size);
    return true;
  }
}
