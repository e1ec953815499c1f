/**
 * The work-queue keys of the controller's status reconciles, one per watched object:
 * `status/<name>` (McpPolicy), `nsstatus/<namespace>/<name>` (McpNamespacePolicy) and
 * `dstatus/<name>` (McpDelegation).
 */

import type { KubernetesObject } from '@kubernetes/client-node';
import type { Wire } from '../kube/types.js';

export const STATUS_PREFIX = 'status/';
export const NS_STATUS_PREFIX = 'nsstatus/';
export const DELEGATION_STATUS_PREFIX = 'dstatus/';

type Watched = Wire<KubernetesObject>;

export interface ObjectKey {
  readonly key: string;
  readonly generation: number | undefined;
}

export function policyKey(p: Watched): ObjectKey | undefined {
  const name = p.metadata?.name;
  return name ? { key: `${STATUS_PREFIX}${name}`, generation: p.metadata?.generation } : undefined;
}

export function namespacedKey(p: Watched): ObjectKey | undefined {
  const name = p.metadata?.name;
  const namespace = p.metadata?.namespace;
  return name && namespace
    ? { key: `${NS_STATUS_PREFIX}${namespace}/${name}`, generation: p.metadata?.generation }
    : undefined;
}

export function delegationKey(p: Watched): ObjectKey | undefined {
  const name = p.metadata?.name;
  return name ? { key: `${DELEGATION_STATUS_PREFIX}${name}`, generation: p.metadata?.generation } : undefined;
}
