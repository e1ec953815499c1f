import { describe, expect, it } from 'vitest';
import { renderDecision } from '../../../src/cli/check.js';
import { limitNotes } from '../../../src/cli/check-limits.js';
import { compile, evaluate } from '../../../src/policy/index.js';

const spec = (extra: Record<string, unknown>) => ({
  subjects: [{ kind: 'User', name: 'alice' }],
  namespaces: { names: ['web'] },
  tools: ['scale_deployment'],
  replicas: { min: 0, max: 10, maxStep: 2 },
  ...extra,
});
const caller = { username: 'alice', groups: [] };
const req = { caller, tool: 'scale_deployment', namespace: 'web', replicas: 5 };

describe('kubemcp check and the agent-safety limits', () => {
  it('names the limits an allowed call is subject to', () => {
    const index = compile({
      policies: [{ name: 'p', spec: spec({ cooldownSeconds: 60, requireKubernetesRBAC: true }) }],
      namespaces: [{ name: 'web', labels: {} }],
    });
    const decision = evaluate(index, req);
    const notes = limitNotes(index, decision);
    expect(notes).toEqual([
      'McpPolicy p limits the call at call time: at most 2 replicas of change per call; at least 60 s between two scales of one object; your own Kubernetes RBAC must also allow it',
    ]);
    expect(renderDecision(decision, req, notes)).toContain('note: McpPolicy p limits the call');
  });

  it('says nothing when another allowing policy sets no limit', () => {
    const index = compile({
      policies: [
        { name: 'p', spec: spec({}) },
        { name: 'q', spec: { ...spec({}), replicas: { min: 0, max: 10 } } },
      ],
      namespaces: [{ name: 'web', labels: {} }],
    });
    expect(limitNotes(index, evaluate(index, req))).toEqual([]);
  });
});
