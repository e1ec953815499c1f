/** Helpers of the policies-as-code CLI tests: a scratch directory of files and a captured run. */

import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../../src/cli/cli.js';

export const EXAMPLE = fileURLToPath(new URL('../../../examples/policy-repo/', import.meta.url));

/** A fresh directory holding `files` (path → text). */
export function scratch(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'kubemcp-cli-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

/** A copy of the example policy repository to change. */
export function exampleCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kubemcp-example-'));
  cpSync(EXAMPLE, dir, { recursive: true });
  return dir;
}

export function edit(path: string, from: string, to: string): void {
  const text = readFileSync(path, 'utf8');
  if (!text.includes(from)) throw new Error(`${path} does not contain ${from}`);
  writeFileSync(path, text.replace(from, to));
}

export interface Ran {
  readonly status: number;
  readonly out: string;
  readonly err: string;
}

/** Runs the CLI in `cwd` (commands resolve paths against process.cwd()). */
export async function run(argv: readonly string[], cwd?: string): Promise<Ran> {
  const out: string[] = [];
  const err: string[] = [];
  const before = process.cwd();
  if (cwd) process.chdir(cwd);
  try {
    const status = await runCli(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
    if (typeof status !== 'number') throw new Error('not a one-shot command');
    return { status, out: out.join('\n'), err: err.join('\n') };
  } finally {
    process.chdir(before);
  }
}

export const MANIFEST_HEAD = `apiVersion: cli.kubemcp.io/v1alpha1
kind: PolicyTest
policies: ["policies"]
`;
