import { SCALE_TOOL_OF, SERVED_KIND_INFO, SERVED_KINDS, type ServedKind } from '../../api/v1alpha1/kinds.js';

/**
 * The guarded client's views of the kind registry (src/api/v1alpha1/kinds.ts): which tool gates
 * which kind, and how answers and spans name it.
 */

export { SERVED_KINDS, type ServedKind };

function byKind<T>(pick: (kind: ServedKind) => T): Readonly<Record<ServedKind, T>> {
  return Object.fromEntries(SERVED_KINDS.map((k) => [k, pick(k)])) as Record<ServedKind, T>;
}

/** The tool whose grant gates reading kind X (lists and resources alike). */
export const LIST_TOOL = byKind((k) => SERVED_KIND_INFO[k].listTool);
export const SCALE_TOOL = SCALE_TOOL_OF;
/** Tools that act inside a namespace (their grants define which namespaces a caller sees). */
export const NAMESPACED_TOOLS: readonly string[] = [
  ...Object.values(LIST_TOOL),
  ...Object.values(SCALE_TOOL),
];
export const KIND_LABEL = byKind((k) => SERVED_KIND_INFO[k].label);
/** The Kubernetes resource behind each served kind (span attributes). */
export const RESOURCE = byKind((k) => SERVED_KIND_INFO[k].resource);
