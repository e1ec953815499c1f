/**
 * The shipped manager Deployment must start with the flags and environment it sets: parse them
 * with the same parser and config loader `kubemcp serve` uses.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig, serveFlagOptions } from '../../../src/config/index.js';

interface Container {
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
  securityContext?: Record<string, unknown>;
  ports?: Array<{ containerPort: number }>;
}

function managerContainer(): Container {
  const docs = parseAllDocuments(fs.readFileSync('config/manager/deployment.yaml', 'utf8')).map((d) =>
    d.toJS(),
  );
  const dep = docs.find((d) => d?.kind === 'Deployment');
  return dep.spec.template.spec.containers[0] as Container;
}

describe('config/manager/deployment.yaml', () => {
  it('passes serve flags the config loader accepts, with leader election on', () => {
    const c = managerContainer();
    expect(c.args?.[0]).toBe('serve');
    const { values } = parseArgs({ args: c.args?.slice(1) ?? [], options: serveFlagOptions(), strict: true });
    const env = { POD_NAME: 'kubemcp-operator-abc', POD_NAMESPACE: 'kubemcp-system' };
    const config = loadConfig({ flags: values, env });
    expect(config.leaderElection.enabled).toBe(true);
    expect(config.leaderElection.namespace).toBe('kubemcp-system');
    expect(config.leaderElection.identity).toMatch(/^kubemcp-operator-abc_/);
    expect(config.publicUrl).toContain('kubemcp.kubemcp-system.svc');
    expect(config.allowedHosts).toContain('kubemcp.kubemcp-system.svc.cluster.local');
    // Replicas share the confirmation key through the Secret the Role below lets them get and create.
    expect(config.confirmationKeyFile).toBeUndefined();
    expect(config.confirmationKeySecret).toBe('kubemcp-confirmation-key');
    expect(c.env?.map((e) => e.name).sort()).toEqual(['NODE_OPTIONS', 'POD_NAME', 'POD_NAMESPACE']);
  });

  it('exposes the contract ports and runs hardened', () => {
    const c = managerContainer();
    expect(c.ports?.map((p) => p.containerPort).sort()).toEqual([8080, 8081]);
    expect(c.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
  });
});

describe('Dockerfile', () => {
  it('ships the Node.js version CI tests with (npm run test:node-lts)', () => {
    const image = fs.readFileSync('Dockerfile', 'utf8').match(/^ARG NODE_IMAGE=node:(\d+\.\d+\.\d+)-/m)?.[1];
    const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
    const tested = pkg.scripts['test:node-lts']?.match(/with-node\.sh (\d+\.\d+\.\d+) /)?.[1];
    expect(image).toMatch(/^\d+\.\d+\.\d+$/);
    expect(tested).toBe(image);
  });
});

function docsOf(file: string): Record<string, unknown>[] {
  return parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS() as Record<string, unknown>);
}

describe('config/manager/network_policy.yaml', () => {
  it('opens the MCP port to every namespace, probes and metrics only to labelled monitoring namespaces', () => {
    const [np] = docsOf('config/manager/network_policy.yaml') as Array<{
      spec: { ingress: Array<{ ports: Array<{ port: number }>; from: unknown[] }> };
    }>;
    const byPort = new Map<number, unknown[]>();
    for (const rule of np?.spec.ingress ?? []) {
      for (const p of rule.ports) byPort.set(p.port, [...(byPort.get(p.port) ?? []), ...rule.from]);
    }
    expect([...byPort.keys()].sort()).toEqual([8080, 8081]);
    expect(byPort.get(8080)).toEqual([{ namespaceSelector: {} }]);
    expect(byPort.get(8081)).toEqual([
      { namespaceSelector: { matchLabels: { 'kubemcp.io/metrics': 'true' } } },
    ]);
  });
});

interface Role {
  metadata: { name: string; namespace: string };
  rules: Array<{ apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] }>;
}
interface RoleBinding {
  metadata: { namespace: string };
  roleRef: { kind: string; name: string };
  subjects: Array<{ kind: string; name: string; namespace: string }>;
}

/** The Role of a file and the check that its binding gives it to the operator, in the same namespace. */
function boundRole(file: string): Role {
  const docs = docsOf(file);
  const role = docs.find((d) => d.kind === 'Role') as unknown as Role;
  const binding = docs.find((d) => d.kind === 'RoleBinding') as unknown as RoleBinding;
  expect(binding.metadata.namespace).toBe(role.metadata.namespace);
  expect(binding.roleRef).toMatchObject({ kind: 'Role', name: role.metadata.name });
  expect(binding.subjects).toEqual([
    { kind: 'ServiceAccount', name: 'kubemcp-operator', namespace: 'kubemcp-system' },
  ]);
  return role;
}

describe('config/rbac', () => {
  it('lists every RBAC file in its kustomization', () => {
    const k = docsOf('config/rbac/kustomization.yaml')[0] as { resources: string[] };
    const files = fs
      .readdirSync('config/rbac')
      .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...k.resources].sort()).toEqual(files.sort());
  });

  it('leader_election_role.yaml: Leases in the operator namespace only; list and delete for the sweep, no watch', () => {
    const role = boundRole('config/rbac/leader_election_role.yaml');
    expect(role.metadata.namespace).toBe('kubemcp-system');
    expect(role.rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['list', 'delete'] },
    ]);
  });

  it('confirmation_key_role.yaml: get on the one key Secret, create on secrets, in the operator namespace only', () => {
    const role = boundRole('config/rbac/confirmation_key_role.yaml');
    expect(role.metadata.namespace).toBe('kubemcp-system');
    expect(role.rules).toEqual([
      {
        apiGroups: [''],
        resources: ['secrets'],
        resourceNames: ['kubemcp-confirmation-key'],
        verbs: ['get'],
      },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
    ]);
  });

  it('the ClusterRole grants nothing on Secrets', () => {
    const role = docsOf('config/rbac/role.yaml').find((d) => d.kind === 'ClusterRole') as unknown as Role;
    expect(role.rules.filter((r) => r.resources.includes('secrets'))).toEqual([]);
  });
});
