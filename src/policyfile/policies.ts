/**
 * McpPolicies (and Namespaces, for selectors) from files, validated as the API server and the
 * controller validate them, and compiled by the same `compile` the server runs. Every rejection comes
 * back as a problem with the file and line of the field it is about, and the message the controller
 * writes to the policy's Ready condition (the CRD's CEL rules carry the same messages).
 */

import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { API_VERSION, KIND } from '../api/v1alpha1/constants.js';
import { DNS_SUBDOMAIN } from '../api/v1alpha1/kinds.js';
import { compile, type PolicyIndex } from '../policy/index.js';
import type { NamespaceInfo, PolicyWarning } from '../policy/types.js';
import { expandPaths } from './files.js';
import { type FileProblem, FileProblemError } from './problems.js';
import { leadingPath, readYamlDocs, type YamlDoc } from './yaml.js';

/** One McpPolicy document. */
export interface PolicyDoc {
  readonly name: string;
  readonly spec: unknown;
  readonly file: string;
  readonly line: number;
  readonly doc?: YamlDoc;
}

export interface PolicySet {
  readonly policies: readonly PolicyDoc[];
  readonly namespaces: readonly NamespaceInfo[];
}

export interface LoadedPolicies extends PolicySet {
  readonly problems: readonly FileProblem[];
}

/** The name of a test manifest, which directory walks of policy files leave out. */
export const TEST_FILE_NAME = 'kubemcp-test.yaml';

const TOP_LEVEL = new Set(['apiVersion', 'kind', 'metadata', 'spec', 'status']);

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** Checks the API server makes before the CRD's schema: apiVersion, metadata.name, known fields. */
function policyDoc(doc: YamlDoc, shown: string, problems: FileProblem[]): PolicyDoc | undefined {
  const obj = record(doc.value) ?? {};
  const at = (path: (string | number)[], message: string): void => {
    problems.push({ file: shown, line: doc.lineOf(path), message });
  };
  const before = problems.length;
  if (obj.apiVersion !== API_VERSION)
    at(
      ['apiVersion'],
      `apiVersion must be ${API_VERSION} for kind ${KIND}, not ${JSON.stringify(obj.apiVersion)}`,
    );
  const name = record(obj.metadata)?.name;
  if (typeof name !== 'string' || name === '') at(['metadata'], 'metadata.name is required');
  else if (name.length > 253 || !DNS_SUBDOMAIN.test(name))
    at(
      ['metadata', 'name'],
      `metadata.name: ${JSON.stringify(name)} is not a valid name: a DNS subdomain of at most 253 lowercase letters, digits, '-' and '.'`,
    );
  for (const key of Object.keys(obj))
    if (!TOP_LEVEL.has(key)) at([key], `unknown field ${JSON.stringify(key)}`);
  if (problems.length > before || typeof name !== 'string') return undefined;
  return { name, spec: obj.spec, file: shown, line: doc.line, doc };
}

function namespaceDoc(doc: YamlDoc, shown: string, problems: FileProblem[]): NamespaceInfo | undefined {
  const meta = record(record(doc.value)?.metadata);
  const name = meta?.name;
  if (typeof name !== 'string' || name === '') {
    problems.push({
      file: shown,
      line: doc.lineOf(['metadata']),
      message: 'Namespace: metadata.name is required',
    });
    return undefined;
  }
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(record(meta?.labels) ?? {})) labels[k] = String(v);
  return { name, labels };
}

/** Sorts the documents of one file into policies and namespaces; other kinds are left alone. */
export function collectDocs(
  docs: readonly YamlDoc[],
  shown: string,
  into: { policies: PolicyDoc[]; namespaces: NamespaceInfo[]; problems: FileProblem[] },
): void {
  for (const doc of docs) {
    const kind = record(doc.value)?.kind;
    if (kind === KIND) {
      const p = policyDoc(doc, shown, into.problems);
      if (p) into.policies.push(p);
    } else if (kind === 'Namespace') {
      const ns = namespaceDoc(doc, shown, into.problems);
      if (ns) into.namespaces.push(ns);
    }
  }
}

/** Reads the McpPolicies and Namespaces of files, directories and globs (test manifests left out). */
export function loadPolicyFiles(paths: readonly string[], base: string, cwd = process.cwd()): LoadedPolicies {
  const into = {
    policies: [] as PolicyDoc[],
    namespaces: [] as NamespaceInfo[],
    problems: [] as FileProblem[],
  };
  const { files, missing } = expandPaths(paths, base);
  for (const m of missing) into.problems.push({ file: m.path, line: 0, message: m.message });
  for (const file of files) {
    if (file.endsWith(`/${TEST_FILE_NAME}`) && !paths.some((p) => p.endsWith(TEST_FILE_NAME))) continue;
    const shown = relative(cwd, file) || file;
    try {
      collectDocs(readYamlDocs(shown, readFileSync(file, 'utf8')), shown, into);
    } catch (err) {
      if (err instanceof FileProblemError) into.problems.push(err.problem);
      else
        into.problems.push({
          file: shown,
          line: 0,
          message: err instanceof Error ? err.message : String(err),
        });
    }
  }
  return into;
}

/** A policy's warnings, with where it was written. */
export interface LocatedWarning {
  readonly policy: string;
  readonly file: string;
  readonly line: number;
  readonly warning: PolicyWarning;
}

export interface CompiledSet {
  readonly index: PolicyIndex;
  /** Invalid policies (the controller's message, at the line of the field) and duplicate names. */
  readonly problems: readonly FileProblem[];
  readonly warnings: readonly LocatedWarning[];
}

/**
 * Compiles a set exactly as the controller does (the same `compile`), then turns every policy the
 * controller would mark Invalid into a problem at its file and line. A name given twice is a problem
 * too (in a cluster the second `kubectl apply` replaces the first); the first one is kept.
 */
export function compileSet(set: PolicySet, operatorNamespace?: string): CompiledSet {
  const problems: FileProblem[] = [];
  const byName = new Map<string, PolicyDoc>();
  for (const p of set.policies) {
    const first = byName.get(p.name);
    if (first) {
      problems.push({
        file: p.file,
        line: p.line,
        message: `McpPolicy ${p.name} is also defined at ${first.file}:${first.line}`,
      });
    } else byName.set(p.name, p);
  }
  const namespaces = new Map<string, NamespaceInfo>();
  for (const ns of set.namespaces) if (!namespaces.has(ns.name)) namespaces.set(ns.name, ns);
  const index = compile({
    policies: [...byName.values()].map((p) => ({ name: p.name, spec: p.spec })),
    namespaces: [...namespaces.values()],
    ...(operatorNamespace === undefined ? {} : { operatorNamespace }),
  });
  const warnings: LocatedWarning[] = [];
  for (const p of byName.values()) {
    const state = index.states.get(p.name);
    if (!state) continue;
    if (!state.ready) {
      const line = p.doc ? p.doc.lineOf(leadingPath(state.message)) : p.line;
      problems.push({ file: p.file, line, message: `McpPolicy ${p.name} is invalid: ${state.message}` });
    }
    for (const warning of state.warnings ?? [])
      warnings.push({ policy: p.name, file: p.file, line: p.line, warning });
  }
  return { index, problems, warnings };
}
