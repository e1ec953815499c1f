import { z } from 'zod';
import { DNS_LABEL, DNS_SUBDOMAIN, SERVED_KIND_INFO } from '../api/v1alpha1/kinds.js';
import type { CacheHealth, KindMap, ScalableKind } from '../kube/types.js';
import { describeLimits } from '../policy/limits.js';
import type { Grant, Permissions } from '../policy/types.js';
import { type CursorKey, fingerprint, MAX_CURSOR_LENGTH, paginate } from './cursor.js';
import { ToolError, ToolErrorResultSchema } from './errors.js';
import {
  deploymentRow,
  NamespaceRowSchema,
  namespaceRow,
  PodRowSchema,
  podRow,
  ServiceRowSchema,
  serviceRow,
  staleness,
  statefulSetRow,
  WorkloadRowSchema,
} from './format.js';
import { type GuardedClient, LIST_TOOL, SCALE_TOOL, type ServedKind } from './guarded.js';
import {
  type LabelSelector,
  MAX_SELECTOR_LENGTH,
  MAX_SELECTOR_REQUIREMENTS,
  MAX_SELECTOR_VALUES,
  parseLabelSelector,
} from './labels.js';

/**
 * Tools as data: every tool is one ToolDefinition in TOOLS — name, title, description, input and
 * output schema, annotations and handler. The MCP server lists and dispatches from this list only.
 * Handlers receive a GuardedClient (never the cluster backend), so no tool can skip the policy check.
 */

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
const NAME_RE = DNS_SUBDOMAIN;
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

const ListInputSchema = z.strictObject({
  namespace: namespaceField
    .optional()
    .describe('Only this namespace. Omit to list every namespace you may see.'),
  labelSelector: z
    .string()
    .max(MAX_SELECTOR_LENGTH, { error: `must be at most ${MAX_SELECTOR_LENGTH} characters`, abort: true })
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
type ListInput = z.output<typeof ListInputSchema>;

const ListNamespacesInputSchema = ListInputSchema.omit({ namespace: true });

// Agent safety (v0.2): a dry run checks everything and sends the write with dryRun=All.
const DRY_RUN_FIELD = z
  .boolean()
  .default(false)
  .describe(
    'Check everything (policy, bounds, step, cool-down, confirmation rules, and the API server with its admission checks) without changing anything',
  );

const ScaleInputSchema = z.strictObject({
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

function listOutputSchema<R extends z.ZodType>(row: R) {
  return z.object({
    kind: z.string(),
    namespace: z.string().optional(),
    items: z.array(row),
    ...pageFields,
  });
}

const ReplicaBoundsSchema = z.object({ min: z.number().int(), max: z.number().int() });
const GrantSchema = z.object({
  policy: z.string(),
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
const PermissionsOutputSchema = z.object({
  caller: z.object({ username: z.string(), groups: z.array(z.string()) }),
  tools: z.array(z.string()).describe('Every tool you may use somewhere'),
  grants: z.array(GrantSchema),
});

const ScaleOutputSchema = z.object({
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

function degradedWarning(health: CacheHealth, now: number): string | undefined {
  if (health.connected) return undefined;
  return `The Kubernetes API server is unreachable: this data comes from a cache last confirmed ${staleness(
    health.lastGoodAt,
    now,
  )} ago and may be stale.`;
}

function selectorOf(input: { labelSelector?: string | undefined }): LabelSelector | undefined {
  return input.labelSelector === undefined ? undefined : parseLabelSelector(input.labelSelector);
}

/** Short text of where a caller may use a tool, for descriptions. */
function scopeText(grants: readonly Grant[], tool: string): string {
  const relevant = grants.filter((g) => g.tools.includes(tool));
  if (relevant.length === 0) return 'no namespace';
  if (relevant.some((g) => g.allNamespaces)) return 'every namespace';
  const parts = new Set<string>();
  for (const g of relevant) {
    for (const p of g.namespacePatterns) parts.add(p);
    if (g.namespaceSelector !== undefined) parts.add(`namespaces labelled ${g.namespaceSelector}`);
  }
  const all = [...parts].sort();
  const shown = all.slice(0, 20);
  return `${shown.join(', ')}${all.length > shown.length ? ` and ${all.length - shown.length} more` : ''}`;
}

function boundsOf(grants: readonly Grant[], tool: string): { min: number; max: number } | undefined {
  const bounds = grants
    .filter((g) => g.tools.includes(tool) && g.replicas !== undefined)
    .map((g) => g.replicas);
  if (bounds.length === 0) return undefined;
  return {
    min: Math.min(...bounds.map((b) => b?.min ?? 0)),
    max: Math.max(...bounds.map((b) => b?.max ?? 0)),
  };
}

/** The agent-safety limits of the caller's scale grants, as one sentence per policy (empty when none). */
function scaleLimitsText(grants: readonly Grant[], tool: string): string {
  const parts = grants
    .filter((g) => g.tools.includes(tool))
    .flatMap((g) => {
      const text = describeLimits(g.limits);
      return text === undefined ? [] : [`${text} (policy ${g.policy})`];
    });
  return parts.length === 0 ? '' : `Limits: ${parts.join('; ')}. `;
}

const KIND_PLURAL = (kind: ServedKind): string => SERVED_KIND_INFO[kind].resource;
const KIND_TITLE = (kind: ServedKind): string => SERVED_KIND_INFO[kind].title;

interface Rowed {
  readonly namespace: string;
  readonly name: string;
  readonly summary: string;
  readonly age: string;
}

function renderList(
  what: string,
  input: { namespace?: string | undefined },
  rows: readonly Rowed[],
  page: { total: number; nextCursor?: string },
  tool: string,
  warning: string | undefined,
  offsetHint: string,
): string {
  const where =
    input.namespace === undefined ? 'in the namespaces you may see' : `in namespace ${input.namespace}`;
  const lines: string[] = [];
  if (warning !== undefined) lines.push(`WARNING: ${warning}`);
  if (page.total === 0) {
    lines.push(`No ${what} found ${where}.`);
  } else {
    lines.push(`${rows.length} of ${page.total} ${what} ${where}${offsetHint}:`);
    for (const r of rows) lines.push(`- ${r.namespace}/${r.summary}, age ${r.age}`);
  }
  if (page.nextCursor !== undefined)
    lines.push(`More: call ${tool} again with continue="${page.nextCursor}".`);
  return lines.join('\n');
}

function listTool<K extends ServedKind, R extends z.ZodType<Rowed>>(
  kind: K,
  rowSchema: R,
  toRow: (obj: KindMap[K], now: number) => z.output<R>,
  blurb: string,
): ToolDefinition<typeof ListInputSchema, ReturnType<typeof listOutputSchema<R>>> {
  const name = LIST_TOOL[kind];
  const plural = KIND_PLURAL(kind);
  return {
    name,
    title: `List ${KIND_TITLE(kind)}`,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    inputSchema: ListInputSchema,
    outputSchema: listOutputSchema(rowSchema),
    description: (p) =>
      `List ${KIND_TITLE(kind)} ${blurb}. Without namespace, lists every namespace you may see ` +
      `(you may list ${plural} in: ${scopeText(p.grants, name)}). Filter with labelSelector (kubectl syntax); ` +
      `results are sorted by namespace and name, at most \`limit\` rows (default ${DEFAULT_LIST_LIMIT}); ` +
      'pass nextCursor back as `continue` for the next page.',
    handler: (input: ListInput, { client, now }) => {
      const selector = selectorOf(input);
      const listed = client.listPage(kind, {
        ...(input.namespace === undefined ? {} : { namespace: input.namespace }),
        ...(selector === undefined ? {} : { selector }),
        limit: input.limit,
        cursor: input.continue,
        fingerprint: fingerprint([name, input.namespace, selector?.source]),
      });
      const page = listed.page;
      const items = page.items.map((o) => toRow(o, now));
      const warning = degradedWarning(listed.health, now);
      const structured = {
        kind,
        ...(input.namespace === undefined ? {} : { namespace: input.namespace }),
        items,
        returned: items.length,
        total: page.total,
        ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
        ...(warning === undefined ? {} : { warning }),
      };
      const hint = input.continue === undefined ? '' : ' (continued)';
      return { structured, text: renderList(plural, input, items, page, name, warning, hint) };
    },
  };
}

const listNamespaces: ToolDefinition<
  typeof ListNamespacesInputSchema,
  ReturnType<typeof listOutputSchema<typeof NamespaceRowSchema>>
> = {
  name: 'list_namespaces',
  title: 'List namespaces',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  inputSchema: ListNamespacesInputSchema,
  outputSchema: listOutputSchema(NamespaceRowSchema),
  description: () =>
    'List the namespaces you may see (those your McpPolicies cover), with their phase, ' +
    'labels, age and the tools you may use in each. Filter with labelSelector over namespace labels; page ' +
    `with limit (default ${DEFAULT_LIST_LIMIT}) and continue.`,
  handler: (input, { client, now }) => {
    const selector = selectorOf(input);
    const listed = client.listNamespaces(selector);
    const page = paginate(listed.items, (v): CursorKey => [v.namespace.metadata?.name ?? ''], {
      limit: input.limit,
      cursor: input.continue,
      fingerprint: fingerprint(['list_namespaces', selector?.source]),
    });
    const items = page.items.map((v) => namespaceRow(v.namespace, v.tools, now));
    const warning = degradedWarning(listed.health, now);
    const lines: string[] = [];
    if (warning !== undefined) lines.push(`WARNING: ${warning}`);
    lines.push(
      page.total === 0
        ? 'You may not see any namespace.'
        : `${items.length} of ${page.total} namespaces you may see:`,
    );
    for (const r of items) lines.push(`- ${r.summary}, age ${r.age}`);
    if (page.nextCursor !== undefined) {
      lines.push(`More: call list_namespaces again with continue="${page.nextCursor}".`);
    }
    return {
      structured: {
        kind: 'namespace',
        items,
        returned: items.length,
        total: page.total,
        ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
        ...(warning === undefined ? {} : { warning }),
      },
      text: lines.join('\n'),
    };
  },
};

function scaleTool(kind: ScalableKind): ToolDefinition<typeof ScaleInputSchema, typeof ScaleOutputSchema> {
  const name = SCALE_TOOL[kind];
  const title = kind === 'deployment' ? 'Deployment' : 'StatefulSet';
  return {
    name,
    title: `Scale a ${title}`,
    // Changes the replica count (it can scale to zero), but to an absolute count: repeating it is harmless.
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    inputSchema: ScaleInputSchema,
    outputSchema: ScaleOutputSchema,
    description: (p) => {
      const bounds = boundsOf(p.grants, name);
      const perPolicy = p.grants
        .filter((g) => g.tools.includes(name) && g.replicas !== undefined)
        .map((g) => `${g.replicas?.min}-${g.replicas?.max} in ${scopeText([g], name)} (policy ${g.policy})`);
      return (
        `Set the replica count of a ${title} through its scale subresource. ` +
        (bounds === undefined
          ? ''
          : `You may set between ${bounds.min} and ${bounds.max} replicas: ${perPolicy.join('; ')}. `) +
        scaleLimitsText(p.grants, name) +
        'Scaling to the current count changes nothing. The result says from what to what, and how many ' +
        'replicas are ready. When unsure, call it first with dryRun: true: everything is checked, ' +
        'including by the API server, and nothing changes.'
      );
    },
    advertisedInputSchema: (p) => {
      const bounds = boundsOf(p.grants, name) ?? { min: 0, max: 0 };
      return ScaleInputSchema.extend({
        replicas: z
          .number()
          .int()
          .min(bounds.min)
          .max(bounds.max)
          .describe(
            `Target replica count (you may set ${bounds.min} to ${bounds.max})${scaleLimitsText(
              p.grants,
              name,
            )
              .replace(/^Limits: /, '; ')
              .replace(/\. $/, '')}`,
          ),
      });
    },
    handler: async (input, { client }) => {
      const out = await client.scale(kind, input.namespace, input.name, input.replicas, {
        dryRun: input.dryRun,
      });
      const ready = `(${out.readyReplicas}/${out.to} ready)`;
      let message = out.changed
        ? `scaled ${out.name} from ${out.from} to ${out.to} ${ready}`
        : `${out.name} already has ${out.to} replicas ${ready}; nothing changed`;
      if (out.dryRun && out.from !== out.to) {
        message = `dry run: ${out.name} would be scaled from ${out.from} to ${out.to}; the API server accepted the change and nothing was changed`;
        if (out.confirmation !== undefined)
          message += `; a human would have to confirm it (${out.confirmation.reasons.join('; ')})`;
      } else if (out.dryRun) {
        message = `dry run: ${message}`;
      }
      return {
        structured: {
          kind,
          namespace: out.namespace,
          name: out.name,
          from: out.from,
          to: out.to,
          changed: out.changed,
          readyReplicas: out.readyReplicas,
          policies: [...out.policies],
          message,
          dryRun: out.dryRun,
          ...(out.confirmation === undefined
            ? {}
            : {
                confirmation: {
                  reasons: [...out.confirmation.reasons],
                  ...(out.confirmation.via === undefined ? {} : { via: out.confirmation.via }),
                },
              }),
        },
        text: `${message} in namespace ${out.namespace}`,
      };
    },
  };
}

function grantText(g: Grant): string {
  const where = g.allNamespaces
    ? 'every namespace'
    : `namespaces ${g.namespaces.length ? g.namespaces.join(', ') : '(none exist yet)'} (patterns ${
        g.namespacePatterns.join(', ') || 'none'
      }${g.namespaceSelector === undefined ? '' : `; selector ${g.namespaceSelector}`})`;
  const bounds = g.replicas === undefined ? '' : `; replicas ${g.replicas.min}-${g.replicas.max}`;
  const limits = describeLimits(g.limits);
  return `- policy ${g.policy}: ${g.tools.join(', ')} in ${where}${bounds}${limits === undefined ? '' : `; ${limits}`}`;
}

const getPermissions: ToolDefinition<z.ZodObject<Record<string, never>>, typeof PermissionsOutputSchema> = {
  name: 'get_permissions',
  title: 'Get my permissions',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  inputSchema: z.strictObject({}),
  outputSchema: PermissionsOutputSchema,
  description: () =>
    'Show what you may do: your identity, the tools granted to you, in which namespaces, and the replica ' +
    'bounds for scaling, per McpPolicy. Call this first to plan instead of probing.',
  handler: (_input, { client }) => {
    const p = client.permissions();
    const structured = {
      caller: { username: p.caller.username, groups: [...p.caller.groups] },
      tools: [...p.tools],
      grants: p.grants.map((g) => ({
        policy: g.policy,
        tools: [...g.tools],
        allNamespaces: g.allNamespaces,
        namespaces: [...g.namespaces],
        namespacePatterns: [...g.namespacePatterns],
        ...(g.namespaceSelector === undefined ? {} : { namespaceSelector: g.namespaceSelector }),
        ...(g.replicas === undefined ? {} : { replicas: { min: g.replicas.min, max: g.replicas.max } }),
        ...(g.limits === undefined
          ? {}
          : { limits: { ...g.limits, summary: describeLimits(g.limits) ?? '' } }),
      })),
    };
    const lines = [
      `You are ${p.caller.username}${p.caller.groups.length ? ` (groups: ${p.caller.groups.join(', ')})` : ''}.`,
    ];
    if (p.grants.length === 0)
      lines.push('No McpPolicy grants you anything; only get_permissions is available.');
    else lines.push('You may use:', ...p.grants.map(grantText));
    return { structured, text: lines.join('\n') };
  },
};

/** Every tool, in the order tools/list shows them. */
export const TOOLS: readonly ToolDefinition[] = [
  listNamespaces,
  listTool('pod', PodRowSchema, podRow, 'with status, readiness ("1/1"), restarts, node and age'),
  listTool(
    'deployment',
    WorkloadRowSchema,
    deploymentRow,
    'with readiness ("web (3/3 ready)"), images and age',
  ),
  listTool(
    'statefulset',
    WorkloadRowSchema,
    statefulSetRow,
    'with readiness ("db (3/3 ready)"), images and age',
  ),
  listTool('service', ServiceRowSchema, serviceRow, 'with type, cluster IP, ports and pod selector'),
  scaleTool('deployment'),
  scaleTool('statefulset'),
  getPermissions,
] as ToolDefinition[];

export function findTool(name: string): ToolDefinition | undefined {
  return TOOLS.find((t) => t.name === name);
}

/** How much of one issue, and of all of them, an Invalid result repeats (issues may quote the input). */
const MAX_ISSUE_TEXT = 200;
const MAX_ISSUES_SHOWN = 5;

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Turns a zod error into one readable sentence for an Invalid result, never echoing much of the input. */
export function invalidArguments(tool: string, error: z.ZodError): ToolError {
  const details = error.issues.slice(0, MAX_ISSUES_SHOWN).map((i) => {
    const path = i.path.length ? i.path.map((p) => clip(String(p), 63)).join('.') : 'arguments';
    return clip(`${path}: ${i.message}`, MAX_ISSUE_TEXT);
  });
  if (error.issues.length > MAX_ISSUES_SHOWN) {
    details.push(`and ${error.issues.length - MAX_ISSUES_SHOWN} more problems`);
  }
  return new ToolError('Invalid', `Invalid arguments for ${clip(tool, 63)}`, {
    reason: details.join('; '),
    suggestions: ['Check the tool input schema (tools/list) and call again with corrected arguments'],
  });
}
