/**
 * Rendering the chart and comparing it with the kustomize base, for test/e2e/helm.test.ts. The only
 * differences a comparison forgives are the ones Helm adds on purpose, listed in HELM_LABELS and
 * HELM_CRD_ANNOTATIONS; normalise() checks they are there before it removes them.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments } from 'yaml';

export const CHART = 'charts/kubemcp';
export const RELEASE = 'kubemcp';
/** The printer column the chart of writeUpgradedChart() adds to the McpPolicy CRD. */
export const UPGRADE_COLUMN = 'Upgraded';
export const POLICY_CRD = 'mcppolicies.kubemcp.io';
/** Every CRD the chart installs (and keeps on uninstall). */
export const CHART_CRDS = [POLICY_CRD, 'mcpnamespacepolicies.kubemcp.io', 'mcpdelegations.kubemcp.io'];

/** A cluster as the chart tests reach it: their kubectl and its kubeconfig. */
export interface KubectlTarget {
  readonly kubectl: string;
  readonly kubeconfig: string;
}

function get(
  target: KubectlTarget,
  args: string[],
): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(target.kubectl, [`--kubeconfig=${target.kubeconfig}`, 'get', ...args], {
    encoding: 'utf8',
  });
}

/** Whether `kubectl get ARGS` finds the object: NotFound is false, any other failure throws. */
export function objectExists(target: KubectlTarget, args: string[]): boolean {
  const res = get(target, [...args, '-o', 'name']);
  if (res.status !== 0 && !res.stderr.includes('NotFound'))
    throw new Error(`kubectl get ${args.join(' ')}: ${res.stderr}`);
  return res.status === 0;
}

/** The printer columns of the McpPolicy CRD's first version. */
export function printerColumns(target: KubectlTarget): string[] {
  const res = get(target, ['crd', POLICY_CRD, '-o', 'json']);
  if (res.status !== 0) throw new Error(`kubectl get crd ${POLICY_CRD}: ${res.stderr}`);
  const crd = JSON.parse(res.stdout) as {
    spec: { versions: Array<{ additionalPrinterColumns?: Array<{ name: string }> }> };
  };
  return (crd.spec.versions[0]?.additionalPrinterColumns ?? []).map((c) => c.name);
}

/**
 * Writes the next version of the chart (99.0.0) under `dir`: its McpPolicy CRD has one more printer
 * column, so an upgrade that updates the CRD shows. Returns the chart's directory.
 */
export function writeUpgradedChart(dir: string): string {
  const chart = path.join(dir, 'chart-next');
  fs.cpSync(CHART, chart, { recursive: true });
  const crdFile = path.join(chart, 'files/crds/kubemcp.io_mcppolicies.yaml');
  const crd = fs.readFileSync(crdFile, 'utf8');
  const next = crd.replace(
    '      additionalPrinterColumns:\n',
    `      additionalPrinterColumns:\n        - name: ${UPGRADE_COLUMN}\n          type: string\n          jsonPath: .metadata.uid\n`,
  );
  if (next === crd) throw new Error(`${crdFile} has no additionalPrinterColumns to add to`);
  fs.writeFileSync(crdFile, next);
  const chartYaml = path.join(chart, 'Chart.yaml');
  fs.writeFileSync(
    chartYaml,
    fs.readFileSync(chartYaml, 'utf8').replace(/^version: .*$/m, 'version: 99.0.0'),
  );
  return chart;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** Parses a multi-document manifest stream; empty documents (a template that rendered nothing) are skipped. */
export function parseManifests(text: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`unparsable manifest: ${doc.errors[0]?.message}`);
    const obj = doc.toJS() as K8sObject | null;
    if (obj !== null) out.push(obj);
  }
  return out;
}

export function objectKey(o: K8sObject): string {
  const ns = o.metadata.namespace ? `${o.metadata.namespace}/` : '';
  return `${o.kind} ${ns}${o.metadata.name} (${o.apiVersion})`;
}

export function find(objs: readonly K8sObject[], kind: string, name: string): K8sObject | undefined {
  return objs.find((o) => o.kind === kind && o.metadata.name === name);
}

/** Labels the chart puts on every object's metadata, and their values for a release. */
export function helmLabels(chart: { version: string; appVersion: string }): Record<string, string> {
  return {
    'helm.sh/chart': `kubemcp-${chart.version}`,
    'app.kubernetes.io/managed-by': 'Helm',
    'app.kubernetes.io/instance': RELEASE,
    'app.kubernetes.io/version': chart.appVersion,
  };
}

/** What the chart adds to the CRD's annotations with `crd.keep` (the default). */
export const HELM_CRD_ANNOTATIONS: Readonly<Record<string, string>> = { 'helm.sh/resource-policy': 'keep' };

/**
 * A chart object without what Helm adds on purpose: the labels of {@link helmLabels} (each must be
 * present with its value) and, on the CRD, {@link HELM_CRD_ANNOTATIONS}. Returns the problems found
 * instead of throwing, so a test can report them all.
 */
export function normalise(
  o: K8sObject,
  labels: Readonly<Record<string, string>>,
): { object: K8sObject; problems: string[] } {
  const object = structuredClone(o);
  const problems: string[] = [];
  const strip = (field: 'labels' | 'annotations', expected: Readonly<Record<string, string>>) => {
    const map = object.metadata[field] ?? {};
    for (const [k, v] of Object.entries(expected)) {
      if (map[k] !== v)
        problems.push(`${objectKey(o)}: metadata.${field}.${k} is ${JSON.stringify(map[k])}, not "${v}"`);
      delete map[k];
    }
    if (Object.keys(map).length === 0) delete object.metadata[field];
    else object.metadata[field] = map;
  };
  strip('labels', labels);
  if (o.kind === 'CustomResourceDefinition') strip('annotations', HELM_CRD_ANNOTATIONS);
  return { object, problems };
}

/** Field-by-field differences of two values, as `path: left … right` lines. */
export function diffValues(left: unknown, right: unknown, path = ''): string[] {
  if (isDeepStrictEqual(left, right)) return [];
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object';
  if (isObj(left) && isObj(right) && Array.isArray(left) === Array.isArray(right)) {
    const keys = [...new Set([...Object.keys(left), ...Object.keys(right)])];
    return keys.flatMap((k) =>
      diffValues(left[k], right[k], Array.isArray(left) ? `${path}[${k}]` : path ? `${path}.${k}` : k),
    );
  }
  return [`${path || '(root)'}: ${JSON.stringify(left)} ≠ ${JSON.stringify(right)}`];
}

/**
 * Differences between two sets of objects (by default the kustomize objects and the normalised chart
 * objects): objects only one side has, and every field that differs, each as one line naming the object.
 */
export function compareObjects(
  left: readonly K8sObject[],
  right: readonly K8sObject[],
  names: readonly [string, string] = ['kustomize', 'the chart'],
): string[] {
  const byKey = (objs: readonly K8sObject[]) => new Map(objs.map((o) => [objectKey(o), o]));
  const l = byKey(left);
  const r = byKey(right);
  const out: string[] = [];
  for (const key of l.keys()) if (!r.has(key)) out.push(`${key}: only in ${names[0]}`);
  for (const key of r.keys()) if (!l.has(key)) out.push(`${key}: only in ${names[1]}`);
  for (const [key, lo] of l) {
    const ro = r.get(key);
    if (ro) out.push(...diffValues(lo, ro).map((d) => `${key}: ${d} (${names[0]} ≠ ${names[1]})`));
  }
  return out;
}
