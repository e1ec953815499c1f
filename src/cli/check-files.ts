/**
 * `kubemcp check -f FILE…`: the policies to decide with (McpPolicies, McpNamespacePolicies and
 * McpDelegations) come from files ("what if this pull request merged?"), or with `--live` from the
 * cluster with the files applied on top (a file's object replaces the live one of the same kind and
 * name, and namespace). Files are validated as `kubemcp test` validates them: an
 * invalid policy in a file is a usage error (exit 2) with its file and line.
 */

import type { McpPolicyObject } from '../controller/index.js';
import type { PolicyIndex } from '../policy/index.js';
import type { NamespaceInfo } from '../policy/types.js';
import { compileSet, docId, loadPolicyFiles, type PolicyDoc } from '../policyfile/policies.js';
import { type FileProblem, formatProblem } from '../policyfile/problems.js';
import { type LiveOptions, livePolicySet } from './live.js';

export interface FileIndexArgs extends LiveOptions {
  readonly files: readonly string[];
  readonly live: boolean;
  readonly operatorNamespace: string;
  readonly cwd?: string;
}

export type FileIndex =
  | { readonly ok: true; readonly index: PolicyIndex; readonly policies: McpPolicyObject[] }
  | { readonly ok: false; readonly problems: readonly string[] };

/** The live documents a file does not replace (same kind and id), then the files'. */
function overlay(live: readonly PolicyDoc[], files: readonly PolicyDoc[]): PolicyDoc[] {
  const fromFiles = new Set(files.map(docId));
  return [...live.filter((p) => !fromFiles.has(docId(p))), ...files];
}

/** Throws when the cluster cannot be read (with --live). */
export async function fileIndex(args: FileIndexArgs): Promise<FileIndex> {
  const cwd = args.cwd ?? process.cwd();
  const loaded = loadPolicyFiles(args.files, cwd, cwd);
  const live = args.live
    ? await livePolicySet(args)
    : { policies: [], namespacePolicies: [], delegations: [], namespaces: [] };
  const fileNamespaces = new Set(loaded.namespaces.map((n) => n.name));
  const namespaces: NamespaceInfo[] = [
    ...live.namespaces.filter((n) => !fileNamespaces.has(n.name)),
    ...loaded.namespaces,
  ];
  const set = {
    policies: overlay(live.policies, loaded.policies),
    namespacePolicies: overlay(live.namespacePolicies, loaded.namespacePolicies),
    delegations: overlay(live.delegations, loaded.delegations),
    namespaces,
  };
  const compiled = compileSet(set, args.operatorNamespace);
  // Live policies the controller finds invalid do not stop a what-if; invalid files do.
  const files = new Set(
    [...loaded.policies, ...loaded.namespacePolicies, ...loaded.delegations].map((p) => p.file),
  );
  const problems: FileProblem[] = [...loaded.problems, ...compiled.problems.filter((p) => files.has(p.file))];
  if (problems.length > 0) return { ok: false, problems: problems.map(formatProblem) };
  const objects = [...set.policies, ...set.namespacePolicies].map(
    (p) =>
      ({
        metadata: { name: p.name, ...(p.namespace === undefined ? {} : { namespace: p.namespace }) },
        spec: p.spec,
      }) as McpPolicyObject,
  );
  return { ok: true, index: compiled.index, policies: objects };
}
