import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createTokenReviewAuthenticator,
  jwtExpiry,
  type ReviewResult,
  tokenHash,
} from '../../../src/mcp/auth.js';
import {
  AUDIENCE,
  connect,
  FakeReview,
  type Harness,
  IDENTITIES,
  makeToken,
  NOW,
  post,
  startHarness,
  TOKENS,
  toolCall,
} from './helpers.js';

/** Bearer authentication: TokenReview, its cache, the 401 challenge, the metadata, and no token in logs. */

const harnesses: Harness[] = [];
async function harness(...args: Parameters<typeof startHarness>): Promise<Harness> {
  const h = await startHarness(...args);
  harnesses.push(h);
  return h;
}
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.close()));
});

describe('the caching authenticator', () => {
  function setup(opts: { maxEntries?: number } = {}) {
    let now = NOW;
    const review = new FakeReview();
    const auth = createTokenReviewAuthenticator({
      review: review.review,
      audience: AUDIENCE,
      now: () => now,
      ...opts,
    });
    return { auth, review, advance: (ms: number) => (now += ms) };
  }

  /** An authenticator whose reviews wait until the test answers them, in the order they were sent. */
  function held(opts: Omit<Parameters<typeof createTokenReviewAuthenticator>[0], 'review' | 'now'> = {}) {
    let now = NOW;
    const answers: Array<(r: ReviewResult) => void> = [];
    const calls: string[] = [];
    const auth = createTokenReviewAuthenticator({
      review: (token) => {
        calls.push(token);
        return new Promise<ReviewResult>((resolve) => answers.push(resolve));
      },
      audience: AUDIENCE,
      now: () => now,
      ...opts,
    });
    return {
      auth,
      calls,
      advance: (ms: number) => (now += ms),
      answer: (r: ReviewResult) => answers.shift()?.(r),
    };
  }
  const OK: ReviewResult = { authenticated: true, user: IDENTITIES.alice, audiences: [AUDIENCE] };

  /**
   * With `held` and one review slot: `token` authenticated and cached, then an unknown token's review
   * holding the only slot (its outcome is returned as `other`; the test answers that review).
   */
  async function cachedThenSlotTaken(
    auth: ReturnType<typeof createTokenReviewAuthenticator>,
    answer: (r: ReviewResult) => void,
    token: string = TOKENS.alice,
  ) {
    const first = auth.authenticate(token);
    answer(OK);
    expect((await first).ok).toBe(true);
    const other = auth.authenticate('unknown-token');
    await new Promise((r) => setImmediate(r));
    return { other }; // wrapped: an async function would otherwise wait for it
  }

  it('asks TokenReview for our audience and returns the caller', async () => {
    const { auth, review } = setup();
    const out = await auth.authenticate(TOKENS.copilot);
    expect(out).toEqual({ ok: true, caller: IDENTITIES.copilot, expiresAt: Math.floor(NOW / 1000) + 3600 });
    expect(review.calls).toEqual([{ token: TOKENS.copilot, audiences: ['kubemcp'] }]);
  });

  it('reuses a result for at most 60 s', async () => {
    const { auth, review, advance } = setup();
    await auth.authenticate(TOKENS.alice);
    advance(44_000);
    await auth.authenticate(TOKENS.alice);
    expect(review.calls).toHaveLength(1);
    // Idle past the cache life: the next call waits for a new review.
    advance(17_000);
    await auth.authenticate(TOKENS.alice);
    expect(review.calls).toHaveLength(2);
  });

  it('re-validates an active caller in the background before its result expires, without making it wait', async () => {
    const { auth, calls, advance, answer } = held();
    const first = auth.authenticate(TOKENS.alice);
    answer(OK);
    expect((await first).ok).toBe(true);
    // Past 90 % of the 60 s cache life (the refresh point is drawn in [75 %, 90 %)).
    advance(54_000);
    // Answered from the cache at once, although the background review has not answered yet.
    expect(await auth.authenticate(TOKENS.alice)).toMatchObject({ ok: true });
    expect(calls).toHaveLength(2);
    // One background review at a time per token.
    expect((await auth.authenticate(TOKENS.alice)).ok).toBe(true);
    expect(calls).toHaveLength(2);
    answer(OK);
    await new Promise((r) => setImmediate(r));
    // Past the first result's life: the refreshed one serves, no review waited for.
    advance(10_000);
    expect((await auth.authenticate(TOKENS.alice)).ok).toBe(true);
    expect(calls).toHaveLength(2);
  });

  it('sends no second review when a result expires while its background re-validation is under way', async () => {
    const { auth, calls, advance, answer } = held();
    const first = auth.authenticate(TOKENS.alice);
    answer(OK);
    expect((await first).ok).toBe(true);
    advance(54_000); // past the refresh point: the background review starts and is not answered yet
    expect((await auth.authenticate(TOKENS.alice)).ok).toBe(true);
    expect(calls).toHaveLength(2);
    advance(7_000); // the first result has expired; the background review is still under way
    const waiting = auth.authenticate(TOKENS.alice);
    await new Promise((r) => setImmediate(r));
    expect(calls).toHaveLength(2);
    answer(OK);
    expect((await waiting).ok).toBe(true);
    expect(calls).toHaveLength(2);
  });

  it('asks again, urgently, when the background re-validation a caller waited for found no free slot', async () => {
    // The re-validation waits at most maxStaleMs (5 ms here) for a slot, and a success answers at
    // most that long past its cache life.
    const { auth, calls, advance, answer } = held({ maxConcurrentReviews: 1, maxStaleMs: 5 });
    const { other } = await cachedThenSlotTaken(auth, answer);
    advance(54_000); // the background review waits in the queue of re-validations
    expect((await auth.authenticate(TOKENS.alice)).ok).toBe(true);
    advance(7_000);
    const waiting = auth.authenticate(TOKENS.alice); // expired and past 5 ms: waits for that review
    await new Promise((r) => setTimeout(r, 30)); // which gives up after 5 ms: refused busy
    expect(calls).toEqual([TOKENS.alice, 'unknown-token']);
    answer({ authenticated: false, error: 'unknown' });
    await other;
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual([TOKENS.alice, 'unknown-token', TOKENS.alice]); // its own review, not busy
    answer(OK);
    expect((await waiting).ok).toBe(true);
  });

  it('answers from a success that expired while its re-validation waits, for at most maxStaleMs more', async () => {
    const registry = new Registry();
    const { auth, calls, advance, answer } = held({ maxConcurrentReviews: 1, registry });
    const { other } = await cachedThenSlotTaken(auth, answer);
    advance(54_000); // past the refresh point: the re-validation queues behind the running review
    expect((await auth.authenticate(TOKENS.alice)).ok).toBe(true);
    advance(7_000); // past the 60 s cache life, the re-validation still waiting: answered at once
    expect(await auth.authenticate(TOKENS.alice)).toMatchObject({ ok: true, caller: IDENTITIES.alice });
    expect(calls).toEqual([TOKENS.alice, 'unknown-token']);
    const lookups = await registry.getSingleMetricAsString('kubemcp_tokenreview_cache_lookups_total');
    expect(lookups).toContain('kubemcp_tokenreview_cache_lookups_total{result="stale"} 1');
    advance(30_000); // 91 s: past the 30 s of staleness, the caller waits for the re-validation
    let settled = false;
    const waiting = auth.authenticate(TOKENS.alice).finally(() => {
      settled = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    answer({ authenticated: false, error: 'unknown' }); // the unknown token's review
    await other;
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual([TOKENS.alice, 'unknown-token', TOKENS.alice]); // the re-validation runs
    answer(OK);
    expect((await waiting).ok).toBe(true);
    expect(calls).toHaveLength(3);
  });

  it('never answers from an expired success past the token expiry, nor without a re-validation under way', async () => {
    const { auth, calls, advance, answer } = held({ maxConcurrentReviews: 1 });
    const shortLived = makeToken('short', Math.floor(NOW / 1000) + 65);
    const { other } = await cachedThenSlotTaken(auth, answer, shortLived);
    advance(54_000);
    expect((await auth.authenticate(shortLived)).ok).toBe(true); // the re-validation queues
    advance(10_000); // 64 s: stale, within the token's life
    expect((await auth.authenticate(shortLived)).ok).toBe(true);
    advance(2_000); // 66 s: the token itself has expired
    let settled = false;
    void auth.authenticate(shortLived).finally(() => {
      settled = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    expect(calls).toEqual([shortLived, 'unknown-token']);
    answer({ authenticated: false, error: 'unknown' });
    await other;

    // Idle through the refresh point: no re-validation was started, so nothing answers stale.
    const idle = held();
    const once = idle.auth.authenticate(TOKENS.alice);
    idle.answer(OK);
    expect((await once).ok).toBe(true);
    idle.advance(61_000);
    const again = idle.auth.authenticate(TOKENS.alice);
    await new Promise((r) => setImmediate(r));
    expect(idle.calls).toEqual([TOKENS.alice, TOKENS.alice]);
    idle.answer(OK);
    expect((await again).ok).toBe(true);
  });

  it('starts no re-validation while its queue is full, and tries again on a later call', async () => {
    const { auth, calls, advance, answer } = held({ maxConcurrentReviews: 1, maxQueuedRefreshes: 0 });
    const { other } = await cachedThenSlotTaken(auth, answer);
    advance(54_000);
    expect((await auth.authenticate(TOKENS.alice)).ok).toBe(true); // no room: nothing started
    answer({ authenticated: false, error: 'unknown' });
    await other;
    expect(calls).toEqual([TOKENS.alice, 'unknown-token']);
    expect((await auth.authenticate(TOKENS.alice)).ok).toBe(true); // the slot is free: it starts now
    expect(calls).toEqual([TOKENS.alice, 'unknown-token', TOKENS.alice]);
    answer(OK);
  });

  it('re-validates callers whose results expired first come first served, ahead of unknown tokens', async () => {
    let now = NOW;
    const pending: { token: string; answer: (r: ReviewResult) => void }[] = [];
    const order: string[] = [];
    const auth = createTokenReviewAuthenticator({
      review: (token) => {
        order.push(token);
        return new Promise<ReviewResult>((answer) => pending.push({ token, answer }));
      },
      audience: AUDIENCE,
      now: () => now,
      maxConcurrentReviews: 1,
    });
    const valid: ReviewResult = { authenticated: true, user: IDENTITIES.alice, audiences: [AUDIENCE] };
    const settle = () => new Promise((r) => setImmediate(r));
    const known = ['known-a', 'known-b', 'known-c'];
    for (const t of known) {
      const p = auth.authenticate(t);
      await settle();
      pending.shift()?.answer(valid);
      expect((await p).ok).toBe(true);
    }
    now += 61_000; // every cached success has expired
    order.length = 0;
    const results = [
      auth.authenticate('unknown-x'), // takes the only slot
      auth.authenticate('unknown-y'), // waits in the ordinary queue
      ...known.map((t) => auth.authenticate(t)), // wait in the urgent queue, in this order
    ];
    for (let i = 0; i < 5; i++) {
      await settle();
      pending.shift()?.answer(valid);
    }
    await Promise.all(results);
    expect(order).toEqual(['unknown-x', 'known-a', 'known-b', 'known-c', 'unknown-y']);
  });

  it('forgets a cached success at once when its background re-validation refuses the token', async () => {
    let now = NOW;
    let valid = true;
    const auth = createTokenReviewAuthenticator({
      review: async () =>
        valid
          ? { authenticated: true, user: IDENTITIES.alice, audiences: [AUDIENCE] }
          : { authenticated: false, error: 'the ServiceAccount was deleted' },
      audience: AUDIENCE,
      now: () => now,
    });
    expect((await auth.authenticate(TOKENS.alice)).ok).toBe(true);
    valid = false;
    now += 54_000;
    expect((await auth.authenticate(TOKENS.alice)).ok).toBe(true); // cached; the refresh starts
    await new Promise((r) => setImmediate(r));
    expect(await auth.authenticate(TOKENS.alice)).toMatchObject({ ok: false, reason: 'invalid_token' });
  });

  it('never reuses a result past the token expiry, and then refuses the token', async () => {
    const { auth, review, advance } = setup();
    const shortLived = makeToken('short', Math.floor(NOW / 1000) + 5);
    review.add(shortLived, IDENTITIES.alice);
    expect((await auth.authenticate(shortLived)).ok).toBe(true);
    advance(4_000);
    expect((await auth.authenticate(shortLived)).ok).toBe(true);
    expect(review.calls).toHaveLength(1);
    advance(1_500); // past exp: the cached answer must not be used
    expect(await auth.authenticate(shortLived)).toMatchObject({ ok: false, reason: 'expired' });
  });

  it('caches negative answers briefly', async () => {
    const { auth, review, advance } = setup();
    expect(await auth.authenticate(TOKENS.bad)).toMatchObject({ ok: false, reason: 'invalid_token' });
    await auth.authenticate(TOKENS.bad);
    expect(review.calls).toHaveLength(1);
    advance(6_000);
    await auth.authenticate(TOKENS.bad);
    expect(review.calls).toHaveLength(2);
  });

  it('refuses a token whose reviewed audiences do not include ours', async () => {
    const { auth } = setup();
    expect(await auth.authenticate(TOKENS.wrongAudience)).toMatchObject({
      ok: false,
      reason: 'wrong_audience',
    });
    // Also when the API server says "authenticated" without any audience.
    const noAud = createTokenReviewAuthenticator({
      review: async (): Promise<ReviewResult> => ({ authenticated: true, user: IDENTITIES.alice }),
      now: () => NOW,
    });
    expect(await noAud.authenticate(TOKENS.alice)).toMatchObject({ ok: false, reason: 'wrong_audience' });
  });

  it('bounds the cache size (least recently used evicted)', async () => {
    const { auth, review } = setup({ maxEntries: 2 });
    await auth.authenticate(TOKENS.alice);
    await auth.authenticate(TOKENS.bob);
    await auth.authenticate(TOKENS.alice); // hit, alice is now most recent
    await auth.authenticate(TOKENS.copilot); // evicts bob
    await auth.authenticate(TOKENS.alice); // still cached
    expect(review.calls.map((c) => c.token)).toEqual([TOKENS.alice, TOKENS.bob, TOKENS.copilot]);
    await auth.authenticate(TOKENS.bob);
    expect(review.calls).toHaveLength(4);
  });

  it('answers unavailable (uncached) when TokenReview fails, without the token in the message', async () => {
    let fail = true;
    const review = new FakeReview();
    const auth = createTokenReviewAuthenticator({
      review: async (token, audiences) => {
        if (fail) throw new Error(`connect ECONNREFUSED while reviewing ${token}`);
        return review.review(token, audiences);
      },
      now: () => NOW,
    });
    const out = await auth.authenticate(TOKENS.alice);
    expect(out).toMatchObject({ ok: false, reason: 'unavailable' });
    expect(JSON.stringify(out)).not.toContain(TOKENS.alice);
    fail = false;
    expect((await auth.authenticate(TOKENS.alice)).ok).toBe(true);
  });

  it('keys the cache by a SHA-256 of the token and reads exp without trusting it', () => {
    expect(tokenHash('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
    expect(jwtExpiry(makeToken('x', 123))).toBe(123);
    expect(jwtExpiry('not-a-jwt')).toBeUndefined();
    expect(jwtExpiry('a.%%%.c')).toBeUndefined();
  });
});

describe('under a flood of bad tokens', () => {
  const LONG = Math.floor(NOW / 1000) + 3600;
  const jwt = (payload: Record<string, unknown>): string =>
    `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.c2ln`;

  it('never lets failed tokens evict a cached success', async () => {
    const review = new FakeReview();
    const auth = createTokenReviewAuthenticator({ review: review.review, now: () => NOW, maxEntries: 2 });
    expect((await auth.authenticate(TOKENS.alice)).ok).toBe(true);
    for (let i = 0; i < 50; i++) await auth.authenticate(`random-${i}`);
    expect((await auth.authenticate(TOKENS.alice)).ok).toBe(true);
    expect(review.calls.filter((c) => c.token === TOKENS.alice)).toHaveLength(1);
  });

  it('keeps failures in a separate, bounded negative cache keyed by hash', async () => {
    const review = new FakeReview();
    const auth = createTokenReviewAuthenticator({
      review: review.review,
      now: () => NOW,
      maxNegativeEntries: 10,
    });
    for (let i = 0; i < 30; i++) await auth.authenticate(`random-${i}`);
    expect(review.calls).toHaveLength(30);
    await auth.authenticate('random-29'); // recent failure: answered from the negative cache
    expect(review.calls).toHaveLength(30);
    await auth.authenticate('random-0'); // long evicted: reviewed again
    expect(review.calls).toHaveLength(31);
  });

  it('refuses, without a TokenReview, JWTs whose unverified claims can never pass', async () => {
    const review = new FakeReview();
    const auth = createTokenReviewAuthenticator({
      review: review.review,
      audience: AUDIENCE,
      now: () => NOW,
    });
    expect(
      await auth.authenticate(jwt({ aud: ['https://kubernetes.default.svc'], exp: LONG })),
    ).toMatchObject({
      ok: false,
      reason: 'wrong_audience',
    });
    expect(await auth.authenticate(jwt({ aud: 'other', exp: LONG }))).toMatchObject({
      reason: 'wrong_audience',
    });
    expect(await auth.authenticate(jwt({ aud: [AUDIENCE], exp: LONG - 7200 }))).toMatchObject({
      reason: 'expired',
    });
    expect(review.calls).toHaveLength(0);
    // Claims that could pass are never trusted to allow: the API server still decides.
    expect(await auth.authenticate(jwt({ aud: [AUDIENCE], exp: LONG }))).toMatchObject({
      ok: false,
      reason: 'invalid_token',
    });
    // Tokens that are not JWTs, or JWTs without an aud claim, may belong to other authenticators.
    await auth.authenticate('static-token-of-some-other-authenticator');
    await auth.authenticate(jwt({ sub: 'x' }));
    expect(review.calls).toHaveLength(3);
  });

  it('caps concurrent TokenReviews, queues a few, and answers busy at once beyond that', async () => {
    let running = 0;
    let peak = 0;
    const release: (() => void)[] = [];
    const auth = createTokenReviewAuthenticator({
      review: async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => release.push(resolve));
        running--;
        return { authenticated: false };
      },
      now: () => NOW,
      maxConcurrentReviews: 2,
      maxQueuedReviews: 3,
    });
    const pending = Array.from({ length: 20 }, (_, i) => auth.authenticate(`flood-${i}`));
    const early = await Promise.race([
      Promise.all(pending.slice(5)),
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 1000)),
    ]);
    // Beyond 2 running + 3 queued: refused at once, without waiting for the API server.
    expect(early).not.toBe('timeout');
    for (const out of early as Awaited<(typeof pending)[number]>[]) {
      expect(out).toMatchObject({ ok: false, reason: 'busy' });
    }
    while (release.length > 0 || running > 0) {
      release.splice(0).forEach((r) => {
        r();
      });
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    for (const out of await Promise.all(pending.slice(0, 5))) {
      expect(out).toMatchObject({ ok: false, reason: 'invalid_token' });
    }
    expect(peak).toBe(2);
  });

  it('re-validates a token that passed before ahead of a full queue of unknown ones', async () => {
    let now = NOW;
    const review = new FakeReview();
    const release: (() => void)[] = [];
    let hold = false;
    const auth = createTokenReviewAuthenticator({
      review: async (token, audiences) => {
        if (hold && token.startsWith('flood-')) await new Promise<void>((resolve) => release.push(resolve));
        return review.review(token, audiences);
      },
      now: () => now,
      maxConcurrentReviews: 1,
      maxQueuedReviews: 1,
    });
    expect((await auth.authenticate(TOKENS.alice)).ok).toBe(true);
    now += 61_000; // the cached success has expired
    hold = true;
    const flood = Array.from({ length: 5 }, (_, i) => auth.authenticate(`flood-${i}`));
    const again = auth.authenticate(TOKENS.alice);
    await new Promise((resolve) => setTimeout(resolve, 20));
    release.shift()?.(); // the running flood review ends: alice goes next, not the queued flood token
    expect((await again).ok).toBe(true);
    hold = false;
    release.splice(0).forEach((r) => {
      r();
    });
    const outcomes = await Promise.all(flood);
    expect(outcomes.filter((o) => !o.ok && o.reason === 'busy')).toHaveLength(3);
  });

  it('answers busy with 503 and Retry-After, not 401 (the token may be fine)', async () => {
    let hang: (() => void) | undefined;
    const h = await harness({
      auth: {
        review: () =>
          new Promise<ReviewResult>((resolve) => {
            hang = () => resolve({ authenticated: false });
          }),
        maxConcurrentReviews: 1,
        maxQueuedReviews: 0,
      },
    });
    const first = post(h, toolCall('list_pods', {}), { token: 'hangs-for-a-while' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = await post(h, toolCall('list_pods', {}), { token: TOKENS.alice });
    expect(second.status).toBe(503);
    expect(second.headers.get('retry-after')).toBe('1');
    expect(second.json).toMatchObject({ error: 'temporarily_unavailable' });
    hang?.();
    expect((await first).status).toBe(401);
    const failures = await h.registry.getSingleMetricAsString('kubemcp_mcp_auth_failures_total');
    expect(failures).toContain('reason="busy"} 1');
  });
});

describe('over HTTP', () => {
  it('logs at most 20 authentication failures per 10 s at info (a flood of bad tokens is not a flood of lines)', async () => {
    const h = await harness();
    for (let i = 0; i < 60; i++) {
      await post(h, toolCall('list_pods', {}), { token: `bad-token-${i}` });
    }
    const lines = h.records().filter((r) => r.msg === 'authentication failed');
    expect(lines).toHaveLength(20);
    const failures = await h.registry.getSingleMetricAsString('kubemcp_mcp_auth_failures_total');
    expect(failures).toContain('reason="invalid_token"} 60');
  });

  it('answers a request without a token with 401, a WWW-Authenticate challenge and a JSON body', async () => {
    const h = await harness();
    const res = await post(h, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer realm="kubemcp", resource_metadata="${h.base}/.well-known/oauth-protected-resource"`,
    );
    expect(res.json).toMatchObject({ error: expect.any(String), error_description: expect.any(String) });
  });

  it.each([
    ['no token', undefined],
    ['an unknown token', TOKENS.bad],
    ['a malformed header value', 'not a token!'],
  ])('refuses %s the same way in front of Express (/mcp) as through it (/mcp/)', async (_what, token) => {
    // POST /mcp is authenticated before Express (the cheap path for floods); /mcp/ reaches the same
    // route through Express's router. Both must answer byte for byte alike.
    const h = await harness();
    const message = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
    const fast = await post(h, message, token === undefined ? {} : { token });
    const routed = await post(h, message, { ...(token === undefined ? {} : { token }), path: '/mcp/' });
    expect(fast.status).toBe(401);
    expect(routed.status).toBe(fast.status);
    expect(routed.text).toBe(fast.text);
    for (const name of ['www-authenticate', 'cache-control', 'content-type', 'content-length']) {
      expect(routed.headers.get(name), name).toBe(fast.headers.get(name));
    }
    expect(fast.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(fast.headers.get('cache-control')).toBe('no-store');
    for (const res of [fast, routed]) {
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.headers.get('x-powered-by')).toBeNull();
    }
    expect(fast.headers.get('x-request-id')).not.toBe(routed.headers.get('x-request-id'));
  });

  it('serves the RFC 9728 protected-resource metadata the challenge points at', async () => {
    const h = await harness({
      options: { authorizationServers: ['https://kubernetes.default.svc.cluster.local'] },
    });
    const challenge = (await post(h, {})).headers.get('www-authenticate') ?? '';
    const url = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    expect(url).toBe(`${h.base}/.well-known/oauth-protected-resource`);
    const res = await fetch(url as string);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      resource: `${h.base}/mcp`,
      bearer_methods_supported: ['header'],
      resource_name: 'KubeMCP',
      authorization_servers: ['https://kubernetes.default.svc.cluster.local'],
    });
    // The path-suffixed form of RFC 9728 serves the same document.
    expect((await fetch(`${h.base}/.well-known/oauth-protected-resource/mcp`)).status).toBe(200);
  });

  it.each([
    ['an unknown token', TOKENS.bad],
    ['a token for another audience', TOKENS.wrongAudience],
    ['an expired token', makeToken('alice', Math.floor(NOW / 1000) - 10)],
    ['a malformed header value', 'not a token!'],
  ])('answers %s with 401 invalid_token', async (_what, token) => {
    const h = await harness();
    const res = await post(h, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { token });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
    expect(res.headers.get('www-authenticate')).toContain('resource_metadata=');
    expect(res.json).toMatchObject({ error: 'invalid_token' });
  });

  it('never accepts a token meant for another audience, even once cached elsewhere', async () => {
    const h = await harness();
    const res = await post(h, toolCall('list_pods', {}), { token: TOKENS.wrongAudience });
    expect(res.status).toBe(401);
    expect(h.backend.calls).toEqual([]);
  });

  it('counts TokenReview cache hits and misses', async () => {
    const h = await harness();
    for (let i = 0; i < 3; i++) {
      await post(h, { jsonrpc: '2.0', id: i, method: 'tools/list', params: {} }, { token: TOKENS.alice });
    }
    const metrics = await h.registry.getSingleMetricAsString('kubemcp_tokenreview_cache_lookups_total');
    expect(metrics).toContain('kubemcp_tokenreview_cache_lookups_total{result="miss"} 1');
    expect(metrics).toContain('kubemcp_tokenreview_cache_lookups_total{result="hit"} 2');
    expect(h.review.calls).toHaveLength(1);
  });

  it('keeps tokens out of every log line, including at debug level', async () => {
    const h = await harness({ logLevel: 'debug' });
    const client = await connect(h, TOKENS.alice);
    await client.callTool({ name: 'list_pods', arguments: { namespace: 'web' } });
    await client.callTool({
      name: 'scale_deployment',
      arguments: { namespace: 'web', name: 'web', replicas: 4 },
    });
    await client.close();
    await post(h, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { token: TOKENS.bad });
    await post(h, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { token: TOKENS.wrongAudience });
    await post(h, undefined, { token: TOKENS.bob, raw: '{oops' });

    const all = h.logs.join('\n');
    // The debug log did record the traffic (so this test can fail)...
    expect(all).toContain('JSON-RPC in');
    expect(all).toContain('JSON-RPC out');
    expect(all).toContain('[REDACTED]');
    // ...but no token, whole or in part (the signature segment is the secret part of a JWT).
    for (const token of [TOKENS.alice, TOKENS.bad, TOKENS.wrongAudience, TOKENS.bob]) {
      expect(all).not.toContain(token);
      expect(all).not.toContain(token.split('.')[2]);
    }
  });
});
