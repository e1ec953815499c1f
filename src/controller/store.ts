/**
 * The published policy index. The controller builds a new immutable PolicyIndex and swaps it in
 * atomically; readers (the MCP server: `getIndex = () => store.current()`) always see one whole index.
 */

import { compile, type PolicyIndex } from '../policy/index.js';

export type IndexListener = (index: PolicyIndex, version: number) => void;

const EMPTY: PolicyIndex = compile({ policies: [], namespaces: [] });

export class PolicyStore {
  private index: PolicyIndex;
  private versionCounter = 0;
  private published = false;
  private readonly listeners = new Set<IndexListener>();

  /** Starts with an index that grants nothing (deny by default) until the first publish. */
  constructor(initial: PolicyIndex = EMPTY) {
    this.index = initial;
  }

  /** The current index: cheap, call it per request. */
  current(): PolicyIndex {
    return this.index;
  }

  /** Incremented on every publish; 0 before the first. */
  get version(): number {
    return this.versionCounter;
  }

  /** True once an index built from synced caches has been published. */
  get ready(): boolean {
    return this.published;
  }

  /** Swaps in `index` and tells the listeners; returns the new version. */
  publish(index: PolicyIndex): number {
    this.index = index;
    this.versionCounter++;
    this.published = true;
    const version = this.versionCounter;
    for (const listener of this.listeners) {
      try {
        listener(index, version);
      } catch {
        // a listener's failure must not stop the others or the publisher
      }
    }
    return version;
  }

  /** Registers a listener called after each publish; returns a function that removes it. */
  onChange(listener: IndexListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Resolves with the first published index (current or future) for which `predicate` holds. */
  waitFor(predicate: (index: PolicyIndex) => boolean, timeoutMs = 10_000): Promise<PolicyIndex> {
    if (this.published && predicate(this.index)) return Promise.resolve(this.index);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no matching policy index within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onChange((index) => {
        if (!predicate(index)) return;
        clearTimeout(timer);
        off();
        resolve(index);
      });
    });
  }
}
