/**
 * The objects an informer caches, indexed by namespace and name (get is O(1)), with the views that
 * lists read: one frozen snapshot of every object, the namespaces in order, and each namespace's
 * objects in name order, each built on demand and shared until what it shows changes. Cached objects
 * are shared: never mutate.
 */

/** What the store reads of every object. */
export interface ObjectMeta {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly resourceVersion?: string;
  };
}

/** The answer for a namespace without cached objects (shared, frozen). */
const EMPTY: readonly never[] = Object.freeze([]);

const byName = <T extends ObjectMeta>(a: T, b: T): number => {
  const x = a.metadata?.name ?? '';
  const y = b.metadata?.name ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
};

export class ObjectStore<T extends ObjectMeta> {
  /** namespace ('' for cluster-scoped objects) → name → object. */
  private readonly byNamespace = new Map<string, Map<string, T>>();
  private count = 0;
  private snapshot: readonly T[] | undefined;
  /** Per-namespace views sorted by name, built on demand, dropped when that namespace changes. */
  private readonly sortedByNamespace = new Map<string, readonly T[]>();
  private namespaceOrder: readonly string[] | undefined;

  /** How many objects it holds. */
  get size(): number {
    return this.count;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.byNamespace.get(namespace ?? '')?.get(name);
  }

  /** Adds or replaces an object; true when one of its namespace and name was there before. */
  put(obj: T): boolean {
    const ns = obj.metadata?.namespace ?? '';
    const name = obj.metadata?.name ?? '';
    let names = this.byNamespace.get(ns);
    if (names === undefined) {
      names = new Map();
      this.byNamespace.set(ns, names);
      this.namespaceOrder = undefined;
    }
    const existed = names.has(name);
    names.set(name, obj);
    if (!existed) this.count++;
    this.invalidate(ns);
    return existed;
  }

  /** Removes the object of this namespace and name; false when there was none. */
  remove(namespace: string, name: string): boolean {
    const names = this.byNamespace.get(namespace);
    if (!names?.delete(name)) return false;
    this.count--;
    if (names.size === 0) {
      this.byNamespace.delete(namespace);
      this.namespaceOrder = undefined;
    }
    this.invalidate(namespace);
    return true;
  }

  /**
   * What changed from this store to `next`: objects added, updated (another resourceVersion) and
   * deleted, in that order.
   */
  *changesTo(next: ObjectStore<T>): Generator<['add' | 'update' | 'delete', T]> {
    for (const [ns, names] of next.byNamespace) {
      const before = this.byNamespace.get(ns);
      for (const [name, obj] of names) {
        const prev = before?.get(name);
        if (prev === undefined) yield ['add', obj];
        else if (prev.metadata?.resourceVersion !== obj.metadata?.resourceVersion) yield ['update', obj];
      }
    }
    for (const [ns, names] of this.byNamespace) {
      const after = next.byNamespace.get(ns);
      for (const [name, obj] of names) if (!after?.has(name)) yield ['delete', obj];
    }
  }

  /** Every object. The array is shared until the next change: do not mutate it. */
  list(): readonly T[] {
    if (!this.snapshot) {
      const all: T[] = new Array(this.count);
      let i = 0;
      for (const names of this.byNamespace.values()) for (const o of names.values()) all[i++] = o;
      all.length = i;
      this.snapshot = Object.freeze(all);
    }
    return this.snapshot;
  }

  /** The objects of one namespace (a fresh array). */
  listNamespace(namespace: string): T[] {
    const objects = this.byNamespace.get(namespace);
    return objects ? [...objects.values()] : [];
  }

  /**
   * The namespaces that hold objects, in ascending order (namespaced kinds). Shared until a namespace
   * gains its first or loses its last object: do not mutate.
   */
  namespaces(): readonly string[] {
    this.namespaceOrder ??= Object.freeze([...this.byNamespace.keys()].filter((n) => n !== '').sort());
    return this.namespaceOrder;
  }

  /**
   * The objects of one namespace in ascending name order. Built once per change of that namespace (so
   * a list over every namespace costs O(namespaces + page), not a sort of every object per call);
   * shared: do not mutate.
   */
  sortedInNamespace(namespace: string): readonly T[] {
    if (namespace === '') return EMPTY;
    let sorted = this.sortedByNamespace.get(namespace);
    if (sorted === undefined) {
      // Nothing is remembered for a namespace without objects: a caller may name any number of
      // namespaces that do not exist, and each would otherwise keep an entry here for good.
      const objects = this.byNamespace.get(namespace);
      if (objects === undefined) return EMPTY;
      sorted = Object.freeze([...objects.values()].sort(byName));
      this.sortedByNamespace.set(namespace, sorted);
    }
    return sorted;
  }

  private invalidate(namespace: string): void {
    this.snapshot = undefined;
    this.sortedByNamespace.delete(namespace);
  }
}
