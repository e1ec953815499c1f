/**
 * The benchmark's generated policy repository (bench/lib/policy-repo.ts): its expectations are
 * derived from how the policies were built, so `kubemcp test` passing every case means the
 * benchmark measures a correct run; every kind of case (allow, OutOfBounds by bounds and by step,
 * PolicyDenied) occurs.
 */

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writePolicyRepo } from '../../../bench/lib/policy-repo.js';
import { runTests } from '../../../src/policyfile/run.js';

describe('the generated policy repository', () => {
  it('passes every case, and has allows and each kind of refusal', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubemcp-policy-repo-'));
    writePolicyRepo(dir, 30, 300);
    const run = runTests({ paths: [dir], cwd: dir, defaultOperatorNamespace: 'kubemcp-system' });
    expect(run.problems).toEqual([]);
    expect(run.results).toHaveLength(300);
    expect(run.results.filter((r) => !r.passed)).toEqual([]);
    const got = new Set(run.results.map((r) => r.got.split(' by ')[0]));
    expect([...got].sort()).toEqual(['allow', 'deny OutOfBounds', 'deny PolicyDenied']);
    expect(run.results.some((r) => r.verdict?.reason.startsWith('Changing the replica count'))).toBe(true);
  });
});
