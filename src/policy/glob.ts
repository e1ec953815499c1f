/**
 * Globs over names: `*` matches any run of characters (also none), `?` exactly one character, every
 * other character itself. There are no character classes and no escapes. Pure.
 */

import { SCALE_TOOL_PREFIX } from './tools.js';

export type Matcher = (value: string) => boolean;

export function isGlob(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/** An anchored RegExp equivalent to the glob. */
export function globToRegExp(pattern: string): RegExp {
  let source = '^';
  for (const ch of pattern) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += escapeRegExp(ch);
  }
  return new RegExp(`${source}$`, 's');
}

/**
 * A fast predicate for one glob: equality for literals, `startsWith`/`endsWith`/`includes` for the
 * common one-star shapes, a precompiled RegExp otherwise.
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
  const re = globToRegExp(pattern);
  return (value) => re.test(value);
}

/**
 * True when the glob can match some name that starts with `prefix` (the two languages intersect):
 * the characters before the first `*` (all of them when there is none, which then must be at least
 * as long as the prefix) agree with the prefix, `?` agreeing with anything.
 */
export function globCanMatchPrefix(pattern: string, prefix: string): boolean {
  const star = pattern.indexOf('*');
  const fixed = star === -1 ? pattern.length : star;
  if (star === -1 && pattern.length < prefix.length) return false;
  const n = Math.min(fixed, prefix.length);
  for (let i = 0; i < n; i++) {
    const ch = pattern[i];
    if (ch !== '?' && ch !== prefix[i]) return false;
  }
  return true;
}

/**
 * An RE2 (and JavaScript) regular expression, without backslashes, that matches exactly the globs for
 * which {@link globCanMatchPrefix} is true, assuming `*` and `?` are the only special characters and
 * the prefix holds only letters, digits, `_` and `-`. For "ab" it is `^([*]|[a?]([*]|[b?]))`. Used in
 * the CRD's CEL rules, where no glob library exists.
 */
export function prefixGlobRegex(prefix: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(prefix)) throw new Error(`prefixGlobRegex: unsupported prefix ${prefix}`);
  let inner = '';
  for (let i = prefix.length - 1; i >= 0; i--) {
    inner = `([*]|[${prefix[i]}?]${inner})`;
  }
  return `^${inner}`;
}

/** True when the tool glob could match a scale_* tool, now or in the future: such a policy needs `replicas`. */
export function toolPatternMayScale(pattern: string): boolean {
  return globCanMatchPrefix(pattern, SCALE_TOOL_PREFIX);
}
