/**
 * Runs only when KUBEMCP_E2E_MCP_URL names the MCP endpoint of an operator installed in the cluster
 * (`npm run test:e2e:kind` installs config/default on kind and port-forwards its Service): real agent
 * tokens against the real Deployment, both SDK clients.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  agentToken,
  type ClientKind,
  connect,
  createDeployment,
  createNamespace,
  createPolicy,
  createServiceAccount,
  deleteNamespace,
  deletePolicy,
  errorOf,
  okOf,
  readDeployment,
  uniqueSuffix,
  waitPolicyReady,
  waitReady,
} from './mcp-support.js';

const url = process.env.KUBEMCP_E2E_MCP_URL;

describe.skipIf(url === undefined)('the in-cluster operator (config/default)', () => {
  const suffix = uniqueSuffix();
  const ns = `e2e-incluster-${suffix}`;
  const agents = `e2e-incluster-agents-${suffix}`;
  const policy = `e2e-incluster-${suffix}`;
  let token = '';

  beforeAll(async () => {
    await createNamespace(ns);
    await createNamespace(agents);
    await createServiceAccount(agents, 'agent');
    await createDeployment(ns, 'web', 1);
    await waitReady(ns, 'web', 1);
    await createPolicy(policy, {
      subjects: [{ kind: 'ServiceAccount', name: 'agent', namespace: agents }],
      namespaces: { names: [ns] },
      tools: ['list_pods', 'list_deployments', 'scale_deployment'],
      replicas: { min: 1, max: 3 },
    });
    await waitPolicyReady(policy);
    token = await agentToken(agents, 'agent');
  });

  afterAll(async () => {
    await deletePolicy(policy).catch(() => undefined);
    await deleteNamespace(ns).catch(() => undefined);
    await deleteNamespace(agents).catch(() => undefined);
  });

  for (const kind of ['v2', 'v1'] as ClientKind[]) {
    it(`lists, refuses out-of-bounds and scales within bounds (${kind} client)`, async () => {
      const client = await connect(kind, url as string, token);
      try {
        const tools = (await client.listTools()).map((t) => t.name).sort();
        expect(tools).toEqual(['get_permissions', 'list_deployments', 'list_pods', 'scale_deployment']);
        const pods = okOf<{ items: Array<{ namespace: string }> }>(
          await client.callTool('list_pods', { namespace: ns }),
        );
        expect(pods.items.length).toBeGreaterThan(0);
        expect(pods.items.every((p) => p.namespace === ns)).toBe(true);
        const refused = errorOf(
          await client.callTool('scale_deployment', { namespace: ns, name: 'web', replicas: 9 }),
        );
        expect(refused.code).toBe('OutOfBounds');
        const target = kind === 'v2' ? 2 : 3;
        const scaled = okOf<{ to: number }>(
          await client.callTool('scale_deployment', { namespace: ns, name: 'web', replicas: target }),
        );
        expect(scaled.to).toBe(target);
        expect((await readDeployment(ns, 'web')).spec?.replicas).toBe(target);
      } finally {
        await client.close();
      }
    });
  }
});
