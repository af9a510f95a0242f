import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { applyObject } from '../kube/apply.ts';
import type { KubeObject } from '../kube/client.ts';
import { connect } from '../kube/connect.ts';
import type { EventType, ObjectRef } from '../kube/events.ts';
import { Resources } from '../kube/resources.ts';
import { startLab } from '../lab/server.ts';
import type { ServiceBgpStatusView } from './bgp-plan.ts';
import {
  BFD_SESSION_DOWN,
  BFD_SESSION_UP,
  BGP_SESSION_CONNECT_FAILED,
  BGP_SESSION_DOWN,
  BGP_SESSION_UP,
  BgpStatusWriter,
  bgpStatusObject,
  kubeBgpStatusPort,
  sessionEvents,
  type BgpStatusBody,
  type BgpStatusObject,
  type BgpStatusPort,
  type Timers,
} from './bgp-status.ts';

/** A recording ServiceBGPStatus store: `cache` is what the informer shows (updated by `sync()`, or never: lag). */
class FakeStore implements BgpStatusPort {
  objects = new Map<string, BgpStatusObject>();
  cache: BgpStatusObject[] = [];
  calls: string[] = [];
  fail = 0;
  #n = 0;
  list(): readonly BgpStatusObject[] {
    return this.cache;
  }
  sync(): void {
    this.cache = [...this.objects.values()].map((o) => ({ ...o }));
  }
  add(o: BgpStatusObject): void {
    this.objects.set(o.name, o);
    this.sync();
  }
  async create(svc: { namespace: string; name: string }, status: BgpStatusBody): Promise<string | undefined> {
    await Promise.resolve();
    this.calls.push(`create ${svc.namespace}/${svc.name} [${status.peers.join(',')}]`);
    if (this.fail > 0) return void this.fail--;
    const name = `bgp-${++this.#n}`;
    this.objects.set(name, { name, node: status.node, service: `${svc.namespace}/${svc.name}`, status });
    return name;
  }
  async updateStatus(name: string, status: BgpStatusBody): Promise<boolean> {
    await Promise.resolve();
    this.calls.push(`update ${name} [${status.peers.join(',')}]`);
    if (this.fail > 0) return (this.fail--, false);
    const o = this.objects.get(name);
    if (o) o.status = status;
    return o !== undefined;
  }
  async delete(name: string): Promise<boolean> {
    await Promise.resolve();
    this.calls.push(`delete ${name}`);
    if (this.fail > 0) return (this.fail--, false);
    this.objects.delete(name);
    return true;
  }
}

class FakeTimers implements Timers {
  pending: Array<{ fn: () => void; ms: number }> = [];
  set(fn: () => void, ms: number): unknown {
    const t = { fn, ms };
    this.pending.push(t);
    return t;
  }
  clear(h: unknown): void {
    this.pending = this.pending.filter((t) => t !== h);
  }
  fire(): number {
    const t = this.pending.shift();
    t?.fn();
    return t?.ms ?? -1;
  }
}

const view = (svc: string, peers: string[]): [string, ServiceBgpStatusView] => {
  const [ns, name] = svc.split('/') as [string, string];
  return [svc, { node: 'n1', serviceName: name, serviceNamespace: ns, peers }];
};

function writer(
  store: FakeStore,
  timers = new FakeTimers(),
): { w: BgpStatusWriter; updates: boolean[]; warns: string[] } {
  const updates: boolean[] = [];
  const warns: string[] = [];
  const w = new BgpStatusWriter({
    node: 'n1',
    port: store,
    timers,
    update: (ok) => updates.push(ok),
    warn: (_f, m) => warns.push(m),
    retry: { initialMs: 100, maxMs: 400 },
  });
  return { w, updates, warns };
}

test('one object per announced Service, with the labels, node, Service and sorted peers; written once', async () => {
  const store = new FakeStore();
  const { w, updates } = writer(store);
  w.set(new Map([view('shop/web', ['r2', 'r1']), view('shop/api', ['r1'])]));
  await w.idle();
  assert.deepEqual(store.calls, ['create shop/api [r1]', 'create shop/web [r1,r2]']);
  assert.deepEqual(updates, [true, true]);
  const web = [...store.objects.values()].find((o) => o.service === 'shop/web')!;
  assert.deepEqual(web.status, {
    node: 'n1',
    serviceName: 'web',
    serviceNamespace: 'shop',
    peers: ['r1', 'r2'],
  });
  store.sync();
  // The same plan again, and informer echoes of our own writes: no write.
  w.set(new Map([view('shop/web', ['r1', 'r2']), view('shop/api', ['r1'])]));
  w.reconcile();
  await w.idle();
  assert.equal(store.calls.length, 2, store.calls.join('; '));
});

test('a peer added or removed updates the status; a Service no longer announced loses its object; other nodes untouched', async () => {
  const store = new FakeStore();
  store.add({
    name: 'bgp-other',
    node: 'n2',
    service: 'shop/web',
    status: { node: 'n2', serviceName: 'web', serviceNamespace: 'shop', peers: ['r1'] },
  });
  const { w } = writer(store);
  w.set(new Map([view('shop/web', ['r1'])]));
  await w.idle();
  store.sync();
  const mine = [...store.objects.values()].find((o) => o.node === 'n1')!;
  w.set(new Map([view('shop/web', ['r1', 'r2'])]));
  await w.idle();
  store.sync();
  assert.equal(store.calls.at(-1), `update ${mine.name} [r1,r2]`);
  w.set(new Map());
  await w.idle();
  store.sync();
  assert.equal(store.calls.at(-1), `delete ${mine.name}`);
  assert.deepEqual([...store.objects.keys()], ['bgp-other'], "another node's object was touched");
  assert.ok(!store.calls.some((c) => c.includes('bgp-other')));
});

test('a cache that lags behind our create makes no duplicate; duplicates of ours found in the cache are deleted', async () => {
  const store = new FakeStore();
  const { w } = writer(store);
  w.set(new Map([view('shop/web', ['r1'])]));
  await w.idle();
  // The informer has not delivered the create yet: a change elsewhere triggers another pass.
  w.reconcile();
  w.set(new Map([view('shop/web', ['r1']), view('shop/api', ['r1'])]));
  await w.idle();
  assert.equal(store.calls.filter((c) => c.startsWith('create shop/web')).length, 1, store.calls.join('; '));
  // Two objects of ours for one Service (a lost create response, a restart): one stays.
  store.add({
    name: 'bgp-zz',
    node: 'n1',
    service: 'shop/web',
    status: { node: 'n1', serviceName: 'web', serviceNamespace: 'shop', peers: ['r1'] },
  });
  w.reconcile();
  await w.idle();
  store.sync();
  assert.equal(store.calls.at(-1), 'delete bgp-zz');
  assert.equal([...store.objects.values()].filter((o) => o.service === 'shop/web').length, 1);
});

test('nothing is deleted before the first plan; an object of ours from an earlier run is reused, not recreated', async () => {
  const store = new FakeStore();
  store.add({
    name: 'bgp-old',
    node: 'n1',
    service: 'shop/web',
    status: { node: 'n1', serviceName: 'web', serviceNamespace: 'shop', peers: ['r1'] },
  });
  store.add({
    name: 'bgp-gone',
    node: 'n1',
    service: 'shop/gone',
    status: { node: 'n1', serviceName: 'gone', serviceNamespace: 'shop', peers: ['r1'] },
  });
  const { w } = writer(store);
  w.reconcile();
  await w.idle();
  assert.deepEqual(store.calls, []);
  w.set(new Map([view('shop/web', ['r1'])]));
  await w.idle();
  assert.deepEqual(store.calls, ['delete bgp-gone']);
});

test('someone deletes our object: it is recreated', async () => {
  const store = new FakeStore();
  const { w } = writer(store);
  w.set(new Map([view('shop/web', ['r1'])]));
  await w.idle();
  store.sync();
  const name = store.cache[0]!.name;
  store.objects.delete(name);
  store.sync();
  w.deleted(name);
  await w.idle();
  assert.equal(store.calls.at(-1), 'create shop/web [r1]');
});

test('failed writes are retried with backoff (doubling, capped) until they succeed; counted as failures', async () => {
  const store = new FakeStore();
  const timers = new FakeTimers();
  const { w, updates, warns } = writer(store, timers);
  store.fail = 3;
  w.set(new Map([view('shop/web', ['r1'])]));
  await w.idle();
  assert.deepEqual(updates, [false]);
  assert.equal(timers.fire(), 100);
  await w.idle();
  assert.equal(timers.fire(), 200);
  await w.idle();
  assert.equal(timers.fire(), 400);
  await w.idle();
  assert.deepEqual(updates, [false, false, false, true]);
  assert.equal(timers.pending.length, 0);
  assert.equal(store.objects.size, 1);
  assert.equal(warns.length, 3);
  assert.match(warns[0]!, /ServiceBGPStatus write failed; retrying in 100 ms/);
  w.stop();
});

test('bgpStatusObject reads labels and status; junk peers are dropped', () => {
  const o = bgpStatusObject({
    metadata: {
      name: 'bgp-x',
      labels: {
        'metallb.io/node': 'n1',
        'metallb.io/service-name': 'web',
        'metallb.io/service-namespace': 'shop',
      },
    },
    status: { node: 'n1', serviceName: 'web', serviceNamespace: 'shop', peers: ['r1', 7, null] },
  });
  assert.deepEqual(o, {
    name: 'bgp-x',
    node: 'n1',
    service: 'shop/web',
    status: { node: 'n1', serviceName: 'web', serviceNamespace: 'shop', peers: ['r1'] },
  });
  assert.deepEqual(bgpStatusObject({ metadata: { name: 'y' } }), {
    name: 'y',
    node: undefined,
    service: undefined,
    status: undefined,
  });
});

test('session events go to the BGPPeer: up (Normal), down with the NOTIFICATION text (Warning), BFD down/up', () => {
  const speaker = new EventEmitter();
  const got: Array<{ ref: ObjectRef; type: EventType; reason: string; message: string }> = [];
  sessionEvents({
    speaker,
    node: 'n1',
    events: { event: (ref, type, reason, message) => got.push({ ref, type, reason, message }) },
    peerRef: (name) =>
      name === 'router'
        ? { kind: 'BGPPeer', apiVersion: 'metallb.io/v1beta2', namespace: 'metallb-system', name, uid: 'u1' }
        : undefined,
  });
  speaker.emit('sessionUp', {
    name: 'router',
    label: '198.51.100.1:179',
    up: {
      peerRouterId: '198.51.100.1',
      negotiated: {
        holdTime: 9,
        families: [
          { afi: 1, safi: 1 },
          { afi: 2, safi: 1 },
        ],
      },
    },
  });
  speaker.emit('bfdDown', {
    name: 'router',
    label: '198.51.100.1:179',
    diagName: 'Control Detection Time Expired',
  });
  speaker.emit('sessionDown', {
    name: 'router',
    label: '198.51.100.1:179',
    down: {
      reason: 'notification-received',
      text: 'received NOTIFICATION Cease/BFD Down',
      wasEstablished: true,
    },
  });
  speaker.emit('bfdUp', { name: 'router', label: '198.51.100.1:179' });
  speaker.emit('sessionUp', {
    name: 'unknown-peer',
    label: '198.51.100.9:179',
    up: { peerRouterId: '1.1.1.1', negotiated: {} },
  });
  assert.deepEqual(
    got.map((g) => [g.ref.name, g.ref.kind, g.type, g.reason]),
    [
      ['router', 'BGPPeer', 'Normal', BGP_SESSION_UP],
      ['router', 'BGPPeer', 'Warning', BFD_SESSION_DOWN],
      ['router', 'BGPPeer', 'Warning', BGP_SESSION_DOWN],
      ['router', 'BGPPeer', 'Normal', BFD_SESSION_UP],
    ],
  );
  assert.equal(
    got[0]!.message,
    'node "n1": BGP session to 198.51.100.1:179 established (peer router ID 198.51.100.1, hold time 9 s, IPv4+IPv6 unicast)',
  );
  assert.match(
    got[1]!.message,
    /^node "n1": BFD down for the peer at 198\.51\.100\.1:179 \(Control Detection Time Expired\)/,
  );
  assert.equal(
    got[2]!.message,
    'node "n1": BGP session to 198.51.100.1:179 down: received NOTIFICATION Cease/BFD Down',
  );
});

test('connect failures: a Warning BGPSessionConnectFailed on the BGPPeer for the first, on a new error, and the same error again only after 5 min (fresh-user problem 3)', () => {
  const speaker = new EventEmitter();
  const got: Array<{ ref: ObjectRef; type: EventType; reason: string; message: string }> = [];
  let now = 1_000_000;
  sessionEvents({
    speaker,
    node: 'n1',
    now: () => now,
    events: { event: (ref, type, reason, message) => got.push({ ref, type, reason, message }) },
    peerRef: (name) =>
      name.startsWith('router')
        ? { kind: 'BGPPeer', apiVersion: 'metallb.io/v1beta2', namespace: 'metallb-system', name }
        : undefined,
  });
  const label = '192.0.2.1:179';
  const fail = (name: string, text: string, attempt: number) =>
    speaker.emit('connectFailed', {
      name,
      label,
      down: { reason: 'connect-failed', text, wasEstablished: false, attempt },
    });
  const refused = 'connect ECONNREFUSED 192.0.2.1:179';
  const timeout = 'TCP connect took more than 10000 ms';
  fail('router', refused, 1);
  now += 2_000;
  fail('router', refused, 2); // same error: no event
  fail('router-b', refused, 1); // another peer: its own
  now += 60_000;
  fail('router', timeout, 3); // error changed: event
  now += 1_000;
  fail('router', refused, 4); // changed again, but 1 s after the last event: none
  now += 4 * 60_000;
  fail('router', refused, 5); // 4 min 1 s after the last event, a change (timeout → refused) is due
  now += 60_000;
  fail('router', refused, 6); // same error 1 min later: none
  now += 5 * 60_000;
  fail('router', refused, 7); // same error, 5 min after: repeated
  fail('unknown', refused, 1); // no BGPPeer cached: no event
  assert.deepEqual(
    got.map((g) => [g.ref.name, g.type, g.reason, g.message]),
    [
      [
        'router',
        'Warning',
        BGP_SESSION_CONNECT_FAILED,
        `node "n1": BGP session to ${label} not established (attempt 1): ${refused}`,
      ],
      [
        'router-b',
        'Warning',
        BGP_SESSION_CONNECT_FAILED,
        `node "n1": BGP session to ${label} not established (attempt 1): ${refused}`,
      ],
      [
        'router',
        'Warning',
        BGP_SESSION_CONNECT_FAILED,
        `node "n1": BGP session to ${label} not established (attempt 3): ${timeout}`,
      ],
      [
        'router',
        'Warning',
        BGP_SESSION_CONNECT_FAILED,
        `node "n1": BGP session to ${label} not established (attempt 5): ${refused}`,
      ],
      [
        'router',
        'Warning',
        BGP_SESSION_CONNECT_FAILED,
        `node "n1": BGP session to ${label} not established (attempt 7): ${refused}`,
      ],
    ],
  );
  // Established resets: the next failure is reported at once.
  speaker.emit('sessionUp', { name: 'router', label, up: { peerRouterId: '192.0.2.1', negotiated: {} } });
  now += 1_000;
  fail('router', refused, 1);
  assert.deepEqual(
    got.slice(-2).map((g) => g.reason),
    [BGP_SESSION_UP, BGP_SESSION_CONNECT_FAILED],
  );
});

test('against the lab API server: created with generateName bgp-, labels, the Pod as owner and the status; patched; deleted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bgpstatus-'));
  const lab = await startLab({ dir, nodes: 0 });
  t.after(async () => {
    await lab.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const c = await connect({ kubeconfig: lab.kubeconfigPath, component: 'berth-speaker' });
  assert.ok(c.ok);
  const kube = c.kube;
  t.after(() => kube.close());
  const crd = parse(
    readFileSync(
      new URL('../../gitops/base/crds/servicebgpstatuses.metallb.io.yaml', import.meta.url),
      'utf8',
    ),
  ) as KubeObject;
  const applied = await applyObject(kube.client, crd);
  assert.ok(applied.ok, applied.ok ? '' : applied.error.message);
  await kube.client.create(Resources.namespaces, { metadata: { name: 'metallb-system' } });
  const informer = kube.informer(Resources.serviceBGPStatuses, { namespace: 'metallb-system' });
  const warns: string[] = [];
  const owner = [
    { apiVersion: 'v1', kind: 'Pod', name: 'speaker-abcde', uid: '6f1c2f4e-0000-4000-8000-000000000001' },
  ];
  const port = kubeBgpStatusPort({
    client: kube.client,
    namespace: 'metallb-system',
    node: 'n1',
    cache: () => informer.list(),
    owner,
    warn: (m) => warns.push(m),
  });
  const w = new BgpStatusWriter({ node: 'n1', port });
  informer.on({
    add: () => w.reconcile(),
    update: () => w.reconcile(),
    delete: (o) => w.deleted(o.metadata?.name ?? ''),
  });
  informer.start();
  await informer.synced;
  t.after(() => (w.stop(), informer.stop()));
  const objects = async (): Promise<KubeObject[]> => {
    const l = await kube.client.list(Resources.serviceBGPStatuses, { namespace: 'metallb-system' });
    assert.ok(l.ok);
    return l.value.items;
  };
  const until = async (what: string, ok: (items: KubeObject[]) => boolean): Promise<KubeObject[]> => {
    const end = Date.now() + 15_000;
    for (;;) {
      const items = await objects();
      if (ok(items)) return items;
      if (Date.now() > end)
        throw new Error(
          `timed out waiting for ${what}: ${JSON.stringify(items)}; warnings ${warns.join('; ')}`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  w.set(new Map([view('shop/web', ['router'])]));
  const [o] = await until(
    'the object with its status',
    (i) => i.length === 1 && (i[0]!['status'] as { peers?: string[] } | undefined)?.peers?.length === 1,
  );
  assert.match(o!.metadata!.name!, /^bgp-/);
  assert.deepEqual(o!.metadata!.labels, {
    'metallb.io/node': 'n1',
    'metallb.io/service-name': 'web',
    'metallb.io/service-namespace': 'shop',
  });
  assert.deepEqual(o!.metadata!.ownerReferences, owner);
  assert.deepEqual(o!['status'], {
    node: 'n1',
    serviceName: 'web',
    serviceNamespace: 'shop',
    peers: ['router'],
  });
  const rv = o!.metadata!.resourceVersion;
  // Informer echoes and an identical plan write nothing.
  w.set(new Map([view('shop/web', ['router'])]));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await objects())[0]!.metadata!.resourceVersion, rv);
  w.set(new Map([view('shop/web', ['router', 'router-v6'])]));
  await until(
    'peers patched',
    (i) =>
      JSON.stringify((i[0]?.['status'] as { peers?: string[] } | undefined)?.peers) ===
      '["router","router-v6"]',
  );
  assert.equal((await objects())[0]!.metadata!.name, o!.metadata!.name, 'patched in place');
  w.set(new Map());
  await until('the object deleted', (i) => i.length === 0);
  assert.deepEqual(warns, []);
});

test('a plan that changes during a long pass stops the writes it no longer wants (each key read from the latest plan)', async () => {
  /** Creates that take a turn of the event loop each, as API requests do. */
  class SlowStore extends FakeStore {
    override async create(svc: { namespace: string; name: string }, status: BgpStatusBody): Promise<string | undefined> {
      await new Promise((r) => setImmediate(r));
      return super.create(svc, status);
    }
  }
  const store = new SlowStore();
  const { w } = writer(store);
  const many = new Map(Array.from({ length: 50 }, (_, i) => view(`shop/s${String(i).padStart(2, '0')}`, ['r1'])));
  w.set(many);
  // Let a few creates through, then the BGPAdvertisement goes away: nothing is announced any more.
  while (store.calls.length < 3) await new Promise((r) => setImmediate(r));
  w.set(new Map());
  await w.idle();
  const creates = store.calls.filter((c) => c.startsWith('create')).length;
  assert.ok(creates < 10, `at most the creates under way when the plan changed, got ${creates}: ${store.calls.join('; ')}`);
  store.sync();
  w.reconcile();
  await w.idle();
  assert.equal(store.objects.size, 0, 'what was created is deleted again');
});

test('once the cache shows our write, passes make no calls; a later change updates that object once, lag or not', async () => {
  const store = new FakeStore();
  const { w } = writer(store);
  w.set(new Map([view('shop/web', ['r1'])]));
  await w.idle();
  store.sync();
  for (let i = 0; i < 3; i++) {
    w.reconcile();
    await w.idle();
  }
  assert.deepEqual(store.calls, ['create shop/web [r1]']);
  w.set(new Map([view('shop/web', ['r1', 'r2'])]));
  await w.idle();
  // The cache still shows [r1] (lag): what we wrote wins, no second update.
  w.reconcile();
  await w.idle();
  store.sync();
  w.reconcile();
  await w.idle();
  assert.deepEqual(store.calls, ['create shop/web [r1]', 'update bgp-1 [r1,r2]']);
  assert.deepEqual(store.objects.get('bgp-1')?.status?.peers, ['r1', 'r2']);
  // Someone else's duplicate later: one object stays, with the wanted status.
  store.add({ name: 'bgp-0', node: 'n1', service: 'shop/web', status: { node: 'n1', serviceName: 'web', serviceNamespace: 'shop', peers: ['r1', 'r2'] } });
  w.reconcile();
  await w.idle();
  store.sync();
  const left = [...store.objects.values()].filter((o) => o.service === 'shop/web');
  assert.equal(left.length, 1);
  assert.deepEqual(left[0]!.status?.peers, ['r1', 'r2']);
});
