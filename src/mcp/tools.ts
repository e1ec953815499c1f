import {
  deploymentRow,
  PodRowSchema,
  podRow,
  ServiceRowSchema,
  serviceRow,
  statefulSetRow,
  WorkloadRowSchema,
} from './format.js';

/**
 * Tools as data: every tool is one ToolDefinition in TOOLS — name, title, description, input and
 * output schema, annotations and handler. The MCP server lists and dispatches from this list only.
 * Handlers receive a GuardedClient (never the cluster backend), so no tool can skip the policy check.
 */

export { invalidArguments } from './tools/invalid.js';

import { listNamespaces, listTool } from './tools/lists.js';
import { getPermissions } from './tools/permissions.js';
import { scaleTool } from './tools/scale.js';
import type { ToolDefinition } from './tools/schemas.js';

export {
  advertisedOutputSchema,
  DEFAULT_LIST_LIMIT,
  MAX_LIST_LIMIT,
  type ToolAnnotationsExplicit,
  type ToolContext,
  type ToolDefinition,
  type ToolSuccess,
} from './tools/schemas.js';

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
