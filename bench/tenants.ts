/**
 * Tenancy at scale, in process (the engine and the index the controller publishes, without a
 * cluster): 10,000 McpNamespacePolicies in 1,000 namespaces (10 per namespace, each for its own
 * agent, under one McpDelegation selecting the namespaces by label) against the baseline of 1,000
 * cluster McpPolicies. It reports:
 *
 * - compile time of the whole index, and of an edit of one namespaced policy: in full, and with
 *   the compile memo the controller keeps (what an edit costs between the watch event and
 *   enforcement; the API write and the watch delivery come on top: bench/tenants-serve.ts measures
 *   the whole path on a real server);
 * - heap and RSS growth over the baseline, after a full GC, with the watch cache's objects held as
 *   the controller holds them;
 * - decision cost for a tenant's agent (median of 100,000 decisions).
 *
 *   npm run bench:tenants
 *
 * It runs under the Node flags `kubemcp serve` ships with (the NODE_OPTIONS of
 * config/manager/deployment.yaml: a 2 MiB semi-space, so the young generation does not count as
 * growth) plus --expose-gc, re-running itself with them when started without.
 *
 * Targets (issue: tenants): an edit enforced within a second; RSS growth at most 30 MiB over the
 * 1,000-cluster-policy baseline. This is the engine only, in process: not a whole `kubemcp serve`,
 * whose watch caches hold each object's metadata too (bench/tenants-serve.ts measures that).
 */

import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  type Caller,
  CompileMemo,
  compile,
  type DelegationObject,
  evaluate,
  type NamespacedPolicyObject,
  type NamespaceInfo,
  type PolicyIndex,
  type PolicyObject,
} from '../src/policy/index.js';
import { parseFlags, shippedNodeOptions, usageText } from './lib/cli.js';

const NAMESPACES = 1_000;
const PER_NAMESPACE = 10;
const CLUSTER_POLICIES = 1_000;
const MiB = 1024 * 1024;

// No flags: the scenario is the (10,000 namespaced policies in 1,000 namespaces).
parseFlags(
  {},
  usageText(
    'npm run bench:tenants',
    {},
    'In process: 10,000 McpNamespacePolicies in 1,000 namespaces over 1,000 McpPolicies; no flags.',
  ),
);

const gc = (globalThis as { gc?: () => void }).gc;
const flags = [
  '--expose-gc',
  ...shippedNodeOptions()
    .split(' ')
    .filter((f) => f !== ''),
];
if (!gc || flags.some((f) => !process.execArgv.includes(f))) {
  const self = fileURLToPath(import.meta.url);
  const run = spawnSync(process.execPath, [...flags, '--import', 'tsx', self], { stdio: 'inherit' });
  process.exit(run.status ?? 1);
}
console.log(`Node flags: ${flags.join(' ')}`);

const namespaces: NamespaceInfo[] = Array.from({ length: NAMESPACES }, (_, i) => ({
  name: `team-${i}`,
  labels: { 'kubemcp.io/tenant': 'true', team: `t${i % 50}` },
}));

const clusterPolicies: PolicyObject[] = Array.from({ length: CLUSTER_POLICIES }, (_, i) => ({
  name: `cluster-${i}`,
  generation: 1,
  spec: {
    subjects: [{ kind: 'ServiceAccount', name: `agent-${i}`, namespace: 'agents' }],
    namespaces: { names: [`team-${i % NAMESPACES}`, `team-${(i * 7) % NAMESPACES}*`] },
    tools: ['list_*', 'scale_deployment'],
    replicas: { min: 1, max: 10, maxStep: 2 },
  },
}));

const delegation: DelegationObject = {
  name: 'tenants',
  generation: 1,
  spec: {
    namespaces: { selector: { matchLabels: { 'kubemcp.io/tenant': 'true' } } },
    ceiling: { tools: ['list_*', 'scale_deployment'], maxReplicas: 10, maxStep: 2, confirmAbove: 8 },
  },
};

function tenantPolicies(generation: number): NamespacedPolicyObject[] {
  const out: NamespacedPolicyObject[] = [];
  for (let n = 0; n < NAMESPACES; n++) {
    for (let p = 0; p < PER_NAMESPACE; p++) {
      out.push({
        namespace: `team-${n}`,
        name: `agent-${p}`,
        generation,
        spec: {
          subjects: [{ kind: 'ServiceAccount', name: `agent-${p}`, namespace: `team-${n}` }],
          tools: ['list_deployments', 'list_pods', 'scale_deployment'],
          replicas: { min: 1, max: 6 + (p % 4), maxStep: 2 },
          confirm: { above: 6 },
        },
      });
    }
  }
  return out;
}

function settle(): { heap: number; rss: number } {
  for (let i = 0; i < 3; i++) gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

function timed<T>(fn: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = fn();
  return { value, ms: performance.now() - t0 };
}

const held: unknown[] = [];

// Warm up the compiler (JIT) on a small input, so the first measurement is not the cold one.
compile({ policies: clusterPolicies.slice(0, 50), namespaces });
const base0 = settle();
const baseline = timed(() => compile({ policies: clusterPolicies, namespaces }));
held.push(clusterPolicies, baseline.value);
const base = settle();

const objects = tenantPolicies(1);
held.push(objects);
const withObjects = settle();
// The controller keeps a memo across rebuilds; it is part of what the tenants cost.
const memo = new CompileMemo();
const withTenants = timed(() =>
  compile({
    policies: clusterPolicies,
    namespaces,
    namespacePolicies: objects,
    delegations: [delegation],
    memo,
  }),
);
let index: PolicyIndex = withTenants.value;
held.push(memo, index);
const tenants = settle();

// An edit: one tenant policy changes (five samples each): compiled in full, and as the controller
// compiles it, with its memo (every other policy's result reused).
const fullMs: number[] = [];
const editMs: number[] = [];
for (let i = 0; i < 5; i++) {
  const edited = objects.map((o, j) =>
    j === 4242
      ? { ...o, generation: 2 + i, spec: { ...(o.spec as object), replicas: { min: 1, max: 5, maxStep: 1 } } }
      : o,
  );
  const input = {
    policies: clusterPolicies,
    namespaces,
    namespacePolicies: edited,
    delegations: [delegation],
  };
  fullMs.push(timed(() => compile(input)).ms);
  const t = timed(() => compile({ ...input, memo }));
  editMs.push(t.ms);
  index = t.value;
}
held[held.length - 1] = index;

const ready = [...index.states.values()].filter((s) => s.namespace !== undefined && s.ready).length;
const caller: Caller = {
  username: 'system:serviceaccount:team-420:agent-3',
  groups: ['system:authenticated'],
};
const decisions: number[] = [];
for (let round = 0; round < 10; round++) {
  const t0 = performance.now();
  for (let i = 0; i < 10_000; i++)
    evaluate(index, { caller, tool: 'scale_deployment', namespace: 'team-420', replicas: 1 + (i % 6) });
  decisions.push(((performance.now() - t0) * 1000) / 10_000);
}
decisions.sort((a, b) => a - b);
editMs.sort((a, b) => a - b);
fullMs.sort((a, b) => a - b);

const rssGrowth = (tenants.rss - base.rss) / MiB;
console.log(
  `namespaces ${NAMESPACES}, cluster policies ${CLUSTER_POLICIES}, namespaced policies ${objects.length} (${ready} Ready)`,
);
console.log(`compile, 1,000 cluster policies:                 ${baseline.ms.toFixed(0)} ms`);
console.log(`compile, + 10,000 namespaced policies:           ${withTenants.ms.toFixed(0)} ms`);
console.log(
  `edit of one namespaced policy, full recompile:   median ${fullMs[2]?.toFixed(0)} ms, max ${fullMs[4]?.toFixed(0)} ms`,
);
console.log(
  `edit of one namespaced policy, with the memo:    median ${editMs[2]?.toFixed(0)} ms, max ${editMs[4]?.toFixed(0)} ms (target ≤ 1000 ms)`,
);
console.log(
  `heap: baseline index ${((base.heap - base0.heap) / MiB).toFixed(1)} MiB; with tenants +${((tenants.heap - base.heap) / MiB).toFixed(1)} MiB: the objects (as a watch cache holds them) ${((withObjects.heap - base.heap) / MiB).toFixed(1)} MiB, the index and its memo ${((tenants.heap - withObjects.heap) / MiB).toFixed(1)} MiB`,
);
console.log(`RSS growth with tenants: ${rssGrowth.toFixed(1)} MiB (target ≤ 30 MiB)`);
console.log(`decision, tenant agent: median ${decisions[5]?.toFixed(2)} µs`);
process.exitCode = (editMs[4] ?? Infinity) <= 1000 && rssGrowth <= 30 && ready === objects.length ? 0 : 1;
