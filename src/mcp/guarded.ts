/**
 * The guarded cluster client, the one enforcement point between tools and the cluster. Its parts
 * live in src/mcp/guarded/: kinds (the served kinds and their tools), record (decision records and
 * refusals), client (GuardedClient: one decision per call, lists, reads) and scale (the scale steps).
 */

export {
  type CallArguments,
  GuardedClient,
  type GuardedOptions,
  type Listed,
  type SafetyOptions,
  type ScaleOptions,
  type VisibleNamespace,
} from './guarded/client.js';
export { LIST_TOOL, NAMESPACED_TOOLS, SCALE_TOOL, SERVED_KINDS, type ServedKind } from './guarded/kinds.js';
export type { DecisionRecord } from './guarded/record.js';
export { SCALE_STEPS, type ScaleOutcome } from './guarded/scale.js';
