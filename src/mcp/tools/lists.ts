import type { z } from 'zod';
import { SERVED_KIND_INFO } from '../../api/v1alpha1/kinds.js';
import type { CacheHealth, KindMap } from '../../kube/types.js';
import { describeLimits } from '../../policy/limits.js';
import type { Grant } from '../../policy/types.js';
import { type CursorKey, fingerprint, paginate } from '../cursor.js';
import { NamespaceRowSchema, namespaceRow, staleness } from '../format.js';
import { LIST_TOOL, type ServedKind } from '../guarded.js';
import { type LabelSelector, parseLabelSelector } from '../labels.js';

import {
  DEFAULT_LIST_LIMIT,
  type ListInput,
  ListInputSchema,
  ListNamespacesInputSchema,
  listOutputSchema,
  type ToolDefinition,
} from './schemas.js';

/** The list tools (list_namespaces, list_pods, ...): paginated, filtered to what the caller may see. */

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
export function scopeText(grants: readonly Grant[], tool: string): string {
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

export function boundsOf(grants: readonly Grant[], tool: string): { min: number; max: number } | undefined {
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
export function scaleLimitsText(grants: readonly Grant[], tool: string): string {
  const parts = grants
    .filter((g) => g.tools.includes(tool))
    .flatMap((g) => {
      const text = describeLimits(g.limits);
      return text === undefined ? [] : [`${text} (policy ${g.policy})`];
    });
  return parts.length === 0 ? '' : `Limits: ${parts.join('; ')}. `;
}

const KIND_PLURAL = (kind: ServedKind): string => SERVED_KIND_INFO[kind].resource;
export const KIND_TITLE = (kind: ServedKind): string => SERVED_KIND_INFO[kind].title;

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

export function listTool<K extends ServedKind, R extends z.ZodType<Rowed>>(
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

export const listNamespaces: ToolDefinition<
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
