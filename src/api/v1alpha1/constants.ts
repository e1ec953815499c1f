/** Names of the McpPolicy API (a contract: docs/contract.md). */

export const GROUP = 'kubemcp.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'McpPolicy';
export const LIST_KIND = 'McpPolicyList';
export const PLURAL = 'mcppolicies';
export const SINGULAR = 'mcppolicy';
export const SHORT_NAME = 'mcpp';
export const CATEGORIES = ['kubemcp'] as const;
export const CRD_NAME = `${PLURAL}.${GROUP}`;

/** The one condition type an McpPolicy reports, and its reasons. */
export const CONDITION_READY = 'Ready';
export const REASON_ACCEPTED = 'Accepted';
export const REASON_INVALID = 'Invalid';
/**
 * A second condition, present (status True) only while a Ready policy grants something risky; its
 * reason lists the warning codes (e.g. `OperatorNamespace,ScaleToZero`), its message says why.
 */
export const CONDITION_WARNINGS = 'Warnings';

/** Upper bound of `spec.replicas.max`: bounds scale requests and keeps "absurd" counts out. */
export const MAX_REPLICAS = 10_000;

/** Size bounds. They also keep the CRD's CEL rules within the API server's cost budget. */
export const LIMITS = {
  subjects: 64,
  subjectName: 512,
  namespacePatterns: 128,
  namespaceName: 63,
  tools: 64,
  toolPattern: 63,
  matchLabels: 32,
  matchExpressions: 32,
  selectorValues: 64,
  labelKey: 317,
  labelValue: 63,
  conditions: 8,
  conditionMessage: 32_768,
  conditionReason: 1024,
  conditionType: 316,
  // Agent safety (v0.2).
  callsPerMinute: 10_000,
  cooldownSeconds: 86_400,
} as const;

/** The namespaced kind: a tenant's grant, only in its own namespace (docs/adr/0010). */
export const NS_KIND = 'McpNamespacePolicy';
export const NS_LIST_KIND = 'McpNamespacePolicyList';
export const NS_PLURAL = 'mcpnamespacepolicies';
export const NS_SINGULAR = 'mcpnamespacepolicy';
export const NS_SHORT_NAME = 'mcpnp';

/** The cluster-scoped ceiling: which namespaces accept McpNamespacePolicies, and the most they may grant. */
export const DELEGATION_KIND = 'McpDelegation';
export const DELEGATION_LIST_KIND = 'McpDelegationList';
export const DELEGATION_PLURAL = 'mcpdelegations';
export const DELEGATION_SINGULAR = 'mcpdelegation';
export const DELEGATION_SHORT_NAME = 'mcpd';

/** Ready=False reasons of an McpNamespacePolicy that is valid but not allowed where it is. */
export const REASON_NOT_DELEGATED = 'NotDelegated';
export const REASON_EXCEEDS_CEILING = 'ExceedsCeiling';
