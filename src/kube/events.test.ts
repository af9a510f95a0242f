import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KubeClient } from './client.ts';
import { FakeClock } from './clock.ts';
import { CORRELATION, EventRecorder, ignoreNumbers } from './events.ts';
import { FakeTransport } from './fake-transport.ts';

const svc = { kind: 'Service', namespace: 'shop', name: 'web', uid: 'u-1' };

describe('EventRecorder', () => {
  it("writes core/v1 Events with MetalLB's source component and berth as reporting component", async () => {
    const t = new FakeTransport(() => ({ ok: true, value: {} }));
    const clock = new FakeClock(Date.UTC(2025, 0, 2, 3, 4, 5));
    const r = new EventRecorder({ client: new KubeClient(t), reportingInstance: 'ctl-0', clock });
    r.event(svc, 'Normal', 'IPAllocated', 'Assigned IP ["192.168.1.220"]');
    await r.flush();
    assert.equal(t.requests.length, 1);
    const req = t.requests[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/api/v1/namespaces/shop/events');
    const b = req.body as {
      reason: string;
      type: string;
      message: string;
      source: unknown;
      reportingComponent: string;
      reportingInstance: string;
      involvedObject: unknown;
      firstTimestamp: string;
      eventTime: string;
      count: number;
      metadata: { name: string };
    };
    assert.equal(b.reason, 'IPAllocated');
    assert.equal(b.type, 'Normal');
    assert.equal(b.message, 'Assigned IP ["192.168.1.220"]');
    assert.deepEqual(b.source, { component: 'metallb-controller' });
    assert.equal(b.reportingComponent, 'berth-controller');
    assert.equal(b.reportingInstance, 'ctl-0');
    assert.deepEqual(b.involvedObject, { kind: 'Service', apiVersion: 'v1', namespace: 'shop', name: 'web', uid: 'u-1' });
    assert.equal(b.firstTimestamp, '2025-01-02T03:04:05Z');
    assert.equal(b.eventTime, '2025-01-02T03:04:05.000000Z');
    assert.equal(b.count, 1);
    assert.match(b.metadata.name, /^web\.[0-9a-f]{16}$/);
  });

  it('aggregates a repeat by bumping count on the same Event; a different message is a new Event', async () => {
    const t = new FakeTransport(() => ({ ok: true, value: {} }));
    const clock = new FakeClock();
    const r = new EventRecorder({ client: new KubeClient(t), clock });
    r.event(svc, 'Warning', 'AllocationFailed', 'no available IPs');
    await r.flush();
    await clock.advance(1000);
    r.event(svc, 'Warning', 'AllocationFailed', 'no available IPs');
    await r.flush();
    r.event(svc, 'Warning', 'AllocationFailed', 'no available IPs');
    await r.flush();
    r.event(svc, 'Warning', 'AllocationFailed', 'something else');
    await r.flush();
    const name = (t.requests[0]!.body as { metadata: { name: string } }).metadata.name;
    assert.deepEqual(
      t.requests.map((q) => `${q.method} ${q.path.replace(name, 'NAME')}`),
      [
        'POST /api/v1/namespaces/shop/events',
        'PATCH /api/v1/namespaces/shop/events/NAME',
        'PATCH /api/v1/namespaces/shop/events/NAME',
        'POST /api/v1/namespaces/shop/events',
      ],
    );
    assert.equal(t.requests[1]!.contentType, 'application/merge-patch+json');
    assert.deepEqual((t.requests[2]!.body as { count: number }).count, 3);
  });

  it('starts a new Event when the aggregated one is gone (404), and bounds its queue', async () => {
    let n = 0;
    const t = new FakeTransport((q) =>
      q.method === 'PATCH'
        ? { ok: false, error: { kind: 'NotFound', status: 404, reason: 'NotFound', message: 'gone' } }
        : { ok: true, value: { n: n++ } },
    );
    const r = new EventRecorder({ client: new KubeClient(t), clock: new FakeClock(), concurrency: 1, maxQueue: 2 });
    r.event(svc, 'Normal', 'X', 'm');
    await r.flush();
    r.event(svc, 'Normal', 'X', 'm');
    await r.flush();
    assert.deepEqual(t.requests.map((q) => q.method), ['POST', 'PATCH', 'POST']);
    for (let i = 0; i < 10; i++) r.event(svc, 'Normal', 'Y', `m${i}`);
    await r.flush();
    assert.ok(r.dropped >= 7, `dropped ${r.dropped}`);
  });

  it("follows client-go's constants (events_cache.go)", () => {
    assert.equal(CORRELATION.aggregateMaxEvents, 10);
    assert.equal(CORRELATION.aggregateIntervalMs, 600_000);
    assert.equal(CORRELATION.spamBurst, 25);
    assert.equal(CORRELATION.spamQps, 1 / 300);
    assert.equal(CORRELATION.maxLruCacheEntries, 4096);
  });

  it('combines events differing only in message once 10 distinct messages were seen within 10 minutes', async () => {
    const t = new FakeTransport(() => ({ ok: true, value: {} }));
    const clock = new FakeClock();
    const r = new EventRecorder({ client: new KubeClient(t), clock });
    for (let i = 0; i < 15; i++) {
      r.event(svc, 'Warning', 'AllocationFailed', `no available IPs (${i})`);
      await r.flush();
      await clock.advance(1000);
    }
    const posts = t.requests.filter((q) => q.method === 'POST').map((q) => (q.body as { message: string }).message);
    // 9 distinct messages are written as they are, the 10th and later go to one combined Event.
    assert.equal(posts.length, 10);
    assert.deepEqual(posts.slice(0, 9), [...Array(9).keys()].map((i) => `no available IPs (${i})`));
    assert.equal(posts[9], '(combined from similar events): no available IPs (9)');
    const patches = t.requests.filter((q) => q.method === 'PATCH');
    assert.equal(patches.length, 5);
    assert.deepEqual(patches.at(-1)!.body, {
      count: 6,
      lastTimestamp: new Date(clock.now() - 1000).toISOString().replace(/\.\d+Z$/, 'Z'),
      message: '(combined from similar events): no available IPs (14)',
    });
  });

  it('starts aggregating afresh after 10 minutes without a similar event', async () => {
    const t = new FakeTransport(() => ({ ok: true, value: {} }));
    const clock = new FakeClock();
    const r = new EventRecorder({ client: new KubeClient(t), clock });
    for (let i = 0; i < 9; i++) r.event(svc, 'Warning', 'AllocationFailed', `m${i}`);
    await r.flush();
    await clock.advance(600_001);
    r.event(svc, 'Warning', 'AllocationFailed', 'm9');
    await r.flush();
    const last = t.requests.at(-1)!.body as { message: string };
    assert.equal(last.message, 'm9');
  });

  it('spam filter: 25 writes per object, then 1 per 5 minutes; filtered occurrences still count', async () => {
    const t = new FakeTransport(() => ({ ok: true, value: {} }));
    const clock = new FakeClock();
    const r = new EventRecorder({ client: new KubeClient(t), clock });
    for (let i = 0; i < 40; i++) {
      r.event(svc, 'Warning', 'AllocationFailed', 'no available IPs');
      await r.flush();
    }
    assert.equal(t.requests.length, 25);
    assert.equal(r.filtered, 15);
    // Another object has its own bucket.
    r.event({ ...svc, name: 'other', uid: 'u-2' }, 'Warning', 'AllocationFailed', 'no available IPs');
    await r.flush();
    assert.equal(t.requests.length, 26);
    await clock.advance(299_000);
    r.event(svc, 'Warning', 'AllocationFailed', 'no available IPs');
    await r.flush();
    assert.equal(t.requests.length, 26, 'no token before 5 minutes');
    await clock.advance(2_000);
    r.event(svc, 'Warning', 'AllocationFailed', 'no available IPs');
    await r.flush();
    assert.equal(t.requests.length, 27);
    assert.equal((t.requests.at(-1)!.body as { count: number }).count, 42);
  });

  it('one Event per Service and cause after a pool delete: repeats coalesce into count', async () => {
    const t = new FakeTransport(async () => {
      await new Promise((res) => setImmediate(res));
      return { ok: true, value: {} };
    });
    const clock = new FakeClock();
    const r = new EventRecorder({ client: new KubeClient(t), clock });
    // 33 Services, each reconciled 11 times in a burst with the same cause (requeues on every capacity change).
    for (let round = 0; round < 11; round++) {
      for (let i = 0; i < 33; i++) {
        r.event({ ...svc, name: `s${i}`, uid: `u${i}` }, 'Warning', 'AllocationFailed', 'unknown pool "production"');
      }
    }
    await r.flush();
    const posts = t.requests.filter((q) => q.method === 'POST');
    assert.equal(posts.length, 33, 'one Event object per Service');
    assert.ok(t.requests.length < 33 * 11, `writes coalesced: ${t.requests.length}`);
    const counts = new Map<string, number>();
    for (const q of t.requests) {
      const b = q.body as { count: number; metadata?: { name: string } };
      const name = b.metadata?.name ?? q.path.split('/').at(-1)!;
      counts.set(name.split('.')[0]!, Math.max(counts.get(name.split('.')[0]!) ?? 0, b.count));
    }
    assert.deepEqual([...new Set(counts.values())], [11]);
  });

  it('oncePerObject reasons are written once per uid and message', async () => {
    const t = new FakeTransport(() => ({ ok: true, value: {} }));
    const clock = new FakeClock();
    const r = new EventRecorder({ client: new KubeClient(t), clock, oncePerObject: ['deprecatedAnnotation'] });
    const msg = 'Service uses deprecated annotation metallb.universe.tf/address-pool';
    for (let i = 0; i < 5; i++) {
      r.event(svc, 'Warning', 'deprecatedAnnotation', msg);
      await clock.advance(600_000);
    }
    r.event(svc, 'Warning', 'deprecatedAnnotation', 'Service uses deprecated annotation metallb.universe.tf/loadBalancerIPs');
    r.event({ ...svc, uid: 'u-recreated' }, 'Warning', 'deprecatedAnnotation', msg);
    await r.flush();
    assert.equal(t.requests.length, 3);
    assert.ok(t.requests.every((q) => q.method === 'POST'));
    assert.equal(r.suppressed, 4);
  });

  it('keys objects by uid when they have one (a re-created object is another), by their reference otherwise', async () => {
    const t = new FakeTransport(() => ({ ok: true, value: {} }));
    const clock = new FakeClock();
    const r = new EventRecorder({ client: new KubeClient(t), clock });
    const noUid = { kind: 'Service', namespace: 'shop', name: 'web' };
    r.event(svc, 'Normal', 'IPAllocated', 'Assigned IP ["192.0.2.1"]');
    r.event({ ...svc, uid: 'u-2' }, 'Normal', 'IPAllocated', 'Assigned IP ["192.0.2.1"]');
    r.event(noUid, 'Normal', 'IPAllocated', 'Assigned IP ["192.0.2.1"]');
    r.event({ ...noUid, name: 'api' }, 'Normal', 'IPAllocated', 'Assigned IP ["192.0.2.1"]');
    await r.flush();
    assert.deepEqual(
      t.requests.map((q) => q.method),
      ['POST', 'POST', 'POST', 'POST'],
    );
    // Repeats of each: count bumps on the Event already written for that object, never another object's.
    r.event(svc, 'Normal', 'IPAllocated', 'Assigned IP ["192.0.2.1"]');
    r.event(noUid, 'Normal', 'IPAllocated', 'Assigned IP ["192.0.2.1"]');
    await r.flush();
    const names = t.requests.slice(0, 4).map((q) => (q.body as { metadata: { name: string } }).metadata.name);
    const patched = t.requests.slice(4).map((q) => q.path.split('/').at(-1));
    assert.deepEqual(
      t.requests.slice(4).map((q) => q.method),
      ['PATCH', 'PATCH'],
    );
    assert.deepEqual(patched, [names[0], names[2]]);
  });

  it('cause: ignoreNumbers makes Warning messages differing only in counts one Event, with the latest message', async () => {
    const t = new FakeTransport(() => ({ ok: true, value: {} }));
    const r = new EventRecorder({ client: new KubeClient(t), clock: new FakeClock(), cause: ignoreNumbers });
    for (const free of [31, 30, 29, 30]) {
      r.event(svc, 'Warning', 'AllocationFailed', `pool "tiny" is exhausted: 1/1 addresses in use. Other pools: pool "default" has ${free} free`);
      await r.flush();
    }
    r.event(svc, 'Warning', 'AllocationFailed', 'unknown pool "production"');
    r.event(svc, 'Normal', 'IPAllocated', 'Assigned IP ["192.168.1.220"]');
    await r.flush();
    r.event(svc, 'Normal', 'IPAllocated', 'Assigned IP ["192.168.1.221"]');
    await r.flush();
    assert.deepEqual(
      t.requests.map((q) => q.method),
      ['POST', 'PATCH', 'PATCH', 'PATCH', 'POST', 'POST', 'POST'],
      'another cause, and Normal events, keep their own Event',
    );
    assert.deepEqual(t.requests[3]!.body, {
      count: 4,
      lastTimestamp: (t.requests[3]!.body as { lastTimestamp: string }).lastTimestamp,
      message: 'pool "tiny" is exhausted: 1/1 addresses in use. Other pools: pool "default" has 30 free',
    });
  });

  it('keeps at most 11 Events per object, type and reason: a cause from an older window is forgotten, least recent first', async () => {
    const t = new FakeTransport(() => ({ ok: true, value: {} }));
    const clock = new FakeClock();
    const r = new EventRecorder({ client: new KubeClient(t), clock });
    // 12 windows of one distinct cause each: 12 Events created, none combined.
    for (let i = 0; i < 12; i++) {
      r.event(svc, 'Warning', 'AllocationFailed', `cause ${i}`);
      await r.flush();
      await clock.advance(600_001);
    }
    assert.equal(t.requests.filter((q) => q.method === 'POST').length, 12);
    // cause 11 (the latest) is still known: its repeat patches its Event; cause 0 was forgotten: a new Event.
    r.event(svc, 'Warning', 'AllocationFailed', 'cause 11');
    await r.flush();
    assert.equal(t.requests.at(-1)!.method, 'PATCH');
    r.event(svc, 'Warning', 'AllocationFailed', 'cause 0');
    await r.flush();
    assert.equal(t.requests.at(-1)!.method, 'POST');
    assert.equal((t.requests.at(-1)!.body as { message: string }).message, 'cause 0');
  });

  it('remembers at most 4,096 objects: the one seen least recently starts a new Event on a repeat', async () => {
    const t = new FakeTransport(() => ({ ok: true, value: {} }));
    const r = new EventRecorder({ client: new KubeClient(t), clock: new FakeClock(), maxQueue: 10_000 });
    const ref = (i: number) => ({ kind: 'Service', namespace: 'shop', name: `s${i}`, uid: `u-${i}` });
    for (let i = 0; i <= CORRELATION.maxLruCacheEntries; i++) r.event(ref(i), 'Normal', 'IPAllocated', 'Assigned IP ["192.0.2.1"]');
    await r.flush();
    const posts = t.requests.length;
    assert.equal(posts, CORRELATION.maxLruCacheEntries + 1);
    r.event(ref(CORRELATION.maxLruCacheEntries), 'Normal', 'IPAllocated', 'Assigned IP ["192.0.2.1"]');
    r.event(ref(0), 'Normal', 'IPAllocated', 'Assigned IP ["192.0.2.1"]');
    await r.flush();
    assert.deepEqual(
      t.requests.slice(posts).map((q) => q.method),
      ['PATCH', 'POST'],
      'the latest object is remembered (count bumped), the first was evicted (a new Event)',
    );
  });
});
