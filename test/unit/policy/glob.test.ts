import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compileGlob,
  countStars,
  isGlob,
  MAX_PATTERN_LENGTH,
  type MatchCounter,
  matchGlob,
} from '../../../src/policy/glob.js';

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
    expect(matchGlob(pattern, value)).toBe(expected);
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

  it('matchGlob agrees with the naive matcher on stars, question marks and overlapping segments', () => {
    const text = (chars: string[], maxLength: number) =>
      fc.string({ unit: fc.constantFrom(...chars), maxLength });
    fc.assert(
      fc.property(text(['a', 'b', '*', '?'], 9), text(['a', 'b'], 12), (pattern, value) => {
        expect(matchGlob(pattern, value)).toBe(naiveGlob(pattern, value));
        expect(compileGlob(pattern)(value)).toBe(naiveGlob(pattern, value));
      }),
      { numRuns: 10_000 },
    );
  });

  it('countStars counts the * wildcards only', () => {
    expect(countStars('web')).toBe(0);
    expect(countStars('*-*-prod')).toBe(2);
    expect(countStars('team-??*')).toBe(1);
  });
});

/**
 * The work of a match, counted in character comparisons (never timed): at most m·n + m for a value
 * of length n and a pattern of length m, so linear in the input for the patterns a policy may hold
 * (m <= 63). A backtracking regular expression needs about n²/2 steps for `*-*-prod` on a run of
 * dashes, and grows combinatorially with more stars.
 */
describe('matchGlob work bound', () => {
  const steps = (pattern: string, value: string): number => {
    const counter: MatchCounter = { steps: 0 };
    matchGlob(pattern, value, counter);
    return counter.steps;
  };
  const adversarial: [string, (n: number) => string][] = [
    ['*-*-prod', (n) => `a${'-'.repeat(n)}b`],
    ['*a*a*a*a*a*a*b', (n) => 'a'.repeat(n)],
    ['*aaaaaaaaaaaaaaaab*', (n) => 'a'.repeat(n)],
    ['?*?*?*?*?*?*?*?*c', (n) => 'ab'.repeat(n / 2)],
    [`*${'a'.repeat(MAX_PATTERN_LENGTH - 2)}*`.slice(0, MAX_PATTERN_LENGTH), (n) => 'a'.repeat(n)],
  ];

  it.each(adversarial)('%s: at most m·n + m comparisons, growing linearly with n', (pattern, input) => {
    const m = pattern.length;
    const counts = [1_000, 10_000, 100_000].map((n) => {
      const value = input(n);
      const count = steps(pattern, value);
      expect(count).toBeLessThanOrEqual(m * value.length + m);
      return count;
    });
    // Ten times the input, at most about ten times the work (a quadratic matcher would be 100x).
    const [a = 0, b = 0, c = 0] = counts;
    expect(b).toBeLessThanOrEqual(11 * a + m);
    expect(c).toBeLessThanOrEqual(11 * b + m);
  });

  it('holds for random patterns and inputs (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', 'b', '-', '*', '?'), maxLength: MAX_PATTERN_LENGTH }),
        fc.string({ unit: fc.constantFrom('a', 'b', '-'), maxLength: 2_000 }),
        (pattern, value) => {
          expect(steps(pattern, value)).toBeLessThanOrEqual(pattern.length * value.length + pattern.length);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
