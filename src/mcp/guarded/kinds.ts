import type { ScalableKind } from '../../kube/types.js';

/** The namespaced kinds served as lists and resources, and the tools whose grants gate them. */
export type ServedKind = 'pod' | 'deployment' | 'statefulset' | 'service';
export const SERVED_KINDS: readonly ServedKind[] = ['pod', 'deployment', 'statefulset', 'service'];

/** The tool whose grant gates reading kind X (lists and resources alike). */
export const LIST_TOOL: Readonly<Record<ServedKind, string>> = {
  pod: 'list_pods',
  deployment: 'list_deployments',
  statefulset: 'list_statefulsets',
  service: 'list_services',
};
export const SCALE_TOOL: Readonly<Record<ScalableKind, string>> = {
  deployment: 'scale_deployment',
  statefulset: 'scale_statefulset',
};
/** Tools that act inside a namespace (their grants define which namespaces a caller sees). */
export const NAMESPACED_TOOLS: readonly string[] = [
  ...Object.values(LIST_TOOL),
  ...Object.values(SCALE_TOOL),
];

export const KIND_LABEL: Readonly<Record<ServedKind, string>> = {
  pod: 'Pod',
  deployment: 'Deployment',
  statefulset: 'StatefulSet',
  service: 'Service',
};

/** The Kubernetes resource behind each served kind (span attributes). */
export const RESOURCE: Readonly<Record<ServedKind, string>> = {
  pod: 'pods',
  deployment: 'deployments',
  statefulset: 'statefulsets',
  service: 'services',
};
