/**
 * `kubemcp check`: explains a decision from the live McpPolicies, like `kubectl auth can-i`. It lists
 * the McpPolicies and Namespaces, compiles them exactly as the controller does, and evaluates one call.
 */

import type { V1NamespaceList } from '@kubernetes/client-node';
import {
  MCP_DELEGATIONS_PATH,
  MCP_NAMESPACE_POLICIES_PATH,
  MCP_POLICIES_PATH,
  type McpPolicyObject,
} from '../controller/index.js';
import { httpStatus } from '../kube/errors.js';
import { KubeClient, loadKubeConfig, type Wire } from '../kube/index.js';
import {
  compile,
  describePolicies,
  evaluate,
  isKnownTool,
  KNOWN_TOOLS,
  type PolicyIndex,
} from '../policy/index.js';
import type { Caller, Decision, PolicyWarning } from '../policy/types.js';
import { callerFor as callerOf, SERVICE_ACCOUNT_PREFIX } from '../policyfile/caller.js';
import { fileIndex } from './check-files.js';
import { limitNotes } from './check-limits.js';
import { EXIT_ALLOWED, EXIT_DENIED, EXIT_ERROR, EXIT_USAGE } from './exit-codes.js';
import { firstLine } from './live.js';

export { EXIT_ALLOWED, EXIT_DENIED, EXIT_ERROR, EXIT_USAGE };

export const CHECK_HELP = `Usage: kubemcp check --as USER [--group GROUP]... --tool TOOL [--namespace NS] [--replicas N] [-f FILE... [--live]]

Explains whether a caller may use a tool, from the McpPolicies live in the cluster (like
\`kubectl auth can-i\`), or from McpPolicy files: "what if this change merged?".

  --as USER          the caller: a user name, or system:serviceaccount:NAMESPACE:NAME
  --group GROUP      a group of the caller (repeatable); ServiceAccounts get their implicit groups
  --tool TOOL        the tool (${KNOWN_TOOLS.join(', ')})
  --namespace NS     the namespace of the call (omit: "anywhere")
  --replicas N       the target replica count of a scale_* call
  -f, --filename PATH
                     decide from the McpPolicies (and Namespaces) in these files, directories or
                     globs (repeatable) instead of the cluster's; invalid files exit 2
  --live             with -f: the cluster's McpPolicies with the files applied on top
  --operator-namespace NS
                     the operator's namespace, for the warnings (default: kubemcp-system)
  --kubeconfig PATH  kubeconfig to read policies with (default: $KUBECONFIG, ~/.kube/config)
  --context NAME     kubeconfig context
  --output FORMAT    text (default) or json

The warnings of the policies involved (risky grants, as their Warnings condition shows them) are
printed too.

Exit status: 0 allowed, 1 denied, 2 usage error or an invalid policy file, 3 the cluster could not be read.`;

/** The namespace the shipped manifests install the operator in. */
export const DEFAULT_OPERATOR_NAMESPACE = 'kubemcp-system';

export interface CheckRequest {
  readonly caller: Caller;
  readonly tool: string;
  readonly namespace?: string;
  readonly replicas?: number;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const SA_PREFIX = SERVICE_ACCOUNT_PREFIX;

/** The caller as a token of that identity would authenticate: explicit groups plus implicit ones. */
export function callerFor(username: string, groups: readonly string[]): Caller {
  try {
    return callerOf(username, groups);
  } catch (err) {
    throw new UsageError(`--as ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function parseReplicas(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw.trim())) throw new UsageError(`--replicas ${raw}: must be a whole number ≥ 0`);
  return Number(raw.trim());
}

export function validateRequest(req: CheckRequest): void {
  if (!req.caller.username) throw new UsageError('--as is required');
  if (!req.tool) throw new UsageError('--tool is required');
  if (!isKnownTool(req.tool)) {
    throw new UsageError(
      `--tool ${req.tool}: not a tool of this server; known tools: ${KNOWN_TOOLS.join(', ')}`,
    );
  }
}

/** Reads the live policies and namespaces and compiles them as the controller does. */
export async function liveIndex(
  client: KubeClient,
  operatorNamespace: string = DEFAULT_OPERATOR_NAMESPACE,
): Promise<{ index: PolicyIndex; policies: McpPolicyObject[] }> {
  // The tenancy kinds' CRDs may not be installed: then none exist, and nothing is delegated.
  const optional = (path: string) =>
    client.request<{ items?: McpPolicyObject[] }>('GET', path).catch((err: unknown) => {
      if (httpStatus(err) === 404) return { items: [] };
      throw err;
    });
  const [list, namespaced, delegations, namespaces] = await Promise.all([
    client.request<{ items?: McpPolicyObject[] }>('GET', MCP_POLICIES_PATH),
    optional(MCP_NAMESPACE_POLICIES_PATH),
    optional(MCP_DELEGATIONS_PATH),
    client.request<Wire<V1NamespaceList>>('GET', '/api/v1/namespaces'),
  ]);
  const named = (items: readonly McpPolicyObject[] | undefined) =>
    (items ?? []).flatMap((p) =>
      p.metadata?.name
        ? [
            {
              ...(p.metadata.namespace ? { namespace: p.metadata.namespace } : {}),
              name: p.metadata.name,
              generation: p.metadata.generation ?? 0,
              spec: p.spec,
            },
          ]
        : [],
    );
  const policies = [...(list.items ?? []), ...(namespaced.items ?? [])];
  const index = compile({
    policies: named(list.items),
    namespacePolicies: named(namespaced.items).flatMap((p) =>
      p.namespace === undefined ? [] : [{ ...p, namespace: p.namespace }],
    ),
    delegations: named(delegations.items),
    namespaces: namespaces.items.flatMap((ns) =>
      ns.metadata?.name ? [{ name: ns.metadata.name, labels: ns.metadata.labels ?? {} }] : [],
    ),
    operatorNamespace,
  });
  return { index, policies };
}

/** Policies that name the caller but are not Ready: worth a mention when the answer is no. */
function invalidPoliciesNaming(
  index: PolicyIndex,
  policies: readonly McpPolicyObject[],
  caller: Caller,
): string[] {
  const out: string[] = [];
  for (const p of policies) {
    const ns = p.metadata?.namespace;
    const name = p.metadata?.name && ns ? `${ns}/${p.metadata.name}` : p.metadata?.name;
    const state = name ? index.states.get(name) : undefined;
    if (!name || !state || state.ready) continue;
    const subjects = (p.spec as { subjects?: unknown } | undefined)?.subjects;
    if (!Array.isArray(subjects)) continue;
    const names = subjects.some((s: unknown) => {
      if (typeof s !== 'object' || s === null) return false;
      const { kind, name: n, namespace } = s as { kind?: unknown; name?: unknown; namespace?: unknown };
      if (kind === 'Group') return typeof n === 'string' && caller.groups.includes(n);
      if (kind === 'ServiceAccount')
        return caller.username === `${SA_PREFIX}${String(namespace)}:${String(n)}`;
      return n === caller.username;
    });
    const kind = ns ? 'McpNamespacePolicy' : 'McpPolicy';
    if (names) out.push(`${kind} ${name} names you but is not Ready: ${state.message}`);
  }
  return out;
}

/** One warning of a policy the decision involves. */
export interface CheckWarning {
  readonly policy: string;
  readonly code: PolicyWarning['code'];
  readonly message: string;
}

/** The warnings of the policies a decision names (those that allowed it, or were considered). */
export function decisionWarnings(index: PolicyIndex, decision: Decision): CheckWarning[] {
  return decision.policies.flatMap((policy) =>
    (index.states.get(policy)?.warnings ?? []).map((w) => ({ policy, code: w.code, message: w.message })),
  );
}

export function renderDecision(
  decision: Decision,
  req: CheckRequest,
  notes: readonly string[],
  warnings: readonly CheckWarning[] = [],
): string {
  const lines: string[] = [];
  if (decision.allowed) {
    const by =
      decision.policies.length > 0 ? `allowed by ${describePolicies(decision.policies)}` : decision.reason;
    lines.push(`yes — ${by}`);
    for (const n of notes) lines.push(`  note: ${n}`);
  } else {
    lines.push(`no — ${decision.reason}`);
    if (decision.code) lines.push(`  code: ${decision.code}`);
    if (decision.policies.length > 0) lines.push(`  policies considered: ${decision.policies.join(', ')}`);
    for (const s of decision.suggestions) lines.push(`  suggestion: ${s}`);
    for (const n of notes) lines.push(`  note: ${n}`);
  }
  for (const w of warnings) lines.push(`  warning: McpPolicy ${w.policy}: ${w.code}: ${w.message}`);
  lines.push(
    `  (caller ${req.caller.username}, groups ${req.caller.groups.join(', ') || 'none'}; tool ${req.tool}${
      req.namespace === undefined ? '' : ` in namespace ${req.namespace}`
    }${req.replicas === undefined ? '' : `, replicas ${req.replicas}`})`,
  );
  return lines.join('\n');
}

export interface CheckIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

export interface CheckArgs {
  readonly as?: string;
  readonly group?: readonly string[];
  readonly tool?: string;
  readonly namespace?: string;
  readonly replicas?: string;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly output?: string;
  readonly operatorNamespace?: string;
  /** Policy files, directories or globs (-f): decide from these instead of the cluster. */
  readonly files?: readonly string[];
  /** With files: the cluster's policies with the files on top. */
  readonly live?: boolean;
  /** The environment the kubeconfig search reads ($KUBECONFIG, in-cluster variables); default process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

type Source =
  | { readonly ok: true; readonly index: PolicyIndex; readonly policies: McpPolicyObject[] }
  | { readonly ok: false; readonly exit: number; readonly problems: readonly string[] };

/** The policies to decide with: the cluster's, the files' (-f), or the files' on top of the cluster's. */
async function policySource(args: CheckArgs): Promise<Source> {
  const operatorNamespace = args.operatorNamespace ?? DEFAULT_OPERATOR_NAMESPACE;
  const live = {
    ...(args.kubeconfig === undefined ? {} : { kubeconfig: args.kubeconfig }),
    ...(args.context === undefined ? {} : { context: args.context }),
    ...(args.env === undefined ? {} : { env: args.env }),
  };
  const fromCluster = args.files === undefined || args.files.length === 0 || args.live === true;
  try {
    if (args.files !== undefined && args.files.length > 0) {
      const r = await fileIndex({ ...live, files: args.files, live: args.live === true, operatorNamespace });
      return r.ok ? r : { ok: false, exit: EXIT_USAGE, problems: r.problems.map((p) => `error: ${p}`) };
    }
    const client = new KubeClient(
      loadKubeConfig(args.kubeconfig, args.context, args.env === undefined ? {} : { env: args.env }),
    );
    try {
      return { ok: true, ...(await liveIndex(client, operatorNamespace)) };
    } finally {
      client.close();
    }
  } catch (err) {
    // Files alone never ask the cluster: anything thrown reading them is not a cluster error.
    if (!fromCluster) throw err;
    return {
      ok: false,
      exit: EXIT_ERROR,
      problems: [`kubemcp check: cannot read McpPolicies from the cluster: ${firstLine(err)}`],
    };
  }
}

/** Runs the check; returns the exit status. */
export async function runCheck(args: CheckArgs, io: CheckIo): Promise<number> {
  let req: CheckRequest;
  try {
    if (!args.as) throw new UsageError('--as is required');
    if (!args.tool) throw new UsageError('--tool is required');
    if (args.live === true && (args.files === undefined || args.files.length === 0)) {
      throw new UsageError('--live goes with -f FILE');
    }
    if (args.output !== undefined && args.output !== 'text' && args.output !== 'json') {
      throw new UsageError(`--output ${args.output}: must be text or json`);
    }
    const replicas = parseReplicas(args.replicas);
    req = {
      caller: callerFor(args.as, args.group ?? []),
      tool: args.tool,
      ...(args.namespace ? { namespace: args.namespace } : {}),
      ...(replicas === undefined ? {} : { replicas }),
    };
    validateRequest(req);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`kubemcp check: ${err.message}\n\n${CHECK_HELP}`);
      return EXIT_USAGE;
    }
    throw err;
  }

  const source = await policySource(args);
  if (source.ok === false) {
    for (const line of source.problems) io.err(line);
    return source.exit;
  }
  const { index, policies } = source;
  const decision = evaluate(index, req);
  const notes = decision.allowed
    ? limitNotes(index, decision)
    : invalidPoliciesNaming(index, policies, req.caller);
  const warnings = decisionWarnings(index, decision);
  if (args.output === 'json') {
    io.out(JSON.stringify({ request: req, decision, notes, warnings }, null, 2));
  } else {
    io.out(renderDecision(decision, req, notes, warnings));
  }
  return decision.allowed ? EXIT_ALLOWED : EXIT_DENIED;
}
