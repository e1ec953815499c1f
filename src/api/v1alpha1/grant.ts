/**
 * The fields and cross-field rules every grant spec has (McpPolicy and McpNamespacePolicy),
 * namespaces aside: subjects, tool patterns, replica bounds and the safety limits.
 */

import { z } from 'zod';
import { LIMITS } from './constants.js';
import { ReplicaBoundsSchema, SafetySpecFields } from './limits.js';
import { patternSchema, SCALE_PATTERN_REGEX } from './pattern-schema.js';
import { MAX_PATTERN_STARS, toolPatternMayScale } from './patterns.js';
import { type CelRule, RULE_MESSAGES } from './rules.js';
import { SubjectSchema } from './subject.js';

const TOOL_PATTERN = /^[a-z0-9_*?]+$/;

/** The fields every grant spec has (McpPolicy and McpNamespacePolicy), namespaces aside. */
export const GrantSpecFields = {
  subjects: z
    .array(SubjectSchema)
    .min(1, 'subjects needs at least one subject')
    .max(LIMITS.subjects)
    .describe('Who this policy grants to: ServiceAccounts, users or groups. At least one.'),
  tools: z
    .array(
      patternSchema(
        'tool',
        LIMITS.toolPattern,
        TOOL_PATTERN,
        "a tool pattern may contain only lowercase letters, digits, '_' and the wildcards * and ? (no [ ] classes)",
      ),
    )
    .min(1, 'tools needs at least one tool name or pattern')
    .max(LIMITS.tools)
    .describe(
      `MCP tools granted, as exact names (list_pods) or globs (list_*, *; at most ${MAX_PATTERN_STARS} * per pattern). Each must match at least one tool the server knows.`,
    ),
  replicas: ReplicaBoundsSchema.optional(),
  ...SafetySpecFields,
};

/** The tool-pattern schema, shared with McpDelegation's ceiling. */
export const ToolPatternsSchema = GrantSpecFields.tools;

interface GrantSpecShape {
  readonly tools: readonly string[];
  readonly replicas?: unknown;
  readonly cooldownSeconds?: unknown;
  readonly confirm?: unknown;
}

/** The cross-field rules of a grant spec (zod side); {@link GRANT_SPEC_CEL} is the CEL side. */
export function refineGrantSpec(spec: GrantSpecShape, ctx: z.RefinementCtx): void {
  if (spec.replicas === undefined && spec.tools.some(toolPatternMayScale)) {
    ctx.addIssue({ code: 'custom', path: ['replicas'], message: RULE_MESSAGES.scaleNeedsReplicas });
  }
  if (
    (spec.cooldownSeconds !== undefined || spec.confirm !== undefined) &&
    (spec.replicas === undefined || !spec.tools.some(toolPatternMayScale))
  ) {
    ctx.addIssue({ code: 'custom', message: RULE_MESSAGES.scaleLimitsNeedReplicas });
  }
}

export const GRANT_SPEC_CEL: readonly CelRule[] = [
  {
    rule: `has(self.replicas) || !self.tools.exists(t, t.matches('${SCALE_PATTERN_REGEX}'))`,
    message: RULE_MESSAGES.scaleNeedsReplicas,
    fieldPath: '.replicas',
    reason: 'FieldValueRequired',
  },
  {
    rule: `(!has(self.cooldownSeconds) && !has(self.confirm)) || (has(self.replicas) && self.tools.exists(t, t.matches('${SCALE_PATTERN_REGEX}')))`,
    message: RULE_MESSAGES.scaleLimitsNeedReplicas,
  },
];
