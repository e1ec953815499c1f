/**
 * The MCP e2e preamble, declared once: install the shipped manifests, create namespaces (with labels),
 * agent ServiceAccounts, Deployments and McpPolicies, start `kubemcp serve`, wait until the policies are
 * Ready, mint tokens; on a failed test dump serve's log, the policies and the namespaces' Events; in
 * afterAll stop serve and delete what it created. `mcpFixture` registers its own beforeAll, beforeEach
 * and afterAll hooks where it is called (file level or inside a describe) and returns typed handles that
 * are usable from the tests (and from `afterSetup`) on.
 */

import { afterAll, beforeAll, beforeEach } from 'vitest';
import {
  agentToken,
  createDeployment,
  createNamespace,
  createPolicy,
  createServiceAccount,
  deleteNamespace,
  deletePolicy,
  dumpMcpDiagnostics,
  installShippedManifests,
  type ServeOptions,
  type ServeProcess,
  startServe,
  waitPolicyReady,
  waitReady,
} from './mcp-support.js';

export interface FixtureSpec<T extends string = string> {
  /** Created in order; a string is a namespace without labels. */
  readonly namespaces?: readonly (
    | string
    | { readonly name: string; readonly labels?: Record<string, string> }
  )[];
  readonly serviceAccounts?: readonly { readonly namespace: string; readonly name: string }[];
  /** Created, then waited for until all replicas are ready (after serve has started). */
  readonly deployments?: readonly {
    readonly namespace: string;
    readonly name: string;
    readonly replicas: number;
  }[];
  /** McpPolicy name → spec; created in order, deleted in afterAll, waited for until Ready. */
  readonly policies?: Readonly<Record<string, Record<string, unknown>>>;
  /** Runs after the objects above exist and before serve starts (objects the fixture does not model). */
  readonly beforeServe?: () => Promise<void>;
  /** One serve per entry, started in order; none when empty. A function is called after `beforeServe`. */
  readonly serve?: readonly ServeOptions[] | (() => readonly ServeOptions[]);
  /** Start the serves together (they race, e.g. to create a shared Secret) instead of one by one. */
  readonly startTogether?: boolean;
  /** Token handle → the ServiceAccount it is minted for (audience kubemcp). */
  readonly tokens?: Readonly<Record<T, { readonly namespace: string; readonly name: string }>>;
  /** Runs last in beforeAll, with the handles ready (warm-ups, baselines). */
  readonly afterSetup?: (fx: Fixture<T>) => Promise<void>;
  /** False while the test has the API server stopped: then a failure prints serve's log only. */
  readonly clusterReachable?: () => boolean;
  /** Printed on a failed test besides serve's log, the policies and the namespaces' Events. */
  readonly onFailure?: () => Promise<void>;
  /** Runs first in afterAll (objects the fixture does not model, clients to close). */
  readonly cleanup?: () => Promise<void>;
  /** Runs last in afterAll, after serve has stopped (e.g. to delete the Lease it released). */
  readonly afterStop?: () => Promise<void>;
  /** beforeAll's timeout. */
  readonly timeoutMs?: number;
}

export interface Fixture<T extends string = string> {
  /** The first serve. */
  readonly serve: ServeProcess;
  readonly serves: readonly ServeProcess[];
  readonly tokens: Readonly<Record<T, string>>;
}

const nameOf = (ns: NonNullable<FixtureSpec['namespaces']>[number]) =>
  typeof ns === 'string' ? ns : ns.name;

export function mcpFixture<T extends string = never>(spec: FixtureSpec<T>): Fixture<T> {
  const serves: ServeProcess[] = [];
  const tokens: Partial<Record<T, string>> = {};
  const namespaces = (spec.namespaces ?? []).map(nameOf);
  const policies = Object.keys(spec.policies ?? {});
  const fx: Fixture<T> = {
    get serve() {
      const first = serves[0];
      if (first === undefined) throw new Error('mcpFixture: serve has not started');
      return first;
    },
    serves,
    tokens: tokens as Record<T, string>,
  };

  const dump = async () => {
    const reachable = spec.clusterReachable?.() ?? true;
    if (!reachable) process.stderr.write('(kube-apiserver is stopped: no Events or policies to show)\n');
    for (const s of serves.slice(1)) await dumpMcpDiagnostics(s, [], []);
    await dumpMcpDiagnostics(serves[0], reachable ? namespaces : [], reachable ? policies : []);
    await spec.onFailure?.();
  };

  beforeEach(({ onTestFailed }) => {
    onTestFailed(dump);
  });

  beforeAll(async () => {
    await installShippedManifests();
    for (const ns of spec.namespaces ?? [])
      await createNamespace(nameOf(ns), typeof ns === 'string' ? {} : ns.labels);
    for (const d of spec.deployments ?? []) await createDeployment(d.namespace, d.name, d.replicas);
    for (const sa of spec.serviceAccounts ?? []) await createServiceAccount(sa.namespace, sa.name);
    for (const [name, policy] of Object.entries(spec.policies ?? {})) await createPolicy(name, policy);
    await spec.beforeServe?.();
    const serveOptions = typeof spec.serve === 'function' ? spec.serve() : (spec.serve ?? []);
    if (spec.startTogether) serves.push(...(await Promise.all(serveOptions.map((o) => startServe(o)))));
    else for (const opts of serveOptions) serves.push(await startServe(opts));
    try {
      for (const name of policies) await waitPolicyReady(name);
      for (const d of spec.deployments ?? []) await waitReady(d.namespace, d.name, d.replicas);
      for (const [key, sa] of Object.entries(spec.tokens ?? {}) as [
        T,
        { namespace: string; name: string },
      ][]) {
        tokens[key] = await agentToken(sa.namespace, sa.name);
      }
      await spec.afterSetup?.(fx);
    } catch (err) {
      // No test runs when beforeAll fails, so no onTestFailed either: print what the setup saw here.
      await dump();
      throw err;
    }
  }, spec.timeoutMs);

  afterAll(async () => {
    await spec.cleanup?.();
    for (const s of serves) await s.stop();
    for (const name of policies) await deletePolicy(name).catch(() => undefined);
    for (const ns of namespaces) await deleteNamespace(ns).catch(() => undefined);
    await spec.afterStop?.();
  });

  return fx;
}
