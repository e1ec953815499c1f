/**
 * Multi-document YAML with positions: each document's plain value, the line it starts on, and the
 * line of any field path inside it (so that a problem found in `spec.subjects[0].namespace` points
 * at the line that holds it).
 */

import { isScalar, LineCounter, parseAllDocuments } from 'yaml';
import { fastYamlDocs, lineIn } from './fast-yaml.js';
import { FileProblemError } from './problems.js';

/** A document with nothing in it but comments (`---` twice, a trailing `---`). */
export function isEmpty(contents: unknown): boolean {
  if (contents === null) return true;
  if (!isScalar(contents)) return false;
  const range = contents.range;
  return contents.source === '' && range !== undefined && range !== null && range[0] === range[1];
}

export type FieldPath = readonly (string | number)[];

export interface YamlDoc {
  readonly file: string;
  /** Line of the document's first content. */
  readonly line: number;
  readonly value: unknown;
  /** Line of the deepest node of `path` that exists in the document (the document's line when none). */
  lineOf(path: FieldPath): number;
}

/**
 * Parses every document of a file; an empty document is skipped. Throws FileProblemError on bad YAML.
 * The plain subset most files are written in is read by fast-yaml.ts; the rest by the `yaml` parser.
 */
export function readYamlDocs(file: string, text: string): YamlDoc[] {
  const fast = fastYamlDocs(text);
  if (fast !== undefined) {
    return fast.map((d) => ({ file, line: d.line, value: d.value, lineOf: (path) => lineIn(d.lines, path) }));
  }
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const out: YamlDoc[] = [];
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error !== undefined) {
      const line = lines.linePos(error.pos[0]).line;
      throw new FileProblemError({ file, line, message: `not valid YAML: ${error.message.split('\n')[0]}` });
    }
    const contents = doc.contents;
    if (contents === null || isEmpty(contents)) continue;
    const start = lines.linePos(contents.range[0]).line;
    out.push({
      file,
      line: start,
      value: doc.toJS({ maxAliasCount: 100 }),
      lineOf(path: FieldPath): number {
        for (let n = path.length; n > 0; n--) {
          const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
          if (node && typeof node === 'object' && node.range) return lines.linePos(node.range[0]).line;
        }
        return start;
      },
    });
  }
  return out;
}

/**
 * `spec.subjects[0].namespace: …` → ['spec', 'subjects', 0, 'namespace']; [] when the text has no
 * path. For `spec: unknown field "verbs"` the path goes on to the unknown field itself.
 */
export function leadingPath(message: string): FieldPath {
  const m = /^([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*|\[\d+\]|\["[^"]*"\])*): (?:unknown fields? "([^"]+)")?/.exec(
    message,
  );
  if (!m?.[1]) return [];
  const path: (string | number)[] = [];
  for (const part of m[1].matchAll(/([A-Za-z_]\w*)|\[(\d+)\]|\["([^"]*)"\]/g)) {
    if (part[1] !== undefined) path.push(part[1]);
    else if (part[2] !== undefined) path.push(Number(part[2]));
    else if (part[3] !== undefined) path.push(part[3]);
  }
  if (m[2] !== undefined) path.push(m[2]);
  return path;
}
