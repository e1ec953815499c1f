/** `kubemcp check` against the live McpPolicies of a real cluster: answers, explanations, exit codes. */

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_CRD_FILES, ALL_CRD_NAMES, GROUP, PLURAL, VERSION } from '../../src/api/v1alpha1/index.js';
import { applyManifestFile, waitForCrdEstablished } from '../cluster/apply.js';
import { cluster, kubeConfig, scratchNamespace } from './support.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const suffix = randomBytes(3).toString('hex');
const user = `check-user-${suffix}`;
const sa = `system:serviceaccount:agents-${suffix}:bot`;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function kubemcp(args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, KUBECONFIG: cluster().kubeconfig, KUBEMCP_KUBECONFIG: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('kubemcp check', () => {
  const ns = scratchNamespace('check');
  const custom = () => kubeConfig().makeApiClient(CustomObjectsApi);
  const names = [`e2e-check-${suffix}-scaler`, `e2e-check-${suffix}-broken`];

  beforeAll(async () => {
    const kc = kubeConfig();
    for (const file of ALL_CRD_FILES) await applyManifestFile(kc, path.join(ROOT, file), 'kubemcp-e2e');
    for (const name of ALL_CRD_NAMES) await waitForCrdEstablished(kc, name);
    const create = (name: string, spec: Record<string, unknown>) =>
      custom().createClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'McpPolicy', metadata: { name }, spec },
      });
    await create(names[0] as string, {
      subjects: [
        { kind: 'User', name: user },
        { kind: 'ServiceAccount', name: 'bot', namespace: `agents-${suffix}` },
      ],
      namespaces: { names: [`e2e-check-*`] },
      tools: ['list_deployments', 'scale_deployment'],
      replicas: { min: 1, max: 10 },
    });
    // Names the user, but grants a tool that does not exist: the CRD accepts it, compile rejects it.
    await create(names[1] as string, {
      subjects: [{ kind: 'User', name: user }],
      namespaces: { names: ['*'] },
      tools: ['list_secrets'],
    });
  });
  afterAll(async () => {
    for (const name of names) {
      await custom()
        .deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name })
        .catch(() => undefined);
    }
  });

  it('says yes and names the policy (exit 0)', async () => {
    const r = await kubemcp([
      'check',
      '--as',
      user,
      '--tool',
      'scale_deployment',
      '--namespace',
      ns(),
      '--replicas',
      '5',
    ]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`yes — allowed by McpPolicy ${names[0]}`);
    expect(r.code).toBe(0);
    const viaSa = await kubemcp(['check', '--as', sa, '--tool', 'list_deployments', '--namespace', ns()]);
    expect(viaSa.code).toBe(0);
    expect(viaSa.stdout).toContain(`system:serviceaccounts:agents-${suffix}`);
  });

  it('says no with the reason and suggestions (exit 1)', async () => {
    const out = await kubemcp([
      'check',
      '--as',
      user,
      '--tool',
      'scale_deployment',
      '--namespace',
      ns(),
      '--replicas',
      '50',
    ]);
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/^no — replicas 50 is outside the bounds/);
    expect(out.stdout).toContain('code: OutOfBounds');
    expect(out.stdout).toContain('suggestion: replicas must be between 1 and 10');

    const elsewhere = await kubemcp([
      'check',
      '--as',
      user,
      '--tool',
      'list_deployments',
      '--namespace',
      'kube-system',
    ]);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stdout).toMatch(/do not cover namespace kube-system/);
    expect(elsewhere.stdout).toContain(`policies considered: ${names[0]}`);
    // The invalid policy that names the caller is pointed out.
    expect(elsewhere.stdout).toMatch(
      new RegExp(`note: McpPolicy ${names[1]} names you but is not Ready: .*list_secrets`),
    );

    const stranger = await kubemcp([
      'check',
      '--as',
      `nobody-${suffix}`,
      '--tool',
      'list_pods',
      '--namespace',
      ns(),
      '-o',
      'json',
    ]);
    expect(stranger.code).toBe(1);
    const json = JSON.parse(stranger.stdout) as { decision: { allowed: boolean; code: string } };
    expect(json.decision).toMatchObject({ allowed: false, code: 'PolicyDenied' });
  });

  it('rejects bad usage (exit 2) and reports an unreachable cluster (exit 3)', async () => {
    const noAs = await kubemcp(['check', '--tool', 'list_pods']);
    expect(noAs.code).toBe(2);
    expect(noAs.stderr).toContain('--as is required');
    const badTool = await kubemcp(['check', '--as', user, '--tool', 'delete_everything']);
    expect(badTool.code).toBe(2);
    expect(badTool.stderr).toContain('not a tool of this server');
    const badReplicas = await kubemcp([
      'check',
      '--as',
      user,
      '--tool',
      'scale_deployment',
      '--replicas',
      'many',
    ]);
    expect(badReplicas.code).toBe(2);
    const badSa = await kubemcp(['check', '--as', 'system:serviceaccount:only-ns', '--tool', 'list_pods']);
    expect(badSa.code).toBe(2);
    const unknownFlag = await kubemcp(['check', '--as', user, '--tool', 'list_pods', '--bogus']);
    expect(unknownFlag.code).toBe(2);
    const missing = await kubemcp([
      'check',
      '--as',
      user,
      '--tool',
      'list_pods',
      '--kubeconfig',
      '/nonexistent/kubeconfig',
    ]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('cannot read McpPolicies');
  });

  it('prints help and version', async () => {
    const help = await kubemcp(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('kubemcp serve');
    const serveHelp = await kubemcp(['serve', '--help']);
    expect(serveHelp.code).toBe(0);
    expect(serveHelp.stdout).toContain('--lease-duration SECONDS');
    expect(serveHelp.stdout).toContain('KUBEMCP_MCP_PORT');
    const version = await kubemcp(['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const badServe = await kubemcp(['serve', '--mcp-port', 'x']);
    expect(badServe.code).toBe(2);
    expect(badServe.stderr).toContain('--mcp-port: "x" is not a whole number');
  });
});
