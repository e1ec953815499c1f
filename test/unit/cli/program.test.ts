/** The CLI names itself as it was run: `kubemcp`, or `kubectl kubemcp` as a kubectl plugin. */
import { describe, expect, it } from 'vitest';
import { asProgram, MAIN_HELP, runCli } from '../../../src/cli/cli.js';

function capture(program?: string) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), ...(program ? { program } : {}) },
  };
}

describe('the program name in help and errors', () => {
  it('is kubemcp by default, unchanged', async () => {
    const c = capture();
    expect(await runCli(['--help'], c.io)).toBe(0);
    expect(c.out.join('\n')).toBe(MAIN_HELP);
  });

  it('is `kubectl kubemcp` in every usage line and error when run as the plugin', async () => {
    const c = capture('kubectl kubemcp');
    expect(await runCli(['--help'], c.io)).toBe(0);
    const help = c.out.join('\n');
    expect(help).toContain('  kubectl kubemcp check [flags]');
    expect(help).toContain('  kubectl kubemcp serve [flags]');
    expect(help).not.toMatch(/^ {2}kubemcp /m);
    const bad = capture('kubectl kubemcp');
    expect(await runCli(['check', '--nope'], bad.io)).toBe(2);
    expect(bad.err.join('\n')).toMatch(/^kubectl kubemcp: Unknown option '--nope'/);
    expect(bad.err.join('\n')).toContain('Usage: kubectl kubemcp check --as USER');
  });

  it('leaves other words that contain kubemcp alone', () => {
    const text = 'kubemcp 0.1.0 — in kubemcp-system, image kubemcp:dev; run kubemcp check --help';
    expect(asProgram(text, 'kubectl kubemcp')).toBe(
      'kubemcp 0.1.0 — in kubemcp-system, image kubemcp:dev; run kubectl kubemcp check --help',
    );
  });
});

describe('the policies-as-code commands as a kubectl plugin', () => {
  it('name themselves `kubectl kubemcp test|diff` in help and usage errors', async () => {
    const c = capture('kubectl kubemcp');
    expect(await runCli(['--help'], c.io)).toBe(0);
    expect(c.out.join('\n')).toContain('  kubectl kubemcp test [DIR...]');
    expect(c.out.join('\n')).toContain('  kubectl kubemcp diff OLD NEW');
    const test = capture('kubectl kubemcp');
    expect(await runCli(['test', '--help'], test.io)).toBe(0);
    expect(test.out.join('\n')).toMatch(/^Usage: kubectl kubemcp test \[DIR\|FILE\]/);
    const diff = capture('kubectl kubemcp');
    expect(await runCli(['diff', 'only-one'], diff.io)).toBe(2);
    expect(diff.err.join('\n')).toMatch(/^kubectl kubemcp diff: needs exactly two arguments/);
    expect(diff.err.join('\n')).toContain('Usage: kubectl kubemcp diff OLD NEW');
  });
});
