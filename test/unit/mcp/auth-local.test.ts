/**
 * ServiceAccount tokens verified locally (src/mcp/auth/keys.ts, verify.ts): real RSA and EC keys
 * generated here, a JWKS built from them, tokens signed with them (or with others). Forged tokens
 * must be refused without a TokenReview; genuine ones still get one (bound-object revocation), ahead
 * of unknown tokens; per-username caps keep one identity from flushing or crowding out the others.
 */

import {
  createHmac,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
  randomBytes,
  sign,
} from 'node:crypto';
import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  createTokenReviewAuthenticator,
  type DiscoveryDocuments,
  MAX_TOKEN_CHARS,
  type ReviewResult,
  ServiceAccountKeys,
  type TokenReviewAuthenticatorOptions,
} from '../../../src/mcp/auth.js';

const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const AUDIENCE = 'kubemcp';
const NOW = Date.parse('2026-11-01T12:00:00Z');
const NOW_S = Math.floor(NOW / 1000);

interface SigningKey {
  readonly kid: string;
  readonly alg: 'RS256' | 'ES256';
  readonly privateKey: KeyObject;
  readonly jwk: JsonWebKey;
}

function rsaKey(kid: string): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    kid,
    alg: 'RS256',
    privateKey,
    jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' },
  };
}

function ecKey(kid: string): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    kid,
    alg: 'ES256',
    privateKey,
    jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' },
  };
}

const CLUSTER_RSA = rsaKey('cluster-rsa');
const CLUSTER_EC = ecKey('cluster-ec');
const ATTACKER_RSA = rsaKey('cluster-rsa'); // claims the cluster's key id
const ROTATED = rsaKey('rotated-in');
const ATTACKER_EC = ecKey('attacker');

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

function claims(sa: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const [ns, name] = sa.split('/');
  return {
    iss: ISSUER,
    sub: `system:serviceaccount:${ns}:${name}`,
    aud: [AUDIENCE],
    iat: NOW_S - 10,
    nbf: NOW_S - 10,
    exp: NOW_S + 3600,
    jti: randomBytes(6).toString('hex'),
    'kubernetes.io': { namespace: ns, serviceaccount: { name, uid: 'u-1' } },
    ...extra,
  };
}

/** A JWT signed with `key` (header alg and kid from it unless overridden). */
function signed(
  key: SigningKey,
  payload: Record<string, unknown>,
  header: Record<string, unknown> = {},
): string {
  const input = `${b64({ alg: key.alg, kid: key.kid, ...header })}.${b64(payload)}`;
  const signature =
    key.alg === 'RS256'
      ? sign('sha256', Buffer.from(input), key.privateKey)
      : sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

const sa = (name: string, extra: Record<string, unknown> = {}) =>
  signed(CLUSTER_RSA, claims(`agents/${name}`, extra));

/** The discovery documents of a cluster publishing `keys`; counts fetches; can fail. */
function discovery(keys: SigningKey[]) {
  const state = {
    keys,
    fetches: 0,
    fail: undefined as string | undefined,
    issuer: ISSUER,
    discover: async (): Promise<DiscoveryDocuments> => {
      state.fetches++;
      if (state.fail !== undefined) throw new Error(state.fail);
      return {
        configuration: { issuer: state.issuer, jwks_uri: `${ISSUER}/openid/v1/jwks` },
        jwks: { keys: state.keys.map((k) => k.jwk) },
      };
    },
  };
  return state;
}

/** A TokenReview stand-in: accepts every token in `valid` (its sub is the username); records calls. */
function fakeReview(valid: (token: string) => boolean = () => true) {
  const calls: string[] = [];
  const review = async (token: string): Promise<ReviewResult> => {
    calls.push(token);
    if (!valid(token)) return { authenticated: false, error: 'invalid bearer token' };
    const sub = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8') || '{}').sub;
    return {
      authenticated: true,
      user: { username: String(sub ?? 'opaque-user'), groups: ['system:authenticated'] },
      audiences: [AUDIENCE],
    };
  };
  return { calls, review };
}

async function setup(
  opts: Partial<TokenReviewAuthenticatorOptions> & {
    publish?: SigningKey[];
    review?: TokenReviewAuthenticatorOptions['review'];
  } = {},
) {
  let now = NOW;
  const registry = new Registry();
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
  const disc = discovery(opts.publish ?? [CLUSTER_RSA, CLUSTER_EC]);
  const keys = new ServiceAccountKeys({
    discover: disc.discover,
    refreshFloorMs: 10_000,
    now: () => now,
    logger,
    registry,
  });
  await keys.load();
  const fake = fakeReview();
  const auth = createTokenReviewAuthenticator({
    audience: AUDIENCE,
    now: () => now,
    registry,
    logger,
    keys,
    ...opts,
    review: opts.review ?? fake.review,
  });
  const metric = async (name: string) => (await registry.getSingleMetricAsString(name)) ?? '';
  return {
    auth,
    keys,
    disc,
    reviews: fake.calls,
    registry,
    lines,
    metric,
    advance: (ms: number) => (now += ms),
  };
}

describe('local verification of ServiceAccount tokens', () => {
  it('accepts a genuine RS256 or ES256 token, and still asks the TokenReview (bound objects are revoked there)', async () => {
    const s = await setup();
    expect(await s.auth.authenticate(sa('copilot'))).toMatchObject({
      ok: true,
      caller: { username: 'system:serviceaccount:agents:copilot' },
    });
    const ec = signed(CLUSTER_EC, claims('agents/ec'));
    expect((await s.auth.authenticate(ec)).ok).toBe(true);
    expect(s.reviews).toHaveLength(2);
    expect(await s.metric('kubemcp_token_local_verifications_total')).toContain('result="valid"} 2');
    expect(await s.metric('kubemcp_token_local_verification_available')).toContain('available 1');
  });

  it('refuses a token whose bound object was deleted (the TokenReview says no), though its signature is good', async () => {
    const s = await setup({ review: fakeReview(() => false).review });
    expect(await s.auth.authenticate(sa('bound-to-a-deleted-pod'))).toMatchObject({
      ok: false,
      reason: 'invalid_token',
    });
  });

  it.each([
    ['signed with another key under the cluster key id', () => signed(ATTACKER_RSA, claims('agents/x'))],
    [
      'with a signature of random bytes',
      () => `${sa('x').split('.').slice(0, 2).join('.')}.${randomBytes(256).toString('base64url')}`,
    ],
    [
      'with its payload changed after signing',
      () => {
        const [h, , sig] = sa('x').split('.');
        return `${h}.${b64(claims('kube-system/admin'))}.${sig}`;
      },
    ],
    ['with an empty signature', () => `${sa('x').split('.').slice(0, 2).join('.')}.`],
    [
      'ES256 header on the RSA key id',
      () => signed({ ...ATTACKER_RSA, alg: 'RS256' }, claims('agents/x'), { alg: 'ES256' }),
    ],
  ])('refuses a forged token (%s) without a TokenReview', async (_what, make) => {
    const s = await setup();
    expect(await s.auth.authenticate(make())).toMatchObject({ ok: false, reason: 'invalid_token' });
    expect(s.reviews).toEqual([]);
    expect(await s.metric('kubemcp_tokenreviews_avoided_total')).toContain('reason="local_verification"} 1');
  });

  it.each([
    ['alg none', (t: string) => `${b64({ alg: 'none', kid: CLUSTER_RSA.kid })}.${t.split('.')[1]}.`],
    [
      'alg none without a signature segment content',
      (t: string) => `${b64({ alg: 'none' })}.${t.split('.')[1]}.x`,
    ],
    [
      'HS256 keyed with the public key',
      (t: string) => {
        const input = `${b64({ alg: 'HS256', kid: CLUSTER_RSA.kid })}.${t.split('.')[1]}`;
        const mac = createHmac('sha256', JSON.stringify(CLUSTER_RSA.jwk)).update(input).digest('base64url');
        return `${input}.${mac}`;
      },
    ],
  ])('refuses %s without a TokenReview', async (_what, forge) => {
    const s = await setup();
    expect(await s.auth.authenticate(forge(sa('x')))).toMatchObject({ ok: false, reason: 'invalid_token' });
    expect(s.reviews).toEqual([]);
    expect(await s.metric('kubemcp_token_local_verifications_total')).toContain(
      'result="unsupported_alg"} 1',
    );
  });

  it.each([
    ['another audience', { aud: ['https://kubernetes.default.svc'] }, 'wrong_audience', 'wrong_audience'],
    ['no audience', { aud: undefined }, 'wrong_audience', 'wrong_audience'],
    ['an exp in the past', { exp: NOW_S - 1 }, 'expired', 'expired'],
    ['no exp', { exp: undefined }, 'invalid_token', 'no_expiry'],
    ['an nbf 60 s ahead', { nbf: NOW_S + 60 }, 'invalid_token', 'not_yet_valid'],
  ])(
    'refuses a genuinely signed token with %s without a TokenReview',
    async (_what, extra, reason, cause) => {
      const s = await setup();
      const out = await s.auth.authenticate(sa('x', extra));
      expect(out).toMatchObject({ ok: false, reason });
      expect(s.reviews).toEqual([]);
      expect(await s.metric('kubemcp_token_local_verifications_total')).toContain(`result="${cause}"} 1`);
    },
  );

  it('tolerates 30 s of clock skew on nbf', async () => {
    const s = await setup();
    expect((await s.auth.authenticate(sa('x', { nbf: NOW_S + 20 }))).ok).toBe(true);
  });

  it('refuses malformed tokens that claim the cluster issuer or key, and oversized ones, without a TokenReview', async () => {
    const s = await setup();
    const sig = randomBytes(256).toString('base64url');
    const malformed = [
      `${b64({ alg: 'RS256', kid: CLUSTER_RSA.kid })}.not-json.${sig}`, // known kid, payload not JSON
      `${b64({ alg: 'RS256', kid: CLUSTER_RSA.kid })}.${b64(['an', 'array'])}.${sig}`,
      `${sa('x').split('.').slice(0, 2).join('.')}.!!not-base64url!!`,
      `${b64({ alg: 'RS256', kid: CLUSTER_RSA.kid })}.${b64({ ...claims('agents/x'), sub: undefined })}.${sig}`,
    ];
    for (const token of malformed) {
      expect(await s.auth.authenticate(token), token.slice(0, 40)).toMatchObject({
        ok: false,
        reason: 'invalid_token',
      });
    }
    const huge = sa('x', { padding: 'p'.repeat(MAX_TOKEN_CHARS) });
    expect(huge.length).toBeGreaterThan(MAX_TOKEN_CHARS);
    expect(await s.auth.authenticate(huge)).toMatchObject({ ok: false, reason: 'invalid_token' });
    expect(s.reviews).toEqual([]);
    // Not JWTs at all (four segments, a header that is not JSON): other authenticators may know them.
    await s.auth.authenticate(`${sa('x')}.extra`);
    await s.auth.authenticate('abcdef.0123456789abcdef');
    expect(s.reviews).toHaveLength(2);
  });

  it('refreshes the keys once for an unknown key id, then not again within the floor', async () => {
    const s = await setup();
    s.advance(10_001); // past the floor since the load at start
    const fetchesAtStart = s.disc.fetches;
    const forged = (i: number) => signed({ ...ATTACKER_EC, kid: `made-up-${i}` }, claims('agents/x'));
    // Several at once share one refresh.
    const outs = await Promise.all([0, 1, 2].map((i) => s.auth.authenticate(forged(i))));
    for (const out of outs) expect(out).toMatchObject({ ok: false, reason: 'invalid_token' });
    expect(s.disc.fetches).toBe(fetchesAtStart + 1);
    for (let i = 3; i < 20; i++) await s.auth.authenticate(forged(i));
    expect(s.disc.fetches).toBe(fetchesAtStart + 1);
    expect(s.reviews).toEqual([]);
    expect(await s.metric('kubemcp_token_local_verifications_total')).toContain('result="unknown_key"} 20');
    // A key rotated in meanwhile is found by the next refresh, once the floor has passed.
    s.disc.keys = [CLUSTER_RSA, ROTATED];
    const rotated = signed(ROTATED, claims('agents/rotated'));
    expect((await s.auth.authenticate(rotated)).ok).toBe(false); // within the floor: not fetched
    s.advance(10_001);
    expect((await s.auth.authenticate(signed(ROTATED, claims('agents/rotated')))).ok).toBe(true);
    expect(s.disc.fetches).toBe(fetchesAtStart + 2);
  });

  it('refuses a token claiming the cluster issuer signed by another issuer, and leaves other issuers to the TokenReview', async () => {
    const s = await setup();
    const otherIssuer = rsaKey('oidc-key');
    expect(await s.auth.authenticate(signed(otherIssuer, claims('agents/x')))).toMatchObject({ ok: false });
    expect(s.reviews).toEqual([]);
    // An OIDC user's token (another iss, a key id not the cluster's): the TokenReview decides.
    const oidc = signed(otherIssuer, { ...claims('agents/x'), iss: 'https://dex.example.com', sub: 'alice' });
    expect((await s.auth.authenticate(oidc)).ok).toBe(true);
    expect(s.reviews).toEqual([oidc]);
    // Signed by the cluster's key under an older issuer name (an issuer migration): genuine; reviewed.
    const migrated = sa('y', { iss: 'https://old-issuer.example.com' });
    expect((await s.auth.authenticate(migrated)).ok).toBe(true);
    expect(s.reviews).toHaveLength(2);
  });

  it('falls back to the TokenReview, says so once and exports it, when discovery is unavailable', async () => {
    let now = NOW;
    const registry = new Registry();
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    const disc = discovery([CLUSTER_RSA]);
    disc.fail = 'GET /openid/v1/jwks: HTTP 403 (Forbidden)';
    const keys = new ServiceAccountKeys({
      discover: disc.discover,
      refreshFloorMs: 10_000,
      now: () => now,
      logger,
      registry,
    });
    await keys.load();
    const fake = fakeReview((t) => !t.includes('forged'));
    const auth = createTokenReviewAuthenticator({
      review: fake.review,
      keys,
      audience: AUDIENCE,
      now: () => now,
      registry,
    });
    for (let i = 0; i < 5; i++) expect((await auth.authenticate(sa(`agent-${i}`))).ok).toBe(true);
    expect(fake.calls).toHaveLength(5);
    expect(disc.fetches).toBe(1); // within the floor: not retried per request
    now += 10_001;
    await auth.authenticate(sa('later'));
    expect(disc.fetches).toBe(2);
    const warnings = lines.filter((l) => l.includes('cannot be verified locally'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('HTTP 403');
    expect(await registry.getSingleMetricAsString('kubemcp_token_local_verification_available')).toContain(
      'available 0',
    );
    // Once discovery works, local verification takes over (and says so).
    disc.fail = undefined;
    now += 10_001;
    const forged = signed(ATTACKER_RSA, claims('agents/forged'));
    expect((await auth.authenticate(forged)).ok).toBe(false);
    expect(fake.calls).not.toContain(forged);
    expect(await registry.getSingleMetricAsString('kubemcp_token_local_verification_available')).toContain(
      'available 1',
    );
  });

  it.each([
    ['no issuer', { configuration: {}, jwks: { keys: [CLUSTER_RSA.jwk] } }],
    ['no keys array', { configuration: { issuer: ISSUER }, jwks: {} }],
    [
      'only unusable keys',
      {
        configuration: { issuer: ISSUER },
        jwks: {
          keys: [
            { kty: 'oct', k: 'c2VjcmV0' },
            { kty: 'RSA', n: 'x' },
          ],
        },
      },
    ],
  ])('treats a discovery answer with %s as unavailable', async (_what, docs) => {
    const registry = new Registry();
    const keys = new ServiceAccountKeys({ discover: async () => docs, refreshFloorMs: 10_000, registry });
    await keys.load();
    expect(keys.current()).toBeUndefined();
    const fake = fakeReview();
    const auth = createTokenReviewAuthenticator({
      review: fake.review,
      keys,
      audience: AUDIENCE,
      now: () => NOW,
    });
    expect((await auth.authenticate(sa('x'))).ok).toBe(true);
    expect(fake.calls).toHaveLength(1);
  });
});

describe('a burst of new agents and a flood of valid tokens', () => {
  /** A review that answers only when released, one at a time or all. */
  function heldReview() {
    const pending: { token: string; answer: () => void }[] = [];
    const order: string[] = [];
    const inner = fakeReview();
    const review = (token: string) => {
      order.push(token);
      return new Promise<ReviewResult>((resolve) =>
        pending.push({ token, answer: () => void inner.review(token).then(resolve) }),
      );
    };
    return { pending, order, review };
  }
  const settle = () => new Promise((r) => setImmediate(r));

  it('serves 200 new agents arriving 64 at a time with 4 reviews running: none is turned away', async () => {
    const s = await setup({
      review: async (t) => {
        await new Promise((r) => setTimeout(r, 1));
        return fakeReview().review(t);
      },
    });
    const tokens = Array.from({ length: 200 }, (_, i) => sa(`agent-${i}`));
    const outcomes = [];
    for (let i = 0; i < tokens.length; i += 64) {
      outcomes.push(...(await Promise.all(tokens.slice(i, i + 64).map((t) => s.auth.authenticate(t)))));
    }
    expect(outcomes.filter((o) => !o.ok)).toEqual([]);
  });

  it('reviews signature-verified tokens ahead of unknown ones', async () => {
    const held = heldReview();
    const s = await setup({ review: held.review, maxConcurrentReviews: 1 });
    const unknown = ['opaque-1', 'opaque-2', 'opaque-3'];
    const verified = [sa('v1'), sa('v2')];
    const all = [
      ...unknown.map((t) => s.auth.authenticate(t)),
      ...verified.map((t) => s.auth.authenticate(t)),
    ];
    for (let i = 0; i < 5; i++) {
      await settle();
      held.pending.shift()?.answer();
    }
    await Promise.all(all);
    expect(held.order).toEqual(['opaque-1', ...verified, 'opaque-2', 'opaque-3']);
  });

  it('caps the waiters of one username: its 20 fresh tokens cannot fill the queue another agent needs', async () => {
    const held = heldReview();
    const s = await setup({ review: held.review, maxConcurrentReviews: 1, maxWaitersPerUser: 4 });
    const running = s.auth.authenticate(sa('someone-else'));
    const mallory = Array.from({ length: 20 }, () => s.auth.authenticate(sa('mallory')));
    const copilot = s.auth.authenticate(sa('copilot'));
    await settle();
    // 4 of mallory's wait; the other 16 are answered busy at once, without a review.
    const early = await Promise.race([
      Promise.all(mallory.slice(4)),
      new Promise((r) => setTimeout(() => r('waiting'), 500)),
    ]);
    expect(early).not.toBe('waiting');
    for (const out of early as Awaited<(typeof mallory)[number]>[])
      expect(out).toMatchObject({ ok: false, reason: 'busy' });
    while (held.pending.length > 0) {
      held.pending.shift()?.answer();
      await settle();
      await settle();
    }
    expect((await copilot).ok).toBe(true);
    expect((await running).ok).toBe(true);
    expect((await Promise.all(mallory.slice(0, 4))).every((o) => o.ok)).toBe(true);
    expect(held.order).toHaveLength(6);
  });

  it('caps the cached successes of one username: 50 valid tokens of one account evict only its own', async () => {
    const s = await setup({ maxEntries: 20, maxEntriesPerUser: 5 });
    const alice = sa('alice');
    const bob = sa('bob');
    await s.auth.authenticate(alice);
    await s.auth.authenticate(bob);
    for (let i = 0; i < 50; i++) await s.auth.authenticate(sa('mallory'));
    expect(s.reviews).toHaveLength(52);
    await s.auth.authenticate(alice);
    await s.auth.authenticate(bob);
    expect(s.reviews).toHaveLength(52); // both still cached
  });

  it('bounds the queue of known-genuine tokens too', async () => {
    const held = heldReview();
    const s = await setup({ review: held.review, maxConcurrentReviews: 1, maxQueuedKnownReviews: 3 });
    const outs = Array.from({ length: 6 }, (_, i) => s.auth.authenticate(sa(`agent-${i}`)));
    const early = await Promise.race([
      Promise.all(outs.slice(4)),
      new Promise((r) => setTimeout(() => r('waiting'), 500)),
    ]);
    expect(early).not.toBe('waiting');
    for (const out of early as Awaited<(typeof outs)[number]>[])
      expect(out).toMatchObject({ reason: 'busy' });
    while (held.pending.length > 0) {
      held.pending.shift()?.answer();
      await settle();
      await settle();
    }
    expect((await Promise.all(outs.slice(0, 4))).every((o) => o.ok)).toBe(true);
  });
});
