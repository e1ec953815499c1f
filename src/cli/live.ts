/**
 * The McpPolicies, McpNamespacePolicies, McpDelegations and Namespaces live in the cluster, as a
 * policy set (for `diff live` and `check -f --live`).
 */

import type { V1NamespaceList } from '@kubernetes/client-node';
import { DELEGATION_KIND, KIND, NS_KIND } from '../api/v1alpha1/constants.js';
import {
  MCP_DELEGATIONS_PATH,
  MCP_NAMESPACE_POLICIES_PATH,
  MCP_POLICIES_PATH,
  type McpPolicyObject,
} from '../controller/index.js';
import { httpStatus } from '../kube/errors.js';
import { KubeClient, loadKubeConfig, type Wire } from '../kube/index.js';
import type { PolicyDoc, PolicySet } from '../policyfile/policies.js';

export interface LiveOptions {
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export const LIVE_SOURCE = 'live';

function docs(items: readonly McpPolicyObject[] | undefined, kind: string): PolicyDoc[] {
  return (items ?? []).flatMap((p) => {
    const name = p.metadata?.name;
    if (!name) return [];
    const namespace = kind === NS_KIND ? p.metadata?.namespace : undefined;
    const id = namespace === undefined ? name : `${namespace}/${name}`;
    return [
      {
        name,
        ...(namespace === undefined ? {} : { namespace }),
        spec: p.spec,
        file: `${LIVE_SOURCE} ${kind} ${id}`,
        line: 0,
      },
    ];
  });
}

export async function livePolicySet(opts: LiveOptions): Promise<Required<PolicySet>> {
  const client = new KubeClient(
    loadKubeConfig(opts.kubeconfig, opts.context, opts.env === undefined ? {} : { env: opts.env }),
  );
  // The tenancy kinds' CRDs may not be installed: then none exist, and nothing is delegated.
  const optional = (path: string) =>
    client.request<{ items?: McpPolicyObject[] }>('GET', path).catch((err: unknown) => {
      if (httpStatus(err) === 404) return { items: [] };
      throw err;
    });
  try {
    const [list, namespaced, delegations, namespaces] = await Promise.all([
      client.request<{ items?: McpPolicyObject[] }>('GET', MCP_POLICIES_PATH),
      optional(MCP_NAMESPACE_POLICIES_PATH),
      optional(MCP_DELEGATIONS_PATH),
      client.request<Wire<V1NamespaceList>>('GET', '/api/v1/namespaces'),
    ]);
    return {
      policies: docs(list.items, KIND),
      namespacePolicies: docs(namespaced.items, NS_KIND),
      delegations: docs(delegations.items, DELEGATION_KIND),
      namespaces: namespaces.items.flatMap((ns) =>
        ns.metadata?.name ? [{ name: ns.metadata.name, labels: ns.metadata.labels ?? {} }] : [],
      ),
    };
  } finally {
    client.close();
  }
}

/** The first line of an error, for "cannot read McpPolicies from the cluster: …". */
export function firstLine(err: unknown): string {
  return err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err);
}
