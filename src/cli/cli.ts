/** The `kubemcp` command: argument parsing (node:util parseArgs) and dispatch. */

import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import {
  ConfigError,
  loadConfig,
  loadTracingConfig,
  resolveKubeconfigPath,
  serveFlagHelp,
  serveFlagOptions,
} from '../config/index.js';
import { EXIT_USAGE } from './exit-codes.js';
import { operatorLogger } from './logger.js';
import type { ServeHandle } from './serve.js';
import { VERSION } from './version.js';

export const MAIN_HELP = `kubemcp ${VERSION} — policy-enforced MCP access to Kubernetes, declared with McpPolicy resources

Usage:
  kubemcp serve [flags]       run the operator: controller, leader election, MCP server (:8080), probes (:8081)
  kubemcp check [flags]       explain whether a caller may use a tool, from the live McpPolicies (or files: -f)
  kubemcp test [DIR...]       run the offline policy tests of kubemcp-test.yaml files
  kubemcp diff OLD NEW        what changes for whom between two versions of the McpPolicies
  kubemcp --version           print the version
  kubemcp COMMAND --help      flags of a command`;

export function serveHelp(): string {
  return `Usage: kubemcp serve [flags]

Runs the operator. Every flag has an environment variable (in brackets); flags win over variables,
variables over defaults.

${serveFlagHelp()}`;
}

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Environment the config loader reads (default: process.env via loadConfig). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The command as the user typed it, for help and errors: `kubemcp` (default) or `kubectl kubemcp`. */
  readonly program?: string;
}

/** Help and errors name the command as it was run (`kubectl kubemcp check …` as a kubectl plugin). */
export function asProgram(text: string, program: string): string {
  if (program === 'kubemcp') return text;
  return text
    .replace(/(^|[\s`(])kubemcp(?= (?:serve|check|test|diff|COMMAND|--version)\b)/gm, `$1${program}`)
    .replace(/^kubemcp(?=: )/gm, program);
}

const defaultIo: CliIo = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
};

function usageError(io: CliIo, message: string, help: string): number {
  io.err(`kubemcp: ${message}\n\n${help}`);
  return EXIT_USAGE;
}

/** What `serve` needs to run until a signal: returned so tests and main can drive it. */
export interface ServeStarted {
  readonly handle: ServeHandle;
  readonly logger: Logger;
}

type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** Parses a command's flags; a usage error (exit 2 with the command's help) when they do not parse. */
function flags(
  args: readonly string[],
  options: NonNullable<Parameters<typeof parseArgs>[0]>['options'],
  io: CliIo,
  help: string,
): FlagValues | number {
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: false })
      .values as FlagValues;
  } catch (err) {
    return usageError(io, err instanceof Error ? err.message : String(err), help);
  }
}

/** `kubemcp serve`: resolves once the servers listen, with the handle main keeps alive. */
async function serveCommand(args: readonly string[], io: CliIo): Promise<number | ServeStarted> {
  const values = flags(
    args,
    { ...serveFlagOptions(), help: { type: 'boolean', short: 'h' } },
    io,
    serveHelp(),
  );
  if (typeof values === 'number') return values;
  if (values.help) {
    io.out(serveHelp());
    return 0;
  }
  let config: ReturnType<typeof loadConfig>;
  let tracing: ReturnType<typeof loadTracingConfig>;
  try {
    config = loadConfig({ flags: values, ...(io.env ? { env: io.env } : {}) });
    tracing = loadTracingConfig(io.env ?? process.env);
  } catch (err) {
    if (err instanceof ConfigError)
      return usageError(io, err.message, 'Run kubemcp serve --help for the flags.');
    throw err;
  }
  const logger = operatorLogger(config.logLevel);
  // Each command's modules load on demand: `check` and `--help` need neither the MCP SDK nor
  // express, and `serve` keeps none of the policy-file tooling of check, test and diff in memory.
  const { startServe } = await import('./serve.js');
  const handle = await startServe(config, logger, { tracing });
  return { handle, logger };
}

const CHECK_FLAGS = {
  as: { type: 'string' },
  group: { type: 'string', multiple: true },
  tool: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  replicas: { type: 'string' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  output: { type: 'string', short: 'o' },
  'operator-namespace': { type: 'string' },
  filename: { type: 'string', short: 'f', multiple: true },
  live: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `kubemcp check`: one decision explained, from the live policies or from files. */
async function checkCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { CHECK_HELP, runCheck } = await import('./check.js');
  const values = flags(args, CHECK_FLAGS, io, CHECK_HELP);
  if (typeof values === 'number') return values;
  if (values.help) {
    io.out(CHECK_HELP);
    return 0;
  }
  const str = (k: string): string | undefined => {
    const v = values[k];
    return typeof v === 'string' ? v : undefined;
  };
  const opt = <K extends string>(key: K, v: string | undefined) =>
    (v === undefined ? {} : { [key]: v }) as Partial<Record<K, string>>;
  const kubeconfig = resolveKubeconfigPath(str('kubeconfig'), io.env);
  return runCheck(
    {
      ...opt('as', str('as')),
      group: (Array.isArray(values.group) ? values.group : []).map(String),
      ...opt('tool', str('tool')),
      ...opt('namespace', str('namespace')),
      ...opt('replicas', str('replicas')),
      ...opt('kubeconfig', kubeconfig),
      ...opt('context', str('context')),
      ...opt('output', str('output')),
      ...opt('operatorNamespace', str('operator-namespace')),
      ...(Array.isArray(values.filename) ? { files: values.filename.map(String) } : {}),
      ...(values.live === true ? { live: true } : {}),
      env: io.env,
    },
    io,
  );
}

/**
 * Runs a command. `serve` resolves once the servers listen, with the handle (main keeps the process
 * alive and wires signals); other commands resolve with their exit status.
 */
export async function runCli(
  argv: readonly string[],
  given: CliIo = defaultIo,
): Promise<number | ServeStarted> {
  const program = given.program ?? 'kubemcp';
  const io: CliIo = {
    ...given,
    out: (t) => given.out(asProgram(t, program)),
    err: (t) => given.err(asProgram(t, program)),
  };
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      io.out(MAIN_HELP);
      return command === undefined ? EXIT_USAGE : 0;
    case '--version':
    case '-v':
    case 'version':
      io.out(VERSION);
      return 0;
    case 'serve':
      return serveCommand(rest, io);
    case 'check':
      return checkCommand(rest, io);
    case 'test':
      return (await import('./policy-commands.js')).runTestCommand(rest, io);
    case 'diff':
      return (await import('./policy-commands.js')).runDiffCommand(rest, io);
    default:
      return usageError(io, `unknown command ${JSON.stringify(command)}`, MAIN_HELP);
  }
}
