/**
 * The MCP endpoint over HTTP. Its rooms live in ./http/: the gate and its prebuilt refusals
 * (app.ts, respond.ts), Host/Origin (hostorigin.ts), authentication (authgate.ts), the POST steps
 * (post.ts) with the body's shape and batch rules (shape.ts), the one request context (context.ts),
 * the SDK bridge (bridge.ts), elicitation answers (elicitation.ts), spans and debug logs.
 */
export { createMcpApp, type McpRequestListener } from './http/app.js';
export { redactHeaders } from './http/debug.js';
export {
  DEFAULT_BODY_LIMIT_BYTES,
  DEFAULT_MAX_INFLIGHT_PER_CALLER,
  DEFAULT_PUBLIC_URL,
  MAX_BATCH_MESSAGES,
  MAX_JSON_DEPTH,
  MAX_JSON_ELEMENTS,
  MAX_JSON_MEMBERS,
  MCP_PATH,
  type McpAppDeps,
  type McpAppOptions,
  PROTECTED_RESOURCE_METADATA_PATH,
  type ResolvedMcpAppOptions,
  resolveMcpAppOptions,
} from './http/options.js';
export { jsonShapeProblem } from './http/shape.js';
