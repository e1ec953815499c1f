/**
 * `npm run chart:readme`: writes the values table of charts/kubemcp/README.md from the comments of
 * charts/kubemcp/values.yaml. A comment whose last paragraph starts with `-- ` documents the value
 * below it (helm-docs' convention); test/unit/charts fails when the table is stale or a value is
 * undocumented.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isScalar, isSeq, type Node, parseDocument, type YAMLMap } from 'yaml';

export const CHART_DIR = 'charts/kubemcp';
export const VALUES_FILE = `${CHART_DIR}/values.yaml`;
export const README_FILE = `${CHART_DIR}/README.md`;
export const BEGIN_MARKER = '<!-- BEGIN GENERATED: values (npm run chart:readme) -->';
export const END_MARKER = '<!-- END GENERATED: values -->';

export interface DocumentedValue {
  /** Dotted path, e.g. `image.tag`. */
  readonly key: string;
  /** The default, as JSON. */
  readonly default: string;
  readonly description: string;
}

export interface ValuesDoc {
  readonly documented: readonly DocumentedValue[];
  /** Leaf values (scalars, lists, empty maps) documented neither themselves nor by a parent. */
  readonly undocumented: readonly string[];
}

/** The `-- ` paragraph of a comment (the last one, so a file header above it is ignored). */
function docOf(comment: string | null | undefined): string | undefined {
  if (!comment) return undefined;
  const lines = comment.split('\n').map((l) => l.trim());
  const start = lines.findLastIndex((l) => l.startsWith('-- '));
  if (start < 0) return undefined;
  const para: string[] = [];
  for (const l of lines.slice(start)) {
    if (l === '') break;
    para.push(l);
  }
  return para.join(' ').replace(/^-- /, '');
}

function joinKey(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`;
}

function isLeaf(node: Node | null): boolean {
  if (isMap(node)) return node.items.length === 0;
  return isScalar(node) || isSeq(node) || node === null;
}

/** Reads values.yaml's documented values, in file order, and the leaves no comment covers. */
export function readValuesDoc(text: string): ValuesDoc {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new Error(`${VALUES_FILE}: ${doc.errors[0]?.message}`);
  const documented: DocumentedValue[] = [];
  const undocumented: string[] = [];
  const walk = (map: YAMLMap, prefix: string, covered: boolean): void => {
    map.items.forEach((pair, i) => {
      const key = joinKey(prefix, String(isScalar(pair.key) ? pair.key.value : pair.key));
      const value = (pair.value ?? null) as Node | null;
      // The first key's comment belongs to its map (yaml attaches it there).
      const comment =
        (isScalar(pair.key) ? pair.key.commentBefore : undefined) ??
        (i === 0 ? map.commentBefore : undefined);
      const description = docOf(comment);
      if (description !== undefined) {
        const js = value === null ? null : value.toJSON();
        documented.push({ key, default: JSON.stringify(js), description });
      }
      const isCovered = covered || description !== undefined;
      if (isMap(value) && value.items.length > 0) walk(value, key, isCovered);
      else if (isLeaf(value) && !isCovered) undocumented.push(key);
    });
  };
  if (!isMap(doc.contents)) throw new Error(`${VALUES_FILE} is not a map`);
  walk(doc.contents, '', false);
  return { documented, undocumented };
}

function cell(s: string): string {
  return s.replaceAll('|', '\\|');
}

/** The Markdown table of the documented values. */
export function renderValuesTable(values: ValuesDoc): string {
  const rows = values.documented.map(
    (v) => `| \`${cell(v.key)}\` | \`${cell(v.default)}\` | ${cell(v.description)} |`,
  );
  return ['| Key | Default | Description |', '| --- | --- | --- |', ...rows, ''].join('\n');
}

/** README text with its generated section replaced by the table of `valuesText`. */
export function replaceValuesSection(readme: string, valuesText: string): string {
  const begin = readme.indexOf(BEGIN_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (begin < 0 || end < begin)
    throw new Error(`${README_FILE} needs the markers ${BEGIN_MARKER} and ${END_MARKER}`);
  const table = renderValuesTable(readValuesDoc(valuesText));
  return `${readme.slice(0, begin + BEGIN_MARKER.length)}\n${table}${readme.slice(end)}`;
}

function main(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const values = fs.readFileSync(path.join(root, VALUES_FILE), 'utf8');
  const { undocumented } = readValuesDoc(values);
  if (undocumented.length > 0) {
    throw new Error(`${VALUES_FILE}: no "# --" comment documents ${undocumented.join(', ')}`);
  }
  const file = path.join(root, README_FILE);
  const readme = fs.readFileSync(file, 'utf8');
  const updated = replaceValuesSection(readme, values);
  if (updated !== readme) fs.writeFileSync(file, updated);
  console.log(`${updated === readme ? 'unchanged' : 'updated'} ${README_FILE}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
