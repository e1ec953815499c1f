/** The McpPolicies and Namespaces live in the cluster, as a policy set (for `diff live` and `check -f --live`). */

import type { V1NamespaceList } from '@kubernetes/client-node';
import { MCP_POLICIES_PATH, type McpPolicyObject } from '../controller/index.js';
import { KubeClient, loadKubeConfig, type Wire } from '../kube/index.js';
import type { PolicyDoc, PolicySet } from '../policyfile/policies.js';

export interface LiveOptions {
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export const LIVE_SOURCE = 'live';

export async function livePolicySet(opts: LiveOptions): Promise<PolicySet> {
  const client = new KubeClient(
    loadKubeConfig(opts.kubeconfig, opts.context, opts.env === undefined ? {} : { env: opts.env }),
  );
  try {
    const [list, namespaces] = await Promise.all([
      client.request<{ items?: McpPolicyObject[] }>('GET', MCP_POLICIES_PATH),
      client.request<Wire<V1NamespaceList>>('GET', '/api/v1/namespaces'),
    ]);
    const policies: PolicyDoc[] = (list.items ?? []).flatMap((p) =>
      p.metadata?.name
        ? [
            {
              name: p.metadata.name,
              spec: p.spec,
              file: `${LIVE_SOURCE} McpPolicy ${p.metadata.name}`,
              line: 0,
            },
          ]
        : [],
    );
    return {
      policies,
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
