/**
 * Globs over names: `*` matches any run of characters (also none), `?` exactly one character, every
 * other character itself. There are no character classes and no escapes. Pure.
 *
 * Matching never uses a regular expression, so no pattern and no input can make it backtrack
 * exponentially. The pattern is split at its stars into segments (which may hold `?`): the first
 * segment must match at the start, the last at the end, and the ones between are placed, in order,
 * at their leftmost occurrence after the previous one (leftmost placement is always safe: a later
 * occurrence leaves less room for what follows, never more).
 *
 * Cost bound, in character comparisons, for a value of length n and a pattern of length m:
 * every start position the search for a middle segment tries is past the previous segment's match,
 * so each position of the value is tried as the start of at most one segment, at a cost of at most
 * that segment's length; the two anchored segments cost their length once. Hence at most
 * n·s + m comparisons, where s is the longest segment (s < m). Patterns in policies have at most
 * {@link MAX_PATTERN_LENGTH} characters, so a match costs at most 63·n + 63: linear in the input.
 * {@link matchGlob} can count the comparisons, so tests check the bound instead of timing it.
 */

// The pattern rules the API schema validates with live with it (src/api); the engine matches here.
import {
  countStars,
  globCanMatchPrefix,
  MAX_PATTERN_LENGTH,
  MAX_PATTERN_STARS,
  prefixGlobRegex,
  toolPatternMayScale,
} from '../api/v1alpha1/patterns.js';

export {
  countStars,
  globCanMatchPrefix,
  MAX_PATTERN_LENGTH,
  MAX_PATTERN_STARS,
  prefixGlobRegex,
  toolPatternMayScale,
};

export type Matcher = (value: string) => boolean;

/** Counts the character comparisons of a match (for tests and benchmarks). */
export interface MatchCounter {
  steps: number;
}

export function isGlob(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

const QUESTION = 63; // '?'

/** Whether `segment` (which may hold `?`) matches `value` at `at`; counts one step per character compared. */
function segmentAt(segment: string, value: string, at: number, counter: MatchCounter | undefined): boolean {
  const len = segment.length;
  for (let i = 0; i < len; i++) {
    if (counter) counter.steps++;
    const p = segment.charCodeAt(i);
    if (p !== QUESTION && p !== value.charCodeAt(at + i)) return false;
  }
  return true;
}

/** A glob split at its stars: the anchored head and tail, the floating middle segments. */
interface Parsed {
  readonly stars: boolean;
  readonly head: string;
  readonly middle: readonly string[];
  readonly tail: string;
  /** Characters the value needs at least: every segment's length. */
  readonly minLength: number;
}

function parse(pattern: string): Parsed {
  const parts = pattern.split('*');
  if (parts.length === 1)
    return { stars: false, head: pattern, middle: [], tail: '', minLength: pattern.length };
  const head = parts[0] ?? '';
  const tail = parts[parts.length - 1] ?? '';
  const middle = parts.slice(1, -1).filter((s) => s !== '');
  const minLength = parts.reduce((sum, s) => sum + s.length, 0);
  return { stars: true, head, middle, tail, minLength };
}

function matchParsed(g: Parsed, value: string, counter: MatchCounter | undefined): boolean {
  const n = value.length;
  if (!g.stars) return n === g.head.length && segmentAt(g.head, value, 0, counter);
  if (n < g.minLength) return false;
  if (!segmentAt(g.head, value, 0, counter)) return false;
  const tailStart = n - g.tail.length;
  if (!segmentAt(g.tail, value, tailStart, counter)) return false;
  // Place each middle segment at its leftmost occurrence in value[pos, tailStart).
  let pos = g.head.length;
  for (const segment of g.middle) {
    const last = tailStart - segment.length;
    let found = -1;
    for (let at = pos; at <= last; at++) {
      if (segmentAt(segment, value, at, counter)) {
        found = at;
        break;
      }
    }
    if (found === -1) return false;
    pos = found + segment.length;
  }
  return true;
}

/** Whether `value` matches the glob; `counter`, when given, accumulates the comparisons made. */
export function matchGlob(pattern: string, value: string, counter?: MatchCounter): boolean {
  return matchParsed(parse(pattern), value, counter);
}

/**
 * A predicate for one glob, with the pattern parsed once: equality for literals, `startsWith` /
 * `endsWith` / `includes` for the common one-star shapes, the segment matcher otherwise. Every
 * path costs O(n·m) at worst (see the bound above).
 */
export function compileGlob(pattern: string): Matcher {
  if (!isGlob(pattern)) return (value) => value === pattern;
  if (/^\*+$/.test(pattern)) return () => true;
  if (!pattern.includes('?')) {
    const parts = pattern.split('*');
    if (parts.length === 2) {
      const [head = '', tail = ''] = parts;
      if (tail === '') return (value) => value.startsWith(head);
      if (head === '') return (value) => value.endsWith(tail);
    }
    if (parts.length === 3 && parts[0] === '' && parts[2] === '') {
      const middle = parts[1] ?? '';
      return (value) => value.includes(middle);
    }
  }
  const parsed = parse(pattern);
  return (value) => matchParsed(parsed, value, undefined);
}
