/** The namespaces a policy covers: name patterns, a label selector, or both. */

import { z } from 'zod';
import { LIMITS } from './constants.js';
import { patternSchema } from './pattern-schema.js';
import { MAX_PATTERN_STARS } from './patterns.js';
import { cel, RULE_MESSAGES } from './rules.js';
import { LabelSelectorSchema } from './selector.js';

export const NAMESPACE_PATTERN = /^[a-z0-9*?-]+$/;

export const NamespacesSchema = z
  .strictObject({
    names: z
      .array(
        patternSchema(
          'namespace',
          LIMITS.namespaceName,
          NAMESPACE_PATTERN,
          "a namespace pattern may contain only lowercase letters, digits, '-' and the wildcards * and ? (no [ ] classes)",
        ),
      )
      .min(1, 'names needs at least one entry (or leave it out and use selector)')
      .max(LIMITS.namespacePatterns)
      .optional()
      .describe(
        `Namespace names or globs: * matches any run of characters, ? exactly one character; at most ${MAX_PATTERN_STARS} * per pattern. "*" alone covers every namespace, including ones created later.`,
      ),
    selector: LabelSelectorSchema.optional(),
  })
  .superRefine((ns, ctx) => {
    if (ns.names === undefined && ns.selector === undefined) {
      ctx.addIssue({ code: 'custom', message: RULE_MESSAGES.namesOrSelector });
    }
  })
  .describe(
    'The namespaces this policy covers: every namespace that names match, plus every namespace that selector matches. At least one of the two is required.',
  )
  .meta(cel({ rule: 'has(self.names) || has(self.selector)', message: RULE_MESSAGES.namesOrSelector }));
