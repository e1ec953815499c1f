import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import {
  BEGIN_MARKER,
  END_MARKER,
  fieldRows,
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

describe('config/samples', () => {
  it('has the three kinds of sample the issue asks for', () => {
    expect(sampleFiles.length).toBeGreaterThanOrEqual(3);
  });

  it.each(sampleFiles)('%s is a valid McpPolicy that compiles Ready', async (file) => {
    const objects = await loadSample(file);
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects) {
      const parsed = McpPolicySchema.safeParse(object);
      expect(parsed.error?.issues ?? []).toEqual([]);
      if (!parsed.success) continue;
      const { metadata, spec } = parsed.data;
      const index = compile({ policies: [{ name: metadata.name, spec }], namespaces: [] });
      const state = index.states.get(metadata.name);
      expect(state?.message).toBeTruthy();
      expect(state?.ready, state?.message).toBe(true);
    }
  });

  it('kustomization.yaml lists every sample', async () => {
    const kustomization = parse(await readFile(`${samplesDir}kustomization.yaml`, 'utf8')) as {
      resources: string[];
    };
    expect([...kustomization.resources].sort()).toEqual(sampleFiles);
  });

  it('cover a selector, bounds in one namespace, and a group', async () => {
    const specs = (await Promise.all(sampleFiles.map(loadSample)))
      .flat()
      .map((o) => McpPolicySchema.parse(o).spec);
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
