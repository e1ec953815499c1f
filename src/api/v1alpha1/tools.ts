/**
 * The tool names the MCP server serves (a contract: docs/tools.md). Pure data, shared by the API
 * schema (validation of tool patterns), the policy engine and the MCP layer (src/policy/tools.ts
 * re-exports it).
 */

export const KNOWN_TOOLS = [
  'list_namespaces',
  'list_pods',
  'list_deployments',
  'list_statefulsets',
  'list_services',
  'scale_deployment',
  'scale_statefulset',
  'get_permissions',
] as const;

export type KnownTool = (typeof KNOWN_TOOLS)[number];

/** Tools that every authenticated caller may use without a grant: they only describe the caller's own rights. */
export const ALWAYS_ALLOWED_TOOLS: readonly KnownTool[] = ['get_permissions'];

/** Every tool whose name starts with this changes replicas, and is bounded by a policy's `replicas`. */
export const SCALE_TOOL_PREFIX = 'scale_';

const known: ReadonlySet<string> = new Set(KNOWN_TOOLS);
const alwaysAllowed: ReadonlySet<string> = new Set(ALWAYS_ALLOWED_TOOLS);

export function isKnownTool(name: string): name is KnownTool {
  return known.has(name);
}

export function isAlwaysAllowedTool(name: string): boolean {
  return alwaysAllowed.has(name);
}

/** True for tools that set a replica count (scale_deployment, scale_statefulset, and any future scale_*). */
export function isScaleTool(name: string): boolean {
  return name.startsWith(SCALE_TOOL_PREFIX);
}
