/**
 * The McpPolicy API, v1alpha1: the one schema. It is the source of the TypeScript types, of the
 * runtime validation of watched objects (src/policy compile), of the generated CRD in crds/ (with its
 * descriptions and CEL rules, see crd.ts), and of the field table in docs/policy-reference.md.
 *
 * Every cross-field rule exists twice, side by side: as a zod refinement (what the controller and
 * `kubemcp check` enforce) and as a CEL rule in `x-kubernetes-validations` (what the API server
 * enforces on `kubectl apply`). Both use the same message.
 */

import { z } from 'zod';
import { API_VERSION, KIND, LIMITS, MAX_REPLICAS } from './constants.js';
import { DNS_LABEL, DNS_SUBDOMAIN } from './kinds.js';
import { countStars, MAX_PATTERN_STARS, prefixGlobRegex, toolPatternMayScale } from './patterns.js';
import { SCALE_TOOL_PREFIX } from './tools.js';

/** A CEL rule as the CRD's `x-kubernetes-validations` holds it. */
export interface CelRule {
  readonly rule: string;
  readonly message: string;
  readonly fieldPath?: string;
  readonly reason?:
    | 'FieldValueInvalid'
    | 'FieldValueForbidden'
    | 'FieldValueRequired'
    | 'FieldValueDuplicate';
}

export function cel(...rules: CelRule[]): { 'x-kubernetes-validations': CelRule[] } {
  return { 'x-kubernetes-validations': rules };
}

/** The messages of the cross-field rules, shared by the zod refinements and the CEL rules. */
export const RULE_MESSAGES = {
  serviceAccountNeedsNamespace: 'a ServiceAccount subject needs a namespace',
  namespaceOnlyForServiceAccount:
    'only ServiceAccount subjects have a namespace: remove namespace from User and Group subjects',
  namesOrSelector: 'namespaces needs names, a selector, or both',
  minAboveMax: 'replicas.min must not be greater than replicas.max',
  scaleNeedsReplicas: `a policy whose tools can match a ${SCALE_TOOL_PREFIX}* tool (e.g. "scale_deployment", "scale_*" or "*") needs replicas bounds: set replicas.max (and optionally replicas.min)`,
  expressionValues: 'operators In and NotIn need at least one value; Exists and DoesNotExist take no values',
  tooManyStars: `a pattern has at most ${MAX_PATTERN_STARS} * wildcards`,
  // Agent safety (v0.2).
  confirmNeedsARule: 'confirm needs at least one of scaleToZero, above or stepAbove',
  scaleLimitsNeedReplicas:
    'cooldownSeconds and confirm limit scale tools: grant a scale_* tool (with replicas bounds) or remove them',
} as const;

// Patterns are RE2- and ECMAScript-compatible: the API server checks them with Go's regexp.
export const NAMESPACE_PATTERN = /^[a-z0-9*?-]+$/;
const TOOL_PATTERN = /^[a-z0-9_*?]+$/;
const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** CEL (RE2): at most MAX_PATTERN_STARS `*` in a pattern (same as the countStars refinement). */
export const STARS_REGEX = `^[^*]*([*][^*]*){0,${MAX_PATTERN_STARS}}$`;

/**
 * A namespace or tool pattern: bounded length (checked first, so nothing else runs on an oversized
 * string) and at most MAX_PATTERN_STARS stars, which keeps every match linear in the input (see
 * src/api/v1alpha1/patterns.ts). Both caps exist twice: here for the controller and in the CRD.
 */
function patternSchema(what: string, max: number, charset: RegExp, charsetMessage: string) {
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

/** CEL: true when a tool pattern `t` can match a scale_* tool (same as {@link toolPatternMayScale}). */
export const SCALE_PATTERN_REGEX = prefixGlobRegex(SCALE_TOOL_PREFIX);

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

export const SubjectKindSchema = z
  .enum(['ServiceAccount', 'User', 'Group'])
  .describe(
    'What kind of identity name refers to. ServiceAccount matches the caller system:serviceaccount:<namespace>:<name>; User matches the caller with exactly this user name; Group matches any caller that is a member of this group.',
  );

export const SubjectSchema = z
  .strictObject({
    kind: SubjectKindSchema,
    name: z
      .string()
      .min(1, 'a subject name must not be empty')
      .max(LIMITS.subjectName)
      .describe('Name of the ServiceAccount, user or group, exactly as the API server authenticates it.'),
    namespace: z
      .string()
      .min(1)
      .max(LIMITS.namespaceName)
      .regex(DNS_LABEL, { error: 'a namespace is a DNS label: lowercase letters, digits and -' })
      .optional()
      .describe(
        'Namespace of the ServiceAccount. Required when kind is ServiceAccount, forbidden otherwise.',
      ),
  })
  .superRefine((subject, ctx) => {
    if (subject.kind === 'ServiceAccount') {
      if (subject.namespace === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['namespace'],
          message: RULE_MESSAGES.serviceAccountNeedsNamespace,
        });
      }
      if (subject.name.length > 253 || !DNS_SUBDOMAIN.test(subject.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['name'],
          message: `ServiceAccount name ${JSON.stringify(subject.name)} is not a DNS subdomain (lowercase letters, digits, '-' and '.')`,
        });
      }
    } else if (subject.namespace !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['namespace'],
        message: RULE_MESSAGES.namespaceOnlyForServiceAccount,
      });
    }
  })
  .describe('An identity this policy grants to.')
  .meta(
    cel(
      {
        rule: "self.kind != 'ServiceAccount' || has(self.namespace)",
        message: RULE_MESSAGES.serviceAccountNeedsNamespace,
        fieldPath: '.namespace',
        reason: 'FieldValueRequired',
      },
      {
        rule: "self.kind == 'ServiceAccount' || !has(self.namespace)",
        message: RULE_MESSAGES.namespaceOnlyForServiceAccount,
        fieldPath: '.namespace',
        reason: 'FieldValueForbidden',
      },
    ),
  );

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

export const ConditionSchema = z
  .strictObject({
    type: z
      .string()
      .min(1)
      .max(LIMITS.conditionType)
      .describe('Type of the condition. McpPolicy reports Ready, and Warnings for risky grants.'),
    status: z.enum(['True', 'False', 'Unknown']).describe('Status of the condition: True, False or Unknown.'),
    observedGeneration: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe('The metadata.generation the condition was computed from.')
      .meta({ format: 'int64' }),
    lastTransitionTime: z.iso
      .datetime({ offset: true })
      .describe('When the condition last changed status (RFC 3339).'),
    reason: z
      .string()
      .min(1)
      .max(LIMITS.conditionReason)
      .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
      .describe(
        'A CamelCase word for the last transition. For Ready: Accepted or Invalid. For Warnings: the warning codes, comma-separated (OperatorNamespace, EveryoneSubject, NamespaceServiceAccounts, ScaleToZero).',
      ),
    message: z
      .string()
      .max(LIMITS.conditionMessage)
      .describe('A sentence for people: why the policy is invalid, or a summary of what it grants.'),
  })
  .describe('A standard Kubernetes condition (metav1.Condition).');

export const McpPolicyStatusSchema = z
  .strictObject({
    observedGeneration: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe('The metadata.generation the controller last compiled.')
      .meta({ format: 'int64' }),
    conditions: z
      .array(ConditionSchema)
      .max(LIMITS.conditions)
      .optional()
      .describe(
        "Conditions of the policy. Ready is True when the policy is valid and enforced (reason Accepted), False when it is invalid and grants nothing (reason Invalid). Warnings is present (True) while a Ready policy grants something risky: the operator's own namespace, a subject group meaning everyone, or scale tools with replicas.min 0 (its default); its reason lists the warning codes.",
      )
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
    matchedNamespaces: z
      .number()
      .int()
      .min(0)
      .max(2_147_483_647)
      .optional()
      .describe('How many existing namespaces the policy covers now.')
      .meta({ format: 'int32' }),
  })
  .describe('What the controller observed: whether the policy is valid and enforced, and what it covers.');

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
