/**
 * Every benchmark script answers a bad command line with a one-line error and its usage text (exit 2,
 * before it starts a cluster or a server), and --help with the usage text (exit 0). Each script runs in
 * a child process through tsx, as `npm run bench:*` runs it.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Flag, usageText } from '../../../bench/lib/cli.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
const SCRIPTS = fs
  .readdirSync(path.join(ROOT, 'bench'))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.bench.ts'))
  .sort();

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(script: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    // --expose-gc: bench:tenants runs with it.
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', path.join('bench', script), ...args],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, KUBEMCP_CLUSTER_DIR: path.join(ROOT, '.no-cluster-for-this-test') },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const STACK_FRAME = /^\s+at /m;

describe('bench scripts on the command line', () => {
  it('finds the scripts', () => {
    expect(SCRIPTS).toContain('peers.ts');
    expect(SCRIPTS).toContain('body-cost.ts');
    expect(SCRIPTS.length).toBeGreaterThanOrEqual(12);
  });

  it.each(SCRIPTS)(
    '%s: an unknown flag is one line of error and the usage (exit 2); --help exits 0',
    async (script) => {
      const [bogus, help] = await Promise.all([run(script, ['--bogus']), run(script, ['--help'])]);

      expect(bogus.code, bogus.stderr).toBe(2);
      expect(bogus.stderr.split('\n')[0]).toMatch(/^Unknown option '--bogus'/);
      expect(bogus.stderr).not.toMatch(STACK_FRAME);
      expect(bogus.stderr).toContain('--');
      expect(bogus.stdout).toBe('');

      expect(help.code, help.stderr).toBe(0);
      expect(help.stdout).toMatch(/(npm run|npx tsx) /);
      expect(help.stdout).toMatch(/--[a-z]/);
      expect(help.stderr).not.toMatch(STACK_FRAME);
    },
    60_000,
  );
});

describe('usageText', () => {
  it('lists every flag with its default and value placeholder, then --help', () => {
    const flags = {
      requests: { type: 'string', default: '20', about: 'requests per body' },
      baseline: { type: 'string', value: 'DIR', about: 'the baseline checkout' },
      on: { type: 'boolean', default: false, about: 'tracing on' },
    } as const satisfies Record<string, Flag>;
    expect(usageText('npm run bench:x -- [options]', flags)).toBe(
      [
        'Usage: npm run bench:x -- [options]',
        '',
        '  --requests N    requests per body (default 20)',
        '  --baseline DIR  the baseline checkout',
        '  --on            tracing on',
        '  --help          this text',
        '',
      ].join('\n'),
    );
  });
});
