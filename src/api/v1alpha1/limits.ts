/**
 * What a grant bounds: the replica counts a scale tool may set, and the agent-safety limits (v0.2)
 * on what it grants (cooldown, rate limit, confirmation, the caller's own RBAC).
 */

import { z } from 'zod';
import { LIMITS, MAX_REPLICAS } from './constants.js';
import { cel, RULE_MESSAGES } from './rules.js';

export const ReplicaBoundsSchema = z
  .strictObject({
    min: z
      .number()
      .int()
      .min(0, 'replicas.min must be at least 0')
      .max(MAX_REPLICAS, `replicas.min must be at most ${MAX_REPLICAS}`)
      .default(0)
      .describe('Smallest replica count a scale tool may set.')
      .meta({ format: 'int32' }),
    max: z
      .number()
      .int()
      .min(0, 'replicas.max must be at least 0')
      .max(MAX_REPLICAS, `replicas.max must be at most ${MAX_REPLICAS}`)
      .describe(`Largest replica count a scale tool may set (at most ${MAX_REPLICAS}).`)
      .meta({ format: 'int32' }),
    // Agent safety (v0.2).
    maxStep: z
      .number()
      .int()
      .min(1, 'replicas.maxStep must be at least 1')
      .max(MAX_REPLICAS, `replicas.maxStep must be at most ${MAX_REPLICAS}`)
      .optional()
      .describe(
        'Largest change of the replica count one scale call may make (|to - from|). Unset: no limit beyond min and max.',
      )
      .meta({ format: 'int32' }),
  })
  .superRefine((bounds, ctx) => {
    if (bounds.min > bounds.max)
      ctx.addIssue({ code: 'custom', path: ['min'], message: RULE_MESSAGES.minAboveMax });
  })
  .describe(
    'Bounds on the replica count every scale_* tool granted by this policy may set: min <= replicas <= max. Required when tools can match a scale_* tool.',
  )
  .meta(
    cel({
      rule: '!has(self.min) || self.min <= self.max',
      message: RULE_MESSAGES.minAboveMax,
      fieldPath: '.min',
      reason: 'FieldValueInvalid',
    }),
  );

// Agent safety (v0.2): limits a policy puts on what it grants. All optional; a policy without them
// behaves exactly as before.

export const RateLimitSchema = z
  .strictObject({
    callsPerMinute: z
      .number()
      .int()
      .min(1, 'rateLimit.callsPerMinute must be at least 1')
      .max(LIMITS.callsPerMinute, `rateLimit.callsPerMinute must be at most ${LIMITS.callsPerMinute}`)
      .describe(
        'Tool calls per minute each caller may make under this policy (a sliding one-minute window, counted by each operator replica).',
      )
      .meta({ format: 'int32' }),
  })
  .describe('A per-caller rate limit on the tool calls this policy allows.');

export const ConfirmSchema = z
  .strictObject({
    scaleToZero: z.boolean().optional().describe('A scale to 0 replicas needs a human to confirm.'),
    above: z
      .number()
      .int()
      .min(0)
      .max(MAX_REPLICAS)
      .optional()
      .describe('A scale to more than this many replicas needs a human to confirm.')
      .meta({ format: 'int32' }),
    stepAbove: z
      .number()
      .int()
      .min(0)
      .max(MAX_REPLICAS)
      .optional()
      .describe('A scale that changes the replica count by more than this needs a human to confirm.')
      .meta({ format: 'int32' }),
  })
  .superRefine((confirm, ctx) => {
    if (confirm.scaleToZero === undefined && confirm.above === undefined && confirm.stepAbove === undefined)
      ctx.addIssue({ code: 'custom', message: RULE_MESSAGES.confirmNeedsARule });
  })
  .describe(
    'Scale calls that need a human to confirm them. A client that cannot ask a human is refused (ConfirmationRequired): fail closed.',
  )
  .meta(
    cel({
      rule: 'has(self.scaleToZero) || has(self.above) || has(self.stepAbove)',
      message: RULE_MESSAGES.confirmNeedsARule,
    }),
  );

export const SafetySpecFields = {
  cooldownSeconds: z
    .number()
    .int()
    .min(1, 'cooldownSeconds must be at least 1')
    .max(LIMITS.cooldownSeconds, `cooldownSeconds must be at most ${LIMITS.cooldownSeconds}`)
    .optional()
    .describe(
      'Minimum time between two KubeMCP scales of the same object, by any caller, on any operator replica (recorded in the cluster).',
    )
    .meta({ format: 'int32' }),
  rateLimit: RateLimitSchema.optional(),
  confirm: ConfirmSchema.optional(),
  requireKubernetesRBAC: z
    .boolean()
    .optional()
    .describe(
      "When true, every call this policy allows must also be allowed by the cluster's RBAC for the caller's own identity (a SubjectAccessReview on the equivalent Kubernetes action).",
    ),
};
