/**
 * McpPolicies, McpNamespacePolicies and McpDelegations (and Namespaces, for selectors) from files,
 * validated as the API server and the controller validate them, and compiled by the same `compile`
 * the server runs. Every rejection comes back as a problem with the file and line of the field it is
 * about, and the message the controller writes to the object's Ready condition (the CRD's CEL rules
 * carry the same messages). A valid McpNamespacePolicy that grants nothing (no delegation covers its
 * namespace, or it exceeds the ceiling) is a warning, as its status says it in a cluster.
 */

import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { API_VERSION, DELEGATION_KIND, KIND, NS_KIND } from '../api/v1alpha1/constants.js';
import { DNS_LABEL, DNS_SUBDOMAIN } from '../api/v1alpha1/kinds.js';
import { compile, namespacedPolicyId, type PolicyIndex } from '../policy/index.js';
import type { NamespaceInfo, PolicyState, PolicyWarning } from '../policy/types.js';
import { expandPaths } from './files.js';
import { type FileProblem, FileProblemError } from './problems.js';
import { leadingPath, readYamlDocs, type YamlDoc } from './yaml.js';

/** One McpPolicy, McpNamespacePolicy or McpDelegation document. */
export interface PolicyDoc {
  readonly name: string;
  /** An McpNamespacePolicy's namespace (its metadata.namespace). */
  readonly namespace?: string;
  readonly spec: unknown;
  readonly file: string;
  readonly line: number;
  readonly doc?: YamlDoc;
}

export interface PolicySet {
  readonly policies: readonly PolicyDoc[];
  /** McpNamespacePolicies; omitted: none. */
  readonly namespacePolicies?: readonly PolicyDoc[];
  /** McpDelegations; omitted: none (no McpNamespacePolicy grants anything). */
  readonly delegations?: readonly PolicyDoc[];
  readonly namespaces: readonly NamespaceInfo[];
}

/** The id of a document in the index: `namespace/name` for an McpNamespacePolicy, else its name. */
export function docId(doc: Pick<PolicyDoc, 'name' | 'namespace'>): string {
  return doc.namespace === undefined ? doc.name : namespacedPolicyId(doc.namespace, doc.name);
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

type PolicyKind = typeof KIND | typeof NS_KIND | typeof DELEGATION_KIND;

/** metadata.namespace of an McpNamespacePolicy: required in a file (no kubectl context to default it). */
function namespaceOf(obj: Record<string, unknown>, at: (path: string[], message: string) => void) {
  const namespace = record(obj.metadata)?.namespace;
  if (typeof namespace !== 'string' || namespace === '') {
    at(['metadata'], `metadata.namespace is required for kind ${NS_KIND}`);
    return undefined;
  }
  if (namespace.length > 63 || !DNS_LABEL.test(namespace)) {
    at(
      ['metadata', 'namespace'],
      `metadata.namespace: ${JSON.stringify(namespace)} is not a valid namespace name: a DNS label of at most 63 lowercase letters, digits and '-'`,
    );
    return undefined;
  }
  return namespace;
}

/** Checks the API server makes before the CRD's schema: apiVersion, metadata.name (and namespace), known fields. */
function policyDoc(
  doc: YamlDoc,
  shown: string,
  problems: FileProblem[],
  kind: PolicyKind,
): PolicyDoc | undefined {
  const obj = record(doc.value) ?? {};
  const at = (path: (string | number)[], message: string): void => {
    problems.push({ file: shown, line: doc.lineOf(path), message });
  };
  const before = problems.length;
  if (obj.apiVersion !== API_VERSION)
    at(
      ['apiVersion'],
      `apiVersion must be ${API_VERSION} for kind ${kind}, not ${JSON.stringify(obj.apiVersion)}`,
    );
  const namespace = kind === NS_KIND ? namespaceOf(obj, at) : undefined;
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
  return {
    name,
    ...(namespace === undefined ? {} : { namespace }),
    spec: obj.spec,
    file: shown,
    line: doc.line,
    doc,
  };
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

interface Collected {
  policies: PolicyDoc[];
  namespacePolicies: PolicyDoc[];
  delegations: PolicyDoc[];
  namespaces: NamespaceInfo[];
  problems: FileProblem[];
}

/** Sorts the documents of one file into the three policy kinds and namespaces; other kinds are left alone. */
export function collectDocs(docs: readonly YamlDoc[], shown: string, into: Collected): void {
  for (const doc of docs) {
    const kind = record(doc.value)?.kind;
    const list =
      kind === KIND
        ? into.policies
        : kind === NS_KIND
          ? into.namespacePolicies
          : kind === DELEGATION_KIND
            ? into.delegations
            : undefined;
    if (list !== undefined) {
      const p = policyDoc(doc, shown, into.problems, kind as PolicyKind);
      if (p) list.push(p);
    } else if (kind === 'Namespace') {
      const ns = namespaceDoc(doc, shown, into.problems);
      if (ns) into.namespaces.push(ns);
    }
  }
}

/** Reads the policies of the three kinds and the Namespaces of files, directories and globs (test manifests left out). */
export function loadPolicyFiles(
  paths: readonly string[],
  base: string,
  cwd = process.cwd(),
): LoadedPolicies & Required<PolicySet> {
  const into: Collected = {
    policies: [],
    namespacePolicies: [],
    delegations: [],
    namespaces: [],
    problems: [],
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

/** A policy's warnings, with where it was written; `policy` is its id (`namespace/name` when namespaced). */
export interface LocatedWarning {
  readonly policy: string;
  readonly file: string;
  readonly line: number;
  readonly warning:
    | PolicyWarning
    | { readonly code: 'NotDelegated' | 'ExceedsCeiling'; readonly message: string };
}

export interface CompiledSet {
  readonly index: PolicyIndex;
  /** Invalid policies (the controller's message, at the line of the field) and duplicate names. */
  readonly problems: readonly FileProblem[];
  readonly warnings: readonly LocatedWarning[];
}

/** The documents by id, the first of each; a later one with the same id is a problem. */
function firstById(
  docs: readonly PolicyDoc[],
  kind: PolicyKind,
  problems: FileProblem[],
): Map<string, PolicyDoc> {
  const byId = new Map<string, PolicyDoc>();
  for (const p of docs) {
    const id = docId(p);
    const first = byId.get(id);
    if (first) {
      problems.push({
        file: p.file,
        line: p.line,
        message: `${kind} ${id} is also defined at ${first.file}:${first.line}`,
      });
    } else byId.set(id, p);
  }
  return byId;
}

/** Problems and warnings of one kind's compiled states. */
function judge(
  docs: Map<string, PolicyDoc>,
  states: ReadonlyMap<string, PolicyState>,
  kind: PolicyKind,
  out: { problems: FileProblem[]; warnings: LocatedWarning[] },
): void {
  for (const [id, p] of docs) {
    const state = states.get(id);
    if (!state) continue;
    if (state.reason === 'Invalid') {
      const line = p.doc ? p.doc.lineOf(leadingPath(state.message)) : p.line;
      out.problems.push({ file: p.file, line, message: `${kind} ${id} is invalid: ${state.message}` });
    } else if (state.reason === 'NotDelegated' || state.reason === 'ExceedsCeiling') {
      out.warnings.push({
        policy: id,
        file: p.file,
        line: p.line,
        warning: { code: state.reason, message: state.message },
      });
    }
    for (const warning of state.warnings ?? [])
      out.warnings.push({ policy: id, file: p.file, line: p.line, warning });
  }
}

/**
 * Compiles a set exactly as the controller does (the same `compile`), then turns every object the
 * controller would mark Invalid into a problem at its file and line. An id given twice is a problem
 * too (in a cluster the second `kubectl apply` replaces the first); the first one is kept.
 */
export function compileSet(set: PolicySet, operatorNamespace?: string): CompiledSet {
  const problems: FileProblem[] = [];
  const policies = firstById(set.policies, KIND, problems);
  const namespaced = firstById(set.namespacePolicies ?? [], NS_KIND, problems);
  const delegations = firstById(set.delegations ?? [], DELEGATION_KIND, problems);
  const namespaces = new Map<string, NamespaceInfo>();
  for (const ns of set.namespaces) if (!namespaces.has(ns.name)) namespaces.set(ns.name, ns);
  const index = compile({
    policies: [...policies.values()].map((p) => ({ name: p.name, spec: p.spec })),
    namespacePolicies: [...namespaced.values()].map((p) => ({
      namespace: p.namespace ?? '',
      name: p.name,
      spec: p.spec,
    })),
    delegations: [...delegations.values()].map((p) => ({ name: p.name, spec: p.spec })),
    namespaces: [...namespaces.values()],
    ...(operatorNamespace === undefined ? {} : { operatorNamespace }),
  });
  const out = { problems, warnings: [] as LocatedWarning[] };
  judge(policies, index.states, KIND, out);
  judge(namespaced, index.states, NS_KIND, out);
  judge(delegations, index.delegations, DELEGATION_KIND, out);
  return { index, problems, warnings: out.warnings };
}
