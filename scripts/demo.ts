/**
 * npm run demo — the whole product, for real, in one command: a local Kubernetes control plane
 * (or your current kube context), the McpPolicy CRD, sample workloads, two sample agents with
 * policies, `kubemcp serve` running as the operator's least-privilege ServiceAccount, tokens for the
 * agents, and paste-ready client configurations. Ctrl-C tears down what it started.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { binaryPaths, ensureBinaries } from '../test/cluster/build.js';
import { isRunning, killClusterSync, startCluster, stopCluster } from '../test/cluster/cluster.js';
import { HarnessError } from '../test/cluster/log.js';
import { installOperatorManifests, mintToken, writeOperatorKubeconfig } from '../test/cluster/operator.js';
import { CLUSTER_DIR, REPO_ROOT } from '../test/cluster/paths.js';

const HELP = `Usage: npm run demo -- [options]

Starts a real local Kubernetes control plane (cached binaries; no Docker), installs KubeMCP's CRD and
RBAC, creates sample workloads, agents and McpPolicies, runs \`kubemcp serve\` as the operator's
ServiceAccount, and prints client configurations and a curl line. Ctrl-C tears it all down.

Options:
  --use-current-context  use the cluster of your current kube context instead of a local one
                         (creates the kubemcp-demo-* namespaces, agents and policies there)
  --port N               MCP port (default 8080; health and metrics on N+1)
  --exit-when-ready      verify the endpoint, print everything, then tear down and exit
  -h, --help             show this help`;

const NAMESPACES = {
  web: 'kubemcp-demo-web',
  api: 'kubemcp-demo-api',
  data: 'kubemcp-demo-data',
  agents: 'kubemcp-demo-agents',
} as const;
const READER = 'reader';
const SCALER = 'scaler';
const SCALE_BOUNDS = { min: 1, max: 5 };

interface Step {
  n: number;
  total: number;
}
const step: Step = { n: 0, total: 7 };
function progress(message: string): () => void {
  step.n += 1;
  const started = Date.now();
  process.stderr.write(`[${step.n}/${step.total}] ${message} …\n`);
  return () => process.stderr.write(`      done in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function deployment(name: string, namespace: string, replicas: number, labels: Record<string, string>) {
  return {
    metadata: { name, namespace, labels },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, ...labels } },
        spec: { containers: [{ name, image: `registry.example/${name}:1.0` }] },
      },
    },
  };
}

async function ignoreConflict<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if ((err as { code?: number }).code === 409) return undefined;
    throw err;
  }
}

async function createWorkloads(kc: KubeConfig): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const nsLabels: Record<string, Record<string, string>> = {
    [NAMESPACES.web]: { 'kubemcp.io/demo': 'true', 'kubemcp.io/agent-access': 'read' },
    [NAMESPACES.api]: { 'kubemcp.io/demo': 'true', 'kubemcp.io/agent-access': 'read' },
    [NAMESPACES.data]: { 'kubemcp.io/demo': 'true' },
    [NAMESPACES.agents]: { 'kubemcp.io/demo': 'true' },
  };
  for (const [name, labels] of Object.entries(nsLabels)) {
    await ignoreConflict(core.createNamespace({ body: { metadata: { name, labels } } }));
  }
  for (const [namespace, name, replicas, tier] of [
    [NAMESPACES.web, 'frontend', 3, 'frontend'],
    [NAMESPACES.web, 'nginx', 2, 'edge'],
    [NAMESPACES.api, 'orders', 2, 'backend'],
  ] as const) {
    await ignoreConflict(
      apps.createNamespacedDeployment({ namespace, body: deployment(name, namespace, replicas, { tier }) }),
    );
  }
  await ignoreConflict(
    apps.createNamespacedStatefulSet({
      namespace: NAMESPACES.data,
      body: {
        metadata: { name: 'postgres', namespace: NAMESPACES.data },
        spec: {
          replicas: 1,
          serviceName: 'postgres',
          selector: { matchLabels: { app: 'postgres' } },
          template: {
            metadata: { labels: { app: 'postgres' } },
            spec: { containers: [{ name: 'postgres', image: 'registry.example/postgres:17' }] },
          },
        },
      },
    }),
  );
  for (const [ns, name, port] of [
    [NAMESPACES.web, 'frontend', 80],
    [NAMESPACES.api, 'orders', 8080],
    [NAMESPACES.data, 'postgres', 5432],
  ] as const) {
    await ignoreConflict(
      core.createNamespacedService({
        namespace: ns,
        body: { metadata: { name, namespace: ns }, spec: { selector: { app: name }, ports: [{ port }] } },
      }),
    );
  }
  for (const sa of [READER, SCALER]) {
    await ignoreConflict(
      core.createNamespacedServiceAccount({ namespace: NAMESPACES.agents, body: { metadata: { name: sa } } }),
    );
  }
}

async function createPolicies(kc: KubeConfig): Promise<void> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const policies = [
    {
      apiVersion: 'kubemcp.io/v1alpha1',
      kind: 'McpPolicy',
      metadata: { name: 'demo-reader', labels: { 'kubemcp.io/demo': 'true' } },
      spec: {
        subjects: [{ kind: 'ServiceAccount', name: READER, namespace: NAMESPACES.agents }],
        namespaces: { selector: { matchLabels: { 'kubemcp.io/agent-access': 'read' } } },
        tools: ['list_*'],
      },
    },
    {
      apiVersion: 'kubemcp.io/v1alpha1',
      kind: 'McpPolicy',
      metadata: { name: 'demo-scaler', labels: { 'kubemcp.io/demo': 'true' } },
      spec: {
        subjects: [{ kind: 'ServiceAccount', name: SCALER, namespace: NAMESPACES.agents }],
        namespaces: { names: [NAMESPACES.web] },
        tools: ['list_pods', 'list_deployments', 'scale_deployment'],
        replicas: SCALE_BOUNDS,
      },
    },
  ];
  for (const body of policies) {
    try {
      await api.createClusterCustomObject({
        group: 'kubemcp.io',
        version: 'v1alpha1',
        plural: 'mcppolicies',
        body,
      });
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
    }
  }
}

async function waitHttp(
  url: string,
  child: ChildProcess,
  logFile: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      const tail = fs.readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
      throw new HarnessError('kubemcp serve', `exited with code ${child.exitCode}; log: ${logFile}\n${tail}`);
    }
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new HarnessError('kubemcp serve', `${url} not ready after ${timeoutMs / 1000}s; log: ${logFile}`);
    await sleep(250);
  }
}

function curlLine(port: number, tokenVar: string, tool: string, args: Record<string, unknown>): string {
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name: tool, arguments: args },
  });
  return [
    `curl -s http://127.0.0.1:${port}/mcp`,
    `-H "Authorization: Bearer $${tokenVar}"`,
    `-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream'`,
    `-H 'MCP-Protocol-Version: 2025-11-25'`,
    `-d '${body}'`,
  ].join(' \\\n  ');
}

/** Calls a tool the way the printed curl line does; returns the parsed JSON-RPC result. */
async function callTool(port: number, token: string, tool: string, args: Record<string, unknown>) {
  const res = await fetch(`http://127.0.0.1:${port}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-11-25',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: tool, arguments: args },
    }),
  });
  const text = await res.text();
  const json = text.startsWith('{') ? text : (text.match(/^data: (.*)$/m)?.[1] ?? text);
  return {
    status: res.status,
    body: JSON.parse(json) as {
      result?: { isError?: boolean; structuredContent?: unknown; content?: Array<{ text?: string }> };
    },
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'use-current-context': { type: 'boolean', default: false },
      port: { type: 'string', default: '8080' },
      'exit-when-ready': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65534)
    throw new HarnessError('demo', `--port must be a port number, got "${values.port}"`);
  for (const p of [port, port + 1]) {
    if (!(await portFree(p)))
      throw new HarnessError('demo', `port ${p} on 127.0.0.1 is in use; pick another with --port`);
  }
  process.chdir(REPO_ROOT);
  const demoDir = path.join(CLUSTER_DIR, 'demo');
  fs.mkdirSync(demoDir, { recursive: true });
  const cleanups: Array<() => Promise<void> | void> = [];
  let tearingDown = false;
  const teardown = async () => {
    if (tearingDown) return;
    tearingDown = true;
    process.stderr.write('\nTearing down …\n');
    for (const c of cleanups.reverse()) await c();
  };
  const onSignal = () => {
    void teardown().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const started = Date.now();

  try {
    let kubeconfig: string;
    let kubectlBin: string;
    let done = progress(
      values['use-current-context']
        ? 'Using your current kube context'
        : 'Starting a local Kubernetes control plane (binaries cached under ~/.cache/kubemcp)',
    );
    if (values['use-current-context']) {
      const kc = new KubeConfig();
      kc.loadFromDefault();
      const file = path.join(demoDir, 'user-kubeconfig');
      fs.writeFileSync(file, kc.exportConfig(), { mode: 0o600 });
      kubeconfig = file;
      kubectlBin = 'kubectl';
      process.stderr.write(`      context ${kc.getCurrentContext()} (${kc.getCurrentCluster()?.server})\n`);
    } else {
      const built = await ensureBinaries();
      const running = await isRunning(CLUSTER_DIR);
      if (running) {
        process.stderr.write(`      reusing the control plane started by cluster:up (${running.server})\n`);
        kubeconfig = running.kubeconfig;
        kubectlBin = running.kubectl;
      } else {
        const onExit = () => killClusterSync(CLUSTER_DIR);
        process.once('exit', onExit);
        const state = await startCluster({ dir: CLUSTER_DIR, binaries: binaryPaths(built) });
        cleanups.push(async () => {
          await stopCluster(CLUSTER_DIR);
          process.off('exit', onExit);
        });
        kubeconfig = state.kubeconfig;
        kubectlBin = state.kubectl;
      }
    }
    done();
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);

    done = progress('Installing the McpPolicy CRD and the operator RBAC (config/crd, config/rbac)');
    await installOperatorManifests(kc, kubectlBin, kubeconfig);
    done();

    done = progress('Creating sample namespaces, Deployments, a StatefulSet and Services');
    await createWorkloads(kc);
    done();

    done = progress(`Creating agents ${NAMESPACES.agents}/${READER} and /${SCALER} and their McpPolicies`);
    await createPolicies(kc);
    done();

    done = progress('Starting kubemcp serve as ServiceAccount kubemcp-system/kubemcp-operator');
    const operatorKubeconfig = await writeOperatorKubeconfig(kc, path.join(demoDir, 'operator-kubeconfig'));
    const logFile = path.join(demoDir, 'kubemcp.log');
    const out = fs.openSync(logFile, 'w');
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'serve',
        `--kubeconfig=${operatorKubeconfig}`,
        `--mcp-port=${port}`,
        `--health-port=${port + 1}`,
        '--bind-address=127.0.0.1',
        '--leader-election-namespace=kubemcp-system',
        `--public-url=http://127.0.0.1:${port}`,
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', out, out] },
    );
    fs.closeSync(out);
    cleanups.push(async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    });
    await waitHttp(`http://127.0.0.1:${port + 1}/readyz`, child, logFile);
    done();

    done = progress('Minting audience-bound tokens (audience kubemcp) for the agents');
    const readerToken = await mintToken(kc, NAMESPACES.agents, READER, { audiences: ['kubemcp'] });
    const scalerToken = await mintToken(kc, NAMESPACES.agents, SCALER, { audiences: ['kubemcp'] });
    const tokenFile = path.join(demoDir, 'tokens.env');
    fs.writeFileSync(tokenFile, `READER_TOKEN=${readerToken}\nSCALER_TOKEN=${scalerToken}\n`, {
      mode: 0o600,
    });
    done();

    done = progress('Checking the endpoint: list_pods as reader, an out-of-bounds scale as scaler');
    const pods = await callTool(port, readerToken, 'list_pods', {});
    if (pods.status !== 200 || pods.body.result?.isError) {
      throw new HarnessError(
        'demo',
        `list_pods as reader failed: HTTP ${pods.status} ${JSON.stringify(pods.body)}`,
      );
    }
    const refused = await callTool(port, scalerToken, 'scale_deployment', {
      namespace: NAMESPACES.web,
      name: 'frontend',
      replicas: SCALE_BOUNDS.max + 5,
    });
    const code = (refused.body.result?.structuredContent as { error?: { code?: string } } | undefined)?.error
      ?.code;
    if (code !== 'OutOfBounds') {
      throw new HarnessError(
        'demo',
        `expected OutOfBounds for an out-of-bounds scale, got ${JSON.stringify(refused.body)}`,
      );
    }
    done();

    const url = `http://127.0.0.1:${port}/mcp`;
    const firstLine = pods.body.result?.content?.[0]?.text?.split('\n')[0] ?? '';
    process.stdout.write(
      [
        '',
        `KubeMCP demo is ready in ${((Date.now() - started) / 1000).toFixed(1)}s: ${url}`,
        `  reader (${NAMESPACES.agents}/${READER}): list_* in namespaces labelled kubemcp.io/agent-access=read`,
        `  scaler (${NAMESPACES.agents}/${SCALER}): list pods/deployments and scale_deployment in ${NAMESPACES.web}, ${SCALE_BOUNDS.min}..${SCALE_BOUNDS.max} replicas`,
        `  reader's list_pods says: ${firstLine}`,
        '',
        `Tokens (valid 1 hour):  source ${path.relative(process.cwd(), tokenFile)}`,
        '',
        'List pods with curl:',
        `  ${curlLine(port, 'READER_TOKEN', 'list_pods', {})}`,
        '',
        'Try a scale outside the bounds (refused with OutOfBounds):',
        `  ${curlLine(port, 'SCALER_TOKEN', 'scale_deployment', { namespace: NAMESPACES.web, name: 'frontend', replicas: SCALE_BOUNDS.max + 5 })}`,
        '',
        'MCP Inspector (needs Node >= 22.19):',
        `  npx -y @modelcontextprotocol/inspector@2.12.0 --cli ${url} --transport http --method tools/list --header "Authorization: Bearer $READER_TOKEN"`,
        '',
        'Claude Desktop (claude_desktop_config.json; bridges stdio to HTTP with mcp-remote):',
        JSON.stringify(
          {
            mcpServers: {
              kubemcp: {
                command: 'npx',
                // biome-ignore lint/suspicious/noTemplateCurlyInString: mcp-remote expands ${VAR} from env itself
                args: ['-y', 'mcp-remote', url, '--allow-http', '--header', 'Authorization:${KUBEMCP_AUTH}'],
                env: { KUBEMCP_AUTH: `Bearer ${readerToken}` },
              },
            },
          },
          null,
          2,
        )
          .split('\n')
          .map((l) => `  ${l}`)
          .join('\n'),
        '',
        'VS Code (.vscode/mcp.json):',
        JSON.stringify(
          {
            inputs: [
              { type: 'promptString', id: 'kubemcp-token', description: 'KubeMCP token', password: true },
            ],
            servers: {
              // biome-ignore lint/suspicious/noTemplateCurlyInString: VS Code expands ${input:...} itself
              kubemcp: { type: 'http', url, headers: { Authorization: 'Bearer ${input:kubemcp-token}' } },
            },
          },
          null,
          2,
        )
          .split('\n')
          .map((l) => `  ${l}`)
          .join('\n'),
        '',
        `Operator log: ${path.relative(process.cwd(), logFile)}    kubectl: KUBECONFIG=${path.relative(process.cwd(), kubeconfig)} ${kubectlBin === 'kubectl' ? 'kubectl' : path.relative(process.cwd(), kubectlBin)} get mcpp`,
        values['exit-when-ready'] ? '' : 'Press Ctrl-C to stop and tear everything down.',
        '',
      ].join('\n'),
    );
    if (values['exit-when-ready']) {
      await teardown();
      return 0;
    }
    await new Promise<void>((resolve) => {
      child.once('exit', (codeExit) => {
        if (!tearingDown) process.stderr.write(`kubemcp serve exited (code ${codeExit}); see ${logFile}\n`);
        resolve();
      });
    });
    await teardown();
    return 1;
  } catch (err) {
    await teardown();
    throw err;
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`\n✗ ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
