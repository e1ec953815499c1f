/** The MCP layer: HTTP endpoint, authentication, tools, resources and the guarded cluster client. */

export { Auditor, type AuditRecord } from './audit.js';
export {
  type Authenticator,
  type AuthFailureReason,
  type AuthOutcome,
  createTokenReviewAuthenticator,
  DEFAULT_AUDIENCE,
  jwtExpiry,
  kubeIssuerDiscovery,
  kubeTokenReview,
  type ReviewResult,
  ServiceAccountKeys,
  type TokenReviewAuthenticatorOptions,
  type TokenReviewFn,
  tokenHash,
} from './auth.js';
export { TOOL_ERROR_CODES, ToolError, type ToolErrorBody, type ToolErrorCode } from './errors.js';
export {
  GuardedClient,
  type GuardedOptions,
  LIST_TOOL,
  SCALE_TOOL,
  SERVED_KINDS,
  type ServedKind,
} from './guarded.js';
export {
  createMcpApp,
  DEFAULT_BODY_LIMIT_BYTES,
  MCP_PATH,
  type McpAppDeps,
  type McpAppOptions,
  type McpRequestListener,
  PROTECTED_RESOURCE_METADATA_PATH,
  resolveMcpAppOptions,
} from './http.js';
export { type LabelSelector, parseLabelSelector } from './labels.js';
export { type McpMetrics, mcpMetrics } from './metrics.js';
export { parseResourceUri, resourceUri } from './resources.js';
export { TOOLS, type ToolDefinition } from './tools.js';
