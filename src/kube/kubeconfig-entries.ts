/**
 * Reading kubeconfig files as kubectl reads them: the clusters, users and contexts of each file,
 * merged first-wins, each entry remembering its file's directory; and the inline-or-file material
 * (certificates, keys) an entry points to.
 */

import fs from 'node:fs';
import path from 'node:path';
import { yaml } from '../util/yaml.js';

export type Loose = Record<string, unknown>;

export function isObject(v: unknown): v is Loose {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export interface Named {
  readonly name: string;
  readonly value: Loose;
  /** The directory of the file it came from (relative paths resolve against it). */
  readonly dir: string;
}

export interface MergedConfig {
  readonly clusters: Map<string, Named>;
  readonly users: Map<string, Named>;
  readonly contexts: Map<string, Named>;
  currentContext: string | undefined;
  readonly files: string[];
}

export function readConfigFile(file: string, merged: MergedConfig): void {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read kubeconfig ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let doc: unknown;
  try {
    doc = yaml().parse(text);
  } catch (err) {
    throw new Error(`kubeconfig ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return; // an empty file contributes nothing
  if (!isObject(doc)) throw new Error(`kubeconfig ${file} is not a Config object`);
  const dir = path.dirname(path.resolve(file));
  const take = (list: unknown, field: string, into: Map<string, Named>): void => {
    if (list === undefined || list === null) return;
    if (!Array.isArray(list)) throw new Error(`kubeconfig ${file}: ${field}s must be a list`);
    const seen = new Set<string>();
    for (const entry of list) {
      const name = isObject(entry) ? str(entry.name) : undefined;
      if (name === undefined) throw new Error(`kubeconfig ${file}: a ${field} has no name`);
      // kubectl refuses a file that defines a name twice.
      if (seen.has(name)) throw new Error(`kubeconfig ${file}: the ${field} ${name} is defined twice`);
      seen.add(name);
      const value = entry[field];
      // kubectl's merge: the first file to define a name wins.
      if (!into.has(name)) into.set(name, { name, value: isObject(value) ? value : {}, dir });
    }
  };
  take(doc.clusters, 'cluster', merged.clusters);
  take(doc.users, 'user', merged.users);
  take(doc.contexts, 'context', merged.contexts);
  merged.currentContext ??= str(doc['current-context']);
  merged.files.push(file);
}

/** Inline base64 data, else the file (relative to the kubeconfig), else undefined. */
export function material(
  entry: Named,
  dataField: string,
  fileField: string,
  source: string,
): string | undefined {
  const data = str(entry.value[dataField]);
  const file = str(entry.value[fileField]);
  if (data !== undefined && file !== undefined) {
    // kubectl refuses both (its validation and `config view --flatten` fail).
    throw new Error(`kubeconfig ${source}: ${entry.name} sets both ${dataField} and ${fileField}; keep one`);
  }
  if (data !== undefined) return Buffer.from(data, 'base64').toString('utf8');
  if (file === undefined) return undefined;
  const full = path.resolve(entry.dir, file);
  try {
    return fs.readFileSync(full, 'utf8');
  } catch (err) {
    throw new Error(
      `cannot read ${fileField} ${full}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
}
