/**
 * The registry of the Kubernetes kinds KubeMCP serves and the tools that gate them: one table that
 * the policy engine, the guarded client, the tools, the resources and the RBAC second key read.
 * Pure data.
 */

export type ServedKind = 'pod' | 'deployment' | 'statefulset' | 'service';
export type ScalableServedKind = 'deployment' | 'statefulset';

export interface ServedKindInfo {
  /** The kind as Kubernetes names it: `Pod`. */
  readonly label: string;
  /** Its plural, for titles: `Pods`. */
  readonly title: string;
  /** The API resource: `pods`. */
  readonly resource: string;
  /** The API group: "" for the core group. */
  readonly group: string;
  readonly apiVersion: string;
  /** The tool whose grant gates reading it (lists and resources alike). */
  readonly listTool: string;
}

export const SERVED_KIND_INFO: Readonly<Record<ServedKind, ServedKindInfo>> = {
  pod: { label: 'Pod', title: 'Pods', resource: 'pods', group: '', apiVersion: 'v1', listTool: 'list_pods' },
  deployment: {
    label: 'Deployment',
    title: 'Deployments',
    resource: 'deployments',
    group: 'apps',
    apiVersion: 'apps/v1',
    listTool: 'list_deployments',
  },
  statefulset: {
    label: 'StatefulSet',
    title: 'StatefulSets',
    resource: 'statefulsets',
    group: 'apps',
    apiVersion: 'apps/v1',
    listTool: 'list_statefulsets',
  },
  service: {
    label: 'Service',
    title: 'Services',
    resource: 'services',
    group: '',
    apiVersion: 'v1',
    listTool: 'list_services',
  },
};

export const SERVED_KINDS: readonly ServedKind[] = ['pod', 'deployment', 'statefulset', 'service'];

/** The tool that scales each scalable kind (through its /scale subresource). */
export const SCALE_TOOL_OF: Readonly<Record<ScalableServedKind, string>> = {
  deployment: 'scale_deployment',
  statefulset: 'scale_statefulset',
};

/** A DNS label (RFC 1123), as namespace names are: at most 63 characters, checked apart. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A DNS subdomain (RFC 1123), as most object names are: at most 253 characters, checked apart. */
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
