import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileGlob, globToRegExp, isGlob } from '../../../src/policy/glob.js';

/** An independent glob matcher (backtracking over the pattern), to check the fast paths against. */
function naiveGlob(pattern: string, value: string): boolean {
  if (pattern === '') return value === '';
  const [head, rest] = [pattern[0], pattern.slice(1)];
  if (head === '*') {
    for (let i = 0; i <= value.length; i++) if (naiveGlob(rest, value.slice(i))) return true;
    return false;
  }
  if (value === '') return false;
  return (head === '?' || head === value[0]) && naiveGlob(rest, value.slice(1));
}

describe('compileGlob', () => {
  it.each([
    ['web', 'web', true],
    ['web', 'web-1', false],
    ['web', 'we', false],
    ['*', '', true],
    ['*', 'anything-at-all', true],
    ['web-*', 'web-', true],
    ['web-*', 'web-prod', true],
    ['web-*', 'web', false],
    ['web-*', 'shop-web-1', false],
    ['*-prod', 'web-prod', true],
    ['*-prod', 'web-prod-2', false],
    ['*web*', 'a-web-b', true],
    ['*web*', 'weeb', false],
    ['team-?', 'team-a', true],
    ['team-?', 'team-', false],
    ['team-?', 'team-ab', false],
    ['?', 'a', true],
    ['?', '', false],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'a-x-b-y-c', true],
    ['a*b*c', 'a-x-c-b', false],
    ['list_*', 'list_pods', true],
    ['list_*', 'scale_deployment', false],
    ['scale_?????????*', 'scale_deployment', true],
    ['a.b', 'axb', false],
    ['a+', 'aa', false],
    ['(x)', '(x)', true],
  ])('%s vs %s → %s', (pattern, value, expected) => {
    expect(compileGlob(pattern)(value)).toBe(expected);
    expect(globToRegExp(pattern).test(value)).toBe(expected);
    expect(naiveGlob(pattern, value)).toBe(expected);
  });

  it('isGlob tells patterns from names', () => {
    expect(isGlob('web')).toBe(false);
    expect(isGlob('web-*')).toBe(true);
    expect(isGlob('team-?')).toBe(true);
  });

  it('every fast path agrees with a naive matcher', () => {
    const text = (chars: string[], maxLength: number) =>
      fc.string({ unit: fc.constantFrom(...chars), maxLength });
    fc.assert(
      fc.property(
        text(['a', 'b', '-', '*', '?', '.'], 6),
        text(['a', 'b', '-', '.'], 8),
        (pattern, value) => {
          expect(compileGlob(pattern)(value)).toBe(naiveGlob(pattern, value));
        },
      ),
      { numRuns: 5000 },
    );
  });
});
