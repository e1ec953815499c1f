/**
 * The schema of a namespace or tool pattern (a glob) and the CEL regular expressions that mirror its
 * checks in the CRD. Patterns are RE2- and ECMAScript-compatible: the API server checks them with Go's
 * regexp.
 */

import { z } from 'zod';
import { countStars, MAX_PATTERN_STARS, prefixGlobRegex } from './patterns.js';
import { cel, RULE_MESSAGES } from './rules.js';
import { SCALE_TOOL_PREFIX } from './tools.js';

/** CEL (RE2): at most MAX_PATTERN_STARS `*` in a pattern (same as the countStars refinement). */
export const STARS_REGEX = `^[^*]*([*][^*]*){0,${MAX_PATTERN_STARS}}$`;

/**
 * A namespace or tool pattern: bounded length (checked first, so nothing else runs on an oversized
 * string) and at most MAX_PATTERN_STARS stars, which keeps every match linear in the input (see
 * src/api/v1alpha1/patterns.ts). Both caps exist twice: here for the controller and in the CRD.
 */
export function patternSchema(what: string, max: number, charset: RegExp, charsetMessage: string) {
  return z
    .string()
    .min(1, `a ${what} pattern must not be empty`)
    .max(max, { error: `a ${what} pattern has at most ${max} characters`, abort: true })
    .regex(charset, { error: charsetMessage })
    .refine((p) => countStars(p) <= MAX_PATTERN_STARS, { error: RULE_MESSAGES.tooManyStars })
    .meta(
      cel({
        rule: `self.matches('${STARS_REGEX}')`,
        message: RULE_MESSAGES.tooManyStars,
        reason: 'FieldValueInvalid',
      }),
    );
}

/** CEL: true when a tool pattern `t` can match a scale_* tool (same as toolPatternMayScale in patterns.ts). */
export const SCALE_PATTERN_REGEX = prefixGlobRegex(SCALE_TOOL_PREFIX);
