/** Argument parsing of the policies-as-code commands, `kubemcp test` and `kubemcp diff`. */

import { parseArgs } from 'node:util';
import { resolveKubeconfigPath } from '../config/index.js';
import { EXIT_USAGE } from './check.js';
import { DIFF_HELP, runDiff } from './diff.js';
import { runTest, TEST_HELP } from './test.js';

interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

type Parsed = {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
};

function parse(
  rest: readonly string[],
  options: NonNullable<Parameters<typeof parseArgs>[0]>['options'],
  io: Io,
  help: string,
): Parsed | number {
  try {
    const { values, positionals } = parseArgs({
      args: [...rest],
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    });
    if (values.help) {
      io.out(help);
      return 0;
    }
    return { values, positionals };
  } catch (err) {
    io.err(`kubemcp: ${err instanceof Error ? err.message : String(err)}\n\n${help}`);
    return EXIT_USAGE;
  }
}

function str(values: Parsed['values'], key: string): string | undefined {
  const v = values[key];
  return typeof v === 'string' ? v : undefined;
}

export function runTestCommand(rest: readonly string[], io: Io): number {
  const parsed = parse(
    rest,
    {
      output: { type: 'string', short: 'o' },
      junit: { type: 'string' },
      'fail-only': { type: 'boolean' },
      select: { type: 'string', multiple: true },
      scaffold: { type: 'boolean' },
    },
    io,
    TEST_HELP,
  );
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const output = str(values, 'output');
  const junit = str(values, 'junit');
  return runTest(
    {
      paths: positionals,
      ...(output === undefined ? {} : { output }),
      ...(junit === undefined ? {} : { junit }),
      failOnly: values['fail-only'] === true,
      select: Array.isArray(values.select) ? values.select.map(String) : [],
      scaffold: values.scaffold === true,
    },
    io,
  );
}

export async function runDiffCommand(rest: readonly string[], io: Io): Promise<number> {
  const parsed = parse(
    rest,
    {
      output: { type: 'string', short: 'o' },
      'operator-namespace': { type: 'string' },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
    },
    io,
    DIFF_HELP,
  );
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const output = str(values, 'output');
  const ns = str(values, 'operator-namespace');
  const kubeconfig = resolveKubeconfigPath(str(values, 'kubeconfig'), io.env);
  const context = str(values, 'context');
  return runDiff(
    {
      paths: positionals,
      ...(output === undefined ? {} : { output }),
      ...(ns === undefined ? {} : { operatorNamespace: ns }),
      ...(kubeconfig === undefined ? {} : { kubeconfig }),
      ...(context === undefined ? {} : { context }),
      ...(io.env === undefined ? {} : { env: io.env as NodeJS.ProcessEnv }),
    },
    io,
  );
}
