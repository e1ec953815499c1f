/**
 * The Helm chart (charts/kubemcp), with the pinned helm built from the Go module proxy
 * (test/cluster/go/helm) and the cluster's kubectl:
 * - `helm lint --strict` with the default values and with each values file under ci/;
 * - `helm template` of each ci/ file, with what each file is meant to change checked, and the
 *   Deployment's flags parsed by the loader `kubemcp serve` uses;
 * - no drift: the default rendering (release namespace kubemcp-system) is, object by object, what
 *   `kubectl kustomize config/default` gives, apart from what Helm adds on purpose (chart-support.ts)
 *   and the Namespace (Helm installs into a namespace that exists); the comparison is shown to fail
 *   when either side changes alone;
 * - each rendering sent to the API server as a server-side dry run, in a namespace of its own.
 * It lives in the e2e tier because it needs built binaries (helm, kubectl) and, for the dry runs, a
 * cluster; `helm install`/`upgrade`/`uninstall` on the in-cluster tier's cluster are not here yet.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ApiextensionsV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig, serveFlagOptions } from '../../src/config/index.js';
import { tracingEnabled } from '../../src/config/tracing.js';
import { waitForCrdEstablished } from '../cluster/apply.js';
import { HELM_VERSION, HELM3_VERSION } from '../cluster/components.js';
import { ensureHelm, runHelm } from '../cluster/helm.js';
import { kubectl as runKubectl } from '../cluster/operator.js';
import {
  CHART,
  compareObjects,
  find,
  helmLabels,
  type K8sObject,
  normalise,
  objectKey,
  parseManifests,
  RELEASE,
} from './chart-support.js';
import { cluster, kubeConfig, scratchNamespace } from './support.js';

const CI_FILES = fs
  .readdirSync(path.join(CHART, 'ci'))
  .filter((f) => f.endsWith('-values.yaml'))
  .sort();
const CHART_META = parse(fs.readFileSync(path.join(CHART, 'Chart.yaml'), 'utf8')) as {
  version: string;
  appVersion: string;
};
const LABELS = helmLabels(CHART_META);
/** What a cluster with the Prometheus Operator serves (for the ServiceMonitor). */
const SERVICE_MONITOR_API = 'monitoring.coreos.com/v1/ServiceMonitor';

let helm: string;
let helm3: string;
let kubectlBin: string;
let stateDir: string;

beforeAll(async () => {
  helm = await ensureHelm();
  helm3 = await ensureHelm(3);
  kubectlBin = cluster().kubectl ?? 'kubectl';
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubemcp-helm-'));
}, 1_800_000);

afterAll(() => {
  if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
});

function helmOk(args: string[], bin = helm): string {
  const res = runHelm(bin, args, { stateDir });
  if (res.status !== 0)
    throw new Error(`helm ${args.join(' ')} exited ${res.status}:\n${res.stderr}${res.stdout}`);
  return res.stdout;
}

/** `helm template` of the chart in `namespace` with a ci/ values file (or the defaults); Helm 4 unless `bin`. */
function render(
  opts: {
    namespace?: string;
    valuesFile?: string;
    set?: string[];
    apiVersions?: string[];
    bin?: string;
  } = {},
) {
  const args = ['template', RELEASE, CHART, '--namespace', opts.namespace ?? 'kubemcp-system'];
  if (opts.valuesFile) args.push('-f', path.join(CHART, 'ci', opts.valuesFile));
  for (const s of opts.set ?? []) args.push('--set', s);
  for (const a of opts.apiVersions ?? []) args.push('--api-versions', a);
  return helmOk(args, opts.bin);
}

function kustomize(dir: string): K8sObject[] {
  return parseManifests(runKubectl(kubectlBin, cluster().kubeconfig, ['kustomize', dir]));
}

/** The chart's objects without Helm's own additions; fails the test on a missing or wrong one. */
function normalised(objs: readonly K8sObject[]): K8sObject[] {
  const results = objs.map((o) => normalise(o, LABELS));
  expect(results.flatMap((r) => r.problems)).toEqual([]);
  return results.map((r) => r.object);
}

/** The default rendering compared with a kustomize directory, Namespace set apart. */
function driftFrom(kustomizeDir: string, chartObjects: readonly K8sObject[]): string[] {
  const fromKustomize = kustomize(kustomizeDir);
  const namespaces = fromKustomize.filter((o) => o.kind === 'Namespace');
  // The Helm way: the release namespace exists before the release (helm install --create-namespace,
  // or created and labelled by the admin as the chart's README shows), so the chart renders none.
  expect(namespaces.map((n) => n.metadata.name)).toEqual(['kubemcp-system']);
  return compareObjects(
    fromKustomize.filter((o) => o.kind !== 'Namespace'),
    normalised(chartObjects),
  );
}

function operatorContainer(objs: readonly K8sObject[]) {
  const dep = find(objs, 'Deployment', 'kubemcp-operator') as
    | { spec: { replicas: number; template: { spec: { containers: ContainerSpec[] } } } }
    | undefined;
  const c = dep?.spec.template.spec.containers[0];
  if (!dep || !c) throw new Error('no operator Deployment rendered');
  return { dep, c };
}

interface ContainerSpec {
  image: string;
  imagePullPolicy: string;
  args: string[];
  env: Array<{ name: string; value?: string }>;
  resources: Record<string, unknown>;
}

/** The Deployment's flags through the loader `kubemcp serve` uses (strict: an unknown flag throws). */
function serveConfig(objs: readonly K8sObject[], namespace: string) {
  const { c } = operatorContainer(objs);
  expect(c.args[0]).toBe('serve');
  const { values } = parseArgs({ args: c.args.slice(1), options: serveFlagOptions(), strict: true });
  const env: Record<string, string> = { POD_NAME: 'kubemcp-operator-abc', POD_NAMESPACE: namespace };
  for (const e of c.env) if (e.value !== undefined) env[e.name] = e.value;
  return { config: loadConfig({ flags: values, env }), env };
}

describe.each([
  { name: 'Helm 4', version: HELM_VERSION, bin: () => helm },
  { name: 'Helm 3', version: HELM3_VERSION, bin: () => helm3 },
])('$name', ({ version, bin }) => {
  it(`is the pinned ${version}`, () => {
    expect(helmOk(['version', '--template', '{{.Version}}'], bin()).trim()).toBe(version);
  });

  it.each(['(defaults)', ...CI_FILES])('lints the chart strictly with %s', (file) => {
    const args = ['lint', '--strict', CHART];
    if (file !== '(defaults)') args.push('-f', path.join(CHART, 'ci', file));
    const out = helmOk(args, bin());
    expect(out).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(out).not.toMatch(/\[(WARNING|ERROR)\]/);
  });
});

describe('Helm 3 and Helm 4', () => {
  it.each(CI_FILES)('render %s to the same objects', (file) => {
    const opts = { valuesFile: file, apiVersions: [SERVICE_MONITOR_API] };
    const four = parseManifests(render(opts));
    const three = parseManifests(render({ ...opts, bin: helm3 }));
    expect(three.length).toBe(four.length);
    expect(compareObjects(four, three, ['Helm 4', 'Helm 3'])).toEqual([]);
  });
});

/** The kinds of config/samples: McpPolicies, an McpDelegation and an McpNamespacePolicy. */
const SAMPLE_KINDS = ['McpPolicy', 'McpDelegation', 'McpNamespacePolicy'];

describe('helm template', () => {
  it.each(CI_FILES)('renders %s into the release namespace, with flags kubemcp serve accepts', (file) => {
    const ns = 'platform-agents';
    const started = Date.now();
    const objs = parseManifests(
      render({ namespace: ns, valuesFile: file, apiVersions: [SERVICE_MONITOR_API] }),
    );
    process.stderr.write(`helm template ${file}: ${Date.now() - started} ms, ${objs.length} objects\n`);
    expect(objs.length).toBeGreaterThan(8);
    const clusterScoped = [
      'CustomResourceDefinition',
      'ClusterRole',
      'ClusterRoleBinding',
      'McpPolicy',
      'McpDelegation',
    ];
    for (const o of objs) {
      // The samples carry only Helm's labels, as config/samples carries none; the namespaced sample
      // lives in its own namespace, not the release's.
      if (!SAMPLE_KINDS.includes(o.kind))
        expect(o.metadata.labels?.['app.kubernetes.io/name'], objectKey(o)).toBe('kubemcp');
      const where =
        o.kind === 'McpNamespacePolicy' ? 'default' : clusterScoped.includes(o.kind) ? undefined : ns;
      expect(o.metadata.namespace, objectKey(o)).toBe(where);
      for (const subject of (o.subjects ?? []) as Array<{ namespace?: string }>) {
        expect(subject.namespace, objectKey(o)).toBe(ns);
      }
    }
    expect(objs.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')).toHaveLength(3);
    const { config } = serveConfig(objs, ns);
    expect(config.publicUrl).toBe(`http://kubemcp.${ns}.svc:8080`);
    expect(config.allowedHosts).toEqual(
      expect.arrayContaining([`kubemcp.${ns}.svc`, `kubemcp.${ns}.svc.cluster.local`, `kubemcp.${ns}`]),
    );
    expect(config.leaderElection.namespace).toBe(ns);
    expect(JSON.stringify(objs)).not.toContain('kubemcp-system');
  });

  it('default-values.yaml: two replicas behind a PDB, leader election, a key the operator creates', () => {
    const objs = parseManifests(render({ valuesFile: 'default-values.yaml' }));
    const { dep } = operatorContainer(objs);
    expect(dep.spec.replicas).toBe(2);
    const { config } = serveConfig(objs, 'kubemcp-system');
    expect(config.leaderElection.enabled).toBe(true);
    expect(config.confirmationKeySecret).toBe('kubemcp-confirmation-key');
    expect(find(objs, 'PodDisruptionBudget', 'kubemcp-operator')).toBeDefined();
    expect(find(objs, 'ServiceMonitor', 'kubemcp')).toBeUndefined();
    expect(objs.filter((o) => o.kind === 'McpPolicy')).toEqual([]);
  });

  it('single-replica-values.yaml: no leader election, no PDB, no affinity, a CRD uninstall deletes', () => {
    const objs = parseManifests(render({ valuesFile: 'single-replica-values.yaml' }));
    expect(operatorContainer(objs).dep.spec.replicas).toBe(1);
    expect(serveConfig(objs, 'kubemcp-system').config.leaderElection.enabled).toBe(false);
    expect(find(objs, 'PodDisruptionBudget', 'kubemcp-operator')).toBeUndefined();
    const svc = find(objs, 'Service', 'kubemcp') as K8sObject & { spec: Record<string, unknown> };
    expect(svc.spec.sessionAffinity).toBe('None');
    expect(svc.spec.sessionAffinityConfig).toBeUndefined();
    const crd = find(objs, 'CustomResourceDefinition', 'mcppolicies.kubemcp.io');
    expect(crd).toBeDefined();
    expect(crd?.metadata.annotations?.['helm.sh/resource-policy']).toBeUndefined();
  });

  it('existing-key-values.yaml: the operator reads the named Secret and may create none', () => {
    const objs = parseManifests(render({ valuesFile: 'existing-key-values.yaml' }));
    const { config } = serveConfig(objs, 'kubemcp-system');
    expect(config.confirmationKeySecret).toBe('my-confirmation-key');
    expect(config.logLevel).toBe('debug');
    expect(config.audit).toBe(true);
    const role = find(objs, 'Role', 'kubemcp-confirmation-key') as K8sObject & {
      rules: Array<{ resources: string[]; verbs: string[]; resourceNames?: string[] }>;
    };
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['my-confirmation-key'], verbs: ['get'] },
    ]);
    const { c } = operatorContainer(objs);
    expect(c.image).toBe('registry.example.com/kubemcp:0.1.0');
    expect(c.imagePullPolicy).toBe('Always');
    expect(c.resources).toEqual({ requests: { cpu: '200m', memory: '256Mi' }, limits: { memory: '1Gi' } });
    expect(c.env.find((e) => e.name === 'NODE_OPTIONS')?.value).toBe(
      '--max-semi-space-size=2 --max-old-space-size=512',
    );
    const pod = operatorContainer(objs).dep.spec.template.spec as Record<string, unknown>;
    expect(pod.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(pod.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    expect(pod.tolerations).toHaveLength(1);
  });

  it('observability-values.yaml: tracing on, metrics opened to monitoring, a ServiceMonitor only where served', () => {
    const without = parseManifests(render({ valuesFile: 'observability-values.yaml' }));
    expect(find(without, 'ServiceMonitor', 'kubemcp')).toBeUndefined();
    const objs = parseManifests(
      render({ valuesFile: 'observability-values.yaml', apiVersions: [SERVICE_MONITOR_API] }),
    );
    const sm = find(objs, 'ServiceMonitor', 'kubemcp') as K8sObject & { spec: Record<string, unknown> };
    expect(sm.metadata.labels?.release).toBe('prometheus');
    expect(sm.spec).toEqual({
      selector: { matchLabels: { 'app.kubernetes.io/name': 'kubemcp' } },
      endpoints: [{ port: 'metrics', path: '/metrics', interval: '30s' }],
    });
    // The port it scrapes is the metrics Service's.
    const metrics = find(objs, 'Service', 'kubemcp-metrics') as K8sObject & {
      spec: { ports: Array<{ name: string }> };
    };
    expect(metrics.spec.ports.map((p) => p.name)).toEqual(['metrics']);
    const { env } = serveConfig(objs, 'kubemcp-system');
    expect(tracingEnabled(env)).toBe(true);
    const np = find(objs, 'NetworkPolicy', 'kubemcp-operator') as K8sObject & {
      spec: { ingress: Array<{ ports: Array<{ port: number }>; from: unknown[] }> };
    };
    // Replaced, not merged with the default peer (a map value would have ANDed the two labels).
    expect(np.spec.ingress.find((r) => r.ports[0]?.port === 8081)?.from).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
    ]);
  });

  it('no-crd-samples-values.yaml: no CRD, no NetworkPolicy, the samples of config/samples as post-install hooks', () => {
    const objs = parseManifests(render({ valuesFile: 'no-crd-samples-values.yaml' }));
    expect(objs.filter((o) => o.kind === 'CustomResourceDefinition')).toEqual([]);
    expect(objs.filter((o) => o.kind === 'NetworkPolicy')).toEqual([]);
    const samples = objs.filter((o) => SAMPLE_KINDS.includes(o.kind));
    for (const s of samples) {
      expect(s.metadata.annotations).toEqual({
        'helm.sh/hook': 'post-install,post-upgrade',
        'helm.sh/hook-delete-policy': 'before-hook-creation',
      });
      delete s.metadata.annotations;
    }
    expect(compareObjects(kustomize('config/samples'), normalised(samples))).toEqual([]);
    expect(samples).toHaveLength(5);
  });

  it('refuses unknown values, wrong types, and values that would break the operator', () => {
    const refused = (set: string[]) => {
      const res = runHelm(helm, ['template', RELEASE, CHART, ...set.flatMap((s) => ['--set', s])], {
        stateDir,
      });
      expect(res.status, set.join(' ')).not.toBe(0);
      return res.stderr;
    };
    expect(refused(['leaderElection.enabled=false'])).toContain(
      'leaderElection.enabled=false needs replicas: 1',
    );
    expect(refused(['replicas=1'])).toContain(
      'podDisruptionBudget.minAvailable (1) must be below replicas (1)',
    );
    // values.schema.json: names and types.
    expect(refused(['service.sessionAffinity=Sticky'])).toContain(
      "at '/service/sessionAffinity': value must be one of",
    );
    expect(refused(['replicaCount=3'])).toContain("additional properties 'replicaCount' not allowed");
    expect(refused(['otelEnv[0].name=LOG_LEVEL'])).toContain('/otelEnv/0/name');
    // An empty `from` would let every source reach port 8081.
    const emptyFrom = runHelm(
      helm,
      ['template', RELEASE, CHART, '--set-json', 'networkPolicy.metricsFrom=[]'],
      { stateDir },
    );
    expect(emptyFrom.status).not.toBe(0);
    expect(emptyFrom.stderr).toContain('/networkPolicy/metricsFrom');
    // The same values are accepted once consistent.
    expect(render({ set: ['replicas=1', 'podDisruptionBudget.enabled=false'] })).toContain('replicas: 1');
  });
});

describe('helm package', () => {
  it('packages a chart that renders what the directory renders', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'kubemcp-chart-'));
    try {
      helmOk(['package', CHART, '--destination', out]);
      const tgz = path.join(out, `kubemcp-${CHART_META.version}.tgz`);
      process.stderr.write(`helm package: ${fs.statSync(tgz).size} bytes\n`);
      for (const set of [[], ['samples.enabled=true']]) {
        const args = [
          'template',
          RELEASE,
          tgz,
          '--namespace',
          'kubemcp-system',
          ...set.flatMap((s) => ['--set', s]),
        ];
        const packaged = parseManifests(helmOk(args));
        expect(compareObjects(parseManifests(render({ set })), packaged, ['directory', 'package'])).toEqual(
          [],
        );
        expect(packaged.length).toBeGreaterThan(10);
      }
      // The chart reads the CRD and the samples from files/ at render time.
      const list = spawnSync('tar', ['-tzf', tgz], { encoding: 'utf8' }).stdout;
      expect(list).toContain('kubemcp/files/crds/kubemcp.io_mcppolicies.yaml');
      expect(list).toContain('kubemcp/values.schema.json');
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('no drift from kustomize', () => {
  it('renders with default values exactly the objects of kubectl kustomize config/default', () => {
    const started = Date.now();
    const chart = parseManifests(render());
    process.stderr.write(`helm template (defaults): ${Date.now() - started} ms, ${chart.length} objects\n`);
    expect(driftFrom('config/default', chart)).toEqual([]);
    // Every kind the base installs is compared, not just some.
    expect(new Set(chart.map((o) => o.kind))).toEqual(
      new Set([
        'CustomResourceDefinition',
        'ServiceAccount',
        'ClusterRole',
        'ClusterRoleBinding',
        'Role',
        'RoleBinding',
        'Deployment',
        'Service',
        'PodDisruptionBudget',
        'NetworkPolicy',
      ]),
    );
  });

  it('fails when a kustomize object changes alone', () => {
    // A copy of config/ with one field changed in the Deployment and one label on the Service.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubemcp-config-'));
    try {
      fs.cpSync('config', dir, { recursive: true });
      const dep = path.join(dir, 'manager/deployment.yaml');
      fs.writeFileSync(dep, fs.readFileSync(dep, 'utf8').replace('replicas: 2', 'replicas: 3'));
      const svc = path.join(dir, 'manager/service.yaml');
      fs.writeFileSync(
        svc,
        fs
          .readFileSync(svc, 'utf8')
          .replace('  name: kubemcp-metrics\n', '  name: kubemcp-metrics\n  annotations: {a: b}\n'),
      );
      expect(driftFrom(path.join(dir, 'default'), parseManifests(render())).sort()).toEqual([
        'Deployment kubemcp-system/kubemcp-operator (apps/v1): spec.replicas: 3 ≠ 2 (kustomize ≠ the chart)',
        'Service kubemcp-system/kubemcp-metrics (v1): metadata.annotations: {"a":"b"} ≠ undefined (kustomize ≠ the chart)',
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails when the chart changes alone, and when a label Helm adds is missing', () => {
    const chart = parseManifests(
      render({ set: ['service.sessionAffinityTimeoutSeconds=60', 'crd.enable=false'] }),
    );
    expect(driftFrom('config/default', chart)).toEqual([
      'CustomResourceDefinition mcpdelegations.kubemcp.io (apiextensions.k8s.io/v1): only in kustomize',
      'CustomResourceDefinition mcpnamespacepolicies.kubemcp.io (apiextensions.k8s.io/v1): only in kustomize',
      'CustomResourceDefinition mcppolicies.kubemcp.io (apiextensions.k8s.io/v1): only in kustomize',
      'Service kubemcp-system/kubemcp (v1): spec.sessionAffinityConfig.clientIP.timeoutSeconds: 10800 ≠ 60 (kustomize ≠ the chart)',
    ]);
    const sa = find(parseManifests(render()), 'ServiceAccount', 'kubemcp-operator') as K8sObject;
    delete sa.metadata.labels?.['app.kubernetes.io/instance'];
    expect(normalise(sa, LABELS).problems).toEqual([
      'ServiceAccount kubemcp-system/kubemcp-operator (v1): metadata.labels.app.kubernetes.io/instance is undefined, not "kubemcp"',
    ]);
  });
});

describe('server-side dry run of each rendering', () => {
  const namespace = scratchNamespace('helm');
  let createdServiceMonitorCrd = false;

  beforeAll(async () => {
    const kc = kubeConfig();
    const k = (args: string[]) => runKubectl(kubectlBin, cluster().kubeconfig, args);
    // The McpPolicy CRD must be served for the sample policies (other e2e files install it the same way).
    k(['apply', '--server-side', '--force-conflicts', '-k', 'config/crd']);
    await waitForCrdEstablished(kc, 'mcppolicies.kubemcp.io');
    // The Prometheus Operator's real ServiceMonitor CRD, so the rendered ServiceMonitor is checked
    // against its schema; from the Go module proxy (pinned), removed again if this test added it.
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    const exists = await ext
      .readCustomResourceDefinition({ name: 'servicemonitors.monitoring.coreos.com' })
      .then(() => true)
      .catch(() => false);
    if (!exists) {
      k(['apply', '--server-side', '-f', serviceMonitorCrd()]);
      createdServiceMonitorCrd = true;
      await waitForCrdEstablished(kc, 'servicemonitors.monitoring.coreos.com');
    }
  }, 300_000);

  afterAll(() => {
    if (createdServiceMonitorCrd) {
      runKubectl(kubectlBin, cluster().kubeconfig, [
        'delete',
        'crd',
        'servicemonitors.monitoring.coreos.com',
        '--wait=false',
      ]);
    }
  });

  it.each(CI_FILES)('%s is accepted by the API server (client-side and server-side apply)', (file) => {
    const ns = namespace();
    const manifest = render({ namespace: ns, valuesFile: file, apiVersions: [SERVICE_MONITOR_API] });
    const objs = parseManifests(manifest);
    for (const mode of [[], ['--server-side', '--force-conflicts']]) {
      const out = runKubectl(
        kubectlBin,
        cluster().kubeconfig,
        ['apply', '--dry-run=server', ...mode, '-o', 'name', '-f', '-'],
        manifest,
      );
      // One line per object: every object was sent, none skipped.
      expect(out.trim().split('\n').sort(), `${file} ${mode.join(' ')}`).toHaveLength(objs.length);
    }
    // serviceMonitor.enabled is on in every file, and the ServiceMonitor CRD is served here.
    expect(objs.filter((o) => o.kind === 'ServiceMonitor')).toHaveLength(1);
  });

  it('refuses a rendering the API server refuses (the dry run checks the schemas)', () => {
    const manifest = render({
      namespace: namespace(),
      apiVersions: [SERVICE_MONITOR_API],
      set: ['tolerations[0].key=a', 'tolerations[0].effect=Bogus'],
    });
    const res = spawnSync(
      kubectlBin,
      [`--kubeconfig=${cluster().kubeconfig}`, 'apply', '--dry-run=server', '-o', 'name', '-f', '-'],
      { input: manifest, encoding: 'utf8' },
    );
    expect(res.status).not.toBe(0);
    expect(res.stderr).toContain('spec.template.spec.tolerations[0].effect: Unsupported value: "Bogus"');
  });
});

/** The ServiceMonitor CRD of prometheus-operator, from its Go module (cached by Go). */
const PROMETHEUS_OPERATOR = 'github.com/prometheus-operator/prometheus-operator@v0.85.0';
function serviceMonitorCrd(): string {
  const res = spawnSync('go', ['mod', 'download', '-json', PROMETHEUS_OPERATOR], {
    encoding: 'utf8',
    cwd: os.tmpdir(),
    env: { ...process.env, GOWORK: 'off', GOFLAGS: '-mod=mod', GO111MODULE: 'on' },
  });
  if (res.status !== 0)
    throw new Error(`go mod download ${PROMETHEUS_OPERATOR} failed: ${res.stderr}${res.stdout}`);
  const dir = (JSON.parse(res.stdout) as { Dir: string }).Dir;
  return path.join(dir, 'example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml');
}
