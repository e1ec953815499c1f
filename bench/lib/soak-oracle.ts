/**
 * The soak's workload, call mix and oracle (bench/soak.ts). The oracle checks one MCP answer against
 * the pure policy engine (src/policy) compiled from the same McpPolicies and Namespaces the server
 * sees. Kept apart from the runner so unit tests can show that it catches a wrong answer.
 */

import {
  type Caller,
  evaluate,
  grantedTools,
  KNOWN_TOOLS,
  namespaceFilter,
  type PolicyIndex,
  permissions,
  serviceAccountUsername,
} from '../../src/policy/index.js';
import type { McpPolicySpec } from '../../test/conformance/live.js';

// ---------------------------------------------------------------------------------------------
// Workload and policies
// ---------------------------------------------------------------------------------------------

export const CALLERS_NS = 'soak-callers';
export const TIER_LABEL = 'kubemcp.io/soak-tier';
export const NAMESPACES: ReadonlyArray<{ name: string; labels: Record<string, string> }> = [
  { name: 'soak-a-0', labels: {} },
  { name: 'soak-a-1', labels: {} },
  { name: 'soak-a-2', labels: { [TIER_LABEL]: 'gold' } },
  { name: 'soak-b-0', labels: {} },
  { name: 'soak-b-1', labels: { [TIER_LABEL]: 'gold' } },
  { name: 'soak-c-0', labels: { [TIER_LABEL]: 'gold' } },
  { name: 'soak-denied', labels: { [TIER_LABEL]: 'silver' } },
];
/** Namespaces a call may name: the real ones plus one a glob covers and one nothing covers, both absent. */
export const CALL_NAMESPACES = [...NAMESPACES.map((n) => n.name), 'soak-a-9', 'soak-missing'];
export const WEB = 'web';
export const WEB_REPLICAS = 3;
export const SCALER = 'scaler';

export const CALLER_NAMES = ['soak-names', 'soak-globs', 'soak-selector', 'soak-none'] as const;

const sa = (name: string) => ({ kind: 'ServiceAccount', name, namespace: CALLERS_NS });
export const POLICIES: Record<string, McpPolicySpec> = {
  'soak-names': {
    subjects: [sa('soak-names')],
    namespaces: { names: ['soak-a-0', 'soak-b-0'] },
    tools: ['list_pods', 'list_deployments', 'scale_deployment'],
    replicas: { min: 0, max: 3 },
  },
  'soak-globs': {
    subjects: [sa('soak-globs')],
    namespaces: { names: ['soak-a-*'] },
    tools: ['list_*'],
  },
  'soak-globs-scale': {
    subjects: [sa('soak-globs')],
    namespaces: { names: ['soak-a-1'] },
    tools: ['scale_*'],
    replicas: { min: 1, max: 2 },
  },
  'soak-selector': {
    subjects: [sa('soak-selector')],
    namespaces: { selector: { matchLabels: { [TIER_LABEL]: 'gold' } } },
    tools: ['list_deployments', 'list_pods', 'scale_deployment'],
    replicas: { min: 0, max: 4 },
  },
  'soak-group': {
    subjects: [{ kind: 'Group', name: `system:serviceaccounts:${CALLERS_NS}` }],
    namespaces: { names: ['soak-b-*'] },
    tools: ['list_services', 'list_namespaces'],
  },
};

export const callerOf = (name: string): Caller => ({
  username: serviceAccountUsername(CALLERS_NS, name),
  groups: ['system:serviceaccounts', `system:serviceaccounts:${CALLERS_NS}`, 'system:authenticated'],
});

// ---------------------------------------------------------------------------------------------
// Calls
// ---------------------------------------------------------------------------------------------

type ListTool = 'list_pods' | 'list_deployments' | 'list_services' | 'list_namespaces';
export interface Call {
  readonly tool: ListTool | 'get_permissions' | 'scale_deployment';
  readonly args: Record<string, unknown>;
}

/** mulberry32: a small seeded PRNG, so a run's call mix can be repeated. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(rand: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)] as T;
}

/** 80 % lists, 15 % get_permissions, 5 % scales. */
export function nextCall(rand: () => number): Call {
  const r = rand();
  if (r < 0.8) {
    const tool = pick(rand, ['list_pods', 'list_deployments', 'list_services', 'list_namespaces'] as const);
    if (tool === 'list_namespaces' || rand() < 0.4) return { tool, args: {} };
    return { tool, args: { namespace: pick(rand, CALL_NAMESPACES) } };
  }
  if (r < 0.95) return { tool: 'get_permissions', args: {} };
  // A quarter of the scales ask for a count no policy allows; the rest stay within 0..3.
  const replicas = rand() < 0.25 ? pick(rand, [5, 9, 50]) : Math.floor(rand() * 4);
  return {
    tool: 'scale_deployment',
    args: { namespace: pick(rand, CALL_NAMESPACES), name: SCALER, replicas },
  };
}

// ---------------------------------------------------------------------------------------------
// Oracle
// ---------------------------------------------------------------------------------------------

/** What the cluster held when the load started (nothing the soak does changes these counts). */
export interface World {
  readonly index: PolicyIndex;
  /** Every namespace in the cluster. */
  readonly namespaces: readonly string[];
  readonly deployments: ReadonlyMap<string, number>;
  readonly services: ReadonlyMap<string, number>;
  /** Pods of the `web` Deployments (steady: the scales touch only `scaler`). */
  readonly webPods: ReadonlyMap<string, number>;
}

export type Verdict =
  | { kind: 'ok'; denied: boolean }
  | { kind: 'conflict' }
  | { kind: 'error'; detail: string }
  | { kind: 'violation'; detail: string };

interface ToolAnswer {
  result?: {
    isError?: boolean;
    structuredContent?: Record<string, unknown>;
  };
  error?: { code: number; message: string };
}

const NAMESPACED_TOOLS = KNOWN_TOOLS.filter((t) => t !== 'list_namespaces' && t !== 'get_permissions');

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function countWhere(counts: ReadonlyMap<string, number>, allows: (ns: string) => boolean): number {
  let n = 0;
  for (const [ns, c] of counts) if (allows(ns)) n += c;
  return n;
}

/** Checks one answer against the policy engine. */
export function judge(world: World, caller: Caller, call: Call, status: number, body: Buffer): Verdict {
  if (status !== 200) return { kind: 'error', detail: `HTTP ${status}` };
  const text = body.toString('utf8');
  let answer: ToolAnswer;
  try {
    const json = text.startsWith('{') ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? '');
    answer = JSON.parse(json) as ToolAnswer;
  } catch {
    return { kind: 'error', detail: 'the answer is not JSON-RPC' };
  }
  if (answer.error)
    return { kind: 'error', detail: `JSON-RPC error ${answer.error.code} ${answer.error.message}` };
  const sc = answer.result?.structuredContent ?? {};
  const errorCode = answer.result?.isError
    ? ((sc.error as { code?: string } | undefined)?.code ?? '(no code)')
    : undefined;
  const { index } = world;
  const namespace = call.args.namespace as string | undefined;

  // The engine's decision for this call.
  let allowed: boolean;
  let code: string | undefined;
  let policies: readonly string[] = [];
  if (call.tool === 'get_permissions') allowed = true;
  else if (namespace === undefined) {
    allowed = grantedTools(index, caller).has(call.tool);
    code = allowed ? undefined : 'PolicyDenied';
  } else {
    const d = evaluate(index, {
      caller,
      tool: call.tool,
      namespace,
      ...(call.tool === 'scale_deployment' ? { replicas: call.args.replicas as number } : {}),
    });
    allowed = d.allowed;
    code = d.code;
    policies = d.policies;
  }

  if (!allowed) {
    if (errorCode === code) return { kind: 'ok', denied: true };
    if (errorCode === undefined)
      return { kind: 'violation', detail: `allowed; the policy engine denies it (${code})` };
    return { kind: 'violation', detail: `answered ${errorCode}; the policy engine says ${code}` };
  }
  if (errorCode === 'PolicyDenied' || errorCode === 'OutOfBounds')
    return { kind: 'violation', detail: `denied (${errorCode}); the policy engine allows it` };
  if (errorCode === 'Conflict' && call.tool === 'scale_deployment') return { kind: 'conflict' };
  if (errorCode !== undefined) return { kind: 'error', detail: `isError ${errorCode}` };

  switch (call.tool) {
    case 'get_permissions': {
      const want = permissions(index, caller);
      const got = sc as {
        caller?: { username?: string };
        tools?: string[];
        grants?: Array<{ policy: string; tools: string[]; namespaces: string[]; replicas?: unknown }>;
      };
      const norm = (
        gs: ReadonlyArray<{
          policy: string;
          tools: readonly string[];
          namespaces: readonly string[];
          replicas?: unknown;
        }>,
      ) =>
        JSON.stringify(
          gs.map((g) => [g.policy, [...g.tools].sort(), [...g.namespaces].sort(), g.replicas ?? null]),
        );
      if (got.caller?.username !== caller.username)
        return { kind: 'violation', detail: `answered for ${got.caller?.username}` };
      if (!sameSet(got.tools ?? [], want.tools))
        return {
          kind: 'violation',
          detail: `tools ${JSON.stringify(got.tools)}; the engine: ${JSON.stringify(want.tools)}`,
        };
      if (norm(got.grants ?? []) !== norm(want.grants))
        return {
          kind: 'violation',
          detail: `grants ${norm(got.grants ?? [])}; the engine: ${norm(want.grants)}`,
        };
      return { kind: 'ok', denied: false };
    }
    case 'scale_deployment': {
      const got = sc as { namespace?: string; name?: string; to?: number; policies?: string[] };
      if (got.namespace !== namespace || got.name !== SCALER || got.to !== call.args.replicas)
        return { kind: 'violation', detail: `scaled ${got.namespace}/${got.name} to ${got.to}` };
      if (!sameSet(got.policies ?? [], policies))
        return {
          kind: 'violation',
          detail: `allowed by ${JSON.stringify(got.policies)}; the engine: ${JSON.stringify(policies)}`,
        };
      return { kind: 'ok', denied: false };
    }
    case 'list_namespaces': {
      const filters = [
        namespaceFilter(index, caller, 'list_namespaces'),
        ...NAMESPACED_TOOLS.map((t) => namespaceFilter(index, caller, t)),
      ];
      const visible = (ns: string) => filters.some((f) => f(ns));
      const items = (sc.items ?? []) as Array<{ name?: string }>;
      const bad = items.find((i) => !visible(i.name ?? ''));
      if (bad) return { kind: 'violation', detail: `shows namespace ${bad.name}` };
      const want = world.namespaces.filter(visible).length;
      if (sc.total !== want) return { kind: 'violation', detail: `total ${sc.total}; the engine: ${want}` };
      return { kind: 'ok', denied: false };
    }
    default: {
      const filter = namespaceFilter(index, caller, call.tool);
      const allows = (ns: string) => filter(ns) && (namespace === undefined || ns === namespace);
      const items = (sc.items ?? []) as Array<{ namespace?: string }>;
      const bad = items.find((i) => !allows(i.namespace ?? ''));
      if (bad) return { kind: 'violation', detail: `shows a row of namespace ${bad.namespace}` };
      const total = sc.total as number;
      if (call.tool === 'list_pods') {
        const atLeast = countWhere(world.webPods, allows);
        if (!(total >= atLeast))
          return {
            kind: 'violation',
            detail: `total ${total}; the engine's namespaces hold at least ${atLeast}`,
          };
      } else {
        const want = countWhere(
          call.tool === 'list_deployments' ? world.deployments : world.services,
          allows,
        );
        if (total !== want) return { kind: 'violation', detail: `total ${total}; the engine: ${want}` };
      }
      return { kind: 'ok', denied: false };
    }
  }
}
