/**
 * The McpPolicy API, v1alpha1: the one schema. It is the source of the TypeScript types, of the
 * runtime validation of watched objects (src/policy compile), of the generated CRD in crds/ (with its
 * descriptions and CEL rules, see crd.ts), and of the field table in docs/policy-reference.md.
 *
 * Every cross-field rule exists twice, side by side: as a zod refinement (what the controller and
 * `kubemcp check` enforce) and as a CEL rule in `x-kubernetes-validations` (what the API server
 * enforces on `kubectl apply`). Both use the same message (rules.ts).
 *
 * This file puts the McpPolicy object together and names the TypeScript types of its parts; the parts
 * are in subject.ts, namespaces.ts (with selector.ts), limits.ts, grant.ts and status.ts.
 */

import { z } from 'zod';
import { API_VERSION, KIND } from './constants.js';
import { GRANT_SPEC_CEL, GrantSpecFields, refineGrantSpec } from './grant.js';
import {
  type ConfirmSchema,
  type RateLimitSchema,
  type ReplicaBoundsSchema,
  SafetySpecFields,
} from './limits.js';
import { NamespacesSchema } from './namespaces.js';
import { cel } from './rules.js';
import type { LabelSelectorSchema, SelectorRequirementSchema } from './selector.js';
import { type ConditionSchema, McpPolicyStatusSchema } from './status.js';
import type { SubjectKindSchema, SubjectSchema } from './subject.js';

export const McpPolicySpecSchema = z
  .strictObject({
    subjects: GrantSpecFields.subjects,
    namespaces: NamespacesSchema,
    tools: GrantSpecFields.tools,
    replicas: GrantSpecFields.replicas,
    ...SafetySpecFields,
  })
  .superRefine(refineGrantSpec)
  .describe(
    'What the policy grants: which subjects may use which tools in which namespaces, within which bounds.',
  )
  .meta(cel(...GRANT_SPEC_CEL));

/** Metadata as the API server returns it; only the fields the policy engine reads are typed. */
export const ObjectMetaSchema = z.looseObject({
  name: z.string().min(1),
  generation: z.number().int().optional(),
  resourceVersion: z.string().optional(),
  uid: z.string().optional(),
});

export const McpPolicySchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  metadata: ObjectMetaSchema,
  spec: McpPolicySpecSchema,
  status: McpPolicyStatusSchema.optional(),
});

export type SubjectKind = z.infer<typeof SubjectKindSchema>;
export type Subject = z.infer<typeof SubjectSchema>;
export type SelectorRequirement = z.infer<typeof SelectorRequirementSchema>;
export type LabelSelector = z.infer<typeof LabelSelectorSchema>;
export type Namespaces = z.infer<typeof NamespacesSchema>;
export type ReplicaBounds = z.infer<typeof ReplicaBoundsSchema>;
export type RateLimit = z.infer<typeof RateLimitSchema>;
export type Confirm = z.infer<typeof ConfirmSchema>;
export type McpPolicySpec = z.infer<typeof McpPolicySpecSchema>;
/** The spec as a user writes it (defaults not yet applied). */
export type McpPolicySpecInput = z.input<typeof McpPolicySpecSchema>;
export type Condition = z.infer<typeof ConditionSchema>;
export type McpPolicyStatus = z.infer<typeof McpPolicyStatusSchema>;
export type McpPolicy = z.infer<typeof McpPolicySchema>;
