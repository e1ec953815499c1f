/**
 * The rules of name patterns in an McpPolicy that the schema and the CRD validate with: length and
 * wildcard caps, and whether a tool pattern can reach a scale tool. Pure; the engine's matcher is
 * src/policy/glob.ts.
 */

import { SCALE_TOOL_PREFIX } from './tools.js';

/** Longest namespace or tool pattern a policy may hold (the longest namespace name is 63 characters). */
export const MAX_PATTERN_LENGTH = 63;
/** Most `*` wildcards in one pattern. `?` stands for one character and needs no cap of its own. */
export const MAX_PATTERN_STARS = 8;

/** How many `*` wildcards the pattern has. */
export function countStars(pattern: string): number {
  let n = 0;
  for (let i = 0; i < pattern.length; i++) if (pattern.charCodeAt(i) === 42) n++;
  return n;
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
