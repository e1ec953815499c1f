/**
 * The tenancy kinds of v1alpha1 (docs/adr/0010): McpNamespacePolicy, a tenant's grant in its own
 * namespace, and McpDelegation, the cluster-scoped ceiling that says which namespaces accept such
 * policies and the most they may grant. Built from the same fields, refinements and CEL rules as
 * McpPolicy (grant.ts, limits.ts, namespaces.ts; the object in schema.ts).
 */

import { z } from 'zod';
import { API_VERSION, DELEGATION_KIND, MAX_REPLICAS, NS_KIND } from './constants.js';
import { GRANT_SPEC_CEL, GrantSpecFields, refineGrantSpec, ToolPatternsSchema } from './grant.js';
import { SafetySpecFields } from './limits.js';
import { NamespacesSchema } from './namespaces.js';
import { SCALE_PATTERN_REGEX } from './pattern-schema.js';
import { toolPatternMayScale } from './patterns.js';
import { cel } from './rules.js';
import { ObjectMetaSchema } from './schema.js';
import { McpPolicyStatusSchema } from './status.js';

export const McpNamespacePolicySpecSchema = z
  .strictObject({
    subjects: GrantSpecFields.subjects,
    tools: GrantSpecFields.tools,
    replicas: GrantSpecFields.replicas,
    ...SafetySpecFields,
  })
  .superRefine(refineGrantSpec)
  .describe(
    "What the policy grants in its own namespace: which subjects may use which tools there, within which bounds. It has no namespaces field, and grants only while an McpDelegation covers the namespace and the policy fits that delegation's ceiling.",
  )
  .meta(cel(...GRANT_SPEC_CEL));

const ceilingInt = (what: string) =>
  z
    .number()
    .int()
    .min(0, `${what} must be at least 0`)
    .max(MAX_REPLICAS, `${what} must be at most ${MAX_REPLICAS}`)
    .meta({ format: 'int32' });

export const CeilingSchema = z
  .strictObject({
    tools: ToolPatternsSchema.describe(
      'Tools namespaced policies may grant, as names or globs: every tool a policy grants must match one of them.',
    ),
    maxReplicas: ceilingInt('ceiling.maxReplicas')
      .optional()
      .describe(
        'Highest replicas.max a namespaced policy may set. Required when tools can match a scale_* tool.',
      ),
    maxStep: z
      .number()
      .int()
      .min(1, 'ceiling.maxStep must be at least 1')
      .max(MAX_REPLICAS, `ceiling.maxStep must be at most ${MAX_REPLICAS}`)
      .optional()
      .describe('When set, a namespaced policy granting a scale tool must set replicas.maxStep at most this.')
      .meta({ format: 'int32' }),
    confirmAbove: ceilingInt('ceiling.confirmAbove')
      .optional()
      .describe('When set, a namespaced policy granting a scale tool must set confirm.above at most this.'),
    requireKubernetesRBAC: z
      .boolean()
      .optional()
      .describe('When true, every namespaced policy must set requireKubernetesRBAC: true.'),
  })
  .describe('The most a namespaced policy in the covered namespaces may grant.');

export const DELEGATION_RULE_MESSAGES = {
  scaleNeedsMaxReplicas:
    'a ceiling whose tools can match a scale_* tool needs maxReplicas (the highest replicas.max a tenant may set)',
} as const;

export const McpDelegationSpecSchema = z
  .strictObject({
    namespaces: NamespacesSchema.describe(
      'The namespaces that accept McpNamespacePolicies under this ceiling: names and globs, a label selector, or both.',
    ),
    ceiling: CeilingSchema,
  })
  .superRefine((spec, ctx) => {
    if (spec.ceiling.tools.some(toolPatternMayScale) && spec.ceiling.maxReplicas === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['ceiling', 'maxReplicas'],
        message: DELEGATION_RULE_MESSAGES.scaleNeedsMaxReplicas,
      });
    }
  })
  .describe(
    'Which namespaces accept McpNamespacePolicies, and the most such a policy may grant there. Nothing is delegated without one.',
  )
  .meta(
    cel({
      rule: `has(self.ceiling.maxReplicas) || !self.ceiling.tools.exists(t, t.matches('${SCALE_PATTERN_REGEX}'))`,
      message: DELEGATION_RULE_MESSAGES.scaleNeedsMaxReplicas,
      fieldPath: '.ceiling.maxReplicas',
      reason: 'FieldValueRequired',
    }),
  );

export const McpNamespacePolicySchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(NS_KIND),
  metadata: ObjectMetaSchema,
  spec: McpNamespacePolicySpecSchema,
  status: McpPolicyStatusSchema.optional(),
});

export const McpDelegationSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(DELEGATION_KIND),
  metadata: ObjectMetaSchema,
  spec: McpDelegationSpecSchema,
  status: McpPolicyStatusSchema.optional(),
});

export type McpNamespacePolicySpec = z.infer<typeof McpNamespacePolicySpecSchema>;
export type McpDelegationSpec = z.infer<typeof McpDelegationSpecSchema>;
export type Ceiling = z.infer<typeof CeilingSchema>;
