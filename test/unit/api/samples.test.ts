import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import {
  BEGIN_MARKER,
  END_MARKER,
  fieldRows,
  McpDelegationSchema,
  McpNamespacePolicySchema,
  McpPolicySchema,
  REFERENCE_FILE,
  renderFieldTable,
  replaceGeneratedSection,
  specSchema,
} from '../../../src/api/v1alpha1/index.js';
import { compile, KNOWN_TOOLS } from '../../../src/policy/index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const samplesDir = `${root}config/samples/`;
const sampleFiles = (await readdir(samplesDir))
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .sort();

async function loadSample(file: string): Promise<unknown[]> {
  const docs = parseAllDocuments(await readFile(`${samplesDir}${file}`, 'utf8'));
  return docs.map((d) => d.toJS());
}

/** A sample's kind picks the schema the API server validates it with (the CRDs are generated from them). */
const SCHEMAS = {
  McpPolicy: McpPolicySchema,
  McpNamespacePolicy: McpNamespacePolicySchema,
  McpDelegation: McpDelegationSchema,
} as const;

async function allSamples(): Promise<{ file: string; object: { kind?: string } }[]> {
  const out: { file: string; object: { kind?: string } }[] = [];
  for (const file of sampleFiles)
    for (const object of await loadSample(file)) out.push({ file, object: object as { kind?: string } });
  return out;
}

describe('config/samples', () => {
  it('has the three kinds of McpPolicy sample the issue asks for, a delegation and a namespaced policy', async () => {
    const kinds = (await allSamples()).map((s) => s.object.kind);
    expect(kinds.filter((k) => k === 'McpPolicy').length).toBeGreaterThanOrEqual(3);
    expect(kinds).toContain('McpDelegation');
    expect(kinds).toContain('McpNamespacePolicy');
  });

  it.each(sampleFiles)('%s is valid against the schema of its kind', async (file) => {
    const objects = await loadSample(file);
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects) {
      const kind = (object as { kind?: string }).kind as keyof typeof SCHEMAS;
      expect(Object.keys(SCHEMAS)).toContain(kind);
      const parsed = SCHEMAS[kind].safeParse(object);
      expect(parsed.error?.issues ?? []).toEqual([]);
    }
  });

  it('compile Ready together, the namespaced policy within the delegation once its namespace is labelled', async () => {
    const samples = await allSamples();
    const of = (kind: string) =>
      samples
        .filter((s) => s.object.kind === kind)
        .map((s) => s.object as { metadata: { name: string; namespace?: string }; spec: unknown });
    const namespacePolicies = of('McpNamespacePolicy').map((o) => ({
      namespace: o.metadata.namespace ?? '',
      name: o.metadata.name,
      spec: o.spec,
    }));
    const input = {
      policies: of('McpPolicy').map((o) => ({ name: o.metadata.name, spec: o.spec })),
      delegations: of('McpDelegation').map((o) => ({ name: o.metadata.name, spec: o.spec })),
      namespacePolicies,
    };
    const labelled = compile({
      ...input,
      namespaces: [{ name: 'default', labels: { 'kubemcp.io/delegated': 'true' } }],
    });
    for (const [id, state] of [...labelled.states, ...labelled.delegations]) {
      expect(state.message, id).toBeTruthy();
      expect(state.ready, `${id}: ${state.message}`).toBe(true);
    }
    expect(labelled.states.size).toBe(samples.length - input.delegations.length);
    // Until a delegation covers its namespace, the namespaced sample grants nothing, and says so.
    const unlabelled = compile({ ...input, namespaces: [{ name: 'default', labels: {} }] });
    for (const p of namespacePolicies)
      expect(unlabelled.states.get(`${p.namespace}/${p.name}`)?.reason).toBe('NotDelegated');
  });

  it('kustomization.yaml lists every sample', async () => {
    const kustomization = parse(await readFile(`${samplesDir}kustomization.yaml`, 'utf8')) as {
      resources: string[];
    };
    expect([...kustomization.resources].sort()).toEqual(sampleFiles);
  });

  it('cover a selector, bounds in one namespace, and a group', async () => {
    const specs = (await allSamples())
      .filter((s) => s.object.kind === 'McpPolicy')
      .map((s) => McpPolicySchema.parse(s.object).spec);
    expect(specs.some((s) => s.namespaces.selector && !s.replicas)).toBe(true);
    expect(specs.some((s) => s.replicas && s.namespaces.names?.length === 1)).toBe(true);
    expect(specs.some((s) => s.subjects.some((x) => x.kind === 'Group'))).toBe(true);
  });
});

describe(REFERENCE_FILE, async () => {
  const doc = await readFile(`${root}${REFERENCE_FILE}`, 'utf8');

  it('mentions every spec field by its path', () => {
    const paths = fieldRows(specSchema(), 'spec').map((r) => r.path);
    expect(paths).toContain('spec.namespaces.selector.matchExpressions[].operator');
    const missing = paths.filter((p) => !doc.includes(`\`${p}\``));
    expect(missing).toEqual([]);
  });

  it('has the field table npm run manifests generates (run it after changing the schema)', () => {
    expect(doc).toContain(BEGIN_MARKER);
    expect(doc).toContain(END_MARKER);
    expect(replaceGeneratedSection(doc)).toBe(doc);
    expect(doc).toContain(renderFieldTable());
  });

  it('names every known tool', () => {
    for (const tool of KNOWN_TOOLS) expect(doc).toContain(`\`${tool}\``);
  });

  it('fails loudly when the markers are missing', () => {
    expect(() => replaceGeneratedSection('# no markers')).toThrow(/markers/);
  });
});
