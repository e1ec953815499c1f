/**
 * Decision cost of the policy engine at 10, 1,000 and 10,000 policies (target: <= 2 µs median, and
 * flat: the index is keyed by subject, so the caller's own few grants are all a decision looks at).
 * Also the cost of compile, which the controller pays on every policy or namespace change, and of
 * glob matching on adversarial inputs (target: linear in the input, at most 63 comparisons per
 * character; a backtracking regular expression took about 15 s for `*-*-prod` against 100,000
 * dashes, and 10 s for `*a*a*a*a*a*a*b` against one 63-character namespace).
 *
 *   npm run bench
 *
 * Each bench iteration is ONE call; the figures include the harness's own per-call overhead.
 */

import { bench, describe } from 'vitest';
import {
  type Caller,
  compile,
  compileGlob,
  evaluate,
  type NamespaceInfo,
  namespaceFilter,
  type PolicyObject,
} from '../src/policy/index.js';

const NAMESPACE_COUNT = 1_000;

const namespaces: NamespaceInfo[] = Array.from({ length: NAMESPACE_COUNT }, (_, i) => ({
  name: `team-${i}`,
  labels: {
    team: `t${i % 50}`,
    env: i % 3 === 0 ? 'prod' : 'dev',
    ...(i % 7 === 0 ? { frozen: 'true' } : {}),
  },
}));

/** n policies for n different agents, a mix of names, globs and selectors; agent-0 is our caller. */
function policies(n: number): PolicyObject[] {
  return Array.from({ length: n }, (_, i) => {
    const subject =
      i % 10 === 9
        ? { kind: 'Group', name: `group-${i}` }
        : { kind: 'ServiceAccount', name: `agent-${i}`, namespace: 'agents' };
    const namespacesSpec =
      i % 3 === 0
        ? { names: [`team-${i % NAMESPACE_COUNT}`, `team-${(i + 1) % NAMESPACE_COUNT}`] }
        : i % 3 === 1
          ? { names: [`team-${i % 10}*`] }
          : {
              selector: {
                matchLabels: { team: `t${i % 50}` },
                matchExpressions: [{ key: 'frozen', operator: 'DoesNotExist' }],
              },
            };
    return {
      name: `policy-${String(i).padStart(5, '0')}`,
      generation: 1,
      spec: {
        subjects: [subject],
        namespaces: namespacesSpec,
        tools: ['list_*', 'scale_deployment'],
        replicas: { min: 1, max: 10 },
      },
    };
  });
}

const caller: Caller = {
  username: 'system:serviceaccount:agents:agent-0',
  groups: ['system:serviceaccounts', 'system:serviceaccounts:agents', 'system:authenticated'],
};

let sink = 0;

for (const n of [10, 1_000, 10_000]) {
  const index = compile({ policies: policies(n), namespaces });
  describe(`evaluate, ${n.toLocaleString('en')} policies`, () => {
    bench('allow list_pods (exact name)', () => {
      sink += evaluate(index, { caller, tool: 'list_pods', namespace: 'team-1' }).allowed ? 1 : 0;
    });
    bench('allow scale_deployment within bounds', () => {
      sink += evaluate(index, { caller, tool: 'scale_deployment', namespace: 'team-0', replicas: 5 }).allowed
        ? 1
        : 0;
    });
    bench('deny: namespace not covered', () => {
      sink += evaluate(index, { caller, tool: 'list_pods', namespace: 'team-500' }).allowed ? 1 : 0;
    });
    bench('deny: OutOfBounds', () => {
      sink += evaluate(index, { caller, tool: 'scale_deployment', namespace: 'team-0', replicas: 50 }).allowed
        ? 1
        : 0;
    });
    bench('deny: caller without grants', () => {
      sink += evaluate(index, {
        caller: { username: 'nobody', groups: [] },
        tool: 'list_pods',
        namespace: 'team-1',
      }).allowed
        ? 1
        : 0;
    });
    bench(`namespaceFilter over ${NAMESPACE_COUNT} rows`, () => {
      const filter = namespaceFilter(index, caller, 'list_pods');
      for (const ns of namespaces) if (filter(ns.name)) sink++;
    });
  });
}

describe(`compile (${NAMESPACE_COUNT} namespaces)`, () => {
  for (const n of [10, 1_000, 10_000]) {
    const input = { policies: policies(n), namespaces };
    bench(
      `${n.toLocaleString('en')} policies`,
      () => {
        sink += compile(input).grants.size;
      },
      { time: 2_000, iterations: 5 },
    );
  }
});

describe('glob matching, adversarial inputs', () => {
  const dashes = (n: number) => `a${'-'.repeat(n)}b`;
  const prod = compileGlob('*-*-prod');
  for (const n of [1_000, 10_000, 100_000]) {
    // Ends in "-prod": the head and tail match, so the middle segment is searched for.
    const value = `${dashes(n)}-prod`;
    bench(`*-*-prod against ${n.toLocaleString('en')} dashes`, () => {
      sink += prod(value) ? 1 : 0;
    });
  }
  const stars = compileGlob('*a*a*a*a*a*a*b');
  const aaa = `${'a'.repeat(62)}c`;
  bench('*a*a*a*a*a*a*b against a 63-character namespace', () => {
    sink += stars(aaa) ? 1 : 0;
  });
  // The matcher's own worst case: a long middle segment that almost matches at every position.
  const nearMiss = compileGlob('*aaaaaaaaaaaaaaaab*');
  for (const n of [1_000, 10_000, 100_000]) {
    const value = 'a'.repeat(n);
    bench(`*aaaaaaaaaaaaaaaab* against ${n.toLocaleString('en')} characters (worst case)`, () => {
      sink += nearMiss(value) ? 1 : 0;
    });
  }
  const globPolicy: PolicyObject = {
    name: 'globs',
    spec: {
      subjects: [{ kind: 'User', name: 'eve' }],
      namespaces: { names: ['*-*-prod', '*a*a*a*a*a*a*b'] },
      tools: ['list_pods'],
    },
  };
  const withAaa = [...namespaces, { name: aaa, labels: {} }];
  const adversarial = compile({ policies: [globPolicy], namespaces: withAaa });
  const eve: Caller = { username: 'eve', groups: [] };
  const hugeNamespace = dashes(100_000);
  bench('evaluate: a 100,000-character namespace is refused', () => {
    sink += evaluate(adversarial, { caller: eve, tool: 'list_pods', namespace: hugeNamespace }).allowed
      ? 1
      : 0;
  });
  const unknown63 = dashes(61);
  bench('evaluate: an unknown 63-character namespace against both globs', () => {
    sink += evaluate(adversarial, { caller: eve, tool: 'list_pods', namespace: unknown63 }).allowed ? 1 : 0;
  });
  bench(`compile both globs over ${NAMESPACE_COUNT + 1} namespaces`, () => {
    sink += compile({ policies: [globPolicy], namespaces: withAaa }).grants.size;
  });
});

// Keep the optimizer from dropping the work.
if (sink < 0) console.log(sink);
