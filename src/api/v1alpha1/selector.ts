/** Label keys and values, and the Kubernetes label selector over Namespace labels built from them. */

import { z } from 'zod';
import { LIMITS } from './constants.js';
import { cel, RULE_MESSAGES } from './rules.js';

const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const LABEL_KEY_MESSAGE =
  "a label key is an optional DNS prefix and '/', then letters, digits, '-', '_' or '.', starting and ending with a letter or digit";

/** What the pattern cannot say: the prefix has at most 253 characters and the name at most 63. */
function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash === -1 ? '' : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (prefix.length > 253) return `label key ${JSON.stringify(key)} has a prefix longer than 253 characters`;
  if (name.length > 63) return `label key ${JSON.stringify(key)} has a name longer than 63 characters`;
  return undefined;
}

const LabelKeySchema = z
  .string()
  .min(1, 'a label key must not be empty')
  .max(LIMITS.labelKey)
  .regex(LABEL_KEY, { error: LABEL_KEY_MESSAGE })
  .superRefine((key, ctx) => {
    const problem = labelKeyProblem(key);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const LabelValueSchema = z
  .string()
  .max(LIMITS.labelValue, 'a label value has at most 63 characters')
  .regex(LABEL_VALUE, {
    error:
      "a label value may be empty, or letters, digits, '-', '_' and '.' starting and ending with a letter or digit",
  });

export const SelectorRequirementSchema = z
  .strictObject({
    key: LabelKeySchema.describe('The label key the requirement applies to.'),
    operator: z
      .enum(['In', 'NotIn', 'Exists', 'DoesNotExist'])
      .describe(
        "How the label relates to values. In: the label exists and its value is in values. NotIn: the label is absent or its value is not in values. Exists: the label exists. DoesNotExist: it doesn't.",
      ),
    values: z
      .array(LabelValueSchema)
      .max(LIMITS.selectorValues)
      .optional()
      .describe('Label values. Non-empty for In and NotIn; empty or absent for Exists and DoesNotExist.'),
  })
  .superRefine((req, ctx) => {
    const count = req.values?.length ?? 0;
    const needsValues = req.operator === 'In' || req.operator === 'NotIn';
    if (needsValues ? count === 0 : count > 0) {
      ctx.addIssue({ code: 'custom', path: ['values'], message: RULE_MESSAGES.expressionValues });
    }
  })
  .describe('A label requirement: a key, an operator and values.')
  .meta(
    cel({
      rule: "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : (!has(self.values) || size(self.values) == 0)",
      message: RULE_MESSAGES.expressionValues,
      fieldPath: '.values',
      reason: 'FieldValueInvalid',
    }),
  );

export const LabelSelectorSchema = z
  .strictObject({
    matchLabels: z
      .record(LabelKeySchema, LabelValueSchema)
      .refine((labels) => Object.keys(labels).length <= LIMITS.matchLabels, {
        message: `matchLabels has at most ${LIMITS.matchLabels} entries`,
      })
      .optional()
      .describe(
        'Labels a namespace must carry, each with exactly this value. Equivalent to one In requirement per entry.',
      )
      .meta({ maxProperties: LIMITS.matchLabels }),
    matchExpressions: z
      .array(SelectorRequirementSchema)
      .max(LIMITS.matchExpressions)
      .optional()
      .describe('Label requirements a namespace must meet, all of them.'),
  })
  .describe(
    'A standard Kubernetes label selector over Namespace labels. All of matchLabels and matchExpressions must hold. An empty selector ({}) matches every existing namespace.',
  );
