/** The Lease loop's logic, with an injected clock and an in-memory Lease API (no cluster). */

import { describe, expect, it } from 'vitest';
import {
  type Clock,
  LeaderElector,
  type LeaseClient,
  LeaseConflictError,
  type LeaseRecord,
} from '../../../src/controller/leader.js';
import { microTime, parseMicroTime } from '../../../src/kube/microtime.js';

/** A clock whose time moves only when the test advances it. */
class FakeClock implements Clock {
  t = 1_000_000;
  private sleepers: { at: number; resolve: () => void }[] = [];

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const onAbort = (): void => {
        this.sleepers = this.sleepers.filter((s) => s !== entry);
        resolve();
      };
      const entry = {
        at: this.t + ms,
        resolve: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.sleepers.push(entry);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Moves time forward by `ms`, waking sleepers in order and letting their continuations run. */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    await flush();
    for (;;) {
      this.sleepers.sort((a, b) => a.at - b.at);
      const next = this.sleepers[0];
      if (!next || next.at > target) break;
      this.sleepers.shift();
      this.t = Math.max(this.t, next.at);
      next.resolve();
      await flush();
    }
    this.t = target;
    await flush();
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
}

/** One Lease in memory, with resourceVersions like the API server's. */
class LeaseStore {
  record: LeaseRecord | undefined;
  private rv = 0;
  writes = 0;

  client(name: string): FakeLeaseClient {
    return new FakeLeaseClient(this, name);
  }

  get(): LeaseRecord | undefined {
    return this.record;
  }

  create(r: LeaseRecord): LeaseRecord {
    if (this.record) throw new LeaseConflictError('exists');
    return this.put(r);
  }

  update(r: LeaseRecord): LeaseRecord {
    if (!this.record) throw new Error('not found');
    if (r.resourceVersion !== this.record.resourceVersion) throw new LeaseConflictError();
    return this.put(r);
  }

  private put(r: LeaseRecord): LeaseRecord {
    this.writes++;
    this.record = { ...r, resourceVersion: String(++this.rv) };
    return this.record;
  }
}

class FakeLeaseClient implements LeaseClient {
  /** When set, every call fails (a replica cut off from the API server). */
  down = false;
  readonly description: string;
  constructor(
    private readonly store: LeaseStore,
    name: string,
  ) {
    this.description = `fake/${name}`;
  }
  private check(): void {
    if (this.down) throw new Error('connection refused');
  }
  async get() {
    this.check();
    return this.store.get();
  }
  async create(r: LeaseRecord) {
    this.check();
    return this.store.create(r);
  }
  async update(r: LeaseRecord) {
    this.check();
    return this.store.update(r);
  }
}

const TIMING = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

function elector(store: LeaseStore, clock: FakeClock, identity: string) {
  const client = store.client(identity);
  const e = new LeaderElector({ identity, client, clock, ...TIMING, random: () => 0.5 });
  return { e, client };
}

describe('tryAcquireOrRenew', () => {
  it('creates the Lease when there is none, with microsecond times and 0 transitions', async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const { e } = elector(store, clock, 'a');
    expect(await e.tryAcquireOrRenew()).toBe(true);
    expect(store.record).toMatchObject({
      holderIdentity: 'a',
      leaseDurationSeconds: 15,
      acquireTime: clock.t,
      renewTime: clock.t,
      leaseTransitions: 0,
    });
  });

  it('does not take a Lease another holder renews, and renews its own keeping acquireTime', async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const a = elector(store, clock, 'a').e;
    const b = elector(store, clock, 'b').e;
    expect(await a.tryAcquireOrRenew()).toBe(true);
    const acquired = clock.t;
    clock.t += 2_000;
    expect(await b.tryAcquireOrRenew()).toBe(false);
    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect(store.record).toMatchObject({
      holderIdentity: 'a',
      acquireTime: acquired,
      renewTime: clock.t,
      leaseTransitions: 0,
    });
    expect(b.leader()).toBe('a');
  });

  it('takes over a Lease unrenewed for leaseDuration, measured from when it was observed, and counts the transition', async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const a = elector(store, clock, 'a').e;
    const b = elector(store, clock, 'b').e;
    await a.tryAcquireOrRenew();
    // The holder's clock is far behind ours: its renewTime looks ancient, but we just saw it change.
    store.record = { ...store.record, renewTime: clock.t - 3_600_000 };
    clock.t += 1_000;
    expect(await b.tryAcquireOrRenew()).toBe(false); // first observation starts b's timer
    clock.t += 14_000;
    expect(await b.tryAcquireOrRenew()).toBe(false); // 14 s unchanged: still valid
    clock.t += 1_001;
    expect(await b.tryAcquireOrRenew()).toBe(true); // 15 s unchanged: expired
    expect(store.record).toMatchObject({ holderIdentity: 'b', acquireTime: clock.t, leaseTransitions: 1 });
  });

  it('loses a race on a stale resourceVersion (optimistic concurrency)', async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const { e: a, client } = elector(store, clock, 'a');
    await a.tryAcquireOrRenew();
    // Another writer slips in between our read and our write.
    const original = client.get.bind(client);
    client.get = async () => {
      const r = await original();
      store.update({ ...(r as LeaseRecord), renewTime: clock.t + 1 });
      return r;
    };
    expect(await a.tryAcquireOrRenew()).toBe(false);
  });

  it('a released Lease (no holder) is taken at once', async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const a = elector(store, clock, 'a').e;
    const b = elector(store, clock, 'b').e;
    await a.tryAcquireOrRenew();
    expect(await b.tryAcquireOrRenew()).toBe(false);
    expect(await a.release()).toBe(true);
    expect(store.record?.holderIdentity ?? '').toBe('');
    expect(store.record?.leaseDurationSeconds).toBe(1);
    expect(await b.tryAcquireOrRenew()).toBe(true);
    expect(store.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    expect(await a.release()).toBe(false); // not the holder any more: leaves it alone
    expect(store.record?.holderIdentity).toBe('b');
  });

  it('rejects timings client-go would reject', () => {
    const store = new LeaseStore();
    expect(
      () =>
        new LeaderElector({
          identity: 'x',
          client: store.client('x'),
          leaseDurationMs: 10_000,
          renewDeadlineMs: 10_000,
          retryPeriodMs: 2_000,
        }),
    ).toThrow(/lease duration/);
  });
});

describe('the leader election loop', () => {
  it('elects exactly one leader, which keeps renewing', async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const a = elector(store, clock, 'a').e;
    const b = elector(store, clock, 'b').e;
    const changes: string[] = [];
    a.onChange((l) => changes.push(`a:${l}`));
    b.onChange((l) => changes.push(`b:${l}`));
    a.start();
    await clock.advance(0);
    b.start();
    for (let i = 0; i < 30; i++) {
      await clock.advance(1_000);
      expect([a.isLeader(), b.isLeader()].filter(Boolean)).toHaveLength(1);
    }
    expect(a.isLeader()).toBe(true);
    expect(changes).toEqual(['a:true']);
    expect(clock.t - (store.record?.renewTime ?? 0)).toBeLessThanOrEqual(TIMING.retryPeriodMs);
    await a.stop();
    await b.stop();
  });

  it('hands over after leaseDuration when the leader is cut off, and the cut-off leader stops within the renew deadline', async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const { e: a, client: ca } = elector(store, clock, 'a');
    const b = elector(store, clock, 'b').e;
    a.start();
    await clock.advance(0);
    b.start();
    await clock.advance(5_000);
    expect(a.isLeader()).toBe(true);

    ca.down = true;
    const cutAt = clock.t;
    let aStoppedAt: number | undefined;
    let bStartedAt: number | undefined;
    a.onChange((l) => {
      if (!l) aStoppedAt = clock.t;
    });
    b.onChange((l) => {
      if (l) bStartedAt = clock.t;
    });
    for (let i = 0; i < 40 && bStartedAt === undefined; i++) await clock.advance(500);

    expect(aStoppedAt).toBeDefined();
    expect((aStoppedAt ?? 0) - cutAt).toBeLessThanOrEqual(TIMING.renewDeadlineMs);
    expect(bStartedAt).toBeDefined();
    // b waits out the lease from its last observation of a's renewal, plus at most one retry period with jitter.
    expect((bStartedAt ?? 0) - cutAt).toBeGreaterThanOrEqual(TIMING.leaseDurationMs - TIMING.retryPeriodMs);
    expect((bStartedAt ?? 0) - cutAt).toBeLessThanOrEqual(
      TIMING.leaseDurationMs + TIMING.retryPeriodMs * 2.2,
    );
    // The leader stopped leading before the follower took over: never two leaders.
    expect(aStoppedAt ?? Number.POSITIVE_INFINITY).toBeLessThan(bStartedAt ?? 0);
    expect(store.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    ca.down = false;
    await a.stop();
    await b.stop();
  });

  it('stops leading at once when it sees another holder', async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const a = elector(store, clock, 'a').e;
    a.start();
    await clock.advance(0);
    expect(a.isLeader()).toBe(true);
    // An administrator (or a split brain) hands the Lease to someone else.
    store.update({ ...(store.record as LeaseRecord), holderIdentity: 'intruder' });
    await clock.advance(TIMING.retryPeriodMs + 1);
    expect(a.isLeader()).toBe(false);
    await a.stop();
    expect(store.record?.holderIdentity).toBe('intruder');
  });

  it('releases the Lease on stop so a follower takes over within one retry period', async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const a = elector(store, clock, 'a').e;
    const b = elector(store, clock, 'b').e;
    a.start();
    await clock.advance(0);
    b.start();
    await clock.advance(3_000);
    await a.stop();
    expect(a.isLeader()).toBe(false);
    expect(store.record?.holderIdentity ?? '').toBe('');
    const stoppedAt = clock.t;
    let startedAt: number | undefined;
    b.onChange((l) => {
      if (l) startedAt = clock.t;
    });
    for (let i = 0; i < 20 && startedAt === undefined; i++) await clock.advance(250);
    expect((startedAt ?? Number.POSITIVE_INFINITY) - stoppedAt).toBeLessThanOrEqual(
      TIMING.retryPeriodMs * 2.2,
    );
    await b.stop();
  });
});

describe('Lease times', () => {
  it('are written with six fractional digits and read back to the microsecond', () => {
    const t = Date.UTC(2026, 0, 2, 3, 4, 5, 678) + 0.912;
    const json = JSON.stringify({ t: microTime(t) });
    expect(json).toBe('{"t":"2026-01-02T03:04:05.678912Z"}');
    expect(parseMicroTime('2026-01-02T03:04:05.678912Z')).toBeCloseTo(t, 3);
    expect(parseMicroTime('2026-01-02T03:04:05Z')).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(parseMicroTime(new Date(5))).toBe(5);
    expect(parseMicroTime('not a time')).toBeUndefined();
  });
});
