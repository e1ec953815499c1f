/**
 * The soak's oracle (bench/lib/soak-oracle.ts) must catch an answer that contradicts the policies:
 * otherwise a soak that "passes" proves nothing.
 */
import { describe, expect, it } from 'vitest';
import {
  type Call,
  callerOf,
  judge,
  NAMESPACES,
  nextCall,
  POLICIES,
  prng,
  SCALER,
  type World,
} from '../../../bench/lib/soak-oracle.js';
import { compile } from '../../../src/policy/index.js';

const world: World = (() => {
  const namespaces = [...NAMESPACES, { name: 'default', labels: {} }, { name: 'soak-callers', labels: {} }];
  const per = (n: number) => new Map(NAMESPACES.map((ns) => [ns.name, n]));
  return {
    index: compile({
      policies: Object.entries(POLICIES).map(([name, spec]) => ({ name, spec })),
      namespaces,
    }),
    namespaces: namespaces.map((n) => n.name),
    deployments: per(2),
    services: per(1),
    webPods: per(3),
  };
})();

const names = callerOf('soak-names');
const none = callerOf('soak-none');

function answer(result: Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, result }));
}
const denied = (code: string) =>
  answer({
    isError: true,
    structuredContent: { error: { code, message: 'no', reason: 'no', suggestions: [] } },
  });
const listed = (items: Array<{ namespace: string; name: string }>, total: number) =>
  answer({ structuredContent: { kind: 'deployment', items, returned: items.length, total } });

describe('soak oracle', () => {
  const listA0: Call = { tool: 'list_deployments', args: { namespace: 'soak-a-0' } };
  const listA1: Call = { tool: 'list_deployments', args: { namespace: 'soak-a-1' } };

  it('accepts an answer that matches the policies', () => {
    const rows = [
      { namespace: 'soak-a-0', name: 'scaler' },
      { namespace: 'soak-a-0', name: 'web' },
    ];
    expect(judge(world, names, listA0, 200, listed(rows, 2))).toEqual({ kind: 'ok', denied: false });
    expect(judge(world, names, listA1, 200, denied('PolicyDenied'))).toEqual({ kind: 'ok', denied: true });
  });

  it('flags an allow the policies deny, and a denial they allow', () => {
    expect(judge(world, names, listA1, 200, listed([], 2)).kind).toBe('violation');
    expect(judge(world, names, listA0, 200, denied('PolicyDenied')).kind).toBe('violation');
  });

  it('flags the wrong denial code', () => {
    const outOfBounds: Call = {
      tool: 'scale_deployment',
      args: { namespace: 'soak-a-0', name: SCALER, replicas: 9 },
    };
    expect(judge(world, names, outOfBounds, 200, denied('OutOfBounds'))).toEqual({
      kind: 'ok',
      denied: true,
    });
    expect(judge(world, names, outOfBounds, 200, denied('PolicyDenied')).kind).toBe('violation');
  });

  it('flags rows from a namespace the caller may not see, and rows left out', () => {
    const all: Call = { tool: 'list_deployments', args: {} };
    // soak-names may list deployments in soak-a-0 and soak-b-0: 4 in all.
    const leak = [{ namespace: 'soak-a-1', name: 'web' }];
    expect(judge(world, names, all, 200, listed(leak, 4)).kind).toBe('violation');
    expect(judge(world, names, all, 200, listed([], 3)).kind).toBe('violation');
    expect(judge(world, names, all, 200, listed([], 4)).kind).toBe('ok');
  });

  it('flags get_permissions that differs from the engine', () => {
    const call: Call = { tool: 'get_permissions', args: {} };
    const grants = [
      {
        policy: 'soak-group',
        tools: ['list_namespaces', 'list_services'],
        namespaces: ['soak-b-0', 'soak-b-1'],
      },
    ];
    const perms = (tools: string[]) =>
      answer({
        structuredContent: { caller: { username: none.username, groups: none.groups }, tools, grants },
      });
    expect(
      judge(world, none, call, 200, perms(['get_permissions', 'list_namespaces', 'list_services'])),
    ).toEqual({
      kind: 'ok',
      denied: false,
    });
    expect(
      judge(world, none, call, 200, perms(['get_permissions', 'list_namespaces', 'list_pods'])).kind,
    ).toBe('violation');
  });

  it('counts transport failures and unexpected error codes as errors, a scale Conflict apart', () => {
    expect(judge(world, names, listA0, 503, Buffer.from('')).kind).toBe('error');
    expect(judge(world, names, listA0, 200, denied('Unavailable')).kind).toBe('error');
    const scale: Call = {
      tool: 'scale_deployment',
      args: { namespace: 'soak-a-0', name: SCALER, replicas: 2 },
    };
    expect(judge(world, names, scale, 200, denied('Conflict')).kind).toBe('conflict');
  });

  it('mixes about 80 % lists, 15 % get_permissions and 5 % scales', () => {
    const rand = prng(7);
    const counts = { list: 0, perms: 0, scale: 0 };
    for (let i = 0; i < 20_000; i++) {
      const { tool } = nextCall(rand);
      if (tool === 'get_permissions') counts.perms++;
      else if (tool === 'scale_deployment') counts.scale++;
      else counts.list++;
    }
    expect(counts.list / 20_000).toBeCloseTo(0.8, 1);
    expect(counts.perms / 20_000).toBeCloseTo(0.15, 1);
    expect(counts.scale / 20_000).toBeCloseTo(0.05, 1);
  });
});
