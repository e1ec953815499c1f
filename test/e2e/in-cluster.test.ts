/**
 * The operator as users run it: `kubectl apply -k config/default` unchanged, the image built from
 * the Dockerfile, two real Pods under the shipped securityContext, resources and probes, and an
 * agent Pod that calls `http://kubemcp.kubemcp-system.svc:8080/mcp` with the official MCP client and
 * a projected ServiceAccount token for audience `kubemcp`.
 *
 * Runs on kind: `npm run test:e2e:kind` creates the cluster, builds the images and loads them, and
 * sets KUBEMCP_E2E_IN_CLUSTER=kind. Skipped elsewhere (the local control plane's kwok nodes run no
 * containers).
 */
import fs from 'node:fs';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { AGENT_IMAGE, DEFAULT_IMAGE } from '../cluster/image.js';
import {
  type Agent,
  holderPod,
  isReady,
  leaseHolder,
  OPERATOR_SELECTOR,
  operatorPods,
  portForward,
  startAgent,
  type ToolAnswer,
} from './in-cluster-support.js';
import {
  agentToken,
  connectV2,
  createDeployment,
  createNamespace,
  createPolicy,
  createServiceAccount,
  deleteNamespace,
  deletePolicy,
  readDeployment,
  runKubectl,
  uniqueSuffix,
  waitPolicyReady,
  waitReady,
} from './mcp-support.js';
import { eventually, kubeConfig } from './support.js';

const OPERATOR_NS = 'kubemcp-system';
/** The operator's default lease duration (src/config/schema.ts); config/default does not change it. */
const LEASE_DURATION_S = 15;
/** The default retry period: a follower looks at the Lease this often. */
const RETRY_PERIOD_S = 2;
/**
 * The longest hand-over: a leader that releases its Lease on SIGTERM hands over within a retry
 * period; one that vanishes without releasing it is replaced once the Lease expires (its duration
 * after the last renewal the follower saw) plus one retry period. 2 s more for a busy machine.
 */
const TAKEOVER_BOUND_MS = (LEASE_DURATION_S + RETRY_PERIOD_S + 2) * 1000;

const mode = process.env.KUBEMCP_E2E_IN_CLUSTER === 'kind' ? 'kind' : undefined;

describe.skipIf(mode === undefined)(`the operator in the cluster (config/default, ${mode})`, () => {
  const suffix = uniqueSuffix();
  const ns = `e2e-incluster-${suffix}`;
  const agents = `e2e-incluster-agents-${suffix}`;
  const metricsNs = `e2e-incluster-metrics-${suffix}`;
  const policy = `e2e-incluster-${suffix}`;
  const forwards: Array<() => void> = [];
  let agentPod: Agent | undefined;
  const agent = <T = unknown>(path: string, body: unknown = {}): Promise<T> =>
    (agentPod as Agent).post<T>(path, body);
  const callTool = (tool: string, args: Record<string, unknown>): Promise<ToolAnswer> =>
    (agentPod as Agent).callTool(tool, args);

  beforeAll(async () => {
    runKubectl(['apply', '--server-side', '--force-conflicts', '-k', 'config/default']);
    runKubectl(['-n', OPERATOR_NS, 'rollout', 'status', 'deployment/kubemcp-operator', '--timeout=180s']);

    await createNamespace(ns);
    await createNamespace(agents);
    await createServiceAccount(agents, 'agent');
    await createDeployment(ns, 'web', 1);
    await waitReady(ns, 'web', 1);
    await createPolicy(policy, {
      subjects: [{ kind: 'ServiceAccount', name: 'agent', namespace: agents }],
      namespaces: { names: [ns] },
      tools: ['list_pods', 'list_deployments', 'scale_deployment'],
      replicas: { min: 1, max: 3 },
    });
    await waitPolicyReady(policy);

    agentPod = await startAgent(agents, 'agent');
    forwards.push(agentPod.stop);
  }, 900_000);

  afterAll(async () => {
    for (const stop of forwards) stop();
    // Two sets of controllers would write the same status: the in-cluster operator goes before the
    // next file starts its own `kubemcp serve` processes. The rest of config/default stays.
    try {
      runKubectl([
        '-n',
        OPERATOR_NS,
        'delete',
        'deployment',
        'kubemcp-operator',
        '--ignore-not-found',
        '--wait=true',
      ]);
      runKubectl([
        '-n',
        OPERATOR_NS,
        'wait',
        '--for=delete',
        'pod',
        '-l',
        OPERATOR_SELECTOR,
        '--timeout=90s',
      ]);
    } catch {
      // no pods left to wait for
    }
    await deletePolicy(policy).catch(() => undefined);
    await deleteNamespace(ns);
    await deleteNamespace(agents);
    await deleteNamespace(metricsNs);
  }, 300_000);

  it('runs 2 operator Pods, Ready, under the shipped securityContext and resources; exactly one holds the Lease', async () => {
    const shipped = parse(fs.readFileSync('config/manager/deployment.yaml', 'utf8')) as {
      spec: { template: { spec: { containers: Array<{ securityContext: unknown; resources: unknown }> } } };
    };
    const want = shipped.spec.template.spec.containers[0];
    const pods = await operatorPods(OPERATOR_NS);
    expect(pods).toHaveLength(2);
    for (const p of pods) {
      expect(p.status?.phase).toBe('Running');
      expect(isReady(p)).toBe(true);
      expect(p.spec?.containers[0]?.image).toBe(DEFAULT_IMAGE);
      expect(p.spec?.containers[0]?.securityContext).toEqual(want?.securityContext);
      expect(p.spec?.containers[0]?.resources).toEqual(want?.resources);
      expect(p.status?.containerStatuses?.[0]?.restartCount).toBe(0);
    }
    const holder = await eventually(
      'a Lease holder among the operator Pods',
      async () => {
        const h = await leaseHolder(OPERATOR_NS);
        return holderPod(h, pods).length === 1 ? h : undefined;
      },
      30_000,
    );
    expect(holderPod(holder, pods)).toHaveLength(1);

    // Memory of the operator Pods as the kubelet measures it (working set, from cgroups).
    const node = pods[0]?.spec?.nodeName;
    if (node) {
      // The kubelet's summary may lack a new Pod's figures for a few seconds.
      const mem = await eventually(
        'memory figures of both operator Pods in the kubelet summary',
        async () => {
          const summary = JSON.parse(
            runKubectl(['get', '--raw', `/api/v1/nodes/${node}/proxy/stats/summary`]),
          ) as {
            pods: Array<{
              podRef: { name: string; namespace: string };
              memory?: { workingSetBytes?: number };
            }>;
          };
          const ours = summary.pods.filter((p) => p.podRef.namespace === OPERATOR_NS);
          return ours.length === 2 && ours.every((p) => (p.memory?.workingSetBytes ?? 0) > 0)
            ? ours
            : undefined;
        },
        60_000,
      );
      console.log(
        `operator Pods' memory (kubelet working set): ${mem
          .map((p) => `${p.podRef.name}=${((p.memory?.workingSetBytes ?? 0) / 1048576).toFixed(1)} MiB`)
          .join(', ')}`,
      );
    }
  });

  it('serves an agent Pod through the Service: calls within its policy succeed, others are denied', async () => {
    const listed = await callTool('list_pods', { namespace: ns });
    expect(listed.isError).toBeFalsy();
    const items = (listed.structuredContent?.items ?? []) as Array<{ namespace: string }>;
    expect(items.length).toBeGreaterThan(0);
    expect(items.every((p) => p.namespace === ns)).toBe(true);

    const scaled = await callTool('scale_deployment', { namespace: ns, name: 'web', replicas: 2 });
    expect(scaled.isError).toBeFalsy();
    expect((await readDeployment(ns, 'web')).spec?.replicas).toBe(2);

    const tooMany = await callTool('scale_deployment', { namespace: ns, name: 'web', replicas: 9 });
    expect(tooMany.isError).toBe(true);
    expect(tooMany.structuredContent?.error?.code).toBe('OutOfBounds');
    expect((await readDeployment(ns, 'web')).spec?.replicas).toBe(2);

    const elsewhere = await callTool('list_pods', { namespace: OPERATOR_NS });
    expect(elsewhere.isError).toBe(true);
    expect(JSON.stringify(elsewhere)).not.toContain('kubemcp-operator-');
  });

  // kind's CNI enforces NetworkPolicy: kindnetd upstream, kube-router in the locally built node image.
  it('enforces the shipped NetworkPolicy: every namespace reaches :8080, only namespaces labelled kubemcp.io/metrics=true reach :8081', async () => {
    // From inside a Pod: an HTTP status, or the error that ended the attempt.
    const probe = (namespace: string, pod: string, url: string) =>
      runKubectl([
        '-n',
        namespace,
        'exec',
        pod,
        '--',
        'node',
        '-e',
        "fetch(process.argv[1], { signal: AbortSignal.timeout(4000) }).then((r) => console.log('HTTP ' + r.status), (e) => console.log('ERR ' + (e.cause?.code ?? e.name)))",
        url,
      ]).trim();
    const podIP = (await operatorPods(OPERATOR_NS))[0]?.status?.podIP;
    expect(podIP).toBeDefined();
    const mcp = [`http://kubemcp.${OPERATOR_NS}.svc:8080/mcp`, `http://${podIP}:8080/mcp`];
    const health = [`http://kubemcp-metrics.${OPERATOR_NS}.svc:8081/healthz`, `http://${podIP}:8081/healthz`];

    // A namespace labelled for metrics, with a Pod of the agent image that only waits.
    await createNamespace(metricsNs, { 'kubemcp.io/metrics': 'true' });
    await kubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespacedPod({
        namespace: metricsNs,
        body: {
          metadata: { name: 'scraper' },
          spec: {
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 65532,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            containers: [
              {
                name: 'scraper',
                image: AGENT_IMAGE,
                imagePullPolicy: 'Never',
                command: ['node', '-e', 'setInterval(() => {}, 1 << 30)'],
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
              },
            ],
          },
        },
      });
    runKubectl(['-n', metricsNs, 'wait', '--for=condition=Ready', 'pod/scraper', '--timeout=120s']);

    const seen: string[] = [];
    // The policy engine learns a new Pod's address within seconds: the labelled namespace is let in.
    for (const url of health) {
      const got = await eventually(
        `the labelled namespace reaching ${url}`,
        async () => {
          const r = probe(metricsNs, 'scraper', url);
          return r === 'HTTP 200' ? r : undefined;
        },
        60_000,
      );
      seen.push(`${metricsNs} (kubemcp.io/metrics=true) -> ${url}: ${got}`);
    }
    // The agent's namespace has no such label: it reaches the MCP port and nothing else.
    for (const url of mcp) {
      const r = probe(agents, 'agent', url);
      seen.push(`${agents} (unlabelled) -> ${url}: ${r}`);
      // Any HTTP answer is a connection the policy let through (a GET of /mcp is 405).
      expect(r).toMatch(/^HTTP \d+$/);
    }
    for (const url of health) {
      const r = probe(agents, 'agent', url);
      seen.push(`${agents} (unlabelled) -> ${url}: ${r}`);
      expect(r, `an unlabelled namespace must not reach ${url}`).toMatch(/^ERR /);
    }
    console.log(`NetworkPolicy kubemcp-operator:\n  ${seen.join('\n  ')}`);
  });

  it('fails over when the leader Pod is deleted: another replica takes over within the lease duration plus a retry period; no agent call fails', async () => {
    const pods = await operatorPods(OPERATOR_NS);
    const before = await leaseHolder(OPERATOR_NS);
    const leader = holderPod(before, pods)[0]?.metadata?.name;
    expect(leader).toBeDefined();
    await agent('/load/start', { tool: 'list_pods', args: { namespace: ns } });
    await new Promise((r) => setTimeout(r, 2000));
    const t0 = Date.now();
    runKubectl(['-n', OPERATOR_NS, 'delete', 'pod', leader as string, '--wait=false']);
    // The surviving replica or the Pod the ReplicaSet starts in the deleted one's place: whichever
    // asks first after the release wins, and either is a correct hand-over.
    const holder = await eventually(
      'another replica to take the Lease',
      async () => {
        const h = await leaseHolder(OPERATOR_NS);
        return h !== undefined && h !== '' && h !== before && !h.startsWith(`${leader}_`) ? h : undefined;
      },
      TAKEOVER_BOUND_MS + 10_000,
    );
    const takeover = Date.now() - t0;
    console.log(`leader ${leader} deleted; ${holder} took the Lease after ${(takeover / 1000).toFixed(1)}s`);
    runKubectl(['-n', OPERATOR_NS, 'rollout', 'status', 'deployment/kubemcp-operator', '--timeout=180s']);
    await new Promise((r) => setTimeout(r, 3000));
    const load = await agent<{ calls: number; failures: unknown[] }>('/load/stop');
    console.log(`agent calls during the failover: ${load.calls}, failed: ${load.failures.length}`);
    expect(load.failures).toEqual([]);
    expect(load.calls).toBeGreaterThan(10);
    expect(takeover).toBeLessThanOrEqual(TAKEOVER_BOUND_MS);
  });

  it('rolls out a restart with no failed agent call', async () => {
    await agent('/load/start', { tool: 'list_pods', args: { namespace: ns } });
    await new Promise((r) => setTimeout(r, 2000));
    runKubectl(['-n', OPERATOR_NS, 'rollout', 'restart', 'deployment/kubemcp-operator']);
    runKubectl(['-n', OPERATOR_NS, 'rollout', 'status', 'deployment/kubemcp-operator', '--timeout=240s']);
    await new Promise((r) => setTimeout(r, 3000));
    const load = await agent<{ calls: number; failures: unknown[] }>('/load/stop');
    console.log(`agent calls during the rollout: ${load.calls}, failed: ${load.failures.length}`);
    expect(load.failures).toEqual([]);
    expect(load.calls).toBeGreaterThan(10);
    expect(await operatorPods(OPERATOR_NS)).toHaveLength(2);
  });

  it('answers through `kubectl port-forward svc/kubemcp` as the README shows', async () => {
    const pf = await portForward('svc/kubemcp', OPERATOR_NS, 8080);
    forwards.push(pf.stop);
    const url = `http://127.0.0.1:${pf.port}/mcp`;
    const status = await eventually(
      'a 401 through the port-forward',
      async () => {
        const s = (await fetch(url, { method: 'POST', body: '{}' }).catch(() => undefined))?.status;
        return s === 401 ? s : undefined;
      },
      30_000,
    );
    expect(status).toBe(401);
    const client = await connectV2(url, await agentToken(agents, 'agent'));
    try {
      expect((await client.listTools()).map((t) => t.name).sort()).toEqual([
        'get_permissions',
        'list_deployments',
        'list_pods',
        'scale_deployment',
      ]);
    } finally {
      await client.close();
    }
  });
});
