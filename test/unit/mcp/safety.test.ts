import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PolicyObject } from '../../../src/policy/index.js';
import {
  call,
  connect,
  errorOf,
  type Harness,
  IDENTITIES,
  MODERN,
  NOW,
  POLICIES,
  post,
  startHarness,
  TOKENS,
  textOf,
  toolCall,
} from './helpers.js';

/** The copilot's policy (web, web-*; replicas 1-10), with agent-safety fields added. */
function webAgents(extra: Record<string, unknown>, replicas: Record<string, unknown> = {}): PolicyObject {
  const base = POLICIES.find((p) => p.name === 'web-agents');
  if (base === undefined) throw new Error('fixture policy web-agents missing');
  const spec = base.spec as Record<string, unknown>;
  return {
    ...base,
    spec: { ...spec, ...extra, replicas: { ...(spec.replicas as object), ...replicas } },
  };
}

function withPolicy(h: Harness, policy: PolicyObject): void {
  h.setPolicies([...POLICIES.filter((p) => p.name !== policy.name), policy]);
}

function audits(h: Harness): Record<string, unknown>[] {
  return h
    .records()
    .filter((r) => r.component === 'audit')
    .map((r) => r.audit as Record<string, unknown>);
}

describe('agent safety', () => {
  let h: Harness;
  let now = NOW;
  beforeEach(async () => {
    now = NOW;
    h = await startHarness({ now: () => now });
    h.backend.clock = () => now;
  });
  afterEach(async () => h.close());

  describe('dryRun', () => {
    it('checks, sends the write as a dry run, changes nothing, records no Event, and audits the dry run', async () => {
      const client = await connect(h, TOKENS.copilot);
      const result = await call(client, 'scale_deployment', {
        namespace: 'web',
        name: 'web',
        replicas: 5,
        dryRun: true,
      });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toMatchObject({ from: 3, to: 5, changed: false, dryRun: true });
      expect(textOf(result)).toMatch(/dry run: web would be scaled from 3 to 5/);
      expect(h.backend.writes).toEqual([expect.objectContaining({ replicas: 5, dryRun: true })]);
      expect(h.backend.events).toEqual([]);
      expect((await call(client, 'list_deployments', { namespace: 'web' })).structuredContent).toMatchObject({
        items: expect.arrayContaining([expect.objectContaining({ name: 'web', replicas: 3 })]),
      });
      expect(audits(h).find((a) => a.tool === 'scale_deployment')).toMatchObject({
        dryRun: true,
        decision: 'allow',
        outcome: 'ok',
      });
    });

    it('a real call is audited without the dryRun mark and records its Event', async () => {
      const client = await connect(h, TOKENS.copilot);
      const result = await call(client, 'scale_deployment', { namespace: 'web', name: 'web', replicas: 5 });
      expect(result.structuredContent).toMatchObject({ changed: true, dryRun: false });
      expect(h.backend.events).toHaveLength(1);
      expect(audits(h).find((a) => a.tool === 'scale_deployment')).not.toHaveProperty('dryRun');
    });

    it('reports a dry run the API server refuses as refused', async () => {
      h.backend.refuseAbove = 4;
      const client = await connect(h, TOKENS.copilot);
      const result = await call(client, 'scale_deployment', {
        namespace: 'web',
        name: 'web',
        replicas: 5,
        dryRun: true,
      });
      expect(result.isError).toBe(true);
      expect(errorOf(result).code).toBe('Invalid');
      expect(errorOf(result).reason).toMatch(/admission denied/);
    });

    it('still refuses what the policy refuses (no write is sent)', async () => {
      const client = await connect(h, TOKENS.copilot);
      const result = await call(client, 'scale_deployment', {
        namespace: 'web',
        name: 'web',
        replicas: 11,
        dryRun: true,
      });
      expect(errorOf(result).code).toBe('OutOfBounds');
      expect(h.backend.writes).toEqual([]);
    });
  });

  describe('replicas.maxStep', () => {
    it('refuses a larger change with OutOfBounds and a next step, allows a change within it', async () => {
      withPolicy(h, webAgents({}, { maxStep: 2 }));
      const client = await connect(h, TOKENS.copilot);
      const jump = await call(client, 'scale_deployment', { namespace: 'web', name: 'web', replicas: 8 });
      expect(errorOf(jump).code).toBe('OutOfBounds');
      expect(errorOf(jump).suggestions.join(' ')).toMatch(/scale to 5 first/);
      expect(h.backend.writes).toEqual([]);
      const step = await call(client, 'scale_deployment', { namespace: 'web', name: 'web', replicas: 5 });
      expect(step.isError).toBeFalsy();
      expect(h.backend.writes.map((w) => w.replicas)).toEqual([5]);
    });

    it('shows in get_permissions and in the tool description', async () => {
      withPolicy(h, webAgents({}, { maxStep: 3 }));
      const client = await connect(h, TOKENS.copilot);
      const perms = await call(client, 'get_permissions');
      expect(perms.structuredContent).toMatchObject({
        grants: [expect.objectContaining({ limits: expect.objectContaining({ maxStep: 3 }) })],
      });
      const { tools } = await client.listTools();
      expect(tools.find((t) => t.name === 'scale_deployment')?.description).toMatch(
        /at most 3 replicas of change per call/,
      );
      const replicas = tools.find((t) => t.name === 'scale_deployment')?.inputSchema.properties?.replicas as {
        description?: string;
      };
      expect(replicas.description).toBe(
        'Target replica count (you may set 1 to 10); at most 3 replicas of change per call (policy web-agents)',
      );
    });
  });

  describe('cooldownSeconds', () => {
    it('refuses a second scale within the cool-down with RateLimited and retryAfterSeconds', async () => {
      withPolicy(h, webAgents({ cooldownSeconds: 60 }));
      const client = await connect(h, TOKENS.copilot);
      expect(
        (await call(client, 'scale_deployment', { namespace: 'web', name: 'web', replicas: 4 })).isError,
      ).toBeFalsy();
      now += 20_000;
      const again = await call(client, 'scale_deployment', { namespace: 'web', name: 'web', replicas: 5 });
      expect(errorOf(again).code).toBe('RateLimited');
      expect(again.structuredContent?.error).toMatchObject({ retryAfterSeconds: 40 });
      expect(errorOf(again).suggestions.length).toBeGreaterThan(0);
      expect(h.backend.writes.map((w) => w.replicas)).toEqual([4]);
      // Another object is not affected.
      expect(
        (await call(client, 'scale_deployment', { namespace: 'web', name: 'api', replicas: 3 })).isError,
      ).toBeFalsy();
      now += 40_000;
      expect(
        (await call(client, 'scale_deployment', { namespace: 'web', name: 'web', replicas: 5 })).isError,
      ).toBeFalsy();
    });

    it('reads the last scale from the cluster, not from this process', async () => {
      withPolicy(h, webAgents({ cooldownSeconds: 60 }));
      h.backend.lastScaled.set('deployment/web/web', NOW - 10_000); // scaled by another replica
      const client = await connect(h, TOKENS.copilot);
      const result = await call(client, 'scale_deployment', { namespace: 'web', name: 'web', replicas: 4 });
      expect(result.structuredContent?.error).toMatchObject({ code: 'RateLimited', retryAfterSeconds: 50 });
      expect(h.backend.calls).toContain('readScaleHistory deployment web/web');
    });

    it('records the scale before making it; a replica that loses the race sees the cool-down', async () => {
      withPolicy(h, webAgents({ cooldownSeconds: 60 }));
      const client = await connect(h, TOKENS.copilot);
      h.backend.lostClaims = 1;
      const raced = await call(client, 'scale_deployment', { namespace: 'web', name: 'web', replicas: 4 });
      expect(raced.structuredContent?.error).toMatchObject({ code: 'RateLimited', retryAfterSeconds: 60 });
      expect(h.backend.writes).toEqual([]);
      now += 60_000;
      await call(client, 'scale_deployment', { namespace: 'web', name: 'web', replicas: 4, dryRun: true });
      expect(h.backend.calls.filter((c) => c.startsWith('claimScale'))).toHaveLength(1); // a dry run claims nothing
      await call(client, 'scale_deployment', { namespace: 'web', name: 'web', replicas: 4 });
      const order = h.backend.calls.filter((c) => c.startsWith('claimScale') || c.startsWith('writeScale'));
      expect(order.slice(-2)).toEqual(['claimScale deployment/web/web', 'writeScale deployment web/web 4']);
    });
  });

  describe('rateLimit', () => {
    it('refuses the call over callsPerMinute with RateLimited, retryAfterSeconds and suggestions', async () => {
      withPolicy(h, webAgents({ rateLimit: { callsPerMinute: 2 } }));
      const client = await connect(h, TOKENS.copilot);
      for (let i = 0; i < 2; i++)
        expect((await call(client, 'list_pods', { namespace: 'web' })).isError).toBeFalsy();
      now += 15_000;
      const third = await call(client, 'list_pods', { namespace: 'web' });
      expect(errorOf(third).code).toBe('RateLimited');
      expect(third.structuredContent?.error).toMatchObject({ retryAfterSeconds: 45 });
      expect(errorOf(third).suggestions.length).toBeGreaterThan(0);
      // Other callers have their own budget.
      const alice = await connect(h, TOKENS.alice);
      expect((await call(alice, 'list_pods', { namespace: 'web' })).isError).toBeFalsy();
      now += 45_000;
      expect((await call(client, 'list_pods', { namespace: 'web' })).isError).toBeFalsy();
    });

    it('does not count calls the policy refuses, nor limit calls another policy grants without a limit', async () => {
      withPolicy(h, webAgents({ rateLimit: { callsPerMinute: 1 } }));
      const client = await connect(h, TOKENS.copilot);
      for (let i = 0; i < 3; i++)
        expect(errorOf(await call(client, 'list_pods', { namespace: 'payments' })).code).toBe('PolicyDenied');
      expect((await call(client, 'list_pods', { namespace: 'web' })).isError).toBeFalsy();
      // alice's own policy (admins) sets no limit.
      const alice = await connect(h, TOKENS.alice);
      for (let i = 0; i < 3; i++)
        expect((await call(alice, 'list_pods', { namespace: 'web' })).isError).toBeFalsy();
    });
  });

  describe('confirm', () => {
    it('refuses a matching scale with ConfirmationRequired when the client cannot ask (fail closed)', async () => {
      withPolicy(h, webAgents({ confirm: { above: 5, scaleToZero: true } }));
      const client = await connect(h, TOKENS.copilot);
      const result = await call(client, 'scale_deployment', { namespace: 'web', name: 'web', replicas: 6 });
      expect(errorOf(result).code).toBe('ConfirmationRequired');
      expect(errorOf(result).reason).toMatch(/more than 5 replicas/);
      expect(h.backend.writes).toEqual([]);
      const small = await call(client, 'scale_deployment', { namespace: 'web', name: 'web', replicas: 5 });
      expect(small.isError).toBeFalsy();
    });

    async function askingClient(
      answer: { action: 'accept' | 'decline' | 'cancel'; content?: Record<string, boolean> },
      asked: string[],
    ): Promise<Client> {
      const client = new Client(
        { name: 'confirming-client', version: '1.0.0' },
        { versionNegotiation: { mode: { pin: MODERN } }, capabilities: { elicitation: { form: {} } } },
      );
      client.setRequestHandler('elicitation/create', async (request) => {
        asked.push(String((request.params as { message?: unknown }).message));
        return answer;
      });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(h.url), {
          requestInit: { headers: { Authorization: `Bearer ${TOKENS.copilot}` } },
        }),
      );
      return client;
    }

    it('2026-07-28: asks the human through elicitation (input_required) and scales when they accept', async () => {
      withPolicy(h, webAgents({ confirm: { above: 5 } }));
      const asked: string[] = [];
      const client = await askingClient({ action: 'accept', content: { confirm: true } }, asked);
      const result = await call(client, 'scale_deployment', { namespace: 'web', name: 'web', replicas: 6 });
      expect(result.isError).toBeFalsy();
      expect(asked).toEqual([
        expect.stringMatching(
          /from 3 to 6 replicas\? A human must confirm because it sets more than 5 replicas/,
        ),
      ]);
      expect(result.structuredContent).toMatchObject({
        changed: true,
        confirmation: { via: 'elicitation through confirming-client 1.0.0 (client-reported name)' },
      });
      expect(h.backend.writes.map((w) => w.replicas)).toEqual([6]);
      expect(audits(h).find((a) => a.tool === 'scale_deployment' && a.outcome === 'ok')).toMatchObject({
        confirmedVia: 'elicitation through confirming-client 1.0.0 (client-reported name)',
      });
    });

    it('2026-07-28: changes nothing when the human declines', async () => {
      withPolicy(h, webAgents({ confirm: { above: 5 } }));
      const client = await askingClient({ action: 'decline' }, []);
      const result = await call(client, 'scale_deployment', { namespace: 'web', name: 'web', replicas: 6 });
      expect(errorOf(result).code).toBe('ConfirmationRequired');
      expect(errorOf(result).reason).toMatch(/declined/);
      expect(h.backend.writes).toEqual([]);
    });

    it('2026-07-28: an answer signed for another call does not count', async () => {
      withPolicy(h, webAgents({ confirm: { above: 5 } }));
      const raw = async (body: unknown) =>
        fetch(h.url, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json',
            Accept: 'application/json, text/event-stream',
            Authorization: `Bearer ${TOKENS.copilot}`,
            'MCP-Protocol-Version': MODERN,
            'Mcp-Method': 'tools/call',
            'Mcp-Name': 'scale_deployment',
          },
          body: JSON.stringify(body),
        }).then(
          async (r) => JSON.parse(await r.text()) as { result?: Record<string, unknown>; error?: unknown },
        );
      const meta = {
        'io.modelcontextprotocol/protocolVersion': MODERN,
        'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
        'io.modelcontextprotocol/clientCapabilities': { elicitation: { form: {} } },
      };
      const first = await raw({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: {
          name: 'scale_deployment',
          arguments: { namespace: 'web', name: 'web', replicas: 6 },
          _meta: meta,
        },
      });
      expect(first.result?.resultType).toBe('input_required');
      const state = first.result?.requestState;
      // The same signed state and an "accept", replayed for another target count: asked again, not scaled.
      const replay = await raw({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: {
          name: 'scale_deployment',
          arguments: { namespace: 'web', name: 'web', replicas: 9 },
          _meta: meta,
          requestState: state,
          inputResponses: { confirm: { action: 'accept', content: { confirm: true } } },
        },
      });
      expect(replay.result?.resultType).toBe('input_required');
      expect(h.backend.writes).toEqual([]);
      // A forged state is refused outright.
      const forged = await raw({
        jsonrpc: '2.0',
        id: 3,
        method: 'tools/call',
        params: {
          name: 'scale_deployment',
          arguments: { namespace: 'web', name: 'web', replicas: 6 },
          _meta: meta,
          requestState: 'v1.eyJwIjp7fX0.AAAA',
          inputResponses: { confirm: { action: 'accept', content: { confirm: true } } },
        },
      });
      expect(forged.error).toMatchObject({ code: -32602 });
      expect(h.backend.writes).toEqual([]);
    });

    /** The v1 SDK client (2025-era initialize handshake); `answer` decides each elicitation/create. */
    async function legacyClient(
      answer: ((id: string | number, message: string) => Promise<Record<string, unknown>>) | undefined,
      token: string = TOKENS.copilot,
    ): Promise<{ client: ClientV1; transport: TransportV1 }> {
      const client = new ClientV1(
        { name: 'legacy-confirming', version: '0.3.1' },
        answer === undefined ? {} : { capabilities: { elicitation: { form: {} } } },
      );
      if (answer !== undefined) {
        client.setRequestHandler(ElicitRequestSchema, async (request, extra) => {
          return (await answer(extra.requestId, String(request.params.message))) as never;
        });
      }
      const transport = new TransportV1(new URL(h.url), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
      });
      await client.connect(transport);
      return { client, transport };
    }

    /** The raw answer POST of a 2025-era client, as `token`. */
    async function answerPost(id: string | number, token: string, sessionId?: string) {
      return post(
        h,
        { jsonrpc: '2.0', id, result: { action: 'accept', content: { confirm: true } } },
        {
          token,
          headers: {
            'MCP-Protocol-Version': '2025-06-18',
            ...(sessionId ? { 'Mcp-Session-Id': sessionId } : {}),
          },
        },
      );
    }

    it('asks once when a Conflict retry finds the same change, and again when the change is another', async () => {
      withPolicy(h, webAgents({ confirm: { above: 5 } }));
      const asked: string[] = [];
      const { client } = await legacyClient(async (_id, message) => {
        asked.push(message);
        return { action: 'accept', content: { confirm: true } };
      });
      const scale = async (replicas: number) =>
        (await client.callTool({
          name: 'scale_deployment',
          arguments: { namespace: 'web', name: 'web', replicas },
        })) as Parameters<typeof errorOf>[0];
      // Someone else writes 3 (the same count) in between: the retry writes what the human confirmed.
      h.backend.concurrentWriters = [{ replicas: 3 }];
      expect((await scale(6)).isError).toBeFalsy();
      expect(asked).toEqual([expect.stringMatching(/from 3 to 6 replicas\?/)]);
      // Someone else moves it to 4 in between: 4 → 7 is not what the human saw, so they are asked.
      h.backend.concurrentWriters = [{ replicas: 4 }];
      expect((await scale(7)).isError).toBeFalsy();
      expect(asked.slice(1)).toEqual([
        expect.stringMatching(/from 6 to 7 replicas\?/),
        expect.stringMatching(/from 4 to 7 replicas\?/),
      ]);
    });

    it('2025-era: asks with elicitation/create within the call and scales when the person accepts', async () => {
      withPolicy(h, webAgents({ confirm: { above: 5 } }));
      const asked: string[] = [];
      const { client, transport } = await legacyClient(async (_id, message) => {
        asked.push(message);
        return { action: 'accept', content: { confirm: true } };
      });
      expect(transport.sessionId).toMatch(/^kmcs1\./);
      const result = (await client.callTool({
        name: 'scale_deployment',
        arguments: { namespace: 'web', name: 'web', replicas: 6 },
      })) as Parameters<typeof errorOf>[0];
      expect(result.isError).toBeFalsy();
      expect(asked).toEqual([expect.stringMatching(/from 3 to 6 replicas\? A human must confirm/)]);
      expect(result.structuredContent).toMatchObject({
        changed: true,
        confirmation: { via: 'elicitation through legacy-confirming 0.3.1 (client-reported name)' },
      });
      expect(h.backend.writes.map((w) => w.replicas)).toEqual([6]);
      expect(audits(h).find((a) => a.tool === 'scale_deployment' && a.outcome === 'ok')).toMatchObject({
        caller: { user: IDENTITIES.copilot.username },
        confirmedVia: 'elicitation through legacy-confirming 0.3.1 (client-reported name)',
        confirmation: {
          answer: 'accepted',
          flow: 'elicitation/create',
          revision: transport.protocolVersion,
          client: 'legacy-confirming 0.3.1',
        },
      });
      const metrics = await h.registry.metrics();
      expect(metrics).toMatch(
        /kubemcp_confirmations_total\{flow="elicitation\/create",answer="accepted",reason=""\} 1/,
      );
      expect(metrics).toMatch(/kubemcp_elicitation_answers_total\{result="delivered"\} 1/);
      expect(metrics).toMatch(/kubemcp_confirmations_pending 0/);
      await client.close();
    });

    it('2025-era: changes nothing when the person declines or cancels', async () => {
      withPolicy(h, webAgents({ confirm: { above: 5 } }));
      for (const action of ['decline', 'cancel'] as const) {
        const { client } = await legacyClient(async () => ({ action }));
        const result = (await client.callTool({
          name: 'scale_deployment',
          arguments: { namespace: 'web', name: 'web', replicas: 6 },
        })) as Parameters<typeof errorOf>[0];
        expect(errorOf(result).code).toBe('ConfirmationRequired');
        expect(errorOf(result).reason).toMatch(/declined or cancelled/);
        await client.close();
      }
      expect(h.backend.writes).toEqual([]);
      expect(
        audits(h)
          .filter((a) => a.tool === 'scale_deployment')
          .map((a) => (a.confirmation as { answer?: string } | undefined)?.answer),
      ).toEqual(['declined', 'declined']);
    });

    it('2025-era through the v2 SDK client (initialize handshake): asked within the call, accepted scales', async () => {
      withPolicy(h, webAgents({ confirm: { above: 5 } }));
      const client = new Client(
        { name: 'v2-legacy-confirming', version: '2.0.0' },
        { capabilities: { elicitation: { form: {} } } },
      );
      client.setRequestHandler('elicitation/create', async () => ({
        action: 'accept',
        content: { confirm: true },
      }));
      await client.connect(
        new StreamableHTTPClientTransport(new URL(h.url), {
          requestInit: { headers: { Authorization: `Bearer ${TOKENS.copilot}` } },
        }),
      );
      const result = await call(client, 'scale_deployment', { namespace: 'web', name: 'web', replicas: 6 });
      expect(result.isError).toBeFalsy();
      expect(h.backend.writes.map((w) => w.replicas)).toEqual([6]);
      expect(audits(h).find((a) => a.tool === 'scale_deployment' && a.outcome === 'ok')).toMatchObject({
        confirmation: {
          answer: 'accepted',
          flow: 'elicitation/create',
          revision: expect.stringMatching(/^2025-/),
          client: 'v2-legacy-confirming 2.0.0',
        },
      });
      await client.close();
    });

    it('2025-era: a client without the elicitation capability is refused (fail closed) and gets no session id', async () => {
      withPolicy(h, webAgents({ confirm: { above: 5 } }));
      const { client, transport } = await legacyClient(undefined);
      expect(transport.sessionId).toBeUndefined();
      const result = (await client.callTool({
        name: 'scale_deployment',
        arguments: { namespace: 'web', name: 'web', replicas: 6 },
      })) as Parameters<typeof errorOf>[0];
      expect(errorOf(result).code).toBe('ConfirmationRequired');
      expect(errorOf(result).reason).toMatch(/did not declare the elicitation capability/);
      expect(h.backend.writes).toEqual([]);
      expect(audits(h).find((a) => a.tool === 'scale_deployment')).toMatchObject({
        outcome: 'ConfirmationRequired',
        confirmation: { answer: 'unavailable', flow: 'elicitation/create', reason: 'no-capability' },
      });
    });

    it("2025-era: another caller's answer and a replayed answer are refused; only the asker's counts, once", async () => {
      withPolicy(h, webAgents({ confirm: { above: 5 } }));
      const seen: { id: string | number; foreign: number; early: number }[] = [];
      const { client, transport } = await legacyClient(async (id) => {
        // Mallory, holding the id, answers first: refused, and the question stays open.
        const foreign = await answerPost(id, TOKENS.mallory);
        // A made-up id of the same shape: refused.
        const early = await answerPost(`kmce1.x.${'A'.repeat(43)}`, TOKENS.copilot, transport.sessionId);
        seen.push({ id, foreign: foreign.status, early: early.status });
        return { action: 'accept', content: { confirm: true } };
      });
      const result = (await client.callTool({
        name: 'scale_deployment',
        arguments: { namespace: 'web', name: 'web', replicas: 6 },
      })) as Parameters<typeof errorOf>[0];
      expect(result.isError).toBeFalsy();
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ foreign: 400, early: 409 });
      // Replayed after it counted: nothing is waiting for it.
      const replay = await answerPost(seen[0]?.id ?? '', TOKENS.copilot, transport.sessionId);
      expect(replay.status).toBe(400);
      expect(replay.json).toMatchObject({
        error: { message: expect.stringMatching(/no question with this id/) },
      });
      expect(h.backend.writes.map((w) => w.replicas)).toEqual([6]);
      await client.close();
    });

    it('2025-era: a session id presented by another caller, or altered, does not let anyone be asked', async () => {
      // bob may scale web under the same rules as copilot.
      withPolicy(
        h,
        webAgents({
          confirm: { above: 5 },
          subjects: [
            { kind: 'ServiceAccount', name: 'copilot', namespace: 'agents' },
            { kind: 'User', name: 'bob' },
          ],
        }),
      );
      const { transport } = await legacyClient(async () => ({
        action: 'accept',
        content: { confirm: true },
      }));
      const issued = transport.sessionId ?? '';
      const scale = toolCall('scale_deployment', { namespace: 'web', name: 'web', replicas: 6 });
      const asBob = await post(h, scale, {
        token: TOKENS.bob,
        headers: { 'MCP-Protocol-Version': '2025-06-18', 'Mcp-Session-Id': issued },
      });
      expect(asBob.text).not.toMatch(/elicitation\/create/);
      expect(asBob.text).toMatch(/ConfirmationRequired/);
      expect(asBob.text).toMatch(/issued to another caller/);
      const altered = await post(h, scale, {
        token: TOKENS.copilot,
        headers: { 'MCP-Protocol-Version': '2025-06-18', 'Mcp-Session-Id': `${issued.slice(0, -2)}xx` },
      });
      expect(altered.text).not.toMatch(/elicitation\/create/);
      expect(altered.text).toMatch(/does not verify here/);
      expect(h.backend.writes).toEqual([]);
    });

    it('2025-era: a client that disconnects while asked frees its question at once', async () => {
      withPolicy(h, webAgents({ confirm: { above: 5 } }));
      const { transport } = await legacyClient(async () => ({
        action: 'accept',
        content: { confirm: true },
      }));
      const abort = new AbortController();
      const res = await fetch(h.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json, text/event-stream',
          Authorization: `Bearer ${TOKENS.copilot}`,
          'MCP-Protocol-Version': '2025-06-18',
          'Mcp-Session-Id': transport.sessionId ?? '',
        },
        body: JSON.stringify(toolCall('scale_deployment', { namespace: 'web', name: 'web', replicas: 6 })),
        signal: abort.signal,
      });
      const reader = res.body?.getReader();
      let seen = '';
      while (reader !== undefined && !seen.includes('elicitation/create')) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += new TextDecoder().decode(value);
      }
      expect(seen).toContain('"method":"elicitation/create"');
      expect(await h.registry.metrics()).toMatch(/kubemcp_confirmations_pending 1/);
      abort.abort();
      await vi.waitFor(async () => {
        expect(await h.registry.metrics()).toMatch(/kubemcp_confirmations_pending 0/);
      });
      await vi.waitFor(() => {
        expect(audits(h).find((a) => a.tool === 'scale_deployment')).toMatchObject({
          outcome: 'ConfirmationRequired',
          confirmation: { answer: 'unavailable', reason: 'gone' },
        });
      });
      expect(h.backend.writes).toEqual([]);
    });

    it('2025-era: no answer within the timeout is refused, and the question is dropped', async () => {
      await h.close();
      h = await startHarness({ now: () => now, options: { confirmationTimeoutSeconds: 1 } });
      h.backend.clock = () => now;
      withPolicy(h, webAgents({ confirm: { above: 5 } }));
      const { client } = await legacyClient(() => new Promise(() => {}));
      const result = (await client.callTool({
        name: 'scale_deployment',
        arguments: { namespace: 'web', name: 'web', replicas: 6 },
      })) as Parameters<typeof errorOf>[0];
      expect(errorOf(result).code).toBe('ConfirmationRequired');
      expect(errorOf(result).reason).toMatch(/no answer came back within 1 s/);
      expect(h.backend.writes).toEqual([]);
      expect(await h.registry.metrics()).toMatch(/kubemcp_confirmations_pending 0/);
      await client.close();
    });

    it('a dry run reports that a human would have to confirm, without asking', async () => {
      withPolicy(h, webAgents({ confirm: { above: 5 } }));
      const client = await connect(h, TOKENS.copilot);
      const result = await call(client, 'scale_deployment', {
        namespace: 'web',
        name: 'web',
        replicas: 6,
        dryRun: true,
      });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toMatchObject({
        dryRun: true,
        confirmation: { reasons: [expect.stringMatching(/more than 5 replicas/)] },
      });
    });
  });

  describe('requireKubernetesRBAC', () => {
    const copilot = 'system:serviceaccount:agents:copilot';

    it("denies what the caller's own RBAC does not allow, naming the permission; allows once it does", async () => {
      withPolicy(h, webAgents({ requireKubernetesRBAC: true }));
      const client = await connect(h, TOKENS.copilot);
      const denied = await call(client, 'list_pods', { namespace: 'web' });
      expect(errorOf(denied).code).toBe('PolicyDenied');
      expect(errorOf(denied).message).toContain('list pods in namespace web');
      expect(h.backend.accessReviews).toEqual([
        expect.objectContaining({
          user: copilot,
          verb: 'list',
          resource: 'pods',
          namespace: 'web',
          group: '',
        }),
      ]);
      h.backend.rbac.add(`${copilot} list pods web`);
      now += 10_001; // the cached denial expires after at most 10 s
      expect((await call(client, 'list_pods', { namespace: 'web' })).isError).toBeFalsy();
    });

    it('caches answers: one review per caller, action and namespace per 10 s', async () => {
      withPolicy(h, webAgents({ requireKubernetesRBAC: true }));
      h.backend.rbac.add(`${copilot} list pods web`);
      const client = await connect(h, TOKENS.copilot);
      for (let i = 0; i < 3; i++)
        expect((await call(client, 'list_pods', { namespace: 'web' })).isError).toBeFalsy();
      expect(h.backend.accessReviews).toHaveLength(1);
      const metrics = await h.registry.getSingleMetricAsString('kubemcp_subjectaccessreview_lookups_total');
      expect(metrics).toContain('kubemcp_subjectaccessreview_lookups_total{result="allowed"} 1');
      expect(metrics).toContain('kubemcp_subjectaccessreview_lookups_total{result="cache_hit"} 2');
    });

    it('checks a scale as update deployments/scale, dry runs included', async () => {
      withPolicy(h, webAgents({ requireKubernetesRBAC: true }));
      const client = await connect(h, TOKENS.copilot);
      const denied = await call(client, 'scale_deployment', {
        namespace: 'web',
        name: 'web',
        replicas: 4,
        dryRun: true,
      });
      expect(errorOf(denied).message).toContain('update deployments/scale (API group apps) in namespace web');
      expect(h.backend.writes).toEqual([]);
      h.backend.rbac.add(`${copilot} update deployments/scale web`);
      now += 10_001;
      expect(
        (await call(client, 'scale_deployment', { namespace: 'web', name: 'web', replicas: 4 })).isError,
      ).toBeFalsy();
    });

    it('leaves out of a list across namespaces those the RBAC refuses, and out of resources', async () => {
      withPolicy(h, webAgents({ requireKubernetesRBAC: true }));
      h.backend.rbac.add(`${copilot} list pods web-dev`);
      const client = await connect(h, TOKENS.copilot);
      const listed = await call(client, 'list_pods', {});
      const items = (listed.structuredContent?.items ?? []) as { namespace: string }[];
      expect(new Set(items.map((i) => i.namespace))).toEqual(new Set(['web-dev']));
      const { resources } = await client.listResources();
      expect(resources.map((r) => r.uri).filter((u) => u.startsWith('k8s://pod/'))).toEqual([
        'k8s://pod/web-dev/api-dev-5c6d7-xxxxx',
      ]);
    });

    it('does not apply when another policy grants the call without the second key', async () => {
      withPolicy(h, webAgents({ requireKubernetesRBAC: true }));
      const alice = await connect(h, TOKENS.alice);
      expect((await call(alice, 'list_pods', { namespace: 'web' })).isError).toBeFalsy();
      expect(h.backend.accessReviews).toEqual([]);
    });
  });
});
