/**
 * The guarded cluster client, the one enforcement point between tools and the cluster. Its parts
 * live in src/mcp/guarded/: kinds (the served kinds and their tools), record (decision records and
 * refusals), gate (CallGate: the one decision of a call, its rate limits and RBAC second key),
 * client (GuardedClient: lists, reads, scale) and scale (the scale steps).
 */

export {
  GuardedClient,
  type GuardedOptions,
  type Listed,
  type SafetyOptions,
  type ScaleOptions,
  type VisibleNamespace,
} from './guarded/client.js';
export { type CallArguments, CallGate } from './guarded/gate.js';
export { LIST_TOOL, NAMESPACED_TOOLS, SCALE_TOOL, SERVED_KINDS, type ServedKind } from './guarded/kinds.js';
export type { DecisionRecord } from './guarded/record.js';
export { SCALE_STEPS, type ScaleOutcome } from './guarded/scale.js';
