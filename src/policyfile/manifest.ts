/**
 * Finding and reading test manifests: `kubemcp-test.yaml` files under the given directories (or the
 * files named), each document a PolicyTest, checked against its schema with file and line.
 */

import { readFileSync, statSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { formatIssues } from '../api/v1alpha1/issues.js';
import { yamlFilesUnder } from './files.js';
import { TEST_FILE_NAME } from './policies.js';
import { type FileProblem, FileProblemError } from './problems.js';
import { type PolicyTest, PolicyTestSchema } from './test-schema.js';
import { leadingPath, readYamlDocs, type YamlDoc } from './yaml.js';

export interface LoadedManifest {
  /** Absolute path. */
  readonly path: string;
  /** As printed. */
  readonly file: string;
  readonly test: PolicyTest;
  readonly doc: YamlDoc;
}

/** The test manifests under `paths` (directories are searched for kubemcp-test.yaml; files are taken as named). */
export function findManifests(
  paths: readonly string[],
  cwd: string,
): { files: string[]; problems: FileProblem[] } {
  const files = new Set<string>();
  const problems: FileProblem[] = [];
  for (const p of paths) {
    const abs = resolve(cwd, p);
    let isDir: boolean;
    try {
      isDir = statSync(abs).isDirectory();
    } catch {
      problems.push({ file: p, line: 0, message: 'no such file or directory' });
      continue;
    }
    if (!isDir) files.add(abs);
    else for (const f of yamlFilesUnder(abs)) if (f.endsWith(`/${TEST_FILE_NAME}`)) files.add(f);
  }
  return { files: [...files].sort(), problems };
}

/** Reads one manifest file: every document must be a valid PolicyTest. */
export function readManifest(
  path: string,
  cwd: string,
): { manifests: LoadedManifest[]; problems: FileProblem[] } {
  const file = relative(cwd, path) || path;
  const problems: FileProblem[] = [];
  const manifests: LoadedManifest[] = [];
  let docs: YamlDoc[];
  try {
    docs = readYamlDocs(file, readFileSync(path, 'utf8'));
  } catch (err) {
    if (err instanceof FileProblemError) return { manifests, problems: [err.problem] };
    return {
      manifests,
      problems: [{ file, line: 0, message: err instanceof Error ? err.message : String(err) }],
    };
  }
  if (docs.length === 0) problems.push({ file, line: 0, message: 'the file holds no PolicyTest' });
  for (const doc of docs) {
    const parsed = PolicyTestSchema.safeParse(doc.value, { reportInput: true });
    if (parsed.success) {
      manifests.push({ path, file, test: parsed.data, doc });
      continue;
    }
    for (const issue of parsed.error.issues) {
      const message = formatIssues([issue], '');
      problems.push({ file, line: doc.lineOf(leadingPath(message)), message });
    }
  }
  return { manifests, problems };
}
