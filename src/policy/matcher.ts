/**
 * Which existing namespaces a glob or a label selector matches, memoized and shared by every policy
 * and delegation of one compile. Pure.
 */

import type { LabelSelector } from '../api/v1alpha1/schema.js';
import { compileGlob } from './glob.js';
import { compileSelector } from './selector.js';
import type { NamespaceInfo } from './types.js';

export class NamespaceMatcher {
  private readonly globCache = new Map<string, ReadonlySet<string>>();
  private readonly selectorCache = new Map<string, ReadonlySet<string>>();

  constructor(
    private readonly namespaces: readonly NamespaceInfo[],
    private readonly names: ReadonlySet<string>,
  ) {}

  /** How many namespaces there are. */
  size(): number {
    return this.names.size;
  }

  exists(name: string): boolean {
    return this.names.has(name);
  }

  glob(pattern: string): ReadonlySet<string> {
    let hit = this.globCache.get(pattern);
    if (!hit) {
      const match = compileGlob(pattern);
      hit = new Set(this.namespaces.filter((ns) => match(ns.name)).map((ns) => ns.name));
      this.globCache.set(pattern, hit);
    }
    return hit;
  }

  selector(selector: LabelSelector): ReadonlySet<string> {
    const key = JSON.stringify([selector.matchLabels ?? {}, selector.matchExpressions ?? []]);
    let hit = this.selectorCache.get(key);
    if (!hit) {
      const match = compileSelector(selector);
      hit = new Set(this.namespaces.filter((ns) => match(ns.labels)).map((ns) => ns.name));
      this.selectorCache.set(key, hit);
    }
    return hit;
  }
}
