/** One registry of tools and kinds: every layer's view of it names the same tools. */

import { describe, expect, it } from 'vitest';
import { SCALE_TOOL_OF, SERVED_KIND_INFO, SERVED_KINDS } from '../../../src/api/v1alpha1/kinds.js';
import { ALWAYS_ALLOWED_TOOLS, KNOWN_TOOLS } from '../../../src/api/v1alpha1/tools.js';
import { LIST_TOOL, NAMESPACED_TOOLS, SCALE_TOOL } from '../../../src/mcp/guarded.js';
import { TOOL_ACTIONS } from '../../../src/mcp/safety/access.js';
import { TOOLS } from '../../../src/mcp/tools.js';

const sorted = (xs: Iterable<string>) => [...xs].sort();

describe('the tool and kind registry', () => {
  it('the served tools are exactly the known tools', () => {
    expect(sorted(TOOLS.map((t) => t.name))).toEqual(sorted(KNOWN_TOOLS));
  });

  it('every kind’s list and scale tool is known, and the guarded client gates kinds by them', () => {
    for (const kind of SERVED_KINDS) {
      expect(KNOWN_TOOLS).toContain(SERVED_KIND_INFO[kind].listTool);
      expect(LIST_TOOL[kind]).toBe(SERVED_KIND_INFO[kind].listTool);
    }
    expect(SCALE_TOOL).toEqual(SCALE_TOOL_OF);
    for (const tool of NAMESPACED_TOOLS) expect(KNOWN_TOOLS).toContain(tool);
  });

  it('every tool that needs a grant has the Kubernetes action of the RBAC second key', () => {
    const needsGrant = KNOWN_TOOLS.filter((t) => !ALWAYS_ALLOWED_TOOLS.includes(t));
    expect(sorted(Object.keys(TOOL_ACTIONS))).toEqual(sorted(needsGrant));
    expect(TOOL_ACTIONS.scale_statefulset).toEqual({
      verb: 'update',
      group: 'apps',
      resource: 'statefulsets',
      subresource: 'scale',
    });
    expect(TOOL_ACTIONS.list_pods).toEqual({ verb: 'list', group: '', resource: 'pods' });
  });
});
