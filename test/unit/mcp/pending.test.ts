import { afterEach, describe, expect, it, vi } from 'vitest';
import { PendingElicitations } from '../../../src/mcp/safety/pending.js';
import {
  clientOfInitialize,
  declaresFormElicitation,
  LegacySessions,
  SESSION_TTL_MS,
} from '../../../src/mcp/safety/session.js';

const ANSWER = { jsonrpc: '2.0', result: { action: 'accept', content: { confirm: true } } };

describe('PendingElicitations', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('delivers an answer once, to the caller it was asked of', async () => {
    const sizes: number[] = [];
    const pending = new PendingElicitations({ onSize: (n) => sizes.push(n) });
    const opened = pending.open('alice', 60_000);
    if (!opened.ok) throw new Error('not opened');
    expect(opened.id).toMatch(/^kmce1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    // Another caller's answer is refused and leaves the question pending.
    expect(pending.deliver(opened.id, 'mallory', { ...ANSWER, id: opened.id })).toBe('unknown');
    expect(pending.size).toBe(1);
    expect(pending.deliver(opened.id, 'alice', { ...ANSWER, id: opened.id })).toBe('delivered');
    expect(await opened.outcome).toEqual({ kind: 'answered', message: { ...ANSWER, id: opened.id } });
    // Replayed: nothing is waiting any more.
    expect(pending.deliver(opened.id, 'alice', { ...ANSWER, id: opened.id })).toBe('unknown');
    expect(pending.size).toBe(0);
    expect(sizes).toEqual([1, 0]);
  });

  it("caps one namespace's ServiceAccounts together, so minted ServiceAccounts cannot fill the replica", () => {
    const pending = new PendingElicitations({ maxPerCaller: 2, maxPerNamespace: 3, maxTotal: 10 });
    const sa = (ns: string, i: number) => `system:serviceaccount:${ns}:bot-${i}`;
    const first = [0, 1, 2].map((i) => pending.open(sa('team-a', i), 60_000));
    expect(first.every((o) => o.ok)).toBe(true);
    // A fourth ServiceAccount of team-a is refused although it has nothing pending itself.
    expect(pending.open(sa('team-a', 3), 60_000)).toEqual({ ok: false, why: 'namespace_full' });
    // Other namespaces and users are not affected.
    expect(pending.open(sa('team-b', 0), 60_000).ok).toBe(true);
    expect(pending.open('alice', 60_000).ok).toBe(true);
    // An answered question frees its namespace's slot.
    const o = first[0];
    if (!o?.ok) throw new Error('not opened');
    expect(pending.deliver(o.id, sa('team-a', 0), { ...ANSWER, id: o.id })).toBe('delivered');
    expect(pending.open(sa('team-a', 3), 60_000).ok).toBe(true);
    // A username that only looks like a ServiceAccount's without a namespace is a plain caller.
    expect(pending.open('system:serviceaccount::x', 60_000).ok).toBe(true);
  });

  it('ids are unguessable and name the process that asked', () => {
    const a = new PendingElicitations();
    const b = new PendingElicitations();
    const ids = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const o = a.open(`caller-${i}`, 60_000);
      if (o.ok) ids.add(o.id);
    }
    expect(ids.size).toBe(2);
    const fromB = b.open('alice', 60_000);
    if (!fromB.ok) throw new Error('not opened');
    // An answer to B's question reaching A is told apart from a forged id.
    expect(a.deliver(fromB.id, 'alice', ANSWER)).toBe('other_replica');
    expect(a.deliver(`kmce1.${a.tag}.forged`, 'alice', ANSWER)).toBe('unknown');
    expect(PendingElicitations.isOurs(fromB.id)).toBe(true);
    expect(PendingElicitations.isOurs(7)).toBe(false);
    expect(PendingElicitations.isOurs(`kmce1.${'x'.repeat(200)}`)).toBe(false);
  });

  it('bounds pending questions per caller and in all (fail closed, no queue)', () => {
    const pending = new PendingElicitations({ maxPerCaller: 2, maxTotal: 3 });
    expect(pending.open('alice', 60_000).ok).toBe(true);
    expect(pending.open('alice', 60_000).ok).toBe(true);
    expect(pending.open('alice', 60_000)).toEqual({ ok: false, why: 'caller_full' });
    expect(pending.open('bob', 60_000).ok).toBe(true);
    expect(pending.open('carol', 60_000)).toEqual({ ok: false, why: 'total_full' });
    expect(pending.size).toBe(3);
  });

  it('frees the slot when a question times out, is abandoned or cancelled', async () => {
    vi.useFakeTimers();
    const pending = new PendingElicitations({ maxPerCaller: 1 });
    const timed = pending.open('alice', 1_000);
    if (!timed.ok) throw new Error('not opened');
    expect(pending.open('alice', 1_000).ok).toBe(false);
    vi.advanceTimersByTime(1_000);
    expect(await timed.outcome).toEqual({ kind: 'timeout' });
    expect(pending.deliver(timed.id, 'alice', ANSWER)).toBe('unknown');

    const abort = new AbortController();
    const gone = pending.open('alice', 60_000, abort.signal);
    if (!gone.ok) throw new Error('not opened');
    abort.abort();
    expect(await gone.outcome).toEqual({ kind: 'abandoned' });
    expect(pending.size).toBe(0);

    const cancelled = pending.open('alice', 60_000);
    if (!cancelled.ok) throw new Error('not opened');
    pending.cancel(cancelled.id);
    expect(await cancelled.outcome).toEqual({ kind: 'abandoned' });
    expect(pending.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an already aborted request never waits', async () => {
    const pending = new PendingElicitations();
    const opened = pending.open('alice', 60_000, AbortSignal.abort());
    if (!opened.ok) throw new Error('not opened');
    expect(await opened.outcome).toEqual({ kind: 'abandoned' });
    expect(pending.size).toBe(0);
  });
});

describe('LegacySessions', () => {
  const key = new Uint8Array(32).fill(7);

  it('says what the client declared, to the caller it was issued to only', () => {
    let now = 1_000_000;
    const sessions = new LegacySessions(key, () => now);
    const id = sessions.issue('alice', 'claude-code 2.1');
    expect(id).toMatch(/^kmcs1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(sessions.check(id, 'alice')).toEqual({
      ok: true,
      session: { caller: 'alice', elicitation: true, client: 'claude-code 2.1', issuedAt: 1_000_000 },
    });
    expect(sessions.check(id, 'mallory')).toMatchObject({
      ok: false,
      why: expect.stringMatching(/another caller/),
    });
    // Any replica with the same key reads it; one with another key does not.
    expect(new LegacySessions(key, () => now).check(id, 'alice').ok).toBe(true);
    expect(new LegacySessions(new Uint8Array(32).fill(8), () => now).check(id, 'alice')).toMatchObject({
      ok: false,
      why: expect.stringMatching(/does not verify/),
    });
    now += SESSION_TTL_MS + 1;
    expect(sessions.check(id, 'alice')).toMatchObject({ ok: false, why: expect.stringMatching(/expired/) });
  });

  it('follows a key that changes while the server runs (the shared key arriving from its Secret)', () => {
    let current: Uint8Array = new Uint8Array(32).fill(1);
    const sessions = new LegacySessions(() => current);
    const before = sessions.issue('alice', 'x');
    expect(sessions.check(before, 'alice').ok).toBe(true);
    current = key;
    // Issued under the stand-in key: no longer verifies (fail closed: the client reconnects).
    expect(sessions.check(before, 'alice')).toMatchObject({
      ok: false,
      why: expect.stringMatching(/does not verify/),
    });
    const after = sessions.issue('alice', 'x');
    expect(sessions.check(after, 'alice').ok).toBe(true);
    // The same id as a replica given the shared key from the start reads.
    expect(new LegacySessions(key).check(after, 'alice').ok).toBe(true);
  });

  it('refuses altered, foreign and missing session ids', () => {
    const sessions = new LegacySessions(key);
    const id = sessions.issue('alice', 'x');
    const [prefix, body, mac] = id.split('.');
    const forged = Buffer.from(JSON.stringify({ u: 'alice', c: 'x', t: 0 })).toString('base64url');
    expect(sessions.check(`${prefix}.${forged}.${mac}`, 'alice').ok).toBe(false);
    expect(sessions.check(`${prefix}.${body}.${mac}x`, 'alice').ok).toBe(false);
    expect(sessions.check('3f2a9c0e-some-other-server', 'alice')).toMatchObject({
      ok: false,
      why: expect.stringMatching(/not issued by KubeMCP/),
    });
    expect(sessions.check(undefined, 'alice')).toMatchObject({
      ok: false,
      why: expect.stringMatching(/did not declare the elicitation capability/),
    });
    expect(sessions.check(`kmcs1.${'A'.repeat(2000)}.x`, 'alice').ok).toBe(false);
  });

  it('reads the declaration of initialize', () => {
    expect(declaresFormElicitation({ capabilities: { elicitation: {} } })).toBe(true);
    expect(declaresFormElicitation({ capabilities: { elicitation: { form: {} } } })).toBe(true);
    expect(declaresFormElicitation({ capabilities: { elicitation: { form: {}, url: {} } } })).toBe(true);
    expect(declaresFormElicitation({ capabilities: { elicitation: { url: {} } } })).toBe(false);
    expect(declaresFormElicitation({ capabilities: { elicitation: true } })).toBe(false);
    expect(declaresFormElicitation({ capabilities: {} })).toBe(false);
    expect(declaresFormElicitation(undefined)).toBe(false);
    expect(clientOfInitialize({ clientInfo: { name: 'inspector', version: '0.9' } })).toBe('inspector 0.9');
    expect(clientOfInitialize({ clientInfo: { name: 'a\u0000b\nc', version: 'v'.repeat(100) } })).toBe(
      `a?b?c ${'v'.repeat(40)}`,
    );
    expect(clientOfInitialize({})).toBe('an unnamed client');
  });
});
