import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KubeClient } from './client.ts';
import { FakeClock } from './clock.ts';
import { EventRecorder } from './events.ts';
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
});
