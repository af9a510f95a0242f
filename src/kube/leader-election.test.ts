import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock, settle } from './clock.ts';
import type { KubeResult } from './errors.ts';
import { LeaderElector, type Lease, type LeaseApi } from './leader-election.ts';

/** One Lease in memory with the API server's optimistic concurrency; `down` makes a candidate's calls fail. */
class FakeLeases {
  lease: Lease | undefined;
  rv = 0;
  writes = 0;
  readonly down = new Set<string>();

  api(who: string): LeaseApi {
    const unavailable = <T>(): KubeResult<T> => ({
      ok: false,
      error: { kind: 'Unavailable', status: 0, reason: '', message: 'connection refused' },
    });
    return {
      get: async () => {
        if (this.down.has(who)) return unavailable();
        if (!this.lease) return { ok: false, error: { kind: 'NotFound', status: 404, reason: 'NotFound', message: 'not found' } };
        return { ok: true, value: structuredClone(this.lease) };
      },
      create: async (l) => {
        if (this.down.has(who)) return unavailable();
        if (this.lease) return { ok: false, error: { kind: 'AlreadyExists', status: 409, reason: 'AlreadyExists', message: 'exists' } };
        this.lease = { ...structuredClone(l), metadata: { ...l.metadata, resourceVersion: String(++this.rv) } };
        this.writes++;
        return { ok: true, value: structuredClone(this.lease) };
      },
      replace: async (l) => {
        if (this.down.has(who)) return unavailable();
        if (!this.lease || l.metadata.resourceVersion !== this.lease.metadata.resourceVersion) {
          return { ok: false, error: { kind: 'Conflict', status: 409, reason: 'Conflict', message: 'modified' } };
        }
        this.lease = { ...structuredClone(l), metadata: { ...l.metadata, resourceVersion: String(++this.rv) } };
        this.writes++;
        return { ok: true, value: structuredClone(this.lease) };
      },
    };
  }
}

function candidate(leases: FakeLeases, clock: FakeClock, id: string, events: string[]): LeaderElector {
  return new LeaderElector({
    api: leases.api(id),
    name: 'berth-controller',
    namespace: 'metallb-system',
    identity: id,
    clock,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    onStartedLeading: () => events.push(`${id} started`),
    onStoppedLeading: () => events.push(`${id} stopped`),
  });
}

describe('LeaderElector', () => {
  it('creates the Lease when absent, with MicroTime timestamps, and renews it every retryPeriod', async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    const events: string[] = [];
    const a = candidate(leases, clock, 'a', events);
    a.start();
    await settle();
    assert.deepEqual(events, ['a started']);
    assert.equal(a.isLeader, true);
    const spec = leases.lease!.spec!;
    assert.equal(spec.holderIdentity, 'a');
    assert.equal(spec.leaseDurationSeconds, 15);
    assert.match(spec.renewTime!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const firstRenew = spec.renewTime;
    await clock.advance(2_000);
    assert.notEqual(leases.lease!.spec!.renewTime, firstRenew);
    assert.equal(leases.lease!.spec!.acquireTime, spec.acquireTime, 'acquireTime stays while the holder renews');
    await a.stop();
  });

  it('a second candidate waits while the lease is renewed, and takes over once it expires', async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    const events: string[] = [];
    const a = candidate(leases, clock, 'a', events);
    a.start();
    await settle();
    const b = candidate(leases, clock, 'b', events);
    b.start();
    await clock.advance(30_000);
    assert.deepEqual(events, ['a started'], 'b never leads while a renews');
    assert.equal(b.leader, 'a');

    // a loses the API server: it steps down after renewDeadline, b takes over after leaseDuration.
    leases.down.add('a');
    await clock.advance(10_000);
    assert.ok(events.includes('a stopped'), `a stepped down: ${events.join(', ')}`);
    assert.equal(a.isLeader, false);
    await clock.advance(10_000);
    assert.equal(b.isLeader, true);
    assert.equal(leases.lease!.spec!.holderIdentity, 'b');
    assert.equal(leases.lease!.spec!.leaseTransitions, 1);
    // Never two leaders at once.
    const order = events.join(', ');
    assert.ok(order.indexOf('a stopped') < order.indexOf('b started'), order);
    leases.down.delete('a');
    await a.stop();
    await b.stop();
  });

  it('releases the Lease on stop so a standby takes over without waiting for expiry', async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    const events: string[] = [];
    const a = candidate(leases, clock, 'a', events);
    a.start();
    await settle();
    const b = candidate(leases, clock, 'b', events);
    b.start();
    await clock.advance(4_000);
    await a.stop();
    assert.equal(leases.lease!.spec!.holderIdentity, '');
    assert.deepEqual(events, ['a started', 'a stopped']);
    await clock.advance(2_500);
    assert.equal(b.isLeader, true, 'b took the released lease at its next retry');
    await b.stop();
  });

  it('two candidates racing for an absent Lease: exactly one wins (create conflict = lost)', async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    const events: string[] = [];
    const a = candidate(leases, clock, 'a', events);
    const b = candidate(leases, clock, 'b', events);
    a.start();
    b.start();
    await settle();
    await clock.advance(6_000);
    assert.equal(events.filter((e) => e.endsWith('started')).length, 1, events.join(', '));
    assert.notEqual(a.isLeader, b.isLeader);
    await a.stop();
    await b.stop();
  });

  it('rejects timings where renewDeadline is not shorter than leaseDuration', () => {
    assert.throws(
      () =>
        new LeaderElector({
          api: new FakeLeases().api('x'),
          name: 'l',
          namespace: 'n',
          identity: 'x',
          leaseDurationMs: 5_000,
          renewDeadlineMs: 5_000,
          retryPeriodMs: 1_000,
        }),
      /renewDeadline \(5000 ms\) must be shorter than leaseDuration \(5000 ms\)/,
    );
  });
});
