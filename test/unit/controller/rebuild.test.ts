/** What a rebuild compiles from the watch caches, and which statuses it queues. */

import { describe, expect, it } from 'vitest';
import { changedStatusKeys, compileInputOf } from '../../../src/controller/rebuild.js';
import { compile } from '../../../src/policy/index.js';

const SPEC = { subjects: [{ kind: 'User', name: 'alice' }], tools: ['list_pods'] };

describe('rebuild', () => {
  it('compiles the named cached objects, a namespaced one only with its namespace', () => {
    const input = compileInputOf({
      policies: [
        { metadata: { name: 'p', generation: 2 }, spec: { ...SPEC, namespaces: { names: ['web'] } } },
        {},
      ],
      namespacePolicies: [
        { metadata: { name: 'a', namespace: 'team-a' }, spec: SPEC },
        { metadata: { name: 'b' } },
      ],
      delegations: [],
      namespaces: [{ metadata: { name: 'web' } }, { metadata: {} }],
    });
    expect(input.policies.map((p) => [p.name, p.generation])).toEqual([['p', 2]]);
    expect(input.namespacePolicies?.map((p) => `${p.namespace}/${p.name}`)).toEqual(['team-a/a']);
    expect(input.namespaces).toEqual([{ name: 'web', labels: {} }]);
  });

  it('queues every status of a first index, then only the changed ones', () => {
    const cached = {
      policies: [
        { metadata: { name: 'p', generation: 1 }, spec: { ...SPEC, namespaces: { names: ['web'] } } },
      ],
      namespacePolicies: [{ metadata: { name: 'a', namespace: 'team-a', generation: 1 }, spec: SPEC }],
      delegations: [
        {
          metadata: { name: 'd', generation: 1 },
          spec: { namespaces: { names: ['team-a'] }, ceiling: { tools: ['list_*'] } },
        },
      ],
      namespaces: [{ metadata: { name: 'web' } }, { metadata: { name: 'team-a' } }],
    };
    const first = compile(compileInputOf(cached));
    expect(changedStatusKeys(undefined, first).sort()).toEqual([
      'dstatus/d',
      'nsstatus/team-a/a',
      'status/p',
    ]);
    expect(changedStatusKeys(first, compile(compileInputOf(cached)))).toEqual([]);
    const edited = {
      ...cached,
      namespacePolicies: [{ metadata: { name: 'a', namespace: 'team-a', generation: 2 }, spec: SPEC }],
    };
    expect(changedStatusKeys(first, compile(compileInputOf(edited)))).toEqual(['nsstatus/team-a/a']);
  });
});
