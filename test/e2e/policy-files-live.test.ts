/**
 * The policies-as-code commands against a real cluster: `kubemcp check -f FILE --live` decides from
 * the cluster's McpPolicies with the file applied on top (the file's policy replaces the live one of
 * the same name, the others stay), and `kubemcp diff live DIR` lists what the files would change.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../../src/cli/cli.js';
import { createPolicy, deletePolicy, installShippedManifests, uniqueSuffix } from './mcp-support.js';
import { cluster } from './support.js';

const s = uniqueSuffix();
const NS = `e2e-live-${s}`;
const SA = `system:serviceaccount:agents-${s}:bot`;
const NAMES = { scaler: `e2e-live-${s}-scaler`, reader: `e2e-live-${s}-reader` } as const;

const scalerSpec = (max: number) => ({
  subjects: [{ kind: 'ServiceAccount', name: 'bot', namespace: `agents-${s}` }],
  namespaces: { names: [NS] },
  tools: ['scale_deployment'],
  replicas: { min: 1, max },
});
const readerSpec = {
  subjects: [{ kind: 'ServiceAccount', name: 'bot', namespace: `agents-${s}` }],
  namespaces: { names: [NS] },
  tools: ['list_pods'],
};

async function kubemcp(args: readonly string[]): Promise<{ status: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const status = await runCli(args, {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env: { ...process.env, KUBECONFIG: cluster().kubeconfig, KUBEMCP_KUBECONFIG: '' },
  });
  if (typeof status !== 'number') throw new Error('not a one-shot command');
  return { status, out: out.join('\n'), err: err.join('\n') };
}

let dir = '';

beforeAll(async () => {
  await installShippedManifests();
  await createPolicy(NAMES.scaler, scalerSpec(5));
  await createPolicy(NAMES.reader, readerSpec);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubemcp-live-'));
  fs.writeFileSync(
    path.join(dir, 'scaler.yaml'),
    stringify({
      apiVersion: 'kubemcp.io/v1alpha1',
      kind: 'McpPolicy',
      metadata: { name: NAMES.scaler },
      spec: scalerSpec(8),
    }),
  );
});

afterAll(async () => {
  for (const name of Object.values(NAMES)) await deletePolicy(name);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('policy files on top of the cluster', () => {
  const scale = (replicas: number) => [
    'check',
    '--as',
    SA,
    '--tool',
    'scale_deployment',
    '-n',
    NS,
    '--replicas',
    String(replicas),
  ];

  it('check: live alone refuses 7; the file on top allows it; the live reader policy still applies', async () => {
    expect((await kubemcp(scale(7))).status).toBe(1);
    const whatIf = await kubemcp([...scale(7), '-f', path.join(dir, 'scaler.yaml'), '--live']);
    expect(whatIf.status).toBe(0);
    expect(whatIf.out).toMatch(new RegExp(`^yes — allowed by McpPolicy ${NAMES.scaler}$`, 'm'));
    const listPods = [
      'check',
      '--as',
      SA,
      '--tool',
      'list_pods',
      '-n',
      NS,
      '-f',
      path.join(dir, 'scaler.yaml'),
    ];
    const reads = await kubemcp([...listPods, '--live']);
    expect(reads.status).toBe(0);
    // Without --live the files alone decide: the reader policy is not in them.
    const filesOnly = await kubemcp(listPods);
    expect(filesOnly.status).toBe(1);
  });

  it('diff live DIR: the raised max, and the live-only policies as removed', async () => {
    const r = await kubemcp(['diff', 'live', dir, '--output', 'json']);
    expect(r.err).toBe('');
    expect(r.status).toBe(1);
    const d = JSON.parse(r.out) as {
      limits: unknown[];
      policies: { kind: string; policy: string; change: string }[];
    };
    expect(d.limits).toContainEqual({
      policy: NAMES.scaler,
      field: 'replicas.max',
      old: 5,
      new: 8,
      direction: 'widened',
      write: true,
    });
    expect(d.policies).toContainEqual({ kind: 'McpPolicy', policy: NAMES.reader, change: 'removed' });
  });

  it('an unreachable cluster exits 3', async () => {
    const out: string[] = [];
    const status = await runCli(['diff', 'live', dir], {
      out: (t) => out.push(t),
      err: (t) => out.push(t),
      env: { ...process.env, KUBECONFIG: path.join(dir, 'missing-kubeconfig'), KUBEMCP_KUBECONFIG: '' },
    });
    expect(status).toBe(3);
    expect(out.join('\n')).toContain('cannot read McpPolicies from the cluster');
  });
});
