/** The tool names the MCP server serves: the registry is part of the API (src/api/v1alpha1/tools.ts). */

export {
  ALWAYS_ALLOWED_TOOLS,
  isAlwaysAllowedTool,
  isKnownTool,
  isScaleTool,
  KNOWN_TOOLS,
  type KnownTool,
  SCALE_TOOL_PREFIX,
} from '../api/v1alpha1/tools.js';
