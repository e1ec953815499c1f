import type { McpPolicySpecInput } from '../../../src/api/v1alpha1/index.js';
import type { Caller, NamespaceInfo, PolicyObject } from '../../../src/policy/index.js';

export const sa = (name: string, namespace: string) => ({ kind: 'ServiceAccount' as const, name, namespace });
export const user = (name: string) => ({ kind: 'User' as const, name });
export const group = (name: string) => ({ kind: 'Group' as const, name });

export function policy(
  name: string,
  spec: McpPolicySpecInput | Record<string, unknown>,
  generation = 1,
): PolicyObject {
  return { name, generation, spec };
}

export const NAMESPACES: readonly NamespaceInfo[] = [
  { name: 'web', labels: { team: 'web', env: 'prod' } },
  { name: 'web-1', labels: { team: 'web', env: 'dev' } },
  { name: 'shop', labels: { team: 'shop', env: 'prod', 'kubemcp.io/frozen': 'true' } },
  { name: 'db', labels: { env: 'prod' } },
  { name: 'team-a', labels: {} },
  { name: 'team-ab', labels: {} },
  { name: 'kube-system', labels: {} },
];

export const copilot: Caller = {
  username: 'system:serviceaccount:agents:copilot',
  groups: ['system:serviceaccounts', 'system:serviceaccounts:agents', 'system:authenticated'],
};
export const as = (username: string, ...groups: string[]): Caller => ({ username, groups });

/** One policy per rule under test, each for its own caller, so table rows stay independent. */
export const POLICIES: readonly PolicyObject[] = [
  policy('copilot-web', {
    subjects: [sa('copilot', 'agents')],
    namespaces: { names: ['web', 'web-*'] },
    tools: ['list_pods', 'list_deployments', 'scale_deployment'],
    replicas: { min: 1, max: 10 },
  }),
  policy('user-named-copilot', {
    subjects: [user('copilot')],
    namespaces: { names: ['*'] },
    tools: ['list_services'],
  }),
  policy('agents-namespace-group', {
    subjects: [group('system:serviceaccounts:agents')],
    namespaces: { names: ['web'] },
    tools: ['list_statefulsets'],
  }),
  policy('everyone-lists-namespaces', {
    subjects: [group('system:authenticated')],
    namespaces: { names: ['*'] },
    tools: ['list_namespaces'],
  }),
  policy('alice-teams', { subjects: [user('alice')], namespaces: { names: ['team-?'] }, tools: ['list_*'] }),
  policy('sre-prod', {
    subjects: [group('sre')],
    namespaces: {
      selector: {
        matchExpressions: [
          { key: 'env', operator: 'In', values: ['prod'] },
          { key: 'kubemcp.io/frozen', operator: 'DoesNotExist' },
        ],
      },
    },
    tools: ['list_services'],
  }),
  policy('bob-notin', {
    subjects: [user('bob')],
    namespaces: { selector: { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] } },
    tools: ['list_pods'],
  }),
  policy('bob-exists', {
    subjects: [user('bob')],
    namespaces: { selector: { matchExpressions: [{ key: 'kubemcp.io/frozen', operator: 'Exists' }] } },
    tools: ['list_deployments'],
  }),
  policy('bob-labels', {
    subjects: [user('bob')],
    namespaces: { selector: { matchLabels: { team: 'web' } } },
    tools: ['list_statefulsets'],
  }),
  policy('carol-small', {
    subjects: [user('carol')],
    namespaces: { names: ['web'] },
    tools: ['scale_*'],
    replicas: { min: 1, max: 3 },
  }),
  policy('carol-large', {
    subjects: [user('carol')],
    namespaces: { names: ['web', 'shop'] },
    tools: ['scale_deployment'],
    replicas: { min: 5, max: 8 },
  }),
  policy('dave-unknown-tool', {
    subjects: [user('dave')],
    namespaces: { names: ['*'] },
    tools: ['delete_*'],
  }),
  policy('dave-no-bounds', { subjects: [user('dave')], namespaces: { names: ['*'] }, tools: ['scale_*'] }),
  policy('dave-bad-field', {
    subjects: [user('dave')],
    namespaces: { names: ['*'] },
    tools: ['list_pods'],
    verbs: ['*'],
  }),
  policy('eve-future', {
    subjects: [user('eve')],
    namespaces: { names: ['new-*', 'exact-new'], selector: { matchLabels: {} } },
    tools: ['list_pods'],
  }),
  policy('frank-web-pods', {
    subjects: [user('frank')],
    namespaces: { names: ['web'] },
    tools: ['list_pods'],
  }),
  policy('frank-shop-deployments', {
    subjects: [user('frank')],
    namespaces: { names: ['shop'] },
    tools: ['list_deployments'],
  }),
  policy('frank-team', {
    subjects: [group('frank-team')],
    namespaces: { names: ['web'] },
    tools: ['list_pods'],
  }),
];
