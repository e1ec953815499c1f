/**
 * Multi-document YAML with positions: each document's plain value, the line it starts on, and the
 * line of any field path inside it (so that a problem found in `spec.subjects[0].namespace` points
 * at the line that holds it).
 */

import { LineCounter, parseAllDocuments } from 'yaml';
import { FileProblemError } from './problems.js';

export type FieldPath = readonly (string | number)[];

export interface YamlDoc {
  readonly file: string;
  /** Line of the document's first content. */
  readonly line: number;
  readonly value: unknown;
  /** Line of the deepest node of `path` that exists in the document (the document's line when none). */
  lineOf(path: FieldPath): number;
}

/** Parses every document of a file; an empty document is skipped. Throws FileProblemError on bad YAML. */
export function readYamlDocs(file: string, text: string): YamlDoc[] {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const out: YamlDoc[] = [];
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error !== undefined) {
      const line = lines.linePos(error.pos[0]).line;
      throw new FileProblemError({ file, line, message: `not valid YAML: ${error.message.split('\n')[0]}` });
    }
    if (doc.contents === null) continue;
    const start = lines.linePos(doc.contents.range[0]).line;
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
