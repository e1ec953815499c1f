import { z } from 'zod';
import { DNS_LABEL, DNS_SUBDOMAIN } from '../../api/v1alpha1/kinds.js';
import type { Permissions } from '../../policy/types.js';
import { MAX_CURSOR_LENGTH } from '../cursor.js';
import { ToolError, ToolErrorResultSchema } from '../errors.js';
import type { GuardedClient } from '../guarded.js';
import {
  MAX_SELECTOR_LENGTH,
  MAX_SELECTOR_REQUIREMENTS,
  MAX_SELECTOR_VALUES,
  parseLabelSelector,
} from '../labels.js';

/** The types of a tool definition, and the input and output schemas of the tools. */

export interface ToolAnnotationsExplicit {
  readonly readOnlyHint: boolean;
  readonly destructiveHint: boolean;
  readonly idempotentHint: boolean;
  readonly openWorldHint: boolean;
}

export interface ToolContext {
  readonly client: GuardedClient;
  /** Request time, ms since epoch. */
  readonly now: number;
}

/** A tool's successful answer: typed structuredContent and a short readable text. */
export interface ToolSuccess<T> {
  readonly structured: T;
  readonly text: string;
}

export interface ToolDefinition<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly title: string;
  readonly annotations: ToolAnnotationsExplicit;
  /** Validates the arguments of a call (unknown fields are rejected). */
  readonly inputSchema: I;
  /** The structuredContent of a successful call. Advertised as a union with the error shape. */
  readonly outputSchema: O;
  /** The description shown to this caller (it may state the caller's namespaces and bounds). */
  description(permissions: Permissions): string;
  /** The input schema shown to this caller, when it differs from inputSchema (e.g. replica bounds). */
  advertisedInputSchema?(permissions: Permissions): z.ZodType;
  handler(args: z.output<I>, ctx: ToolContext): Promise<ToolSuccess<z.output<O>>> | ToolSuccess<z.output<O>>;
}

const NAMESPACE_RE = DNS_LABEL;
export const NAME_RE = DNS_SUBDOMAIN;
export const DEFAULT_LIST_LIMIT = 50;
export const MAX_LIST_LIMIT = 500;
/**
 * Kubernetes stores replicas as int32: a larger count is malformed (Invalid). A count above the
 * API's MAX_REPLICAS (10000) is well-formed and refused by the policy engine (OutOfBounds).
 */
const INT32_MAX = 2_147_483_647;

// Every string argument is capped, and the cap is checked first (`abort`): nothing else, no regular
// expression and no policy decision, ever runs on an oversized string.
const namespaceField = z
  .string()
  .max(63, { error: 'must be at most 63 characters (a namespace name is a DNS label)', abort: true })
  .regex(NAMESPACE_RE, 'must be a valid namespace name (lowercase letters, digits, "-")');

/**
 * A selector is parsed with the other arguments, before the call is judged: a malformed one is an
 * invalid argument (audited with no decision, charging no rate limit), not a refusal after the fact.
 */
function checkSelector(value: string, ctx: z.RefinementCtx): void {
  try {
    parseLabelSelector(value);
  } catch (err) {
    const why = err instanceof ToolError ? `${err.message}: ${err.reason}` : String(err);
    ctx.addIssue({ code: 'custom', message: why });
  }
}

export const ListInputSchema = z.strictObject({
  namespace: namespaceField
    .optional()
    .describe('Only this namespace. Omit to list every namespace you may see.'),
  labelSelector: z
    .string()
    .max(MAX_SELECTOR_LENGTH, { error: `must be at most ${MAX_SELECTOR_LENGTH} characters`, abort: true })
    .superRefine(checkSelector)
    .optional()
    .describe(
      `kubectl label selector, e.g. "app=web,tier!=cache" or "env in (prod,staging)"; at most ${MAX_SELECTOR_REQUIREMENTS} distinct requirements of at most ${MAX_SELECTOR_VALUES} values each`,
    ),
  limit: z
    .number()
    .int()
    .min(1)
    .max(MAX_LIST_LIMIT)
    .default(DEFAULT_LIST_LIMIT)
    .describe(`Maximum rows to return (1-${MAX_LIST_LIMIT})`),
  continue: z
    .string()
    .max(MAX_CURSOR_LENGTH, {
      error: `must be at most ${MAX_CURSOR_LENGTH} characters (pass back nextCursor unchanged)`,
      abort: true,
    })
    .optional()
    .describe('The nextCursor of the previous page, to get the next page'),
});
export type ListInput = z.output<typeof ListInputSchema>;

export const ListNamespacesInputSchema = ListInputSchema.omit({ namespace: true });

// Agent safety (v0.2): a dry run checks everything and sends the write with dryRun=All.
const DRY_RUN_FIELD = z
  .boolean()
  .default(false)
  .describe(
    'Check everything (policy, bounds, step, cool-down, confirmation rules, and the API server with its admission checks) without changing anything',
  );

export const ScaleInputSchema = z.strictObject({
  namespace: namespaceField.default('default').describe('Namespace of the workload'),
  name: z
    .string()
    .min(1)
    .max(253, { error: 'must be at most 253 characters (an object name is a DNS subdomain)', abort: true })
    .regex(NAME_RE, 'must be a valid object name')
    .describe('Name of the workload'),
  replicas: z.number().int().min(0).max(INT32_MAX).describe('Target replica count'),
  dryRun: DRY_RUN_FIELD,
});

const pageFields = {
  returned: z.number().int().describe('Rows in this page'),
  total: z.number().int().describe('Rows matching the query over all pages'),
  nextCursor: z
    .string()
    .optional()
    .describe('Pass as `continue` to get the next page; absent on the last page'),
  warning: z.string().optional().describe('Set when the data may be stale (API server unreachable)'),
};

export function listOutputSchema<R extends z.ZodType>(row: R) {
  return z.object({
    kind: z.string(),
    namespace: z.string().optional(),
    items: z.array(row),
    ...pageFields,
  });
}

export const ReplicaBoundsSchema = z.object({ min: z.number().int(), max: z.number().int() });
const GrantSchema = z.object({
  policy: z.string().describe('The granting policy: name (McpPolicy) or namespace/name (McpNamespacePolicy)'),
  policyNamespace: z
    .string()
    .optional()
    .describe('Set for an McpNamespacePolicy: its namespace, the only one it grants in'),
  tools: z.array(z.string()),
  allNamespaces: z.boolean(),
  namespaces: z.array(z.string()).describe('Existing namespaces covered now'),
  namespacePatterns: z.array(z.string()).describe('Namespace names and globs as written in the policy'),
  namespaceSelector: z.string().optional(),
  replicas: ReplicaBoundsSchema.optional(),
  limits: z
    .object({
      maxStep: z.number().int().optional().describe('Largest change of the replica count per call'),
      cooldownSeconds: z
        .number()
        .int()
        .optional()
        .describe('Minimum seconds between two scales of one object'),
      callsPerMinute: z.number().int().optional().describe('Your tool calls per minute under this policy'),
      confirm: z
        .object({
          scaleToZero: z.boolean().optional(),
          above: z.number().int().optional(),
          stepAbove: z.number().int().optional(),
        })
        .optional()
        .describe('Scales a human must confirm'),
      requireKubernetesRBAC: z
        .boolean()
        .optional()
        .describe('Your own Kubernetes RBAC must also allow each call'),
      summary: z.string(),
    })
    .optional()
    .describe('Agent-safety limits of this policy; absent when it sets none'),
});
export const PermissionsOutputSchema = z.object({
  caller: z.object({ username: z.string(), groups: z.array(z.string()) }),
  tools: z.array(z.string()).describe('Every tool you may use somewhere'),
  grants: z.array(GrantSchema),
});

export const ScaleOutputSchema = z.object({
  kind: z.enum(['deployment', 'statefulset']),
  namespace: z.string(),
  name: z.string(),
  from: z.number().int(),
  to: z.number().int(),
  changed: z.boolean().describe('False when the workload already had the requested count'),
  readyReplicas: z.number().int(),
  policies: z.array(z.string()).describe('The McpPolicies that allowed the call'),
  message: z.string(),
  dryRun: z
    .boolean()
    .describe(
      'True when nothing was changed: the API server checked and admitted the change, and discarded it',
    ),
  confirmation: z
    .object({
      reasons: z.array(z.string()).describe('Why a human had to (or, on a dry run, would have to) confirm'),
      via: z.string().optional().describe('How the human confirmed it'),
    })
    .optional(),
});

/** The advertised output schema: the success shape, or `{error}` on an isError result. */
export function advertisedOutputSchema(def: ToolDefinition): z.ZodType {
  return z.union([def.outputSchema, ToolErrorResultSchema]);
}
