import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatIssues,
  formatPath,
  McpPolicySchema,
  type McpPolicySpecInput,
  McpPolicySpecSchema,
  McpPolicyStatusSchema,
  RULE_MESSAGES,
  SCALE_PATTERN_REGEX,
  STARS_REGEX,
} from '../../../src/api/v1alpha1/index.js';
import {
  countStars,
  globCanMatchPrefix,
  MAX_PATTERN_STARS,
  matchGlob,
  toolPatternMayScale,
} from '../../../src/policy/glob.js';

const base: McpPolicySpecInput = {
  subjects: [{ kind: 'ServiceAccount', name: 'copilot', namespace: 'agents' }],
  namespaces: { names: ['web'] },
  tools: ['list_pods'],
};

function with_(patch: Record<string, unknown>): unknown {
  return { ...base, ...patch };
}

/** The plain-words message compile would put in status, or undefined when the spec is valid. */
function problems(spec: unknown): string | undefined {
  const r = McpPolicySpecSchema.safeParse(spec, { reportInput: true });
  return r.success ? undefined : formatIssues(r.error.issues);
}

describe('McpPolicySpecSchema accepts', () => {
  const cases: [string, unknown][] = [
    ['the minimal spec', base],
    ['a User subject', with_({ subjects: [{ kind: 'User', name: 'alice@example.com' }] })],
    ['a Group subject', with_({ subjects: [{ kind: 'Group', name: 'system:serviceaccounts:agents' }] })],
    ['a selector only', with_({ namespaces: { selector: { matchLabels: { team: 'web' } } } })],
    ['an empty selector', with_({ namespaces: { selector: {} } })],
    [
      'every selector operator',
      with_({
        namespaces: {
          selector: {
            matchExpressions: [
              { key: 'kubemcp.io/env', operator: 'In', values: ['prod', 'staging'] },
              { key: 'tier', operator: 'NotIn', values: ['legacy'] },
              { key: 'team', operator: 'Exists' },
              { key: 'frozen', operator: 'DoesNotExist', values: [] },
            ],
          },
        },
      }),
    ],
    ['globs', with_({ namespaces: { names: ['web-*', 'team-?', '*'] }, tools: ['list_*', 'get_*'] })],
    [
      'patterns with 8 stars and 63 characters',
      with_({
        namespaces: { names: ['*a*b*c*d*e*f*g*h', `${'a'.repeat(62)}*`] },
        tools: ['l*i*s*t*_*o*d*s*'],
      }),
    ],
    ['scale tools with bounds', with_({ tools: ['scale_deployment'], replicas: { min: 1, max: 10 } })],
    ['"*" with bounds', with_({ tools: ['*'], replicas: { max: 10_000 } })],
    ['min equal to max', with_({ tools: ['scale_*'], replicas: { min: 3, max: 3 } })],
    ['replicas without scale tools', with_({ replicas: { min: 0, max: 1 } })],
    ['an empty label value', with_({ namespaces: { selector: { matchLabels: { team: '' } } } })],
  ];
  it.each(cases)('%s', (_name, spec) => {
    expect(problems(spec)).toBeUndefined();
  });

  it('defaults replicas.min to 0', () => {
    const spec = McpPolicySpecSchema.parse(with_({ tools: ['scale_*'], replicas: { max: 4 } }));
    expect(spec.replicas).toEqual({ min: 0, max: 4 });
  });
});

describe('McpPolicySpecSchema rejects, in plain words', () => {
  const cases: [string, unknown, string][] = [
    ['a spec that is not an object', null, 'spec: must be an object, not null'],
    ['no subjects', with_({ subjects: [] }), 'spec.subjects: subjects needs at least one subject'],
    [
      'missing subjects',
      { namespaces: { names: ['web'] }, tools: ['list_pods'] },
      'spec.subjects: is required',
    ],
    [
      'a ServiceAccount without namespace',
      with_({ subjects: [{ kind: 'ServiceAccount', name: 'copilot' }] }),
      `spec.subjects[0].namespace: ${RULE_MESSAGES.serviceAccountNeedsNamespace}`,
    ],
    [
      'a User with a namespace',
      with_({ subjects: [{ kind: 'User', name: 'alice', namespace: 'agents' }] }),
      `spec.subjects[0].namespace: ${RULE_MESSAGES.namespaceOnlyForServiceAccount}`,
    ],
    [
      'a Group with a namespace',
      with_({ subjects: [base.subjects[0], { kind: 'Group', name: 'sre', namespace: 'agents' }] }),
      `spec.subjects[1].namespace: ${RULE_MESSAGES.namespaceOnlyForServiceAccount}`,
    ],
    [
      'an unknown subject kind',
      with_({ subjects: [{ kind: 'Robot', name: 'r2' }] }),
      'spec.subjects[0].kind: must be one of ServiceAccount, User, Group, not "Robot"',
    ],
    [
      'a ServiceAccount name that is not a DNS subdomain',
      with_({ subjects: [{ kind: 'ServiceAccount', name: 'Copilot', namespace: 'agents' }] }),
      'spec.subjects[0].name: ServiceAccount name "Copilot" is not a DNS subdomain',
    ],
    [
      'namespaces without names or selector',
      with_({ namespaces: {} }),
      `spec.namespaces: ${RULE_MESSAGES.namesOrSelector}`,
    ],
    [
      'empty names',
      with_({ namespaces: { names: [] } }),
      'spec.namespaces.names: names needs at least one entry',
    ],
    [
      'a namespace pattern with a character class',
      with_({ namespaces: { names: ['web-[ab]'] } }),
      'spec.namespaces.names[0]: a namespace pattern may contain only lowercase letters',
    ],
    [
      'an uppercase namespace pattern',
      with_({ namespaces: { names: ['Web'] } }),
      'spec.namespaces.names[0]: a namespace pattern may contain only',
    ],
    ['no tools', with_({ tools: [] }), 'spec.tools: tools needs at least one tool name or pattern'],
    [
      'a tool pattern with a character class',
      with_({ tools: ['list_[a-z]*'] }),
      'spec.tools[0]: a tool pattern may contain only lowercase letters',
    ],
    [
      'scale_deployment without replicas',
      with_({ tools: ['list_pods', 'scale_deployment'] }),
      `spec.replicas: ${RULE_MESSAGES.scaleNeedsReplicas}`,
    ],
    ['"*" without replicas', with_({ tools: ['*'] }), `spec.replicas: ${RULE_MESSAGES.scaleNeedsReplicas}`],
    ['"s*" without replicas', with_({ tools: ['s*'] }), `spec.replicas: ${RULE_MESSAGES.scaleNeedsReplicas}`],
    [
      '"?cale_*" without replicas',
      with_({ tools: ['?cale_*'] }),
      `spec.replicas: ${RULE_MESSAGES.scaleNeedsReplicas}`,
    ],
    [
      'min greater than max',
      with_({ tools: ['scale_*'], replicas: { min: 5, max: 4 } }),
      `spec.replicas.min: ${RULE_MESSAGES.minAboveMax}`,
    ],
    [
      'negative min',
      with_({ tools: ['scale_*'], replicas: { min: -1, max: 4 } }),
      'spec.replicas.min: replicas.min must be at least 0',
    ],
    [
      'an absurd max',
      with_({ tools: ['scale_*'], replicas: { max: 1_000_000 } }),
      'spec.replicas.max: replicas.max must be at most 10000',
    ],
    [
      'a fractional max',
      with_({ tools: ['scale_*'], replicas: { max: 2.5 } }),
      'spec.replicas.max: must be a whole number, not the number 2.5',
    ],
    [
      'replicas without max',
      with_({ tools: ['scale_*'], replicas: { min: 1 } }),
      'spec.replicas.max: is required',
    ],
    [
      'a string max',
      with_({ tools: ['scale_*'], replicas: { max: '10' } }),
      'spec.replicas.max: must be a number',
    ],
    ['an unknown spec field', with_({ verbs: ['get'] }), 'spec: unknown field "verbs"'],
    [
      'an unknown nested field',
      with_({ subjects: [{ kind: 'User', name: 'alice', email: 'a@b' }] }),
      'spec.subjects[0]: unknown field "email"',
    ],
    [
      'an unknown selector field',
      with_({ namespaces: { selector: { matchLabel: { a: 'b' } } } }),
      'spec.namespaces.selector: unknown field "matchLabel"',
    ],
    [
      'In without values',
      with_({ namespaces: { selector: { matchExpressions: [{ key: 'team', operator: 'In' }] } } }),
      `spec.namespaces.selector.matchExpressions[0].values: ${RULE_MESSAGES.expressionValues}`,
    ],
    [
      'NotIn with empty values',
      with_({
        namespaces: { selector: { matchExpressions: [{ key: 'team', operator: 'NotIn', values: [] }] } },
      }),
      `spec.namespaces.selector.matchExpressions[0].values: ${RULE_MESSAGES.expressionValues}`,
    ],
    [
      'Exists with values',
      with_({
        namespaces: { selector: { matchExpressions: [{ key: 'team', operator: 'Exists', values: ['a'] }] } },
      }),
      `spec.namespaces.selector.matchExpressions[0].values: ${RULE_MESSAGES.expressionValues}`,
    ],
    [
      'an unknown operator',
      with_({
        namespaces: { selector: { matchExpressions: [{ key: 'team', operator: 'Gt', values: ['1'] }] } },
      }),
      'spec.namespaces.selector.matchExpressions[0].operator: must be one of In, NotIn, Exists, DoesNotExist',
    ],
    [
      'a malformed label key',
      with_({ namespaces: { selector: { matchLabels: { 'bad key': 'x' } } } }),
      'spec.namespaces.selector.matchLabels["bad key"]: a label key is an optional DNS prefix',
    ],
    [
      'a label key whose name is too long',
      with_({ namespaces: { selector: { matchLabels: { [`a/${'b'.repeat(64)}`]: 'x' } } } }),
      'has a name longer than 63 characters',
    ],
    [
      'a malformed label value',
      with_({ namespaces: { selector: { matchLabels: { team: '-web' } } } }),
      'spec.namespaces.selector.matchLabels.team: a label value may be empty, or letters',
    ],
    [
      'a namespace pattern with 9 stars',
      with_({ namespaces: { names: ['web', '*a*a*a*a*a*a*a*a*b'] } }),
      `spec.namespaces.names[1]: ${RULE_MESSAGES.tooManyStars}`,
    ],
    [
      'a tool pattern with 9 stars',
      with_({ tools: ['l*i*s*t*_*p*o*d*s*'] }),
      `spec.tools[0]: ${RULE_MESSAGES.tooManyStars}`,
    ],
    [
      'a namespace pattern of 64 characters',
      with_({ namespaces: { names: ['a'.repeat(64)] } }),
      'spec.namespaces.names[0]: a namespace pattern has at most 63 characters',
    ],
    [
      'too many subjects',
      with_({ subjects: Array.from({ length: 65 }, (_, i) => ({ kind: 'User', name: `u${i}` })) }),
      'spec.subjects: has at most 64 items',
    ],
  ];
  it.each(cases)('%s', (_name, spec, message) => {
    const got = problems(spec);
    expect(got).toBeDefined();
    expect(got).toContain(message);
  });
});

describe('pattern caps', () => {
  it('an oversized pattern is refused on its length alone, without echoing it', () => {
    const huge = `*-*-${'-'.repeat(100_000)}*`;
    const got = problems(with_({ namespaces: { names: [huge] } }));
    expect(got).toBe('spec.namespaces.names[0]: a namespace pattern has at most 63 characters');
  });

  it('the CEL regex for stars agrees with countStars', () => {
    const re = new RegExp(STARS_REGEX);
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', '-', '*', '?'), maxLength: 40 }), (p) => {
        expect(re.test(p)).toBe(countStars(p) <= MAX_PATTERN_STARS);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('formatPath', () => {
  it.each([
    [['subjects', 0, 'namespace'], 'spec.subjects[0].namespace'],
    [[], 'spec'],
    [['selector', 'matchLabels', 'kubemcp.io/team'], 'spec.selector.matchLabels["kubemcp.io/team"]'],
  ] as const)('%j', (path, expected) => {
    expect(formatPath('spec', path)).toBe(expected);
  });
});

describe('McpPolicySchema and McpPolicyStatusSchema', () => {
  const object = {
    apiVersion: 'kubemcp.io/v1alpha1',
    kind: 'McpPolicy',
    metadata: { name: 'web-agents', generation: 3, uid: 'x', annotations: { a: 'b' } },
    spec: base,
    status: {
      observedGeneration: 3,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Accepted',
          message: 'ok',
          observedGeneration: 3,
          lastTransitionTime: '2026-01-01T00:00:00Z',
        },
      ],
      matchedNamespaces: 2,
    },
  };

  it('parses a whole object, keeping unknown metadata', () => {
    const parsed = McpPolicySchema.parse(object);
    expect(parsed.metadata.annotations).toEqual({ a: 'b' });
  });

  it('rejects another kind or apiVersion', () => {
    expect(McpPolicySchema.safeParse({ ...object, kind: 'Role' }).success).toBe(false);
    expect(McpPolicySchema.safeParse({ ...object, apiVersion: 'kubemcp.io/v1' }).success).toBe(false);
  });

  it('rejects a status with a bad condition', () => {
    const bad = { ...object.status, conditions: [{ ...object.status.conditions[0], status: 'Yes' }] };
    expect(McpPolicyStatusSchema.safeParse(bad).success).toBe(false);
    const badTime = {
      ...object.status,
      conditions: [{ ...object.status.conditions[0], lastTransitionTime: 'now' }],
    };
    expect(McpPolicyStatusSchema.safeParse(badTime).success).toBe(false);
  });
});

describe('which tool patterns need replicas', () => {
  it.each([
    ['scale_deployment', true],
    ['scale_statefulset', true],
    ['scale_*', true],
    ['scale*', true],
    ['s*', true],
    ['*', true],
    ['**', true],
    ['?*', true],
    ['*_deployment', true],
    ['??????', true],
    ['sc?le_x', true],
    ['list_*', false],
    ['get_permissions', false],
    ['scale', false],
    ['scal', false],
    ['scalex*', false],
    ['?', false],
    ['x*', false],
    ['l*', false],
  ])('%s → %s', (pattern, expected) => {
    expect(toolPatternMayScale(pattern)).toBe(expected);
    // The CEL rule in the CRD uses this regex; RE2 and JavaScript agree on its syntax.
    expect(new RegExp(SCALE_PATTERN_REGEX).test(pattern)).toBe(expected);
  });

  it('the CEL regex agrees with toolPatternMayScale on every short pattern', () => {
    const alphabet = ['s', 'c', 'a', 'l', 'e', '_', 'x', '*', '?'];
    const re = new RegExp(SCALE_PATTERN_REGEX);
    let patterns = [''];
    let checked = 0;
    const disagreements: string[] = [];
    for (let len = 1; len <= 7; len++) {
      // All patterns up to length 5, a deterministic sample of longer ones.
      patterns = patterns.flatMap((p) => alphabet.map((c) => p + c)).filter((_, i) => len < 6 || i % 7 === 0);
      for (const p of patterns) {
        if (re.test(p) !== toolPatternMayScale(p)) disagreements.push(p);
        checked++;
      }
    }
    expect(disagreements).toEqual([]);
    expect(checked).toBeGreaterThan(100_000);
  });

  it('globCanMatchPrefix is exactly "the glob matches some name that starts with the prefix"', () => {
    // Brute force: a glob of length <= 5 over this alphabet matches some prefix+w iff it matches one
    // with w made of its own letters (or x) and no longer than the glob.
    const letters = ['a', 'b', 'x'];
    const suffixes = [''];
    for (let len = 1; len <= 5; len++) {
      for (const s of suffixes.filter((x) => x.length === len - 1))
        for (const c of letters) suffixes.push(s + c);
    }
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'b', 'x', '*', '?'), maxLength: 5 }), (glob) => {
        const brute = suffixes.some((w) => matchGlob(glob, `ab${w}`));
        expect(globCanMatchPrefix(glob, 'ab')).toBe(brute);
      }),
      { numRuns: 2000 },
    );
  });
});
