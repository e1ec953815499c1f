/**
 * What every cluster benchmark's command line shares: flag parsing with a usage text, durations and
 * counts, the server's Node flags (the shipped Deployment's NODE_OPTIONS by default), building dist/,
 * plain-text tables, the machine description and the JSON result file.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const RESULTS = path.join(ROOT, 'bench', 'results');

/** A bad command line: the benchmark prints the message and its usage text and exits with 2. */
export class UsageError extends Error {}

export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

type Options = NonNullable<ParseArgsConfig['options']>;
type FlagValues<O extends Options> = ReturnType<
  typeof parseArgs<{ options: O; strict: true; allowPositionals: false }>
>['values'];

/**
 * parseArgs over process.argv (strict: an unknown flag or a stray argument is a UsageError). With a
 * usage text (for flags parsed at module load, outside runMain), a bad command line prints it and
 * exits with 2 instead, and `--help` (`-h`) prints it and exits with 0.
 */
export function parseFlags<const O extends Options>(options: O, usage?: string): FlagValues<O> {
  const all = usage === undefined ? options : { help: { type: 'boolean', short: 'h' } as const, ...options };
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ options: all, strict: true, allowPositionals: false }).values;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (usage === undefined) throw new UsageError(message);
    return exitWithUsage(message, usage);
  }
  if (usage !== undefined && values.help === true) {
    process.stdout.write(usage);
    process.exit(0);
  }
  return values as FlagValues<O>;
}

/**
 * parseFlags with a usage text, then read(values) to turn them into settings; a UsageError that read
 * throws (a count that is not one) prints its message and the usage text and exits with 2, as a bad
 * flag does.
 */
export function readFlags<const O extends Options, T>(
  options: O,
  usage: string,
  read: (values: FlagValues<O>) => T,
): T {
  const values = parseFlags(options, usage);
  try {
    return read(values);
  } catch (err) {
    if (err instanceof UsageError) return exitWithUsage(err.message, usage);
    throw err;
  }
}

function exitWithUsage(message: string, usage: string): never {
  process.stderr.write(`${message}\n\n${usage}`);
  process.exit(2);
}

/** One flag of a command line: its parseArgs option, what it sets, and a placeholder for its value. */
export type Flag = (
  | { readonly type: 'string'; readonly default?: string }
  | { readonly type: 'boolean'; readonly default?: boolean }
) & { readonly short?: string; readonly about: string; readonly value?: string };

/**
 * A usage text made from the flags themselves, so that it cannot drift from them: the synopsis, one
 * line per flag with its default (`value` names a string flag's value, `N` when not given), then
 * --help.
 */
export function usageText(synopsis: string, flags: Readonly<Record<string, Flag>>, note?: string): string {
  const rows = Object.entries(flags).map(([name, flag]) => {
    const left = flag.type === 'string' ? `--${name} ${flag.value ?? 'N'}` : `--${name}`;
    const byDefault =
      flag.type === 'string' && flag.default !== undefined ? ` (default ${flag.default})` : '';
    return [left, `${flag.about}${byDefault}`] as const;
  });
  rows.push(['--help', 'this text']);
  const width = Math.max(...rows.map(([left]) => left.length));
  const lines = rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`);
  return `Usage: ${synopsis}\n${note === undefined ? '' : `${note}\n`}\n${lines.join('\n')}\n`;
}

/** "60s", "5m", "1500ms" or plain seconds → ms (> 0). */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m)
    throw new UsageError(`${flag}: expected a duration like 60s, 5m or 300, got ${JSON.stringify(text)}`);
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (ms <= 0) throw new UsageError(`${flag} must be positive`);
  return ms;
}

/** A whole number ≥ min. */
export function parseCount(text: string, flag: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`${flag}: expected a whole number ≥ ${min}, got ${JSON.stringify(text)}`);
  return n;
}

/** "1,8,32" → [1, 8, 32] (each a whole number ≥ min). */
export function parseCounts(text: string, flag: string, min = 1): number[] {
  return text.split(',').map((t) => parseCount(t.trim(), flag, min));
}

/** NODE_OPTIONS of the manager container in config/manager/deployment.yaml. */
export function shippedNodeOptions(): string {
  const manifest = parseYaml(
    fs.readFileSync(path.join(ROOT, 'config', 'manager', 'deployment.yaml'), 'utf8'),
  ) as {
    spec?: { template?: { spec?: { containers?: { env?: { name: string; value?: string }[] }[] } } };
  };
  const env = manifest.spec?.template?.spec?.containers?.flatMap((c) => c.env ?? []) ?? [];
  return env.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
}

/**
 * Node flags of the server under test: the shipped Deployment's NODE_OPTIONS (so memory is measured
 * as the operator runs), or `override` (--node-options; an empty string for none).
 */
export function serverNodeOptions(override: string | undefined): string[] {
  return (override ?? shippedNodeOptions()).split(' ').filter((f) => f !== '');
}

/** npm run build: the cluster benchmarks run the compiled dist/, as the image does. */
export function buildDist(): void {
  log('▸ npm run build (the benchmark runs the compiled dist/, as the image does)');
  const res = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (res.status !== 0) throw new Error('npm run build failed');
}

/** A plain-text table: the first column left-aligned, the others right-aligned. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cols: string[]) =>
    cols.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export interface Machine {
  readonly cpus: number;
  readonly cpuModel: string | undefined;
  readonly memGiB: number;
  readonly node: string;
  /** 1, 5 and 15 minute load averages when this was taken. */
  readonly loadavg: number[];
}

export function machine(): Machine {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memGiB: os.totalmem() / 2 ** 30,
    node: process.version,
    loadavg: os.loadavg(),
  };
}

/** Writes bench/results/<name>-<time>.json and <name>-latest.json; returns the first path. */
export function writeResult(name: string, started: Date, result: unknown): string {
  fs.mkdirSync(RESULTS, { recursive: true });
  const text = `${JSON.stringify(result, null, 2)}\n`;
  const file = path.join(RESULTS, `${name}-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, text);
  fs.writeFileSync(path.join(RESULTS, `${name}-latest.json`), text);
  return file;
}

/**
 * Runs a benchmark's main(): its number is the exit code; a UsageError prints the usage text (exit
 * 2); any other error its stack (exit 1).
 */
export function runMain(main: () => Promise<number>, usage?: string): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      if (err instanceof UsageError) {
        process.stderr.write(`${err.message}\n${usage === undefined ? '' : `\n${usage}`}`);
        process.exitCode = 2;
        return;
      }
      process.stderr.write(`\n✗ ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
