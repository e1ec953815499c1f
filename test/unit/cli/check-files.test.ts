/** `kubemcp check -f`: the decision from policy files instead of the cluster, as `check` explains it. */

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXAMPLE, run, scratch } from './support.js';

const AUTOSCALER = ['--as', 'system:serviceaccount:agents:autoscaler', '--tool', 'scale_deployment'];

describe('kubemcp check -f', () => {
  it('allows from the files, naming the policy and its limits', async () => {
    const r = await run([
      'check',
      ...AUTOSCALER,
      '-n',
      'web-prod',
      '--replicas',
      '5',
      '-f',
      join(EXAMPLE, 'policies'),
    ]);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^yes — allowed by McpPolicy web-autoscaler$/m);
    expect(r.out).toContain(
      'note: McpPolicy web-autoscaler limits the call at call time: at most 3 replicas of change per call',
    );
  });

  it('denies out of bounds and outside the namespaces, with the server’s reason', async () => {
    const out = await run([
      'check',
      ...AUTOSCALER,
      '-n',
      'web-prod',
      '--replicas',
      '11',
      '-f',
      join(EXAMPLE, 'policies/*.yaml'),
    ]);
    expect(out.status).toBe(1);
    expect(out.out).toContain('code: OutOfBounds');
    expect(out.out).toContain('suggestion: replicas must be between 2 and 10');
    const away = await run([
      'check',
      ...AUTOSCALER,
      '-n',
      'payments',
      '--replicas',
      '3',
      '-f',
      join(EXAMPLE, 'policies'),
    ]);
    expect(away.status).toBe(1);
    expect(away.out).toContain('code: PolicyDenied');
  });

  it('an invalid policy file is a usage error with file and line, and decides nothing', async () => {
    const dir = scratch({
      'p.yaml':
        'apiVersion: kubemcp.io/v1alpha1\nkind: McpPolicy\nmetadata:\n  name: p\nspec:\n  subjects: [{ kind: User, name: alice }]\n  namespaces: { names: [web] }\n  tools: [scale_deployment]\n',
    });
    const r = await run(['check', '--as', 'alice', '--tool', 'list_pods', '-f', join(dir, 'p.yaml')]);
    expect(r.status).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(
      /^error: .*p\.yaml:6: McpPolicy p is invalid: spec\.replicas: a policy whose tools/,
    );
  });

  it('--live without -f is a usage error', async () => {
    const r = await run(['check', '--as', 'alice', '--tool', 'list_pods', '--live']);
    expect(r.status).toBe(2);
    expect(r.err).toContain('--live goes with -f FILE');
  });
});
