/**
 * The shape of src/: no import cycles between files, and the API types (src/api) import nothing
 * from the policy engine (src/policy), which is built on them. Read from the sources, not a bundler.
 */

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(__dirname, '../../../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Relative imports of a file (type-only ones included: they tie the files' meanings together too). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^;'"]*?from\s+['"](\.[^'"]+)['"]/g)) {
    const spec = m[1];
    if (spec !== undefined) out.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
  }
  return out;
}

function graph(): Map<string, string[]> {
  const all = files(SRC);
  const known = new Set(all);
  return new Map(all.map((f) => [f, importsOf(f).filter((i) => known.has(i))]));
}

/** Every cycle found by a depth-first search, each as the files on it (relative to src/). */
function cycles(g: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const next of g.get(f) ?? []) {
      const s = state.get(next);
      if (s === 'open') found.push(stack.slice(stack.indexOf(next)).map((x) => relative(SRC, x)));
      else if (s === undefined) visit(next);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of [...g.keys()].sort()) if (!state.has(f)) visit(f);
  return found;
}

describe('the import graph of src/', () => {
  it('has no cycles', () => {
    expect(cycles(graph())).toEqual([]);
  });

  it('src/api imports nothing from src/policy', () => {
    const offending = [...graph()]
      .filter(([f]) => relative(SRC, f).startsWith('api/'))
      .flatMap(([f, imports]) =>
        imports
          .filter((i) => relative(SRC, i).startsWith('policy/'))
          .map((i) => `${relative(SRC, f)} -> ${relative(SRC, i)}`),
      );
    expect(offending).toEqual([]);
  });
});
