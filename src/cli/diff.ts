/** `kubemcp diff OLD NEW`: who gains or loses what between two versions of the McpPolicies. */

import { type DiffSide, diffPolicies } from '../policyfile/diff.js';
import { compileSet, loadPolicyFiles } from '../policyfile/policies.js';
import { type FileProblem, formatProblem } from '../policyfile/problems.js';
import { DEFAULT_OPERATOR_NAMESPACE, EXIT_ERROR, EXIT_USAGE } from './check.js';
import { renderDiffJson, renderDiffMarkdown, renderDiffText } from './diff-render.js';
import { firstLine, LIVE_SOURCE, type LiveOptions, livePolicySet } from './live.js';

export const DIFF_HELP = `Usage: kubemcp diff OLD NEW [flags]

Lists what changes for whom between two versions of a set of McpPolicies, McpNamespacePolicies and
McpDelegations: grants added and removed per (subject, tool, namespace scope), replica bounds and
safety limits widened or narrowed, new warnings, with widenings of write access (scale tools)
marked; a namespaced policy is named namespace/name. OLD and NEW are files, directories, globs, or
"live" (the objects in the cluster).

  --output FORMAT    text (default), json or markdown (for a pull-request comment)
  --operator-namespace NS
                     the operator's namespace, for the warnings (default: kubemcp-system)
  --kubeconfig PATH  kubeconfig, for "live" (default: $KUBECONFIG, ~/.kube/config)
  --context NAME     kubeconfig context, for "live"

Exit status: 0 no change, 1 changed, 2 usage error or unreadable files, 3 the cluster could not be read.`;

export interface DiffArgs extends LiveOptions {
  readonly paths: readonly string[];
  readonly output?: string;
  readonly operatorNamespace?: string;
  readonly cwd?: string;
}

interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

async function side(source: string, args: DiffArgs, problems: FileProblem[]): Promise<DiffSide> {
  const ns = args.operatorNamespace ?? DEFAULT_OPERATOR_NAMESPACE;
  const loaded =
    source === LIVE_SOURCE
      ? { ...(await livePolicySet(args)), problems: [] }
      : loadPolicyFiles(source.split(','), args.cwd ?? process.cwd(), args.cwd ?? process.cwd());
  problems.push(...loaded.problems);
  return {
    docs: [...loaded.policies, ...(loaded.namespacePolicies ?? [])],
    compiled: compileSet(loaded, ns),
  };
}

export async function runDiff(args: DiffArgs, io: Io): Promise<number> {
  const [oldSource, newSource] = args.paths;
  if (args.paths.length !== 2 || oldSource === undefined || newSource === undefined) {
    io.err(`kubemcp diff: needs exactly two arguments, OLD and NEW\n\n${DIFF_HELP}`);
    return EXIT_USAGE;
  }
  const output = args.output ?? 'text';
  if (output !== 'text' && output !== 'json' && output !== 'markdown') {
    io.err(`kubemcp diff: --output ${output}: must be text, json or markdown\n\n${DIFF_HELP}`);
    return EXIT_USAGE;
  }
  const problems: FileProblem[] = [];
  let oldSide: DiffSide;
  let newSide: DiffSide;
  try {
    oldSide = await side(oldSource, args, problems);
    newSide = await side(newSource, args, problems);
  } catch (err) {
    io.err(`kubemcp diff: cannot read McpPolicies from the cluster: ${firstLine(err)}`);
    return EXIT_ERROR;
  }
  if (problems.length > 0) {
    for (const p of problems) io.err(`error: ${formatProblem(p)}`);
    return EXIT_USAGE;
  }
  const diff = diffPolicies(oldSide, newSide);
  io.out(
    output === 'json'
      ? renderDiffJson(diff)
      : output === 'markdown'
        ? renderDiffMarkdown(diff)
        : renderDiffText(diff),
  );
  return diff.changed ? 1 : 0;
}
