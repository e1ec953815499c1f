import { z } from 'zod';
import { describeLimits } from '../../policy/limits.js';
import type { Grant } from '../../policy/types.js';
import { PermissionsOutputSchema, type ToolDefinition } from './schemas.js';

/** get_permissions: what the caller may do, from its own grants. */

function grantText(g: Grant): string {
  const where = g.allNamespaces
    ? 'every namespace'
    : `namespaces ${g.namespaces.length ? g.namespaces.join(', ') : '(none exist yet)'} (patterns ${
        g.namespacePatterns.join(', ') || 'none'
      }${g.namespaceSelector === undefined ? '' : `; selector ${g.namespaceSelector}`})`;
  const bounds = g.replicas === undefined ? '' : `; replicas ${g.replicas.min}-${g.replicas.max}`;
  const limits = describeLimits(g.limits);
  const kind = g.policyNamespace === undefined ? '' : ' (McpNamespacePolicy)';
  return `- policy ${g.policy}${kind}: ${g.tools.join(', ')} in ${where}${bounds}${limits === undefined ? '' : `; ${limits}`}`;
}

export const getPermissions: ToolDefinition<
  z.ZodObject<Record<string, never>>,
  typeof PermissionsOutputSchema
> = {
  name: 'get_permissions',
  title: 'Get my permissions',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  inputSchema: z.strictObject({}),
  outputSchema: PermissionsOutputSchema,
  description: () =>
    'Show what you may do: your identity, the tools granted to you, in which namespaces, and the replica ' +
    'bounds for scaling, per McpPolicy or McpNamespacePolicy. Call this first to plan instead of probing.',
  handler: (_input, { client }) => {
    const p = client.permissions();
    const structured = {
      caller: { username: p.caller.username, groups: [...p.caller.groups] },
      tools: [...p.tools],
      grants: p.grants.map((g) => ({
        policy: g.policy,
        ...(g.policyNamespace === undefined ? {} : { policyNamespace: g.policyNamespace }),
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
      lines.push(
        'No McpPolicy or McpNamespacePolicy grants you anything; only get_permissions is available.',
      );
    else lines.push('You may use:', ...p.grants.map(grantText));
    return { structured, text: lines.join('\n') };
  },
};
