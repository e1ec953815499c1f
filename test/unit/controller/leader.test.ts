/** The Lease loop's logic, with an injected clock and an in-memory Lease API (no cluster). */

import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../../src/controller/clock.js';
import { LeaderElector } from '../../../src/controller/leader.js';
import { type LeaseClient, LeaseConflictError, type LeaseRecord } from '../../../src/controller/lease.js';
import { createHealthHandler, operatorMetrics } from '../../../src/health/index.js';
import { KubeApiError } from '../../../src/kube/client.js';
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

/** A Lease API that answers as the API server does when the Lease cannot be used. */
class RefusingLeaseClient implements LeaseClient {
  readonly description = 'missing-ns/kubemcp-operator';
  readonly namespace = 'missing-ns';
  readonly name = 'kubemcp-operator';
  mode: 'no-namespace' | 'forbidden' | 'read-only' | 'ok' = 'no-namespace';
  private readonly store = new LeaseStore();
  async get() {
    if (this.mode === 'forbidden') {
      throw new KubeApiError(
        403,
        {
          code: 403,
          reason: 'Forbidden',
          message: 'leases.coordination.k8s.io "kubemcp-operator" is forbidden',
        },
        'GET lease',
      );
    }
    return this.mode === 'no-namespace' ? undefined : this.store.get();
  }
  async create(r: LeaseRecord) {
    if (this.mode === 'no-namespace') {
      throw new KubeApiError(
        404,
        { code: 404, reason: 'NotFound', message: 'namespaces "missing-ns" not found' },
        'POST lease',
      );
    }
    return this.store.create(r);
  }
  async update(r: LeaseRecord) {
    if (this.mode === 'read-only') {
      throw new KubeApiError(
        403,
        { code: 403, reason: 'Forbidden', message: 'cannot update leases' },
        'PUT lease',
      );
    }
    return this.store.update(r);
  }
}

function refusing(clock: FakeClock) {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  const registry = new Registry();
  const metrics = operatorMetrics(registry);
  const client = new RefusingLeaseClient();
  const e = new LeaderElector({
    identity: 'a',
    client,
    clock,
    ...TIMING,
    random: () => 0.5,
    logger,
    metrics,
    errorLogIntervalMs: 60_000,
  });
  const errors = () => lines.filter((l) => l.level === 50);
  return { e, client, lines, errors, registry };
}

describe('a Lease that cannot be used', () => {
  it('a missing namespace: a rate-limited error naming the remedies, a metric, a readiness warning', async () => {
    const clock = new FakeClock();
    const { e, client, errors, lines, registry } = refusing(clock);
    e.start();
    await clock.advance(0);
    // One failed attempt is not reported yet (it may be an API server warming up).
    expect(e.problem()).toBeUndefined();
    expect(errors()).toHaveLength(0);
    await clock.advance(4_000);
    expect(e.isLeader()).toBe(false);
    expect(e.problem()?.reason).toBe('NamespaceNotFound');
    expect(errors()).toHaveLength(1);
    const msg = String(errors()[0]?.msg);
    expect(msg).toContain('namespace "missing-ns" does not exist');
    expect(msg).toContain('--leader-election-namespace');
    expect(msg).toContain('kubectl create namespace missing-ns');
    expect(msg).toContain('--no-leader-elect');

    // Attempts every ~3 s for a minute: still one error line per minute, not one per attempt.
    await clock.advance(55_000);
    expect(e.problem()?.attempts).toBeGreaterThan(10);
    expect(errors()).toHaveLength(1);
    await clock.advance(8_000);
    expect(errors()).toHaveLength(2);

    const text = await registry.metrics();
    const count = Number(
      /kubemcp_leader_election_errors_total\{reason="NamespaceNotFound"\} (\d+)/.exec(text)?.[1],
    );
    expect(count).toBe(e.problem()?.attempts);
    expect(text).toMatch(/kubemcp_leader_election_failing\{reason="NamespaceNotFound"\} 1/);

    // /readyz?verbose shows it; /readyz stays 200 (every replica enforces, leading or not).
    const handler = createHealthHandler({
      registry,
      checks: [
        {
          name: 'leader-election',
          warnOnly: true,
          check: () => (e.problem() ? `${e.problem()?.reason}: ${e.problem()?.message}` : true),
        },
      ],
    });
    const verbose = await request(handler, '/readyz?verbose');
    expect(verbose.status).toBe(200);
    expect(verbose.body).toContain('[!] leader-election warning: NamespaceNotFound: cannot use the Lease');
    expect(verbose.body).toContain('--no-leader-elect');
    expect((await request(handler, '/readyz')).status).toBe(200);

    // The namespace appears: it leads, the problem is cleared, the gauge drops to 0.
    client.mode = 'ok';
    await clock.advance(4_000);
    expect(e.isLeader()).toBe(true);
    expect(e.problem()).toBeUndefined();
    expect(await registry.metrics()).toMatch(
      /kubemcp_leader_election_failing\{reason="NamespaceNotFound"\} 0/,
    );
    expect(lines.some((l) => l.msg === 'the Lease can be used again')).toBe(true);
    expect((await request(handler, '/readyz?verbose')).body).toContain('[+] leader-election ok');
    await e.stop();
  });

  it('RBAC forbids the Lease: the error says which permissions to grant', async () => {
    const clock = new FakeClock();
    const { e, client, errors } = refusing(clock);
    client.mode = 'forbidden';
    e.start();
    await clock.advance(10_000);
    expect(e.problem()?.reason).toBe('Forbidden');
    expect(errors()).toHaveLength(1);
    const msg = String(errors()[0]?.msg);
    expect(msg).toContain('RBAC forbids it');
    expect(msg).toContain('the Lease named "kubemcp-operator"');
    expect(msg).toContain('--leader-election-namespace');
    expect(msg).toContain('--no-leader-elect');
    await e.stop();
  });

  it('a Lease it may read but not update: one error, not a flood of errors and recoveries', async () => {
    const clock = new FakeClock();
    const { e, client, errors, lines } = refusing(clock);
    client.mode = 'ok';
    e.start();
    await clock.advance(0);
    expect(e.isLeader()).toBe(true);
    client.mode = 'read-only';
    // It cannot renew, stops leading, and from then on every attempt fails on update.
    await clock.advance(40_000);
    expect(e.isLeader()).toBe(false);
    expect(e.problem()?.reason).toBe('Forbidden');
    expect(e.problem()?.attempts).toBeGreaterThan(5);
    expect(errors()).toHaveLength(1);
    expect(lines.filter((l) => l.msg === 'the Lease can be used again')).toHaveLength(0);
    await e.stop();
  });

  it('one refused call that the next attempt gets past is not reported', async () => {
    const clock = new FakeClock();
    const { e, client, lines, registry } = refusing(clock);
    client.mode = 'forbidden';
    e.start();
    await clock.advance(0);
    client.mode = 'ok';
    await clock.advance(4_000);
    expect(e.isLeader()).toBe(true);
    expect(e.problem()).toBeUndefined();
    expect(lines.filter((l) => (l.level as number) >= 40)).toEqual([]);
    expect(await registry.metrics()).not.toMatch(/kubemcp_leader_election_failing\{reason="Forbidden"\} 1/);
    await e.stop();
  });

  it('losing the race for the Lease is not a problem', async () => {
    const store = new LeaseStore();
    const clock = new FakeClock();
    const a = elector(store, clock, 'a').e;
    const b = elector(store, clock, 'b').e;
    a.start();
    b.start();
    await clock.advance(10_000);
    expect(a.problem()).toBeUndefined();
    expect(b.problem()).toBeUndefined();
    await a.stop();
    await b.stop();
  });
});

async function request(
  handler: ReturnType<typeof createHealthHandler>,
  url: string,
): Promise<{ status: number; body: string }> {
  const { EventEmitter } = await import('node:events');
  return new Promise((resolve) => {
    let status = 0;
    const res = Object.assign(new EventEmitter(), {
      writeHead(s: number) {
        status = s;
        return res;
      },
      end(body?: string) {
        resolve({ status, body: body ?? '' });
      },
    });
    handler({ url, method: 'GET' } as never, res as never);
  });
}

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
