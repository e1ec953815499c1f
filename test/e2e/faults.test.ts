/**
 * Faults under load, on the real local control plane. The soak's mixed load (bench/lib: the same
 * callers, McpPolicies and call mix, every answer checked against the pure policy engine) runs
 * against `kubemcp serve` (as the operator ServiceAccount, shipped RBAC) while:
 *
 * 1. kube-apiserver is killed and stays down for 30 s: lists answer from the caches with the
 *    staleness warning, scales answer Unavailable and change nothing; once the same API server is
 *    back, fresh lists and scales work again within 5 s, in the same serve process;
 * 2. etcd is stopped for 5 s and started again: only the documented errors (a scale's Unavailable)
 *    during it, never a 5xx or a transport error; afterwards every cache equals a fresh LIST;
 * 3. a TCP proxy between serve and the API server resets every long-lived connection (the watch
 *    streams) at random intervals of 5–20 s for 2 minutes while objects change: within 5 s after the
 *    last cut, every cache equals a fresh LIST;
 * 4. two replicas elect a leader on the Lease; the leader is SIGKILLed: an McpPolicy change gets its
 *    status from the survivor within the lease duration plus two jittered retry periods, and the
 *    survivor's callers see no error at all.
 *
 * Needs the local control plane (the test stops and starts its processes); skipped on an external
 * cluster. KUBEMCP_FAULTS_CUT_SECONDS shortens scenario 3 for development (CI runs the 120 s).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  deleteSoakWorkload,
  mintSoakClients,
  setupSoakWorkload,
  snapshotWorld,
  waitWebReady,
  warmSoakClients,
} from '../../bench/lib/soak-workload.js';
import { startComponent, stopComponent } from '../cluster/cluster.js';
import { OPERATOR_NAMESPACE } from '../cluster/operator.js';
import {
  type CuttingProxy,
  errorMessages,
  type LoadAnswer,
  show,
  startChurn,
  startCuttingProxy,
  startMixedLoad,
  tally,
  waitCachesMatchList,
} from './faults-support.js';
import {
  agentToken,
  connect,
  createDeployment,
  createNamespace,
  createPolicy,
  createService,
  createServiceAccount,
  deleteNamespace,
  deletePolicy,
  dumpMcpDiagnostics,
  errorOf,
  getPolicy,
  installShippedManifests,
  type McpCaller,
  OPERATOR_LEASE,
  okOf,
  patchPolicySpec,
  readDeployment,
  type ServeProcess,
  startServe,
  uniqueSuffix,
  waitClusterUsable,
  waitPolicyReady,
} from './mcp-support.js';
import { cluster, eventually, kubeConfig } from './support.js';

const s = uniqueSuffix();
const NS = `e2e-faults-${s}`;
const AGENTS_NS = `e2e-faults-agents-${s}`;
/** May list every kind in every namespace and scale Deployments: the caller that compares caches with LISTs. */
const AUDITOR_POLICY = `e2e-faults-${s}-auditor`;
/** Changed while the leader is dead, to see who writes its status. */
const LEADER_POLICY = `e2e-faults-${s}-leader`;
const APISERVER = 'kube-apiserver';
const ETCD = 'etcd';

/** Virtual clients of the mixed load (the soak runs 32; the machine here has 2 cores for everything). */
const CONCURRENCY = 8;
const OUTAGE_MS = 30_000;
const RECOVERY_MS = 5_000;
const CUT_MS = 1000 * Number(process.env.KUBEMCP_FAULTS_CUT_SECONDS ?? 120);
/** Leader election as shipped (config defaults): lease 15 s, retry period 2 s, jitter 1.2. */
const LEASE_MS = 15_000;
const RETRY_MS = 2_000;
/**
 * A follower takes over at its first attempt once the leader's last renewal is a lease duration old,
 * measured from when it SAW that renewal; its attempts are a jittered retry period apart (at most
 * 2 s × 2.2 = 4.4 s). So it may see the last renewal up to 4.4 s late and act up to 4.4 s after the
 * lease ran out; 1 s more for the status write (a watch event, a queue, one PATCH).
 */
const TAKEOVER_BOUND_MS = LEASE_MS + 2 * RETRY_MS * 2.2 + 1_000;

const LIST_TOOLS = ['list_namespaces', 'list_pods', 'list_deployments', 'list_statefulsets', 'list_services'];

/** Like eventually(), polling every 50 ms: the time a check passes is what is measured. */
async function poll<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: last });
    await sleep(50);
  }
}

const isList = (a: LoadAnswer) => a.tool.startsWith('list_');
const served = (a: LoadAnswer) => a.verdict.kind === 'ok' && !a.verdict.denied;
/** The oracle's verdict is good (allowed as the engine says, or denied with the engine's code), or a scale Conflict. */
const good = (a: LoadAnswer) => a.verdict.kind === 'ok' || a.verdict.kind === 'conflict';
/** A scale refused as Unavailable: the documented answer while the API server cannot take it. */
const scaleUnavailable = (a: LoadAnswer) => a.tool === 'scale_deployment' && a.code === 'Unavailable';

function summary(answers: readonly LoadAnswer[]): string {
  return JSON.stringify(
    tally(answers, (a) =>
      a.verdict.kind === 'ok'
        ? a.verdict.denied
          ? 'denied'
          : a.warning
            ? 'ok (stale warning)'
            : 'ok'
        : `${a.verdict.kind}${a.code ? ` ${a.code}` : ''}`,
    ),
  );
}

describe.skipIf(cluster().dir === undefined)('faults under load', () => {
  const kc = kubeConfig();
  const down = new Set<string>();
  const serves: ServeProcess[] = [];
  const callers: McpCaller[] = [];
  let proxy: CuttingProxy | undefined;

  beforeEach(async ({ onTestFailed }) => {
    // A test that failed may have left its serve running (it may hold the Lease): stop it.
    for (const srv of [...serves]) await stopServe(srv);
    onTestFailed(async () => {
      if (down.size > 0) process.stderr.write(`(stopped: ${[...down].join(', ')})\n`);
      // Its own lines, without the audit records (the load writes thousands).
      for (const srv of serves) {
        const own = srv.lines.filter((l) => !l.includes('"component":"audit"')).slice(-80);
        process.stderr.write(
          `── kubemcp serve (${srv.identity}, last 80 lines but audit) ──\n${own.join('\n')}\n`,
        );
      }
      if (down.size === 0) await dumpMcpDiagnostics(undefined, [NS], [AUDITOR_POLICY, LEADER_POLICY]);
    });
  });

  beforeAll(async () => {
    await installShippedManifests();
    await setupSoakWorkload(kc);
    await createNamespace(NS);
    await createNamespace(AGENTS_NS);
    await createServiceAccount(AGENTS_NS, 'auditor');
    await createPolicy(AUDITOR_POLICY, {
      subjects: [{ kind: 'ServiceAccount', name: 'auditor', namespace: AGENTS_NS }],
      namespaces: { names: ['*'] },
      tools: ['list_*', 'scale_deployment'],
      replicas: { min: 0, max: 5 },
    });
    await createPolicy(LEADER_POLICY, {
      subjects: [{ kind: 'ServiceAccount', name: 'nobody', namespace: AGENTS_NS }],
      namespaces: { names: [NS] },
      tools: ['list_pods'],
    });
    await createDeployment(NS, 'steady', 2);
    await createDeployment(NS, 'churn', 1);
    await createService(NS, 'churn', 80);
    await waitWebReady(kc);
  });

  afterAll(async () => {
    const dir = cluster().dir;
    proxy?.stopCutting();
    if (dir !== undefined) {
      if (down.has(ETCD)) await startComponent(dir, ETCD);
      if (down.has(APISERVER)) await startComponent(dir, APISERVER);
      down.clear();
    }
    // The cluster's controllers reconnect with their own backoff: leave a working cluster to later files.
    await waitClusterUsable(`e2e-faults-${s}`);
    for (const c of callers) await c.close().catch(() => undefined);
    for (const srv of serves) await srv.stop();
    await proxy?.close();
    await deletePolicy(AUDITOR_POLICY);
    await deletePolicy(LEADER_POLICY);
    await deleteNamespace(NS);
    await deleteNamespace(AGENTS_NS);
    await deleteSoakWorkload(kc);
    await kc
      .makeApiClient(CoordinationV1Api)
      .deleteNamespacedLease({ name: OPERATOR_LEASE, namespace: OPERATOR_NAMESPACE })
      .catch(() => undefined);
  });

  /** A serve process (stopped in afterAll, or by the test), its policies Ready, and the auditor connected to it. */
  async function serveWithAuditor(identity: string, opts: { extraArgs?: string[]; server?: string } = {}) {
    const srv = await startServe({ identity: `e2e-faults-${s}-${identity}`, ...opts });
    serves.push(srv);
    await waitPolicyReady(AUDITOR_POLICY);
    const auditor = await connect('v2', srv.url, await agentToken(AGENTS_NS, 'auditor'));
    callers.push(auditor);
    return { srv, auditor };
  }

  /** The oracle's world and warmed tokens of the load's clients (TokenReview results are cached 60 s). */
  async function loadClients(urls: readonly string[], concurrency = CONCURRENCY) {
    const world = await snapshotWorld(kc);
    const clients = await mintSoakClients(kc, concurrency);
    for (const [i, url] of urls.entries()) {
      await warmSoakClients(
        url,
        world,
        clients.filter((_, j) => j % urls.length === i),
      );
    }
    return { world, clients };
  }

  async function stopServe(srv: ServeProcess): Promise<void> {
    await srv.stop();
    serves.splice(serves.indexOf(srv), 1);
  }

  it(
    'kube-apiserver down for 30 s under load: stale lists with the warning, scales Unavailable and unchanged, full service within 5 s of its return',
    async () => {
      const dir = cluster().dir as string;
      // Lost watches are retried with backoff capped at 1 s (default 3 s): the bound on recovery.
      const { srv, auditor } = await serveWithAuditor('outage', { extraArgs: ['--watch-backoff-max', '1'] });
      const pid = srv.child.pid;
      const steady = async () =>
        okOf<{ items: Array<{ name: string; replicas: number }>; warning?: string }>(
          await auditor.callTool('list_deployments', { namespace: NS }),
        );
      await eventually('steady 2 in the cache', async () =>
        (await steady()).items.some((d) => d.name === 'steady' && d.replicas === 2),
      );
      const { world, clients } = await loadClients([srv.url]);
      const load = startMixedLoad({ url: srv.url, clients, world, seed: 1 });
      let stoppedAt = 0;
      let warnedAt = 0;
      let restartAt = 0;
      let readyAt = 0;
      let freshMs = 0;
      let scaleMs = 0;
      const watchedAt: Record<string, number> = {};
      try {
        await sleep(5_000);
        stoppedAt = Date.now();
        await stopComponent(dir, APISERVER, { signal: 'SIGKILL' });
        down.add(APISERVER);
        const stale = await eventually(
          'a staleness warning',
          async () => {
            const l = await steady();
            return l.warning !== undefined ? l : undefined;
          },
          15_000,
        );
        warnedAt = Date.now();
        expect(stale.items.map((d) => `${d.name} ${d.replicas}`)).toContain('steady 2');
        expect(stale.warning).toMatch(
          /^The Kubernetes API server is unreachable: this data comes from a cache/,
        );
        const refused = errorOf(
          await auditor.callTool('scale_deployment', { namespace: NS, name: 'steady', replicas: 3 }),
        );
        expect(refused.code).toBe('Unavailable');
        expect(refused.reason).toContain('no change was made');

        await sleep(Math.max(0, stoppedAt + OUTAGE_MS - Date.now()));
        restartAt = Date.now();
        await startComponent(dir, APISERVER);
        down.delete(APISERVER);
        readyAt = Date.now();

        // The refused scale never reached the API server.
        expect((await readDeployment(NS, 'steady')).spec?.replicas).toBe(2);
        // Full service: every cached kind answers fresh (no warning), and a scale goes through. Both are
        // polled at once, each as fast as the server answers (a poll costs up to 5 calls under load).
        const [freshAt, scaled] = await Promise.all([
          poll('fresh answers from every list tool', async () => {
            const pages = await Promise.all(
              LIST_TOOLS.map(async (tool) =>
                okOf<{ warning?: string }>(await auditor.callTool(tool, { limit: 1 })),
              ),
            );
            return pages.every((p) => p.warning === undefined) ? Date.now() : undefined;
          }),
          poll('a scale to go through', async () => {
            const r = await auditor.callTool('scale_deployment', {
              namespace: NS,
              name: 'steady',
              replicas: 3,
            });
            return r.isError === true
              ? undefined
              : { at: Date.now(), ...okOf<{ from: number; to: number; changed: boolean }>(r) };
          }),
        ]);
        freshMs = freshAt - readyAt;
        scaleMs = scaled.at - readyAt;
        // When each cache's watch was back (serve's log), for the record.
        for (const r of srv.records()) {
          if (r.msg === 'watch connected' && typeof r.time === 'number' && r.time >= restartAt) {
            watchedAt[String(r.kind)] ??= r.time - readyAt;
          }
        }
        expect(scaled).toMatchObject({ from: 2, to: 3, changed: true });
        await sleep(5_000);
      } finally {
        await load.stop();
      }
      const answers = load.answers;
      console.log(
        `faults/apiserver: outage ${((readyAt - stoppedAt) / 1000).toFixed(1)} s (restart took ${readyAt - restartAt} ms); warning after ${warnedAt - stoppedAt} ms; fresh lists ${freshMs} ms and a scale ${scaleMs} ms after /readyz (watches back after ${JSON.stringify(watchedAt)} ms); ${answers.length} calls: ${summary(answers)}; errors told: ${JSON.stringify(errorMessages(answers.filter((a) => a.verdict.kind !== 'ok')))}`,
      );
      expect(freshMs).toBeLessThanOrEqual(RECOVERY_MS);
      expect(scaleMs).toBeLessThanOrEqual(RECOVERY_MS);

      // Never a policy contradiction, whatever the API server does.
      const violations = answers.filter((a) => a.verdict.kind === 'violation');
      expect(violations, show(violations)).toEqual([]);
      // Before the outage: nothing but good answers.
      const before = answers.filter((a) => a.at < stoppedAt);
      expect(before.length).toBeGreaterThan(0);
      expect(
        before.filter((a) => !good(a)),
        show(before.filter((a) => !good(a))),
      ).toEqual([]);
      // From the kill until 5 s after /readyz: good answers or a scale's Unavailable, nothing else.
      const around = answers.filter((a) => a.at >= stoppedAt && a.sentAt < readyAt + RECOVERY_MS);
      const bad = around.filter((a) => !good(a) && !scaleUnavailable(a));
      expect(bad, show(bad)).toEqual([]);
      // While it was down (once the caches had noticed): every served list is stale and says so, and
      // no scale went through.
      const outage = answers.filter((a) => a.sentAt >= warnedAt + 1_000 && a.at < restartAt);
      expect(outage.filter(isList).filter(served).length).toBeGreaterThan(0);
      const unwarned = outage.filter((a) => isList(a) && served(a) && !a.warning);
      expect(unwarned, show(unwarned)).toEqual([]);
      const scales = outage.filter((a) => a.tool === 'scale_deployment' && a.verdict.kind !== 'ok');
      expect(scales.length).toBeGreaterThan(0);
      expect(scales.every(scaleUnavailable), show(scales.filter((a) => !scaleUnavailable(a)))).toBe(true);
      expect(
        outage.filter((a) => a.tool === 'scale_deployment' && served(a)),
        'a scale went through',
      ).toEqual([]);
      // From 5 s after /readyz: no error, no stale answer.
      const after = answers.filter((a) => a.sentAt >= readyAt + RECOVERY_MS);
      expect(after.length).toBeGreaterThan(0);
      expect(
        after.filter((a) => !good(a) || a.warning),
        show(after.filter((a) => !good(a) || a.warning)),
      ).toEqual([]);
      // The same process went through it all.
      expect(srv.child.pid).toBe(pid);
      expect(srv.child.exitCode).toBeNull();
      expect(srv.lines.some((l) => l.includes('watch failed; restarting'))).toBe(true);
      await stopServe(srv);
    },
    OUTAGE_MS + 150_000,
  );

  it('etcd restarted under load: only documented errors meanwhile, then every cache equals a fresh LIST', async () => {
    const dir = cluster().dir as string;
    const { srv, auditor } = await serveWithAuditor('etcd', { extraArgs: ['--watch-backoff-max', '1'] });
    const pid = srv.child.pid;
    const { world, clients } = await loadClients([srv.url]);
    const load = startMixedLoad({ url: srv.url, clients, world, seed: 2 });
    let stoppedAt = 0;
    let backAt = 0;
    let scaleMs = 0;
    try {
      await sleep(3_000);
      stoppedAt = Date.now();
      await stopComponent(dir, ETCD);
      down.add(ETCD);
      await sleep(5_000);
      await startComponent(dir, ETCD);
      down.delete(ETCD);
      // etcd is back once the API server can answer a consistent LIST again.
      await eventually('a LIST through the API server', async () => {
        await kc.makeApiClient(CoordinationV1Api).listNamespacedLease({ namespace: OPERATOR_NAMESPACE });
        return true;
      });
      backAt = Date.now();
      const current = (await readDeployment(NS, 'steady')).spec?.replicas ?? 0;
      const target = current === 2 ? 3 : 2;
      await eventually('a scale to go through', async () => {
        const r = await auditor.callTool('scale_deployment', {
          namespace: NS,
          name: 'steady',
          replicas: target,
        });
        return r.isError !== true;
      });
      scaleMs = Date.now() - backAt;
      await sleep(Math.max(0, backAt + RECOVERY_MS + 3_000 - Date.now()));
    } finally {
      await load.stop();
    }
    // The load scales Deployments: compare once it has stopped.
    const match = await waitCachesMatchList(auditor, kc, RECOVERY_MS);
    const answers = load.answers;
    console.log(
      `faults/etcd: etcd down ${((backAt - stoppedAt) / 1000).toFixed(1)} s (until a LIST answers); a scale ${scaleMs} ms later; after the load, the caches equal a LIST taken ${match.ms} ms later (round ${match.rounds} of ${match.roundMs} ms, ${match.objects} rows${match.firstDiff.length ? `; first round: ${match.firstDiff.join(' | ')}` : ''}); ${answers.length} calls: ${summary(answers)}; errors told: ${JSON.stringify(errorMessages(answers.filter((a) => a.verdict.kind !== 'ok')))}`,
    );
    const violations = answers.filter((a) => a.verdict.kind === 'violation');
    expect(violations, show(violations)).toEqual([]);
    // Good answers, or a scale's Unavailable; never a 5xx, a JSON-RPC error or a dropped connection.
    const bad = answers.filter((a) => !good(a) && !scaleUnavailable(a));
    expect(bad, show(bad)).toEqual([]);
    const after = answers.filter((a) => a.sentAt >= backAt + RECOVERY_MS);
    expect(after.length).toBeGreaterThan(0);
    expect(
      after.filter((a) => !good(a)),
      show(after.filter((a) => !good(a))),
    ).toEqual([]);
    expect(srv.child.pid).toBe(pid);
    expect(srv.child.exitCode).toBeNull();
    await stopServe(srv);
  }, 150_000);

  it(
    `watch streams cut at random every 5–20 s for ${CUT_MS / 1000} s while objects change: every cache equals a fresh LIST within 5 s`,
    async () => {
      const server = kc.getCurrentCluster()?.server;
      if (!server) throw new Error('the kubeconfig names no server');
      proxy = await startCuttingProxy(new URL(server));
      const p = proxy;
      // Default watch backoff: each cut is one failure, retried after ~200 ms.
      const { srv, auditor } = await serveWithAuditor('cuts', { server: p.url });
      const pid = srv.child.pid;
      const { world, clients } = await loadClients([srv.url]);
      const load = startMixedLoad({ url: srv.url, clients, world, seed: 3 });
      const churn = startChurn(kc, {
        podNamespaces: [NS, 'soak-a-0'],
        namespace: NS,
        deployment: 'churn',
        service: 'churn',
      });
      let changes: Record<string, number> = {};
      const startedAt = Date.now();
      try {
        p.startCutting({ minMs: 5_000, maxMs: 20_000, minAgeMs: 1_000 });
        await sleep(CUT_MS);
        p.stopCutting();
      } finally {
        p.stopCutting();
        changes = await churn.stop().finally(() => load.stop());
      }
      const lastCut = p.cuts.at(-1)?.at ?? startedAt;
      const endedAt = Date.now();
      const match = await waitCachesMatchList(auditor, kc, RECOVERY_MS);
      const answers = load.answers;
      const restarts = srv.lines.filter((l) => l.includes('watch failed; restarting')).length;
      console.log(
        `faults/cuts: ${p.cuts.length} cuts in ${((endedAt - startedAt) / 1000).toFixed(0)} s (connections reset: ${p.cuts.map((c) => c.destroyed).join(', ')}; ${p.accepted()} accepted), ${restarts} watch restarts logged; changes ${JSON.stringify(changes)}; the caches equal a LIST taken ${match.ms} ms after the churn stopped (${endedAt - lastCut} ms after the last cut; round ${match.rounds} of ${match.roundMs} ms, ${match.objects} rows${match.firstDiff.length ? `; first round: ${match.firstDiff.join(' | ')}` : ''}); ${answers.length} calls: ${summary(answers)}; errors told: ${JSON.stringify(errorMessages(answers.filter((a) => a.verdict.kind !== 'ok')))}`,
      );
      // The proxy really cut the watches: at least one cut per 20 s, each resetting live connections,
      // and serve saw its watches fail.
      const minCuts = Math.max(2, Math.floor(CUT_MS / 20_000));
      expect(p.cuts.length).toBeGreaterThanOrEqual(minCuts);
      expect(
        p.cuts.every((c) => c.destroyed > 0),
        JSON.stringify(p.cuts),
      ).toBe(true);
      expect(restarts).toBeGreaterThanOrEqual(p.cuts.length);
      expect(Object.values(changes).reduce((a, b) => a + b, 0)).toBeGreaterThan(CUT_MS / 2_000);
      // The load: never a contradiction; errors only a scale's Unavailable (a cut may take a /scale
      // call's connection with it).
      const violations = answers.filter((a) => a.verdict.kind === 'violation');
      expect(violations, show(violations)).toEqual([]);
      const bad = answers.filter((a) => !good(a) && !scaleUnavailable(a));
      expect(bad, show(bad)).toEqual([]);
      expect(srv.child.pid).toBe(pid);
      expect(srv.child.exitCode).toBeNull();
      await stopServe(srv);
      await p.close();
      proxy = undefined;
    },
    CUT_MS + 120_000,
  );

  it('the leader SIGKILLed under load: the survivor writes status within the lease duration (+2 retry periods) and its callers see no error', async () => {
    const leases = kc.makeApiClient(CoordinationV1Api);
    const holder = async () =>
      (await leases.readNamespacedLease({ name: OPERATOR_LEASE, namespace: OPERATOR_NAMESPACE })).spec
        ?.holderIdentity;
    const { srv: first } = await serveWithAuditor('one');
    await eventually('the first replica to lead', async () => (await holder()) === first.identity);
    const { srv: second } = await serveWithAuditor('two');
    await waitPolicyReady(LEADER_POLICY);
    const { world, clients } = await loadClients([first.url, second.url]);
    const toFirst = clients.filter((_, i) => i % 2 === 0);
    const toSecond = clients.filter((_, i) => i % 2 === 1);
    const loadFirst = startMixedLoad({ url: first.url, clients: toFirst, world, seed: 4 });
    const loadSecond = startMixedLoad({ url: second.url, clients: toSecond, world, seed: 5 });
    let killedAt = 0;
    let writtenAt = 0;
    let generation = 0;
    try {
      await sleep(5_000);
      expect(await holder()).toBe(first.identity);
      killedAt = Date.now();
      first.child.kill('SIGKILL');
      await first.exited;
      // Its callers now only get refused connections, in a tight loop: stop them.
      await loadFirst.stop();
      const changed = await patchPolicySpec(LEADER_POLICY, { tools: ['list_pods', 'list_services'] });
      generation = changed.metadata.generation ?? 0;
      await eventually(
        'the survivor to write the new generation’s status',
        async () => {
          const p = await getPolicy(LEADER_POLICY);
          const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
          return p.status?.observedGeneration === generation && ready?.status === 'True';
        },
        60_000,
      );
      writtenAt = Date.now();
      expect(await holder()).toBe(second.identity);
      await sleep(3_000);
    } finally {
      await loadFirst.stop();
      await loadSecond.stop();
    }
    const survivor = loadSecond.answers;
    const victim = loadFirst.answers;
    console.log(
      `faults/leader: status of generation ${generation} written ${writtenAt - killedAt} ms after the SIGKILL (bound ${TAKEOVER_BOUND_MS} ms); survivor ${survivor.length} calls: ${summary(survivor)}; killed replica ${victim.length} calls: ${summary(victim)}`,
    );
    expect(writtenAt - killedAt).toBeLessThanOrEqual(TAKEOVER_BOUND_MS);
    // The survivor's callers: no error of any kind, no stale answer, no contradiction, from before the
    // kill until the end.
    expect(survivor.filter((a) => a.at > killedAt).length).toBeGreaterThan(0);
    const bad = survivor.filter((a) => a.verdict.kind !== 'ok' || a.warning);
    expect(bad, show(bad)).toEqual([]);
    // The killed replica answered well until it died.
    const victimBefore = victim.filter((a) => a.at < killedAt);
    expect(
      victimBefore.filter((a) => !good(a)),
      show(victimBefore.filter((a) => !good(a))),
    ).toEqual([]);
    expect(second.lines.some((l) => l.includes('started leading'))).toBe(true);
    await stopServe(second);
    await stopServe(first);
  }, 150_000);
});
