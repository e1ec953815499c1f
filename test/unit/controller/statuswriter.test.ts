/**
 * The status writer writes only what differs, and forgets a write once the watch cache shows it: its
 * guard against a lagging cache must not keep one serialized status per policy for ever.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { type StatusTarget, StatusWriter } from '../../../src/controller/statuswriter.js';
import type { PolicyState } from '../../../src/policy/types.js';
import { type Cleanups, localApi } from '../kube/local-api.js';

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const STATE: PolicyState = {
  name: 'agent',
  namespace: 'team-a',
  generation: 1,
  ready: true,
  reason: 'Accepted',
  message: 'Grants 1 subject 1 tool (list_pods) in namespace team-a.',
  matchedNamespaces: 1,
};

const target = (resourceVersion: string, status: unknown): StatusTarget => ({
  kind: 'McpNamespacePolicy',
  collection: '/apis/kubemcp.io/v1alpha1/namespaces/team-a/mcpnamespacepolicies',
  name: 'agent',
  namespace: 'team-a',
  generation: 1,
  resourceVersion,
  status,
});

describe('StatusWriter', () => {
  it('guards a write until the cache shows it, then holds nothing for it', async () => {
    const patches: unknown[] = [];
    const client = await localApi((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        patches.push((JSON.parse(body) as { status: unknown }).status);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    }, cleanups);
    const writer = new StatusWriter({ client, fieldManager: 'test', now: () => 0 });

    await writer.write('nsp/team-a/agent', target('1', undefined), STATE);
    expect(patches).toHaveLength(1);
    expect(writer.unseenWrites).toBe(1);
    // The cache has not caught up: the same write is not sent again.
    await writer.write('nsp/team-a/agent', target('1', undefined), STATE);
    expect(patches).toHaveLength(1);
    // The cache shows it: nothing to write, nothing left to guard.
    await writer.write('nsp/team-a/agent', target('2', patches[0]), STATE);
    expect(patches).toHaveLength(1);
    expect(writer.unseenWrites).toBe(0);
  });
});
