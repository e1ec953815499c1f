/**
 * The pure policy engine: McpPolicy specs + Namespace labels in, decisions out. No I/O, no
 * Kubernetes client, no MCP types.
 */

export {
  type CeilingVerdict,
  type CompiledCeiling,
  ceilingExcesses,
  compileCeiling,
  judgeCeiling,
  type TenantGrant,
} from './ceiling.js';
export {
  type CompiledGrant,
  type CompileInput,
  compile,
  type PolicyIndex,
  type PolicyObject,
  serviceAccountUsername,
} from './compile.js';
export { cooldownsWithoutNamespace } from './cooldowns.js';
export {
  type CallDecision,
  decideCall,
  indexHasLimits,
  indexHasRbac,
  limitedGrants,
  onlyRbacKeyed,
  toolGrants,
} from './decide.js';
export {
  coverFilter,
  describePolicies,
  evaluate,
  grantedTools,
  isNamespaceName,
  isValidReplicaCount,
  MAX_NAMESPACE_LENGTH,
  namespaceFilter,
  permissions,
} from './evaluate.js';
export {
  compileGlob,
  countStars,
  isGlob,
  MAX_PATTERN_LENGTH,
  MAX_PATTERN_STARS,
  type MatchCounter,
  matchGlob,
  toolPatternMayScale,
} from './glob.js';
export {
  type ConfirmRules,
  confirmReasons,
  decideScale,
  describeLimits,
  type GrantLimits,
  type LimitedGrant,
  limitsOf,
  needsCooldown,
  type ScaleFacts,
  type ScaleVerdict,
} from './limits.js';
export { CompileMemo } from './memo.js';
export { compileSelector, formatSelector, type LabelSelector } from './selector.js';
export {
  type DelegationObject,
  type NamespacedPolicyObject,
  namespacedPolicyId,
} from './tenancy.js';
export {
  ALWAYS_ALLOWED_TOOLS,
  isAlwaysAllowedTool,
  isKnownTool,
  isScaleTool,
  KNOWN_TOOLS,
  type KnownTool,
  SCALE_TOOL_PREFIX,
} from './tools.js';
export type * from './types.js';
export {
  EVERYONE_GROUPS,
  grantCovers,
  policyWarnings,
  warningsMessage,
  warningsReason,
} from './warnings.js';
