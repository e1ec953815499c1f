import { createHash } from 'node:crypto';
import { ToolError } from './errors.js';

/**
 * Opaque pagination cursors. A cursor is base64url JSON of the sort key of the last item returned
 * (so inserts and deletes between pages neither repeat nor skip the items around the boundary) and
 * a fingerprint of the query it belongs to. Any replica can resume it: nothing is stored server side.
 * A cursor that does not decode, or that belongs to another query, is Invalid.
 */

export type CursorKey = readonly string[];

interface CursorPayload {
  v: 1;
  /** Query fingerprint. */
  f: string;
  /** Sort key of the last item of the previous page. */
  k: string[];
}

/** Recent fingerprints (a list call computes one per call; agents repeat the same few queries). */
const fingerprints = new Map<string, string>();
const MAX_FINGERPRINTS = 1024;

/** A short stable hash of the parts that define a query (tool, namespace, selector, ...). */
export function fingerprint(parts: readonly (string | undefined)[]): string {
  const json = JSON.stringify(parts.map((p) => p ?? null));
  let fp = fingerprints.get(json);
  if (fp === undefined) {
    fp = createHash('sha256').update(json).digest('base64url').slice(0, 16);
    if (fingerprints.size >= MAX_FINGERPRINTS) fingerprints.clear();
    fingerprints.set(json, fp);
  }
  return fp;
}

export function encodeCursor(fp: string, key: CursorKey): string {
  const payload: CursorPayload = { v: 1, f: fp, k: [...key] };
  return Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
}

export class CursorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CursorError';
  }
}

/**
 * Longest cursor accepted. The longest cursor we hand out holds a kind index, a namespace (63) and an
 * object name (253) plus the fingerprint: about 450 characters of base64url.
 */
export const MAX_CURSOR_LENGTH = 1024;
/** Parts of a sort key ([kind, namespace, name] at most) and the longest part (an object name). */
const MAX_KEY_PARTS = 3;
const MAX_KEY_PART_LENGTH = 253;

/** Decodes a cursor for the query `fp`; throws CursorError when it is malformed or foreign. */
export function decodeCursor(cursor: string, fp: string): CursorKey {
  // The length first: nothing else looks at an oversized cursor.
  if (cursor.length > MAX_CURSOR_LENGTH) throw new CursorError('not a cursor (too long)');
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new CursorError('not a cursor');
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new CursorError('not a cursor');
  }
  if (
    typeof payload !== 'object' ||
    payload === null ||
    (payload as CursorPayload).v !== 1 ||
    typeof (payload as CursorPayload).f !== 'string' ||
    !Array.isArray((payload as CursorPayload).k) ||
    (payload as CursorPayload).k.length > MAX_KEY_PARTS ||
    !(payload as CursorPayload).k.every((s) => typeof s === 'string' && s.length <= MAX_KEY_PART_LENGTH)
  ) {
    throw new CursorError('not a cursor');
  }
  const p = payload as CursorPayload;
  if (p.f !== fp) throw new CursorError('the cursor belongs to a different query');
  return p.k;
}

function compareKeys(a: CursorKey, b: CursorKey): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] ?? '';
    const y = b[i] ?? '';
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return 0;
}

/** The sort key a `continue` cursor points past, or undefined for the first page; ToolError('Invalid') when bad. */
function cursorKey(opts: { cursor?: string | undefined; fingerprint: string }): CursorKey | undefined {
  if (opts.cursor === undefined || opts.cursor === '') return undefined;
  try {
    return decodeCursor(opts.cursor, opts.fingerprint);
  } catch (err) {
    throw new ToolError('Invalid', 'The continue cursor is not valid for this query', {
      reason: err instanceof Error ? err.message : 'bad cursor',
      suggestions: [
        'Pass back nextCursor exactly as returned, with the same namespace and labelSelector',
        'Omit continue to start from the first page',
      ],
    });
  }
}

export interface Page<T> {
  readonly items: T[];
  /** Items matching the query in total (all pages). */
  readonly total: number;
  readonly nextCursor?: string;
}

/**
 * Sorts `items` by `keyOf`, skips past the cursor, and returns at most `limit` items plus the cursor
 * of the next page. Throws ToolError('Invalid') for a bad cursor.
 */
export function paginate<T>(
  items: readonly T[],
  keyOf: (item: T) => CursorKey,
  opts: { limit: number; cursor?: string | undefined; fingerprint: string },
): Page<T> {
  const keyed = items.map((item) => ({ item, key: keyOf(item) }));
  keyed.sort((a, b) => compareKeys(a.key, b.key));
  let start = 0;
  const after = cursorKey(opts);
  if (after !== undefined) {
    start = keyed.findIndex((k) => compareKeys(k.key, after) > 0);
    if (start === -1) start = keyed.length;
  }
  const slice = keyed.slice(start, start + opts.limit);
  const last = slice.at(-1);
  const more = start + opts.limit < keyed.length;
  return {
    items: slice.map((k) => k.item),
    total: keyed.length,
    ...(more && last !== undefined ? { nextCursor: encodeCursor(opts.fingerprint, last.key) } : {}),
  };
}

/**
 * paginate() over items that are already grouped and sorted: `groups` ascending by their key prefix
 * (e.g. [namespace], or [kind, namespace]), each group's items ascending by name, with the sort key
 * [...groupKey, name]. Gives the same page, total and cursor as paginate() over the matching items,
 * without copying or sorting them: the cursor's place in each group is found by binary search.
 * Without `matches` a call costs O(groups · log + limit); with it, every item of every group is
 * tested once (still no sort, no copy).
 */
export function paginateGroups<G, T>(
  groups: readonly G[],
  keyOf: (group: G) => CursorKey,
  itemsOf: (group: G) => readonly T[],
  nameOf: (item: T) => string,
  matches: ((item: T) => boolean) | undefined,
  opts: { limit: number; cursor?: string | undefined; fingerprint: string },
): Page<{ readonly group: G; readonly item: T }> {
  const after = cursorKey(opts);
  const page: { group: G; item: T }[] = [];
  let total = 0;
  /** Matching items after the cursor (page included). */
  let remaining = 0;
  for (const group of groups) {
    const items = itemsOf(group);
    if (items.length === 0) continue;
    const prefix = keyOf(group);
    // First index whose key [...prefix, name] is past the cursor.
    let start = 0;
    if (after !== undefined) {
      let lo = 0;
      let hi = items.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (compareKeys([...prefix, nameOf(items[mid] as T)], after) > 0) hi = mid;
        else lo = mid + 1;
      }
      start = lo;
    }
    if (matches === undefined) {
      total += items.length;
      remaining += items.length - start;
      for (let i = start; i < items.length && page.length < opts.limit; i++) {
        page.push({ group, item: items[i] as T });
      }
      continue;
    }
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as T;
      if (!matches(item)) continue;
      total++;
      if (i < start) continue;
      remaining++;
      if (page.length < opts.limit) page.push({ group, item });
    }
  }
  const tail = page.at(-1);
  return {
    items: page,
    total,
    ...(remaining > opts.limit && tail !== undefined
      ? { nextCursor: encodeCursor(opts.fingerprint, [...keyOf(tail.group), nameOf(tail.item)]) }
      : {}),
  };
}

/** paginateGroups() for namespaced objects grouped by namespace: the sort key is [namespace, name]. */
export function paginateSorted<T>(
  namespaces: readonly string[],
  groupOf: (namespace: string) => readonly T[],
  nameOf: (item: T) => string,
  matches: ((item: T) => boolean) | undefined,
  opts: { limit: number; cursor?: string | undefined; fingerprint: string },
): Page<T> {
  const page = paginateGroups(namespaces, (ns) => [ns], groupOf, nameOf, matches, opts);
  return {
    items: page.items.map((e) => e.item),
    total: page.total,
    ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
  };
}
