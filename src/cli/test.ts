/**
 * `kubemcp test [DIR…]`: runs the cases of kubemcp-test.yaml manifests against the McpPolicy files
 * they name, offline, with the server's own engine. `--scaffold` writes a first manifest instead.
 */

import { existsSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { compileSet, loadPolicyFiles, TEST_FILE_NAME } from '../policyfile/policies.js';
import { formatProblem } from '../policyfile/problems.js';
import { runTests } from '../policyfile/run.js';
import { renderManifest, scaffoldManifest } from '../policyfile/scaffold.js';
import { DEFAULT_OPERATOR_NAMESPACE, EXIT_USAGE } from './check.js';
import { renderJson, renderJunit, renderTable } from './test-report.js';

export const TEST_HELP = `Usage: kubemcp test [DIR|FILE]... [flags]

Runs the cases of every ${TEST_FILE_NAME} under the directories (default: the current one) against
the policy files each names (McpPolicy, McpNamespacePolicy, McpDelegation), offline, with the same
engine the server runs. Policies are validated first, with the checks of the CRDs and the controller.

  --output FORMAT    table (default) or json
  --junit FILE       also write a JUnit XML report to FILE
  --fail-only        list only the failed cases
  --select TEXT      run only cases whose name contains TEXT (repeatable)
  --scaffold         write DIR/${TEST_FILE_NAME} from the policies under DIR instead (never overwrites)

Exit status: 0 every case passed, 1 a case failed, 2 usage error or an invalid policy or manifest.
See docs/policy-testing.md.`;

export interface TestArgs {
  readonly paths: readonly string[];
  readonly output?: string;
  readonly junit?: string;
  readonly failOnly: boolean;
  readonly select: readonly string[];
  readonly scaffold: boolean;
  readonly cwd?: string;
}

interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

function scaffold(dir: string, cwd: string, io: Io): number {
  const abs = resolve(cwd, dir);
  const target = join(abs, TEST_FILE_NAME);
  const shown = relative(cwd, target) || target;
  if (existsSync(target)) {
    io.err(`kubemcp test: ${shown} exists; move it away to scaffold a new one`);
    return EXIT_USAGE;
  }
  const loaded = loadPolicyFiles(['.'], abs, cwd);
  const compiled = compileSet(loaded, DEFAULT_OPERATOR_NAMESPACE);
  const problems = [...loaded.problems, ...compiled.problems];
  if (problems.length > 0) {
    for (const p of problems) io.err(`error: ${formatProblem(p)}`);
    return EXIT_USAGE;
  }
  const manifest = scaffoldManifest(compiled.index, loaded, ['.']);
  if (manifest.cases.length === 0) {
    io.err(`kubemcp test: no Ready policy under ${dir}: nothing to scaffold`);
    return EXIT_USAGE;
  }
  writeFileSync(target, renderManifest(manifest));
  io.out(`wrote ${shown}: ${manifest.cases.length} cases from ${compiled.index.grants.size} policies`);
  return 0;
}

export function runTest(args: TestArgs, io: Io): number {
  const cwd = args.cwd ?? process.cwd();
  if (args.output !== undefined && args.output !== 'table' && args.output !== 'json') {
    io.err(`kubemcp test: --output ${args.output}: must be table or json\n\n${TEST_HELP}`);
    return EXIT_USAGE;
  }
  if (args.scaffold) {
    if (args.paths.length > 1) {
      io.err(`kubemcp test: --scaffold takes one directory\n\n${TEST_HELP}`);
      return EXIT_USAGE;
    }
    return scaffold(args.paths[0] ?? '.', cwd, io);
  }
  const run = runTests({
    paths: args.paths,
    cwd,
    select: args.select,
    defaultOperatorNamespace: DEFAULT_OPERATOR_NAMESPACE,
  });
  io.out(args.output === 'json' ? renderJson(run, args.failOnly) : renderTable(run, args.failOnly));
  if (args.junit !== undefined) writeFileSync(resolve(cwd, args.junit), renderJunit(run));
  if (run.problems.length > 0) return EXIT_USAGE;
  return run.results.some((r) => !r.passed) ? 1 : 0;
}
