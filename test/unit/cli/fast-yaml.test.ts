/**
 * The fast YAML reader answers as the `yaml` package does, or not at all: for random documents
 * written in many styles, every value and the line of every node agree with `yaml`'s, and the files
 * this project's users write (the example repository, the benchmark's generated repository) are
 * read by the fast path, not the fallback.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineCounter, parseAllDocuments, stringify } from 'yaml';
import { writePolicyRepo } from '../../../bench/lib/policy-repo.js';
import { fastYamlDocs, lineIn } from '../../../src/policyfile/fast-yaml.js';
import { yamlFilesUnder } from '../../../src/policyfile/files.js';
import { isEmpty } from '../../../src/policyfile/yaml.js';
import { EXAMPLE, scratch } from './support.js';

/** What the `yaml` package says: each document's value and a line-of-path function. */
function reference(text: string) {
  const lc = new LineCounter();
  return parseAllDocuments(text, { lineCounter: lc, uniqueKeys: true })
    .filter((d) => !isEmpty(d.contents))
    .map((d) => {
      if (d.errors.length > 0) throw new Error(d.errors[0]?.message);
      return {
        value: d.toJS() as unknown,
        lineOf(path: (string | number)[]): number {
          for (let n = path.length; n >= 0; n--) {
            const node = (n === 0 ? d.contents : d.getIn(path.slice(0, n), true)) as {
              range?: number[];
            } | null;
            if (node?.range) return lc.linePos(node.range[0] as number).line;
          }
          return 0;
        },
      };
    });
}

/** Every path into a value. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out = [prefix];
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) out.push(...paths(v, [...prefix, i]));
  } else if (typeof value === 'object' && value !== null)
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}

/** Asserts the fast reader agrees with `yaml`; returns whether it answered at all. */
function agrees(text: string): boolean {
  const fast = fastYamlDocs(text);
  if (fast === undefined) return false;
  const ref = reference(text);
  expect(fast.map((d) => d.value)).toEqual(ref.map((d) => d.value));
  fast.forEach((doc, i) => {
    for (const path of paths(doc.value))
      expect(lineIn(doc.lines, path), `line of ${JSON.stringify(path)} in\n${text}`).toBe(
        ref[i]?.lineOf(path),
      );
  });
  return true;
}

const key = fc.oneof(
  fc.constantFrom(
    'name',
    'kind',
    'spec',
    'a.b/c',
    'true',
    'null',
    '1',
    'x y',
    'k:v',
    '#k',
    '-',
    "it's",
    '"q"',
  ),
  fc.string({ maxLength: 6 }),
);
const scalar = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom(
    'true',
    'False',
    'null',
    '~',
    '',
    '0',
    '007',
    '1.5',
    '-3',
    'a: b',
    'a #b',
    "'",
    '"',
    '- x',
    '[x]',
    'x,y',
    '\\n',
  ),
  fc.integer({ min: -1_000_000, max: 1_000_000 }),
  fc.boolean(),
  fc.constant(null),
  fc.double({ noNaN: true }),
);
const value = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, scalar, tie('list'), tie('map')),
  list: fc.array(tie('node'), { maxLength: 4 }),
  map: fc.dictionary(key, tie('node'), { maxKeys: 4 }),
})).node;

describe('the fast YAML reader', () => {
  it('agrees with the yaml package on values and lines, in every style it answers', () => {
    let answered = 0;
    fc.assert(
      fc.property(
        fc.array(value, { minLength: 1, maxLength: 3 }),
        fc.constantFrom(0, 1, 2, 3),
        fc.constantFrom('PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE'),
        fc.boolean(),
        (docs, flowLevel, defaultStringType, comments) => {
          let text = docs
            .map((d) =>
              stringify(d, {
                ...(flowLevel > 0 ? { collectionStyle: 'any', flowCollectionPadding: flowLevel > 1 } : {}),
                defaultStringType: defaultStringType as 'PLAIN',
                indentSeq: flowLevel !== 3,
              }),
            )
            .join('---\n');
          if (comments) text = text.replace(/\n/g, '  # note\n# a line\n');
          if (agrees(text)) answered++;
        },
      ),
      { numRuns: 600 },
    );
    // The reader must answer often, or the property says little.
    expect(answered).toBeGreaterThan(150);
  });

  it.each([
    ['a block map under a sequence at the same indent', 'a:\n- x\n- y: 1\n  z: [1, "2", {k: v}]\nb: ~\n'],
    ['comments and quotes', "# head\nkind: X # c\nname: 'it''s # not'\nq: \"a\\\"b\" # c\n"],
    ['an empty value, then a deeper block', 'a:\nb:\n  c:\n    - - 1\n      - 2\n'],
    ['documents, some empty', '---\n# only a comment\n---\na: 1\n---\n---\nb: [ ]\n'],
  ])('agrees on %s', (_name, text) => {
    expect(agrees(text)).toBe(true);
  });

  it.each([
    ['an anchor', 'a: &x 1\nb: *x\n'],
    ['a block scalar', 'a: |\n  text\n'],
    ['a multi-line plain scalar', 'a: one\n  two\n'],
    ['a tab', 'a:\t1\n'],
    ['a duplicate key', 'a: 1\na: 2\n'],
    ['a float', 'a: 1.5\n'],
    ['a tag', 'a: !!str 1\n'],
  ])('leaves %s to the yaml package', (_name, text) => {
    expect(fastYamlDocs(text)).toBeUndefined();
  });

  it('reads the example repository and the benchmark repository on the fast path', () => {
    const dir = scratch();
    writePolicyRepo(dir, 60, 100);
    for (const file of [...yamlFilesUnder(EXAMPLE), ...yamlFilesUnder(dir)]) {
      if (file.includes('/.github/')) continue;
      expect(agrees(readFileSync(file, 'utf8')), file).toBe(true);
    }
    expect(agrees(readFileSync(join(dir, 'kubemcp-test.yaml'), 'utf8'))).toBe(true);
  });
});
