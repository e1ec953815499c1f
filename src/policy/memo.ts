/**
 * What one compile may reuse from the ones before it. A policy compiles to the same result as long
 * as its spec, its generation and its context are the same: the namespaces (names and labels), the
 * McpDelegations and the operator's namespace. The controller keeps one memo across rebuilds, so an
 * edit of one policy among 11,000 compiles that one policy, and every other result is reused.
 *
 * A spec is known by its object: the watch cache replaces an object when it changes, so the same
 * object is the same spec (results are held weakly by it and go with it). Any change of context
 * forgets everything. Pure: no I/O; the memo belongs to its caller.
 */

import type { CompiledPolicy } from './compiled.js';
import { newShared, type SharedTools } from './tenancy.js';
import type { NamespaceInfo } from './types.js';

/** One compiled policy: its status, and its grant and subjects when it is Ready. */
export type Compiled = CompiledPolicy;

interface Entry {
  readonly id: string;
  readonly generation: number;
  readonly compiled: Compiled;
}

/** What every policy's result depends on besides its own spec. */
export interface MemoContext {
  readonly namespaces: readonly NamespaceInfo[];
  readonly delegations: readonly {
    readonly name: string;
    readonly generation?: number;
    readonly spec: unknown;
  }[];
  readonly operatorNamespace?: string;
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  if (a === b) return true;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
}

function sameContext(a: MemoContext, b: MemoContext, delegationsA: string, delegationsB: string): boolean {
  if (a.operatorNamespace !== b.operatorNamespace || delegationsA !== delegationsB) return false;
  if (a.namespaces.length !== b.namespaces.length) return false;
  for (let i = 0; i < a.namespaces.length; i++) {
    const x = a.namespaces[i] as NamespaceInfo;
    const y = b.namespaces[i] as NamespaceInfo;
    if (x.name !== y.name || !sameLabels(x.labels, y.labels)) return false;
  }
  return true;
}

export class CompileMemo {
  private context: MemoContext | undefined;
  private delegationsKey = '';
  private results = new WeakMap<object, Entry>();
  private sharedParts: SharedTools = newShared();

  /** Starts a compile in `context`: everything is forgotten when it differs from the last one. */
  begin(context: MemoContext): void {
    const key = JSON.stringify(context.delegations.map((d) => [d.name, d.generation ?? 0, d.spec]));
    if (this.context && sameContext(this.context, context, this.delegationsKey, key)) {
      this.context = context;
      return;
    }
    this.context = context;
    this.delegationsKey = key;
    this.results = new WeakMap();
    this.sharedParts = newShared();
  }

  /** What the policies of the compiles since the context last changed share (tool sets, texts, ...). */
  get shared(): SharedTools {
    return this.sharedParts;
  }

  get(spec: unknown, id: string, generation: number): Compiled | undefined {
    if (typeof spec !== 'object' || spec === null) return undefined;
    const hit = this.results.get(spec);
    return hit && hit.id === id && hit.generation === generation ? hit.compiled : undefined;
  }

  set(spec: unknown, id: string, generation: number, compiled: Compiled): void {
    if (typeof spec === 'object' && spec !== null) this.results.set(spec, { id, generation, compiled });
  }
}
