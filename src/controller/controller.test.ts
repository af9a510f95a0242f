// The Controller's wiring with recording fakes: leadership gating, config loading (valid, invalid → stale), pending
// Services retried when capacity appears, pool status, ConfigurationState, metrics and the repair loop.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Allocator } from '../allocator/allocator.ts';
import type { PoolStats } from '../allocator/types.ts';
import { newClaim } from '../api/claim.ts';
import type { KubeObject } from '../api/object.ts';
import { MemoryClaimStore } from '../claims/memory-store.ts';
import { buildConfig } from '../config/build.ts';
import type { ServiceLike } from '../config/service.ts';
import { Controller, type StatusWriter } from './controller.ts';
import { FakeRecorder, FakeServiceApi, lbService, MapCache } from './fakes.ts';
import type { PoolCounters } from './pool-status.ts';

const NS = 'metallb-system';

function pool(name: string, addresses: string[], extra: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name, namespace: NS }, spec: { addresses, ...extra } };
}

function manualTimers() {
  let timers: Array<{ ms: number; fn: () => void; cancelled: boolean }> = [];
  return {
    schedule: (ms: number, fn: () => void) => {
      const t = { ms, fn, cancelled: false };
      timers.push(t);
      return () => (t.cancelled = true);
    },
    /** Fires what is scheduled now (not what firing schedules). */
    fire() {
      const due = timers.filter((t) => !t.cancelled);
      timers = [];
      for (const t of due) t.fn();
    },
  };
}

/** A MapCache whose change notifications arrive a turn later (as watch events do, after the write's answer). */
class LaggingCache<T extends { metadata?: { name?: string; namespace?: string } }> extends MapCache<T> {
  override on(h: { add?(o: T): void; update?(o: T, old: T): void; delete?(o: T): void }): () => void {
    const later = (fn: () => void) => void setImmediate(fn);
    return super.on({
      add: (o) => later(() => h.add?.(o)),
      update: (o, old) => later(() => h.update?.(o, old)),
      delete: (o) => later(() => h.delete?.(o)),
    });
  }
}

function harness(opts: { pools?: KubeObject[]; now?: () => number; claimGraceMs?: number; laggingServices?: boolean; resyncMs?: number } = {}) {
  const services = opts.laggingServices ? new LaggingCache<ServiceLike>() : new MapCache<ServiceLike>();
  const decisions: string[] = [];
  const passes: string[] = [];
  const pools = new MapCache<KubeObject>();
  const communities = new MapCache<KubeObject>();
  const namespaces = new MapCache<KubeObject>();
  namespaces.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
  for (const p of opts.pools ?? [pool('default', ['192.168.1.220-192.168.1.222'])]) pools.put(p);
  let now = Date.UTC(2025, 0, 1);
  const store = new MemoryClaimStore({ now: () => new Date(now) });
  const api = new FakeServiceApi(services);
  const rec = new FakeRecorder();
  const statusWrites: string[] = [];
  const status: StatusWriter = {
    writePoolStatus: async (p: string, c: PoolCounters) => {
      statusWrites.push(`pool ${p} v4 ${c.assignedIPv4}/${c.availableIPv4}`);
      return { ok: true };
    },
    writeConfigState: async (result, summary) => {
      statusWrites.push(`config ${result}${summary ? `: ${summary}` : ''}`);
      return { ok: true };
    },
  };
  const metrics = { stats: [] as PoolStats[], updates: 0, errors: 0, loaded: false, stale: false };
  const timers = manualTimers();
  const ctl = new Controller({
    services,
    pools,
    communities,
    namespaces,
    claimCache: store.asCache(),
    store,
    writer: api,
    recorder: rec,
    status,
    allocator: new Allocator(),
    buildConfig,
    namespace: NS,
    now: opts.now ?? (() => now),
    schedule: timers.schedule,
    resyncIntervalMs: opts.resyncMs ?? 0,
    claimGraceMs: opts.claimGraceMs ?? 60_000,
    decision: (key, r, _ms, did) => decisions.push(`${key} ${r.state} writes=${did.writes} events=${did.events}`),
    initialPass: (phase, n) => passes.push(`${phase} ${n}, decided: ${[...new Set(decisions.map((d) => d.split(' ')[0]))].sort().join(' ')}`),
    metrics: {
      poolStats: (s) => (metrics.stats = [...s]),
      update: (ok) => (metrics.updates++, ok || metrics.errors++),
      configLoaded: (v) => (metrics.loaded = v),
      configStale: (v) => (metrics.stale = v),
    },
  });
  const settle = async () => {
    for (let i = 0; i < 4; i++) {
      await ctl.idle();
      await new Promise((r) => setImmediate(r));
      timers.fire();
      await new Promise((r) => setImmediate(r));
    }
    await ctl.idle();
  };
  const ingress = (key: string) => (services.getByKey(key)?.status?.loadBalancer?.ingress ?? []).map((i) => i.ip);
  return { services, pools, namespaces, store, api, rec, statusWrites, metrics, ctl, settle, ingress, timers, decisions, passes, setNow: (t: number) => (now = t), now: () => now };
}

describe('Controller', () => {
  it('the periodic resync skips Services settled since their last change, and reconciles the others', async () => {
    const h = harness({ resyncMs: 300_000 });
    for (const n of ['a', 'b', 'c', 'd']) h.services.put(lbService('default', n));
    h.ctl.start();
    h.ctl.setLeader(true);
    await h.settle();
    // Three IPs in the pool: three Services hold one, the fourth is pending.
    assert.equal([...['a', 'b', 'c', 'd']].filter((n) => h.ingress(`default/${n}`).length > 0).length, 3);
    h.decisions.length = 0;
    h.timers.fire();
    await h.settle();
    assert.deepEqual(h.ctl.lastResync, { reconciled: 1, skipped: 3 });
    assert.ok(h.decisions.length > 0, 'the pending Service was reconciled');
    assert.deepEqual(h.decisions.filter((d) => !d.startsWith('default/d pending')), [], 'only the pending Service was reconciled');
    // A change of a settled Service (a new object in the cache) is reconciled, then settled again.
    h.services.put({ ...h.services.getByKey('default/a')!, metadata: { ...h.services.getByKey('default/a')!.metadata, labels: { x: 'y' }, resourceVersion: '999' } });
    await h.settle();
    h.decisions.length = 0;
    h.timers.fire();
    await h.settle();
    assert.deepEqual(h.ctl.lastResync, { reconciled: 1, skipped: 3 });
  });

  for (const [label, laggingServices] of [
    ['the echo delivered before the answer is read', false],
    ['the echo delivered after it', true],
  ] as const) {
    it(`keeps no note of its own Service writes once their echoes came (${label})`, async () => {
      const h = harness({ laggingServices, pools: [pool('default', ['192.168.1.0/26'])] });
      h.ctl.start();
      h.ctl.setLeader(true);
      for (let i = 0; i < 20; i++) h.services.put(lbService('default', `s${i}`));
      await h.settle();
      assert.equal(Array.from({ length: 20 }, (_, i) => h.ingress(`default/s${i}`).length).filter((n) => n === 1).length, 20);
      assert.equal(h.ctl.ownServiceWritesPending, 0);
      // The echo was still recognised as this replica's own: no further reconcile of a settled Service.
      h.decisions.length = 0;
      await h.settle();
      assert.deepEqual(h.decisions, []);
      h.ctl.stop();
    });
  }

  it('a standby replica writes nothing; the leader reconciles every Service at once', async () => {
    const h = harness();
    h.services.put(lbService('default', 'a'));
    h.services.put(lbService('default', 'b'));
    h.ctl.start();
    await h.settle();
    assert.deepEqual(h.api.writes, []);
    assert.equal(h.store.size, 0);
    assert.equal(h.metrics.loaded, true, 'standbys load the config too (warm for failover)');
    h.ctl.setLeader(true);
    await h.settle();
    assert.deepEqual(h.ingress('default/a'), ['192.168.1.220']);
    assert.deepEqual(h.ingress('default/b'), ['192.168.1.221']);
    assert.ok(h.statusWrites.includes('config Valid'));
    assert.ok(h.statusWrites.includes('pool default v4 2/1'), h.statusWrites.join('\n'));
    assert.equal(h.metrics.stats[0]?.ipv4InUse, 2);
    assert.ok(h.metrics.updates >= 2);
    // New Services are reconciled as they come.
    h.services.put(lbService('default', 'c'));
    await h.settle();
    assert.deepEqual(h.ingress('default/c'), ['192.168.1.222']);
    h.ctl.stop();
  });

  it('initialPass: start when leadership begins the pass over every Service, done once it has drained (TurboFan window)', async () => {
    const h = harness();
    h.services.put(lbService('default', 'a'));
    h.services.put(lbService('default', 'b'));
    h.ctl.start();
    await h.settle();
    assert.deepEqual(h.passes, [], 'a standby starts no pass');
    h.ctl.setLeader(true);
    await h.settle();
    // Both Services are decided between start and done.
    assert.deepEqual(h.passes, ['start 2, decided: ', 'done 2, decided: default/a default/b']);
    // A pass cut short by lost leadership never reports done; the next leadership starts a new one.
    h.passes.length = 0;
    h.decisions.length = 0;
    h.ctl.setLeader(false);
    h.ctl.setLeader(true);
    await h.settle();
    assert.deepEqual(h.passes, ['start 2, decided: ', 'done 2, decided: default/a default/b']);
    h.ctl.stop();
  });

  it('the watch echo of its own status write queues no reconcile; another writer\'s update does; no-ops write nothing', async () => {
    const h = harness({ laggingServices: true });
    h.ctl.start();
    h.ctl.setLeader(true);
    await h.settle();
    // As the webhook admitted it: the IP and pool annotations are there, status and claim are the controller's to write.
    h.services.put(
      lbService('default', 'web', {
        annotations: { 'berth.io/assigned-ips': '192.168.1.221', 'metallb.io/ip-allocated-from-pool': 'default' },
      }),
    );
    await h.settle();
    assert.deepEqual(h.ingress('default/web'), ['192.168.1.221']);
    assert.deepEqual(h.api.writes, ['status default/web 192.168.1.221']);
    // One reconcile that wrote (claim create + status, IPAllocated); the claim store's synchronous event of its own
    // create runs it once more (a no-op: nothing written, nothing said); the status echo runs nothing.
    assert.deepEqual(h.decisions, ['default/web success writes=2 events=1', 'default/web success writes=0 events=0']);
    // Someone else's change (a label) is reconciled.
    const cur = h.services.getByKey('default/web')!;
    h.services.put({ ...cur, metadata: { ...cur.metadata, labels: { tier: 'web' }, resourceVersion: '99' } });
    await h.settle();
    assert.equal(h.decisions.length, 3);
    assert.equal(h.decisions[2], 'default/web success writes=0 events=0');
    h.ctl.stop();
  });

  it('a pending Service gets the IP another Service frees (no timer, no pool change needed)', async () => {
    const h = harness({ pools: [pool('one', ['10.0.0.1/32'])] });
    h.services.put(lbService('default', 'first'));
    h.ctl.start();
    h.ctl.setLeader(true);
    await h.settle();
    h.services.put(lbService('default', 'second'));
    await h.settle();
    assert.deepEqual(h.ingress('default/second'), []);
    assert.deepEqual([...h.ctl.pending], ['default/second']);
    h.services.remove('default/first');
    await h.settle();
    assert.deepEqual(h.ingress('default/second'), ['10.0.0.1']);
    assert.equal(h.ctl.pending.size, 0);
    h.ctl.stop();
  });

  it('when capacity comes back, a pending Service that requests the IP gets it before one that takes any', async () => {
    const h = harness({ pools: [pool('one', ['10.0.0.1/32'])] });
    h.services.put(lbService('default', 'first'));
    h.ctl.start();
    h.ctl.setLeader(true);
    await h.settle();
    h.services.put(lbService('default', 'auto'));
    await h.settle();
    h.services.put(lbService('default', 'asks', { loadBalancerIP: '10.0.0.1' }));
    await h.settle();
    assert.deepEqual([...h.ctl.pending].sort(), ['default/asks', 'default/auto']);
    h.services.remove('default/first');
    await h.settle();
    assert.deepEqual(h.ingress('default/asks'), ['10.0.0.1']);
    assert.deepEqual([...h.ctl.pending], ['default/auto']);
    h.ctl.stop();
  });

  it('a pool change reprocesses pending Services; an invalid config is stale and the last valid one is kept', async () => {
    const h = harness({ pools: [pool('one', ['10.0.0.1/32'])] });
    h.services.put(lbService('default', 'a'));
    h.services.put(lbService('default', 'b'));
    h.ctl.start();
    h.ctl.setLeader(true);
    await h.settle();
    assert.deepEqual(h.ingress('default/b'), []);
    h.pools.put(pool('two', ['10.0.0.2/32']));
    await h.settle();
    assert.deepEqual(h.ingress('default/b'), ['10.0.0.2']);

    h.pools.put(pool('bad', ['10.0.0.0/24'])); // overlaps both
    await h.settle();
    assert.equal(h.ctl.configStale, true);
    assert.equal(h.metrics.stale, true);
    const cfg = h.statusWrites.filter((s) => s.startsWith('config Invalid'));
    assert.equal(cfg.length, 1);
    assert.match(cfg[0]!, /overlaps/);
    assert.deepEqual(h.ingress('default/a'), ['10.0.0.1'], 'nothing moved');
    h.pools.remove(`${NS}/bad`);
    await h.settle();
    assert.equal(h.ctl.configStale, false);
    assert.equal(h.metrics.stale, false);
    assert.equal(h.statusWrites.filter((s) => s === 'config Valid').length, 2);
    h.ctl.stop();
  });

  it('restart: claims are loaded before any reconcile, so a new Service cannot take a held IP', async () => {
    const first = harness();
    first.services.put(lbService('default', 'a'));
    first.services.put(lbService('default', 'b'));
    first.ctl.start();
    first.ctl.setLeader(true);
    await first.settle();
    first.ctl.stop();
    const held = { a: first.ingress('default/a'), b: first.ingress('default/b') };

    // A new replica with the same API state, plus a new Service listed first.
    const h = harness();
    for (const c of first.store.listSync()) await h.store.create({ ...c, metadata: { name: c.metadata.name, ...(c.metadata.labels ? { labels: c.metadata.labels } : {}) } });
    h.services.put(lbService('default', 'new'));
    for (const s of first.services.list()) h.services.put(s);
    h.ctl.start();
    h.ctl.setLeader(true);
    await h.settle();
    assert.deepEqual(h.ingress('default/a'), held.a);
    assert.deepEqual(h.ingress('default/b'), held.b);
    assert.deepEqual(h.ingress('default/new'), ['192.168.1.222']);
    assert.deepEqual(h.api.writes.filter((w) => !w.includes('default/new')), []);
    h.ctl.stop();
  });

  it('the repair loop deletes an orphaned claim after the grace period, while leading', async () => {
    const h = harness({ claimGraceMs: 1_000 });
    await h.store.create(newClaim({ ip: '192.168.1.221', pool: 'default', sharingKey: '', backendKey: '', holders: [{ namespace: 'default', name: 'ghost', ports: [] }] }));
    h.ctl.start();
    h.ctl.setLeader(true);
    await h.settle();
    assert.equal(h.store.size, 1, 'inside the grace period');
    h.setNow(h.now() + 5_000);
    const report = await h.ctl.repairNow();
    assert.deepEqual(report?.released, [{ ip: '192.168.1.221', holder: 'default/ghost', deleted: true }]);
    assert.equal(h.store.size, 0);
    h.ctl.setLeader(false);
    assert.equal(await h.ctl.repairNow(), undefined, 'standbys never repair');
    h.ctl.stop();
  });

  it('a claim made at admission before its Service is stored is left alone, then published once the Service appears', async () => {
    const h = harness();
    h.ctl.start();
    h.ctl.setLeader(true);
    await h.settle();
    await h.store.create(newClaim({ ip: '192.168.1.221', pool: 'default', sharingKey: '', backendKey: '', holders: [{ namespace: 'default', name: 'inflight', ports: [{ protocol: 'TCP', port: 80 }] }] }));
    await h.settle();
    assert.equal(h.store.size, 1, 'not released: the Service may still be on its way');
    h.services.put(lbService('default', 'inflight', { annotations: { 'berth.io/assigned-ips': '192.168.1.221', 'metallb.io/ip-allocated-from-pool': 'default' } }));
    await h.settle();
    assert.deepEqual(h.ingress('default/inflight'), ['192.168.1.221']);
    assert.equal(h.store.listSync()[0]!.spec.holders[0]!.uid !== undefined, true, 'uid bound');
    h.ctl.stop();
  });

  it('losing leadership stops the writes: later Service changes are left to the new leader', async () => {
    const h = harness();
    h.ctl.start();
    h.ctl.setLeader(true);
    await h.settle();
    h.ctl.setLeader(false);
    h.services.put(lbService('default', 'late'));
    await h.settle();
    assert.deepEqual(h.ingress('default/late'), []);
    assert.equal(h.store.size, 0);
    h.ctl.stop();
  });

  it('a reconcile in flight when leadership is lost writes nothing after (no stale leader overrides the new one)', async () => {
    const h = harness();
    // The claim create of the first reconcile waits on a gate, as on a loaded machine; leadership is lost meanwhile.
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let entered!: () => void;
    const inFlight = new Promise<void>((r) => (entered = r));
    const create = h.store.create.bind(h.store);
    h.store.create = async (claim, opts) => {
      entered();
      await gate;
      return create(claim, opts);
    };
    h.services.put(lbService('default', 'a'));
    h.ctl.start();
    h.ctl.setLeader(true);
    await inFlight;
    h.ctl.setLeader(false);
    open();
    await h.settle();
    assert.deepEqual(h.api.writes, [], 'the Service was written after its replica stopped leading');
    assert.deepEqual(h.ingress('default/a'), []);
    h.ctl.stop();
  });

  it('PreferDualStack short of IPv6: AdditionalAssignFailed once, the IPv6 added when another Service frees it', async () => {
    const h = harness({ pools: [pool('mixed', ['10.2.0.0/30', 'fd00:2::/128'])] });
    const prefer = { dual: true, ipFamilyPolicy: 'PreferDualStack' } as const;
    h.services.put(lbService('default', 'a', prefer));
    h.ctl.start();
    h.ctl.setLeader(true);
    await h.settle();
    assert.deepEqual(h.ingress('default/a'), ['10.2.0.0', 'fd00:2::']);
    h.services.put(lbService('default', 'b', prefer));
    await h.settle();
    assert.deepEqual(h.ingress('default/b'), ['10.2.0.1']);
    // Its own status write brings it back (an update event): one failure event, not one per pass.
    h.services.put(structuredClone(h.services.getByKey('default/b')!));
    await h.settle();
    const failed = h.rec.events.filter((e) => e.includes('AdditionalAssignFailed'));
    assert.deepEqual(failed, [
      'Normal AdditionalAssignFailed default/b: cannot assign additional IP in PreferDualStack: no available IPv6 IPs in pool "mixed" (1/1 in use)',
    ]);
    assert.deepEqual(h.ctl.pending, new Set(), 'b holds an IP: not pending');

    h.services.remove('default/a');
    await h.settle();
    assert.deepEqual(h.ingress('default/b'), ['10.2.0.1', 'fd00:2::'], 'requeued when the IPv6 was freed');
    assert.ok(h.rec.events.includes('Normal IPAllocated default/b: Assigned additional IP "fd00:2::"'));
    h.ctl.stop();
  });
});
