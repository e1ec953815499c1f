/**
 * Every way the API server (the CRD's schema and CEL rules) and the controller reject an McpPolicy
 * is reachable offline: `kubemcp test` fails with exit 2, at the file and line of the field, with
 * the very message the controller writes to the policy's Ready condition. The fixture table is
 * walked against the CRD's CEL rules, so a new rule without a fixture fails here.
 */

import { describe, expect, it } from 'vitest';
import { type JSONSchemaProps, RULE_MESSAGES, specSchema } from '../../../src/api/v1alpha1/index.js';
import { compile } from '../../../src/policy/index.js';
import { readYamlDocs } from '../../../src/policyfile/yaml.js';
import { MANIFEST_HEAD, run, scratch } from './support.js';

const CASES = `cases:
  - name: anything
    caller: { user: alice }
    tool: list_pods
    expect: deny
`;

/** A policy file; the line to be reported is marked `# <-`. */
interface Fixture {
  readonly name: string;
  readonly yaml: string;
  /** Part of the message (a RULE_MESSAGES text where the rule has one). */
  readonly message: string;
  /** Set when the problem is the API server's, not the controller's (no compile message to compare). */
  readonly apiServer?: true;
}

const head = (spec: string, name = 'p') => `apiVersion: kubemcp.io/v1alpha1
kind: McpPolicy
metadata:
  name: ${name}
spec:
${spec}`;

const OK_NS = '  namespaces:\n    names: [web]\n';
const OK_SUBJECTS = '  subjects:\n    - kind: User\n      name: alice\n';

/** One fixture per cross-field rule (keyed like RULE_MESSAGES), then the other rejection paths. */
const RULES: Record<keyof typeof RULE_MESSAGES, Fixture> = {
  serviceAccountNeedsNamespace: {
    name: 'a ServiceAccount without namespace',
    yaml: head(
      `  subjects:\n    - kind: ServiceAccount # <-\n      name: bot\n${OK_NS}  tools: [list_pods]\n`,
    ),
    message: RULE_MESSAGES.serviceAccountNeedsNamespace,
  },
  namespaceOnlyForServiceAccount: {
    name: 'a User with a namespace',
    yaml: head(
      `  subjects:\n    - kind: User\n      name: alice\n      namespace: web # <-\n${OK_NS}  tools: [list_pods]\n`,
    ),
    message: RULE_MESSAGES.namespaceOnlyForServiceAccount,
  },
  namesOrSelector: {
    name: 'namespaces without names or selector',
    yaml: head(`${OK_SUBJECTS}  namespaces: {} # <-\n  tools: [list_pods]\n`),
    message: RULE_MESSAGES.namesOrSelector,
  },
  minAboveMax: {
    name: 'replicas.min above max',
    yaml: head(
      `${OK_SUBJECTS}${OK_NS}  tools: [scale_deployment]\n  replicas:\n    min: 5 # <-\n    max: 2\n`,
    ),
    message: RULE_MESSAGES.minAboveMax,
  },
  scaleNeedsReplicas: {
    name: 'a scale tool without replicas',
    yaml: head(`  subjects: # <-\n    - kind: User\n      name: alice\n${OK_NS}  tools: ["scale_*"]\n`),
    message: RULE_MESSAGES.scaleNeedsReplicas,
  },
  expressionValues: {
    name: 'In without values',
    yaml: head(
      `${OK_SUBJECTS}  namespaces:\n    selector:\n      matchExpressions:\n        - key: team # <-\n          operator: In\n  tools: [list_pods]\n`,
    ),
    message: RULE_MESSAGES.expressionValues,
  },
  tooManyStars: {
    name: 'a glob with nine stars',
    yaml: head(
      `${OK_SUBJECTS}  namespaces:\n    names:\n      - "a*b*c*d*e*f*g*h*i*" # <-\n  tools: [list_pods]\n`,
    ),
    message: RULE_MESSAGES.tooManyStars,
  },
  confirmNeedsARule: {
    name: 'confirm without a rule',
    yaml: head(
      `${OK_SUBJECTS}${OK_NS}  tools: [scale_deployment]\n  replicas: { max: 3 }\n  confirm: {} # <-\n`,
    ),
    message: RULE_MESSAGES.confirmNeedsARule,
  },
  scaleLimitsNeedReplicas: {
    name: 'cooldownSeconds without a scale tool',
    yaml: head(
      `  subjects: # <-\n    - kind: User\n      name: alice\n${OK_NS}  tools: [list_pods]\n  cooldownSeconds: 30\n`,
    ),
    message: RULE_MESSAGES.scaleLimitsNeedReplicas,
  },
};

const OTHERS: readonly Fixture[] = [
  {
    name: 'a tool pattern that matches no tool (the controller)',
    yaml: head(`${OK_SUBJECTS}${OK_NS}  tools:\n    - list_secrets # <-\n`),
    message: '"list_secrets" matches no known tool',
  },
  {
    name: 'an empty subjects list',
    yaml: head(`  subjects: [] # <-\n${OK_NS}  tools: [list_pods]\n`),
    message: 'subjects needs at least one subject',
  },
  {
    name: 'an empty subject name',
    yaml: head(`  subjects:\n    - kind: User\n      name: "" # <-\n${OK_NS}  tools: [list_pods]\n`),
    message: 'a subject name must not be empty',
  },
  {
    name: 'a subject kind that does not exist',
    yaml: head(`  subjects:\n    - kind: Robot # <-\n      name: r2\n${OK_NS}  tools: [list_pods]\n`),
    message: 'must be one of ServiceAccount, User, Group',
  },
  {
    name: 'a bad glob character',
    yaml: head(`${OK_SUBJECTS}  namespaces:\n    names: ["web-[a-z]"] # <-\n  tools: [list_pods]\n`),
    message: 'a namespace pattern may contain only',
  },
  {
    name: 'an unknown spec field',
    yaml: head(`${OK_SUBJECTS}${OK_NS}  tools: [list_pods]\n  verbs: [get] # <-\n`),
    message: 'unknown field "verbs"',
  },
  {
    name: 'replicas above the cap',
    yaml: head(`${OK_SUBJECTS}${OK_NS}  tools: [scale_deployment]\n  replicas:\n    max: 20000 # <-\n`),
    message: 'replicas.max must be at most 10000',
  },
  {
    name: 'metadata.name that is not a DNS subdomain (the API server)',
    yaml: head(`${OK_SUBJECTS}${OK_NS}  tools: [list_pods]\n`, 'Web_Team # <-'),
    message: 'metadata.name: "Web_Team" is not a valid name',
    apiServer: true,
  },
  {
    name: 'a wrong apiVersion (the API server)',
    yaml: head(`${OK_SUBJECTS}${OK_NS}  tools: [list_pods]\n`).replace(
      'kubemcp.io/v1alpha1',
      'kubemcp.io/v1 # <-',
    ),
    message: 'apiVersion must be kubemcp.io/v1alpha1',
    apiServer: true,
  },
];

const FIXTURES: readonly Fixture[] = [...Object.values(RULES), ...OTHERS];

function markedLine(yaml: string): number {
  const i = yaml.split('\n').findIndex((l) => l.includes('# <-'));
  if (i < 0) throw new Error('fixture without a # <- mark');
  return i + 1;
}

/** What the controller would write to the Ready condition of this policy. */
function controllerMessage(yaml: string): string {
  const [doc] = readYamlDocs('fixture.yaml', yaml);
  const spec = (doc?.value as { spec?: unknown } | undefined)?.spec;
  const state = compile({ policies: [{ name: 'p', spec }], namespaces: [] }).states.get('p');
  if (!state || state.ready) throw new Error('the controller accepts this fixture');
  return state.message;
}

describe('kubemcp test rejects what the API server and the controller reject, at file and line', () => {
  it.each(FIXTURES.map((f) => [f.name, f] as const))('%s', async (_name, fixture) => {
    const dir = scratch({ 'policies/p.yaml': fixture.yaml, 'kubemcp-test.yaml': MANIFEST_HEAD + CASES });
    const r = await run(['test'], dir);
    expect(r.status).toBe(2);
    const line = markedLine(fixture.yaml);
    const error = r.out.split('\n').find((l) => l.startsWith('error: '));
    expect(error).toBeDefined();
    expect(error).toContain(`error: policies/p.yaml:${line}: `);
    expect(error).toContain(fixture.message);
    if (!fixture.apiServer)
      expect(error).toBe(
        `error: policies/p.yaml:${line}: McpPolicy p is invalid: ${controllerMessage(fixture.yaml)}`,
      );
    expect(r.out).toMatch(/^0 passed, 0 failed$/m);
  });
});

/** Every CEL rule of the CRD's spec schema, with where it sits. */
function celRules(node: JSONSchemaProps, path: string): { path: string; message: string }[] {
  const own = (node['x-kubernetes-validations'] ?? []).map((r) => ({ path, message: r.message }));
  const children = [
    ...Object.entries(node.properties ?? {}).map(([k, v]) => celRules(v, `${path}.${k}`)),
    ...(node.items ? [celRules(node.items, `${path}[]`)] : []),
    ...(node.additionalProperties ? [celRules(node.additionalProperties, `${path}{}`)] : []),
  ];
  return [...own, ...children.flat()];
}

describe('the walk covers the CRD', () => {
  it('every CEL rule of the CRD has a fixture that trips it offline', () => {
    const rules = celRules(specSchema(), 'spec');
    expect(rules.length).toBeGreaterThanOrEqual(Object.keys(RULE_MESSAGES).length);
    const covered = new Set(FIXTURES.map((f) => f.message));
    for (const rule of rules) expect(covered, `${rule.path}: ${rule.message}`).toContain(rule.message);
  });
});
