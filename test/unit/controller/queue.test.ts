import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../../src/controller/queue.js';

describe('WorkQueue', () => {
  it('handles a key added many times while waiting once', async () => {
    const seen: string[] = [];
    const q = new WorkQueue<string>({
      handler: async (k) => {
        seen.push(k);
      },
    });
    q.add('a');
    q.add('b');
    q.add('a');
    q.add('a');
    q.start();
    await q.idle();
    expect(seen).toEqual(['a', 'b']);
  });

  it('never handles one key twice at once, and handles a key added meanwhile again afterwards', async () => {
    const running = new Map<string, number>();
    let maxPerKey = 0;
    let maxTotal = 0;
    let total = 0;
    const calls: string[] = [];
    const q = new WorkQueue<string>({
      concurrency: 3,
      handler: async (k) => {
        const n = (running.get(k) ?? 0) + 1;
        running.set(k, n);
        total++;
        maxPerKey = Math.max(maxPerKey, n);
        maxTotal = Math.max(maxTotal, total);
        calls.push(k);
        await sleep(15);
        running.set(k, n - 1);
        total--;
      },
    });
    q.start();
    q.add('x');
    await sleep(2);
    q.add('x'); // while x runs: runs again after
    q.add('x'); // deduplicated with the previous
    for (const k of ['a', 'b', 'c', 'd']) q.add(k);
    await sleep(1);
    await q.idle();
    expect(maxPerKey).toBe(1);
    expect(maxTotal).toBeLessThanOrEqual(3);
    expect(calls.filter((k) => k === 'x')).toHaveLength(2);
    expect(calls.filter((k) => k !== 'x').sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('retries a failing key with growing delays and resets after a success', async () => {
    const times: number[] = [];
    const errors: number[] = [];
    let fail = 3;
    const q = new WorkQueue<string>({
      backoff: { initialMs: 20, maxMs: 1000, jitter: 0 },
      handler: async () => {
        times.push(Date.now());
        if (fail-- > 0) throw new Error('boom');
      },
      onError: (_k, _e, retryInMs) => errors.push(retryInMs),
    });
    q.start();
    q.add('k');
    for (let i = 0; i < 100 && times.length < 4; i++) await sleep(20);
    expect(times).toHaveLength(4);
    expect(errors).toEqual([20, 40, 80]);
    expect(q.failures('k')).toBe(0);
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0));
    expect(gaps[0]).toBeGreaterThanOrEqual(15);
    expect(gaps[2]).toBeGreaterThanOrEqual(70);
  });

  it('an immediate add overrides a pending delayed retry', async () => {
    let calls = 0;
    const q = new WorkQueue<string>({
      backoff: { initialMs: 10_000, jitter: 0 },
      handler: async () => {
        calls++;
        if (calls === 1) throw new Error('first fails');
      },
    });
    q.start();
    q.add('k');
    await sleep(10);
    expect(calls).toBe(1);
    q.add('k');
    await q.idle();
    expect(calls).toBe(2);
    await q.shutdown();
  });

  it('shutdown waits for the handlers in flight and drops the rest', async () => {
    let finished = 0;
    let started = 0;
    const q = new WorkQueue<string>({
      concurrency: 1,
      handler: async () => {
        started++;
        await sleep(30);
        finished++;
      },
    });
    q.start();
    q.add('a');
    q.add('b');
    await sleep(5);
    await q.shutdown();
    expect(started).toBe(1);
    expect(finished).toBe(1);
    q.add('c');
    await sleep(40);
    expect(started).toBe(1);
  });
});
