/**
 * What the in-cluster tiers share (test/e2e/in-cluster.test.ts with config/default,
 * test/e2e/helm-in-cluster.test.ts with the Helm chart): the operator's Pods and Lease in a
 * namespace, port-forwards through the cluster's kubectl, and an agent Pod running the official MCP
 * client (test/e2e/agent) with a projected ServiceAccount token for audience `kubemcp`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { CoordinationV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { freePort } from '../cluster/cluster.js';
import { AGENT_IMAGE } from '../cluster/image.js';
import { AUDIENCE, runKubectl } from './mcp-support.js';
import { cluster, eventually, kubeConfig } from './support.js';

export const OPERATOR_SELECTOR = 'app.kubernetes.io/name=kubemcp,app.kubernetes.io/component=operator';
export const LEASE = 'kubemcp-operator';

export interface ToolAnswer {
  isError?: boolean;
  structuredContent?: Record<string, unknown> & { error?: { code: string; message: string } };
}

export function portForward(
  target: string,
  namespace: string,
  remote: number,
): Promise<{ port: number; stop: () => void }> {
  return freePort().then((port) => {
    const c = cluster();
    const child: ChildProcess = spawn(
      c.kubectl ?? 'kubectl',
      [`--kubeconfig=${c.kubeconfig}`, '-n', namespace, 'port-forward', target, `${port}:${remote}`],
      { stdio: 'ignore' },
    );
    return { port, stop: () => child.kill() };
  });
}

/** The operator's Pods in a namespace, those being deleted left out. */
export async function operatorPods(namespace: string): Promise<V1Pod[]> {
  const res = await kubeConfig()
    .makeApiClient(CoreV1Api)
    .listNamespacedPod({ namespace, labelSelector: OPERATOR_SELECTOR });
  return res.items.filter((p) => !p.metadata?.deletionTimestamp);
}

export function isReady(p: V1Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export async function leaseHolder(namespace: string): Promise<string | undefined> {
  const lease = await kubeConfig()
    .makeApiClient(CoordinationV1Api)
    .readNamespacedLease({ namespace, name: LEASE });
  return lease.spec?.holderIdentity ?? undefined;
}

/** The pod whose name the holder identity starts with (identity = pod name + a random suffix). */
export function holderPod(holder: string | undefined, pods: readonly V1Pod[]): V1Pod[] {
  if (!holder) return [];
  return pods.filter((p) => {
    const name = p.metadata?.name ?? '';
    return holder === name || holder.startsWith(`${name}_`);
  });
}

export interface Agent {
  /** POSTs to the agent's control endpoint (/call, /load/start, /load/stop). */
  post<T = unknown>(path: string, body?: unknown): Promise<T>;
  /** One tools/call through the agent's MCP client; throws when the call itself failed. */
  callTool(tool: string, args: Record<string, unknown>): Promise<ToolAnswer>;
  stop(): void;
}

/**
 * Starts the agent Pod `agent` as ServiceAccount `serviceAccount` in `namespace`, under a restricted
 * securityContext, calling `mcpUrl` (the agent's default: the Service in kubemcp-system), and
 * port-forwards to its control port.
 */
export async function startAgent(namespace: string, serviceAccount: string, mcpUrl?: string): Promise<Agent> {
  await kubeConfig()
    .makeApiClient(CoreV1Api)
    .createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'agent', labels: { app: 'agent' } },
        spec: {
          serviceAccountName: serviceAccount,
          automountServiceAccountToken: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'agent',
              image: AGENT_IMAGE,
              imagePullPolicy: 'Never',
              ...(mcpUrl ? { env: [{ name: 'MCP_URL', value: mcpUrl }] } : {}),
              ports: [{ containerPort: 9000 }],
              readinessProbe: { httpGet: { path: '/healthz', port: 9000 }, periodSeconds: 1 },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [{ name: 'token', mountPath: '/var/run/secrets/kubemcp', readOnly: true }],
            },
          ],
          volumes: [
            {
              name: 'token',
              projected: {
                sources: [
                  { serviceAccountToken: { audience: AUDIENCE, expirationSeconds: 3600, path: 'token' } },
                ],
              },
            },
          ],
        },
      },
    });
  runKubectl(['-n', namespace, 'wait', '--for=condition=Ready', 'pod/agent', '--timeout=120s']);
  const pf = await portForward('pod/agent', namespace, 9000);
  const url = `http://127.0.0.1:${pf.port}`;
  await eventually(
    'the agent behind its port-forward',
    async () => (await fetch(`${url}/healthz`, { method: 'POST' }).catch(() => undefined))?.status === 200,
    30_000,
  );
  const post = async <T = unknown>(path: string, body: unknown = {}): Promise<T> => {
    const res = await fetch(`${url}${path}`, { method: 'POST', body: JSON.stringify(body) });
    return (await res.json()) as T;
  };
  return {
    post,
    async callTool(tool, args) {
      const r = await post<{ ok: boolean; result?: ToolAnswer; error?: string }>('/call', { tool, args });
      if (!r.ok || !r.result) throw new Error(`the agent's call of ${tool} failed: ${r.error}`);
      return r.result;
    },
    stop: pf.stop,
  };
}
