/**
 * paginateSorted (the list tools' fast path over the informers' sorted per-namespace views) must give
 * exactly what paginate gives over the same objects: page, total and cursor, page after page, with
 * and without a filter, from any cursor either of them produced.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CursorKey, paginate, paginateSorted } from '../../../src/mcp/cursor.js';

interface Obj {
  readonly namespace: string;
  readonly name: string;
  readonly even: boolean;
}

const nameArb = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,6}$/);
const objectsArb = fc
  .uniqueArray(
    fc.record({ namespace: fc.constantFrom('a', 'b', 'b-1', 'c', 'default', 'z'), name: nameArb }),
    {
      selector: (o) => `${o.namespace}/${o.name}`,
      maxLength: 60,
    },
  )
  .map((list) => list.map((o, i) => ({ ...o, even: i % 2 === 0 })));

function grouped(objects: readonly Obj[]) {
  const by = new Map<string, Obj[]>();
  for (const o of objects) {
    if (!by.has(o.namespace)) by.set(o.namespace, []);
    by.get(o.namespace)?.push(o);
  }
  for (const g of by.values()) g.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  const namespaces = [...by.keys()].sort();
  return { namespaces, groupOf: (ns: string) => by.get(ns) ?? [] };
}

const keyOf = (o: Obj): CursorKey => [o.namespace, o.name];
const FP = 'fp';

describe('paginateSorted', () => {
  it('walks the same pages as paginate (all namespaces, some namespaces, with and without a filter)', () => {
    fc.assert(
      fc.property(
        objectsArb,
        fc.integer({ min: 1, max: 7 }),
        fc.boolean(),
        fc.subarray(['a', 'b', 'b-1', 'c', 'default', 'z']),
        (objects, limit, filtered, allowed) => {
          const { namespaces, groupOf } = grouped(objects);
          const visible = namespaces.filter((n) => allowed.includes(n));
          const matches = filtered ? (o: Obj) => o.even : undefined;
          const reference = objects.filter((o) => allowed.includes(o.namespace) && (matches?.(o) ?? true));
          let cursor: string | undefined;
          const seen: string[] = [];
          for (let guard = 0; guard < 100; guard++) {
            const want = paginate(reference, keyOf, { limit, cursor, fingerprint: FP });
            const got = paginateSorted(visible, groupOf, (o) => o.name, matches, {
              limit,
              cursor,
              fingerprint: FP,
            });
            expect(got.items).toEqual(want.items);
            expect(got.total).toBe(want.total);
            expect(got.nextCursor).toBe(want.nextCursor);
            seen.push(...got.items.map((o) => `${o.namespace}/${o.name}`));
            if (got.nextCursor === undefined) break;
            cursor = got.nextCursor;
          }
          expect(seen).toHaveLength(reference.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('resumes after a cursor whose object has since been deleted, like paginate', () => {
    const objects: Obj[] = ['a/1', 'a/2', 'b/1', 'b/3', 'c/1'].map((k, i) => {
      const [namespace = '', name = ''] = k.split('/');
      return { namespace, name, even: i % 2 === 0 };
    });
    const first = paginateSorted(['a', 'b', 'c'], grouped(objects).groupOf, (o) => o.name, undefined, {
      limit: 3,
      fingerprint: FP,
    });
    expect(first.items.map((o) => o.name)).toEqual(['1', '2', '1']);
    const after = objects.filter((o) => !(o.namespace === 'b' && o.name === '1'));
    const { namespaces, groupOf } = grouped(after);
    const next = paginateSorted(namespaces, groupOf, (o) => o.name, undefined, {
      limit: 3,
      cursor: first.nextCursor,
      fingerprint: FP,
    });
    const want = paginate(after, keyOf, { limit: 3, cursor: first.nextCursor, fingerprint: FP });
    expect(next.items).toEqual(want.items);
    expect(next.items.map((o) => `${o.namespace}/${o.name}`)).toEqual(['b/3', 'c/1']);
  });

  it('rejects a foreign cursor as Invalid', () => {
    expect(() =>
      paginateSorted(
        ['a'],
        () => [],
        (o: Obj) => o.name,
        undefined,
        {
          limit: 1,
          cursor: 'bm90LWEtY3Vyc29y',
          fingerprint: FP,
        },
      ),
    ).toThrow(/not valid/);
  });
});
