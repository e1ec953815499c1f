import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../src/mcp/safety/ratelimit.js';

const T = 1_000_000;

describe('RateLimiter', () => {
  it('allows N calls in any 60 s window and says when the next one passes', () => {
    const limiter = new RateLimiter();
    const c = [{ policy: 'p', callsPerMinute: 3 }];
    expect(limiter.admit('u', c, T).allowed).toBe(true);
    expect(limiter.admit('u', c, T + 10_000).allowed).toBe(true);
    expect(limiter.admit('u', c, T + 20_000).allowed).toBe(true);
    expect(limiter.admit('u', c, T + 30_000)).toEqual({
      allowed: false,
      retryAfterSeconds: 30,
      policies: ['p'],
    });
    // Refused calls do not count: the first call leaves the window at T + 60 s.
    expect(limiter.admit('u', c, T + 60_001).allowed).toBe(true);
    expect(limiter.admit('u', c, T + 60_002)).toMatchObject({ allowed: false, retryAfterSeconds: 10 });
  });

  it('keeps callers and policies apart, and passes under any policy with room', () => {
    const limiter = new RateLimiter();
    const one = [{ policy: 'p', callsPerMinute: 1 }];
    expect(limiter.admit('u', one, T).allowed).toBe(true);
    expect(limiter.admit('v', one, T).allowed).toBe(true);
    expect(limiter.admit('u', one, T).allowed).toBe(false);
    expect(limiter.admit('u', [...one, { policy: 'q', callsPerMinute: 1 }], T)).toEqual({
      allowed: true,
      policy: 'q',
    });
  });

  it('holds at most maxKeys windows', () => {
    const limiter = new RateLimiter({ maxKeys: 10 });
    for (let i = 0; i < 100; i++) limiter.admit(`u${i}`, [{ policy: 'p', callsPerMinute: 1 }], T);
    expect(limiter.size).toBe(10);
  });
});
