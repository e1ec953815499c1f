/**
 * Tenants on a real cluster. The cluster admin delegates team-a (an McpDelegation with a ceiling);
 * alice holds only the built-in `admin` ClusterRole, bound in team-a, and manages an
 * McpNamespacePolicy for her agent with that alone (the aggregated roles that ship in config/rbac).
 * The agent scales within bounds in team-a, is refused in team-b and beyond the ceiling; alice cannot
 * create the cluster-scoped kinds; a narrowed ceiling withdraws a live grant; a policy in a namespace
 * nothing delegates grants nothing and says why. `kubemcp serve` runs AS the operator ServiceAccount with the shipped ClusterRole.
 */

import { CustomObjectsApi, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { DELEGATION_PLURAL, GROUP, NS_PLURAL, VERSION } from '../../src/api/v1alpha1/index.js';
import { mcpFixture } from './fixture.js';
import {
  connect,
  errorOf,
  type McpCaller,
  okOf,
  readDeployment,
  runKubectl,
  uniqueSuffix,
} from './mcp-support.js';
import { eventually, kubeConfig } from './support.js';

const s = uniqueSuffix();
const TEAM_A = `e2e-team-a-${s}`;
const TEAM_B = `e2e-team-b-${s}`;
const DELEGATION = `e2e-tenants-${s}`;
const POLICY = 'agent';

let agent: McpCaller | undefined;
const custom = () => kubeConfig().makeApiClient(CustomObjectsApi);

/** kubectl as alice (a static user of the local control plane): ok or the error text, never a throw. */
function asAlice(args: string[], input?: string): { ok: boolean; text: string } {
  try {
    return { ok: true, text: runKubectl(['--context', 'kubemcp-local-alice', ...args], input) };
  } catch (err) {
    return { ok: false, text: err instanceof Error ? err.message : String(err) };
  }
}

function namespacePolicyYaml(namespace: string, spec: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'McpNamespacePolicy',
    metadata: { name: POLICY, namespace },
    spec,
  });
}

const AGENT_SPEC = {
  subjects: [{ kind: 'ServiceAccount', name: 'agent', namespace: TEAM_A }],
  tools: ['list_deployments', 'scale_deployment'],
  replicas: { min: 1, max: 4, maxStep: 2 },
};

interface Status {
  observedGeneration?: number;
  conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
}

async function namespacedStatus(namespace: string): Promise<{ generation?: number; status?: Status }> {
  const obj = (await custom().getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural: NS_PLURAL,
    namespace,
    name: POLICY,
  })) as { metadata: { generation?: number }; status?: Status };
  return {
    ...(obj.metadata.generation === undefined ? {} : { generation: obj.metadata.generation }),
    ...(obj.status ? { status: obj.status } : {}),
  };
}

/** Waits until the policy's current generation shows Ready with `status`, and returns that condition. */
function waitReadyCondition(namespace: string, status: 'True' | 'False') {
  return eventually(`McpNamespacePolicy ${namespace}/${POLICY} Ready=${status}`, async () => {
    const { generation, status: st } = await namespacedStatus(namespace);
    const ready = st?.conditions?.find((c) => c.type === 'Ready');
    return ready?.status === status && st?.observedGeneration === generation ? ready : undefined;
  });
}

function client(): McpCaller {
  if (!agent) throw new Error('the agent is not connected');
  return agent;
}

const fx = mcpFixture({
  namespaces: [TEAM_A, TEAM_B],
  serviceAccounts: [{ namespace: TEAM_A, name: 'agent' }],
  deployments: [TEAM_A, TEAM_B].map((namespace) => ({ namespace, name: 'web', replicas: 1 })),
  beforeServe: async () => {
    // The tenant admin: the built-in admin role in team-a, nothing else.
    await kubeConfig()
      .makeApiClient(RbacAuthorizationV1Api)
      .createNamespacedRoleBinding({
        namespace: TEAM_A,
        body: {
          metadata: { name: 'alice-admin' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' },
          subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice' }],
        },
      });
    // The cluster admin delegates team-a only.
    await custom().createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: DELEGATION_PLURAL,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'McpDelegation',
        metadata: { name: DELEGATION },
        spec: {
          namespaces: { names: [TEAM_A] },
          ceiling: { tools: ['list_deployments', 'scale_deployment'], maxReplicas: 4, maxStep: 2 },
        },
      },
    });
  },
  serve: [{ identity: `e2e-tenants-${s}` }],
  tokens: { agent: { namespace: TEAM_A, name: 'agent' } },
  afterSetup: async (f) => {
    agent = await connect('v2', f.serve.url, f.tokens.agent);
  },
  onFailure: async () => {
    for (const ns of [TEAM_A, TEAM_B]) {
      try {
        process.stderr.write(
          `── McpNamespacePolicies in ${ns} ──\n${runKubectl(['get', 'mcpnp', '-n', ns, '-o', 'yaml'])}\n`,
        );
      } catch (err) {
        process.stderr.write(`(${ns}: ${err instanceof Error ? err.message : String(err)})\n`);
      }
    }
  },
  cleanup: async () => {
    await agent?.close();
    await custom()
      .deleteClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: DELEGATION_PLURAL,
        name: DELEGATION,
      })
      .catch(() => undefined);
  },
  timeoutMs: 180_000,
});

describe('a tenant admin with only the aggregated admin role', () => {
  it('creates an McpNamespacePolicy for its agent in its namespace, which becomes Ready', async () => {
    const created = asAlice(['apply', '-f', '-'], namespacePolicyYaml(TEAM_A, AGENT_SPEC));
    expect(created.ok, created.text).toBe(true);
    const ready = await waitReadyCondition(TEAM_A, 'True');
    expect(ready.reason).toBe('Accepted');
    expect(ready.message).toContain(`in namespace ${TEAM_A}`);
  });

  it('cannot create the cluster-scoped kinds, nor a policy in team-b', () => {
    for (const kind of ['mcppolicies', 'mcpdelegations']) {
      const can = asAlice(['auth', 'can-i', 'create', `${kind}.${GROUP}`]);
      expect(can.ok, `alice may create ${kind}`).toBe(false);
    }
    const denied = asAlice(['apply', '-f', '-'], namespacePolicyYaml(TEAM_B, AGENT_SPEC));
    expect(denied.ok).toBe(false);
    expect(denied.text).toMatch(/forbidden/i);
  });
});

describe('the agent', () => {
  it('scales within bounds in team-a, and the answer names the policy with its namespace', async () => {
    await waitReadyCondition(TEAM_A, 'True');
    const result = await client().callTool('scale_deployment', {
      namespace: TEAM_A,
      name: 'web',
      replicas: 3,
    });
    expect(result.isError, JSON.stringify(result)).toBeFalsy();
    await eventually(
      'web scaled to 3',
      async () => (await readDeployment(TEAM_A, 'web')).spec?.replicas === 3,
    );
    const audit = fx.serve.audits().find((a) => a.tool === 'scale_deployment' && a.outcome !== 'denied');
    expect(audit?.policies).toEqual([`${TEAM_A}/${POLICY}`]);
    const perms = okOf<{ grants: Array<{ policy: string; policyNamespace?: string }> }>(
      await client().callTool('get_permissions'),
    );
    expect(perms.grants).toEqual([
      expect.objectContaining({ policy: `${TEAM_A}/${POLICY}`, policyNamespace: TEAM_A }),
    ]);
  });

  it('is refused in team-b and above the bounds', async () => {
    const other = errorOf(
      await client().callTool('scale_deployment', { namespace: TEAM_B, name: 'web', replicas: 2 }),
    );
    expect(other.code).toBe('PolicyDenied');
    const above = errorOf(
      await client().callTool('scale_deployment', { namespace: TEAM_A, name: 'web', replicas: 5 }),
    );
    expect(above.code).toBe('OutOfBounds');
    expect((await readDeployment(TEAM_B, 'web')).spec?.replicas).toBe(1);
  });

  it('gets nothing from a policy beyond the ceiling: Ready=False with the reason', async () => {
    const wider = asAlice(
      ['apply', '-f', '-'],
      namespacePolicyYaml(TEAM_A, { ...AGENT_SPEC, replicas: { min: 1, max: 10, maxStep: 2 } }),
    );
    expect(wider.ok, wider.text).toBe(true);
    const ready = await waitReadyCondition(TEAM_A, 'False');
    expect(ready.reason).toBe('ExceedsCeiling');
    expect(ready.message).toContain('replicas.max 10 is above 4');
    const refused = errorOf(
      await client().callTool('scale_deployment', { namespace: TEAM_A, name: 'web', replicas: 2 }),
    );
    expect(refused.code).toBe('PolicyDenied');
    expect((await readDeployment(TEAM_A, 'web')).spec?.replicas).toBe(3);
  });
});

describe('the cluster admin', () => {
  it('sees the delegation Ready, covering one namespace', async () => {
    const d = await eventually('the McpDelegation Ready', async () => {
      const obj = (await custom().getClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: DELEGATION_PLURAL,
        name: DELEGATION,
      })) as { status?: Status & { matchedNamespaces?: number } };
      return obj.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? obj : undefined;
    });
    expect(d.status?.matchedNamespaces).toBe(1);
  });

  it('narrows the ceiling, and a live grant that no longer fits is withdrawn', async () => {
    const back = asAlice(['apply', '-f', '-'], namespacePolicyYaml(TEAM_A, AGENT_SPEC));
    expect(back.ok, back.text).toBe(true);
    await waitReadyCondition(TEAM_A, 'True');
    expect(okOf(await client().callTool('list_deployments', { namespace: TEAM_A }))).toBeTruthy();
    runKubectl([
      'patch',
      'mcpdelegation',
      DELEGATION,
      '--type=merge',
      '-p',
      JSON.stringify({
        spec: { ceiling: { tools: ['list_deployments'], maxReplicas: null, maxStep: null } },
      }),
    ]);
    await eventually('the grant withdrawn', async () => {
      const r = await client().callTool('list_deployments', { namespace: TEAM_A });
      return r.isError === true && errorOf(r).code === 'PolicyDenied';
    });
    const ready = await waitReadyCondition(TEAM_A, 'False');
    expect(ready.reason).toBe('ExceedsCeiling');
    expect(ready.message).toContain('tools scale_deployment may not be granted in this namespace');
  });
});

describe('a namespace nothing delegates', () => {
  it('a policy there (created by the cluster admin) grants nothing and says why', async () => {
    runKubectl(['apply', '-f', '-'], namespacePolicyYaml(TEAM_B, { ...AGENT_SPEC }));
    const ready = await waitReadyCondition(TEAM_B, 'False');
    expect(ready.reason).toBe('NotDelegated');
    expect(ready.message).toContain(`namespace ${TEAM_B} does not accept McpNamespacePolicies`);
    const refused = errorOf(await client().callTool('list_deployments', { namespace: TEAM_B }));
    expect(refused.code).toBe('PolicyDenied');
  });
});
