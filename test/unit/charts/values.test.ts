/**
 * The chart's documentation and copies, checked without helm: the README lists every value with
 * its default (generated from values.yaml by `npm run chart:readme`), every value is documented,
 * values.schema.json names exactly the values of values.yaml, the values files under ci/ set only
 * values the chart has, and the chart's copies of the generated CRD
 * and of the sample policies are the files they copy. Rendering is checked with helm itself in
 * test/e2e/helm.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  CHART_DIR,
  README_FILE,
  readValuesDoc,
  renderValuesTable,
  replaceValuesSection,
  VALUES_FILE,
} from '../../../scripts/chart-readme.js';

const valuesText = () => fs.readFileSync(VALUES_FILE, 'utf8');

/** Every dotted path a values tree sets (maps are descended; lists and scalars end a path). */
function paths(obj: unknown, prefix = ''): string[] {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return [prefix];
  const entries = Object.entries(obj as Record<string, unknown>);
  if (entries.length === 0) return [prefix];
  return entries.flatMap(([k, v]) => paths(v, prefix === '' ? k : `${prefix}.${k}`));
}

describe('charts/kubemcp/README.md', () => {
  it('lists every documented value with its default, as npm run chart:readme writes it', () => {
    const readme = fs.readFileSync(README_FILE, 'utf8');
    expect(replaceValuesSection(readme, valuesText()), 'run npm run chart:readme').toBe(readme);
    const documented = readValuesDoc(valuesText()).documented;
    for (const v of documented) expect(readme).toContain(`| \`${v.key}\` | \`${v.default}\` |`);
    // The defaults shown are the values Helm uses.
    const values = parse(valuesText()) as Record<string, unknown>;
    const lookup = (key: string) =>
      key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], values);
    for (const v of documented) expect(JSON.parse(v.default), v.key).toEqual(lookup(v.key));
    expect(documented.map((v) => v.key)).toEqual(
      expect.arrayContaining(['replicas', 'image.tag', 'crd.keep']),
    );
  });

  it('leaves no value undocumented', () => {
    expect(readValuesDoc(valuesText()).undocumented).toEqual([]);
  });

  it('finds an undocumented value, and a value documented by its parent is covered', () => {
    const text = [
      '# file header, not documentation',
      '',
      '# -- Documented.',
      'a: 1',
      'b:',
      '  # -- Documented child.',
      '  c: true',
      '  d: x',
      '# -- A map documented as one value.',
      'e:',
      '  f:',
      '    g: 1',
      'h: {}',
    ].join('\n');
    const doc = readValuesDoc(text);
    expect(doc.documented.map((v) => [v.key, v.default, v.description])).toEqual([
      ['a', '1', 'Documented.'],
      ['b.c', 'true', 'Documented child.'],
      ['e', '{"f":{"g":1}}', 'A map documented as one value.'],
    ]);
    expect(doc.undocumented).toEqual(['b.d', 'h']);
    expect(renderValuesTable(doc)).toContain('| `e` | `{"f":{"g":1}}` | A map documented as one value. |');
  });
});

describe('charts/kubemcp/values.schema.json', () => {
  interface Schema {
    properties?: Record<string, Schema>;
    additionalProperties?: boolean | Schema;
  }
  /** Where values.yaml and the schema disagree on which keys exist, down to the schema's free-form maps. */
  function mismatches(values: Record<string, unknown>, schema: Schema, prefix = ''): string[] {
    const props = schema.properties ?? {};
    const out: string[] = [];
    for (const k of Object.keys(props)) {
      // `global` is Helm's, passed down by a parent chart.
      if (!(k in values) && !(prefix === '' && k === 'global')) out.push(`${prefix}${k}: in the schema only`);
    }
    for (const [k, v] of Object.entries(values)) {
      const p = props[k];
      if (!p) out.push(`${prefix}${k}: in values.yaml only`);
      else if (p.properties && v && typeof v === 'object') {
        out.push(...mismatches(v as Record<string, unknown>, p, `${prefix}${k}.`));
      }
    }
    return out;
  }

  it('names exactly the values of values.yaml, and refuses others', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(CHART_DIR, 'values.schema.json'), 'utf8')) as Schema;
    expect(mismatches(parse(valuesText()), schema)).toEqual([]);
    expect(schema.additionalProperties).toBe(false);
    // The check itself sees a value missing from either side.
    expect(mismatches({ replicas: 2, image: { tag: 'x', extra: 1 } }, schema)).toEqual(
      expect.arrayContaining(['image.extra: in values.yaml only', 'crd: in the schema only']),
    );
  });
});

describe('charts/kubemcp/ci', () => {
  const files = fs.readdirSync(path.join(CHART_DIR, 'ci')).filter((f) => f.endsWith('-values.yaml'));

  it('has values files to render', () => {
    expect(files.length).toBeGreaterThanOrEqual(4);
  });

  it.each(files)('%s sets only values the chart has', (file) => {
    const known = new Set(paths(parse(valuesText())));
    // Below a documented map or list value (resources, nodeSelector, ...) any key is the user's.
    const freeForm = readValuesDoc(valuesText())
      .documented.filter((v) => /^[[{]/.test(v.default))
      .map((v) => v.key);
    const set = paths(parse(fs.readFileSync(path.join(CHART_DIR, 'ci', file), 'utf8')) ?? {});
    const unknown = set.filter(
      (p) => p !== '' && !known.has(p) && !freeForm.some((f) => p === f || p.startsWith(`${f}.`)),
    );
    expect(unknown).toEqual([]);
  });
});

describe('the chart copies', () => {
  it('of the McpPolicy CRD is crds/kubemcp.io_mcppolicies.yaml (cp it after npm run manifests)', () => {
    expect(fs.readFileSync(path.join(CHART_DIR, 'files/crds/kubemcp.io_mcppolicies.yaml'), 'utf8')).toBe(
      fs.readFileSync('crds/kubemcp.io_mcppolicies.yaml', 'utf8'),
    );
  });

  it.each(['kubemcp.io_mcpnamespacepolicies.yaml', 'kubemcp.io_mcpdelegations.yaml'])(
    'of the tenancy CRD %s is the file in crds/, and a template renders it',
    (file) => {
      expect(fs.readFileSync(path.join(CHART_DIR, 'files/crds', file), 'utf8')).toBe(
        fs.readFileSync(path.join('crds', file), 'utf8'),
      );
      const plural = file.slice('kubemcp.io_'.length, -'.yaml'.length);
      const template = fs.readFileSync(
        path.join(CHART_DIR, `templates/crd/${plural}.kubemcp.io.yaml`),
        'utf8',
      );
      expect(template).toContain(`.Files.Get "files/crds/${file}"`);
    },
  );

  it('of the sample McpPolicies are the files of config/samples', () => {
    const kustomization = parse(fs.readFileSync('config/samples/kustomization.yaml', 'utf8')) as {
      resources: string[];
    };
    const copies = fs.readdirSync(path.join(CHART_DIR, 'files/samples')).sort();
    expect(copies).toEqual([...kustomization.resources].sort());
    for (const f of copies) {
      expect(fs.readFileSync(path.join(CHART_DIR, 'files/samples', f), 'utf8'), f).toBe(
        fs.readFileSync(path.join('config/samples', f), 'utf8'),
      );
    }
  });
});
