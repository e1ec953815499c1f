/**
 * The many-agents workload as pure data (no I/O): namespaces with labels, bare pods, callers with
 * their McpPolicies, and each caller's sequence of tool calls. bench/lib/agents-workload.ts puts it
 * on a cluster; bench/agents.ts drives it; test/unit/bench/agents-plan.test.ts checks it against the
 * pure policy engine (every planned call is one the policies allow, so any refusal is an error).
 *
 * Namespaces come in teams of four: `agents-tTT-K` (team TT, K = 0..3), labelled
 * kubemcp.io/bench-team=tTT and kubemcp.io/bench-zone=zK. Caller i's McpPolicy is one of four kinds
 * (i mod 4), each covering three or four namespaces:
 *   0  three exact names from three teams;
 *   1  a glob over one team (`agents-t07-*`);
 *   2  a matchLabels selector on one team;
 *   3  one exact name (zone z2 or z3 of a team) plus a matchExpressions selector (another team,
 *      zones z0 and z1).
 * Tools alternate between exact names (list_pods, list_deployments) and a glob (list_*). One caller in
 * ten (callers 0–3, 40–43, 80–83, …) also gets scale_deployment with bounds 1..3 (a quarter of them
 * with maxStep 1) and owns one Deployment `scale-<caller>` in its first namespace.
 *
 * Calls: each caller repeats a block of 20 calls: list_pods 9 (6 in one namespace, 3 over all it may
 * see), list_deployments 5 (4 in one namespace, 1 over all), get_permissions 6, of which the last is
 * a scale_deployment for a scaling caller (1 ↔ 2 replicas, alternating). The baseline caller (one
 * identity, a glob over one team, a scale grant, four Deployments of its own) makes the same block
 * but scales in one block of ten, so both phases send 0.5 % scales.
 */

export const BENCH_LABEL = 'kubemcp.io/bench';
export const BENCH_VALUE = 'agents';
export const TEAM_LABEL = 'kubemcp.io/bench-team';
export const ZONE_LABEL = 'kubemcp.io/bench-zone';
export const CALLERS_NS = 'kubemcp-bench-callers';
export const BASELINE_SA = 'agent-baseline';
/** Pods of the plan carry this app label; no Deployment selects it. */
export const POD_APP = 'agent-pod';
/** Idle Deployments (0 replicas) in every namespace, so list_deployments has rows everywhere. */
export const IDLE_DEPLOYMENTS = ['idle-0', 'idle-1'] as const;
export const BLOCK = 20;
/** The baseline caller scales in one block out of this many (a scaling caller in every block). */
export const BASELINE_SCALE_EVERY = 10;

export interface Sizes {
  readonly callers: number;
  /** A multiple of 4 (teams of four namespaces). */
  readonly namespaces: number;
  readonly podsPerNamespace: number;
}

export const FULL: Sizes = { callers: 1000, namespaces: 100, podsPerNamespace: 100 };
export const QUICK: Sizes = { callers: 100, namespaces: 20, podsPerNamespace: 50 };

export interface PlanNamespace {
  readonly name: string;
  readonly labels: Record<string, string>;
}

export interface PolicySpec {
  readonly subjects: ReadonlyArray<{ kind: 'ServiceAccount'; name: string; namespace: string }>;
  readonly namespaces: {
    readonly names?: readonly string[];
    readonly selector?: {
      readonly matchLabels?: Record<string, string>;
      readonly matchExpressions?: ReadonlyArray<{ key: string; operator: 'In'; values: readonly string[] }>;
    };
  };
  readonly tools: readonly string[];
  readonly replicas?: { readonly min: number; readonly max: number; readonly maxStep?: number };
}

export interface PlanCaller {
  /** ServiceAccount name in CALLERS_NS. */
  readonly sa: string;
  readonly policy: string;
  readonly spec: PolicySpec;
  /** How the policy names its namespaces (for the report): names | glob | selector | names+selector. */
  readonly kind: string;
  /** The namespaces the policy covers, in the order the calls use them. */
  readonly covers: readonly string[];
  /** Deployments this caller scales (namespace/name); empty when it has no scale grant. */
  readonly scaleTargets: ReadonlyArray<{ namespace: string; name: string }>;
  /** A scale call in one block out of this many (0: never). */
  readonly scaleEvery: number;
}

export interface Plan {
  readonly sizes: Sizes;
  readonly namespaces: readonly PlanNamespace[];
  readonly callers: readonly PlanCaller[];
  readonly baseline: PlanCaller;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');
export const teamOf = (t: number) => `t${pad(t, 2)}`;
export const namespaceName = (team: number, k: number) => `agents-${teamOf(team)}-${k}`;

export function makePlan(sizes: Sizes): Plan {
  if (sizes.namespaces < 4 || sizes.namespaces % 4 !== 0)
    throw new Error(`namespaces must be a multiple of 4, got ${sizes.namespaces}`);
  const teams = sizes.namespaces / 4;
  const namespaces: PlanNamespace[] = [];
  for (let t = 0; t < teams; t++)
    for (let k = 0; k < 4; k++)
      namespaces.push({
        name: namespaceName(t, k),
        labels: { [BENCH_LABEL]: BENCH_VALUE, [TEAM_LABEL]: teamOf(t), [ZONE_LABEL]: `z${k}` },
      });
  const nsAt = (j: number) => (namespaces[j % namespaces.length] as PlanNamespace).name;
  const teamNamespaces = (t: number) => [0, 1, 2, 3].map((k) => namespaceName(t, k));
  const width = String(sizes.callers - 1).length;

  const callers: PlanCaller[] = [];
  for (let i = 0; i < sizes.callers; i++) {
    const sa = `agent-${pad(i, Math.max(4, width))}`;
    const team = i % teams;
    let kind: string;
    let nsSpec: PolicySpec['namespaces'];
    let covers: string[];
    switch (i % 4) {
      case 0: {
        // Three teams apart (37 and 71 namespaces on, modulo the count).
        covers = [...new Set([nsAt(i), nsAt(i + 37), nsAt(i + 71)])];
        kind = 'names';
        nsSpec = { names: covers };
        break;
      }
      case 1:
        kind = 'glob';
        covers = teamNamespaces(team);
        nsSpec = { names: [`agents-${teamOf(team)}-*`] };
        break;
      case 2:
        kind = 'selector';
        covers = teamNamespaces(team);
        nsSpec = { selector: { matchLabels: { [TEAM_LABEL]: teamOf(team) } } };
        break;
      default: {
        kind = 'names+selector';
        const other = (team + 3) % teams;
        // Zone z2 or z3 of a team: never one the selector (zones z0, z1) also picks.
        const exact = namespaceName((i * 7) % teams, 2 + (i % 2));
        covers = [...new Set([exact, namespaceName(other, 0), namespaceName(other, 1)])];
        nsSpec = {
          names: [exact],
          selector: {
            matchExpressions: [
              { key: TEAM_LABEL, operator: 'In', values: [teamOf(other)] },
              { key: ZONE_LABEL, operator: 'In', values: ['z0', 'z1'] },
            ],
          },
        };
      }
    }
    const scales = Math.floor(i / 4) % 10 === 0;
    const lists = i % 2 === 0 ? ['list_pods', 'list_deployments'] : ['list_*'];
    const home = covers[0] as string;
    callers.push({
      sa,
      policy: `bench-${sa}`,
      kind,
      covers,
      spec: {
        subjects: [{ kind: 'ServiceAccount', name: sa, namespace: CALLERS_NS }],
        namespaces: nsSpec,
        tools: scales ? [...lists, 'scale_deployment'] : lists,
        ...(scales ? { replicas: { min: 1, max: 3, ...(i % 8 === 0 ? { maxStep: 1 } : {}) } } : {}),
      },
      scaleTargets: scales ? [{ namespace: home, name: `scale-${sa}` }] : [],
      scaleEvery: scales ? 1 : 0,
    });
  }

  const baseCovers = teamNamespaces(0);
  const baseline: PlanCaller = {
    sa: BASELINE_SA,
    policy: `bench-${BASELINE_SA}`,
    kind: 'glob',
    covers: baseCovers,
    spec: {
      subjects: [{ kind: 'ServiceAccount', name: BASELINE_SA, namespace: CALLERS_NS }],
      namespaces: { names: [`agents-${teamOf(0)}-*`] },
      tools: ['list_*', 'scale_deployment'],
      replicas: { min: 1, max: 3 },
    },
    scaleTargets: baseCovers.map((namespace, k) => ({ namespace, name: `scale-${BASELINE_SA}-${k}` })),
    scaleEvery: BASELINE_SCALE_EVERY,
  };
  return { sizes, namespaces, callers, baseline };
}

export interface PlannedCall {
  readonly tool: string;
  readonly args: Record<string, unknown>;
  /** Identifies the request among a caller's distinct requests (for prebuilding them once). */
  readonly key: number;
}

type Slot = { tool: 'get_permissions' } | { tool: string; ns: number | 'all' };
/** One block: list_pods 9, list_deployments 5, get_permissions 6 (the last one may become a scale). */
const SLOTS: readonly Slot[] = [
  { tool: 'get_permissions' },
  { tool: 'list_pods', ns: 0 },
  { tool: 'list_deployments', ns: 1 },
  { tool: 'list_pods', ns: 'all' },
  { tool: 'list_pods', ns: 1 },
  { tool: 'get_permissions' },
  { tool: 'list_deployments', ns: 'all' },
  { tool: 'list_pods', ns: 2 },
  { tool: 'get_permissions' },
  { tool: 'list_pods', ns: 3 },
  { tool: 'list_deployments', ns: 2 },
  { tool: 'list_pods', ns: 'all' },
  { tool: 'get_permissions' },
  { tool: 'list_pods', ns: 0 },
  { tool: 'list_deployments', ns: 3 },
  { tool: 'get_permissions' },
  { tool: 'list_pods', ns: 1 },
  { tool: 'list_pods', ns: 'all' },
  { tool: 'list_deployments', ns: 0 },
  { tool: 'get_permissions' },
];
if (SLOTS.length !== BLOCK) throw new Error('a block has BLOCK slots');

/** The n-th call (n = 0, 1, …) of a caller. */
export function callOf(caller: PlanCaller, n: number): PlannedCall {
  const slot = n % BLOCK;
  const block = Math.floor(n / BLOCK);
  if (slot === BLOCK - 1 && caller.scaleEvery > 0 && block % caller.scaleEvery === 0) {
    const j = block / caller.scaleEvery;
    const targets = caller.scaleTargets;
    const t = j % targets.length;
    const target = targets[t] as { namespace: string; name: string };
    // 1 → 2 → 1 … on each target in turn (the first call on a target finds 1 and changes nothing).
    const replicas = 1 + (Math.floor(j / targets.length) % 2);
    return {
      tool: 'scale_deployment',
      args: { namespace: target.namespace, name: target.name, replicas },
      key: BLOCK + 2 * t + (replicas - 1),
    };
  }
  const s = SLOTS[slot] as Slot;
  if (!('ns' in s)) return { tool: s.tool, args: {}, key: slot };
  if (s.ns === 'all') return { tool: s.tool, args: {}, key: slot };
  return {
    tool: s.tool,
    args: { namespace: caller.covers[s.ns % caller.covers.length] as string },
    key: slot,
  };
}

/** Number of distinct requests callOf can return for a caller (keys are below this). */
export function distinctCalls(caller: PlanCaller): number {
  return BLOCK + 2 * caller.scaleTargets.length;
}

/**
 * Call `idx` (0, 1, …) of the round-robin phase: caller idx mod count, at its own position in its
 * sequence. Each caller starts at its own offset, c + 4⌊c / 40⌋ (the scaling callers are 0–3 mod 40:
 * the second term spreads them over the block), so every round of `count` calls sends the same tool
 * mix, scales included. Call 0 of every caller (get_permissions) is made before the phase starts.
 */
export function roundRobin(count: number, idx: number): { caller: number; n: number } {
  const caller = idx % count;
  return { caller, n: Math.floor(idx / count) + caller + 4 * Math.floor(caller / 40) + 1 };
}
