// Issue 12 defects 1 and 2, at the Controller with a virtual clock: a reconcile whose claim writes keep failing retries
// on the work queue's exponential backoff (100, 200, 400 ms...) and nothing else — not the watch events of its own
// claim writes (the IPv4 claim created, then deleted by the dual-stack rollback), whether those events come after the
// write's answer or before it (a watch read before the HTTP response); the rollback leaves no claim and no allocator
// record behind; each run of failures gives one SyncFailed Warning naming the error, and a later run gives a new one.
// Mechanisms this pins: WorkQueue.add's respectBackoff (claim events of a failing key wait for its retry), the echo
// filter (Controller #isOwnClaimWrite: a successful reconcile's own claim writes queue nothing), the SyncFailed report.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Allocator } from '../allocator/allocator.ts';
import type { IPAddressClaim } from '../api/claim.ts';
import type { KubeObject } from '../api/object.ts';
import { MemoryClaimStore } from '../claims/memory-store.ts';
import type { ClaimCache, ClaimEvent, ClaimStore } from '../claims/store.ts';
import { buildConfig } from '../config/build.ts';
import type { ServiceLike } from '../config/service.ts';
import { familyOf } from '../shared/ip.ts';
import { Controller } from './controller.ts';
import { FakeRecorder, FakeServiceApi, lbService, MapCache } from './fakes.ts';

const NS = 'metallb-system';
const KEY = 'shop/ds';
/** What the API server answers a claim create a ValidatingAdmissionPolicy refuses (the kube store throws on 403/422). */
const DENIED =
  "create ipaddressclaim v6-2001-db8-22--1: HTTP 403: ValidatingAdmissionPolicy 'no-v6-claims' with binding 'no-v6-claims' denied request: IPv6 claims are refused";
const DOWN = 'connect ECONNREFUSED 127.0.0.1:6443';

/**
 * The claim store as the API server behind a failing admission / an outage: `denyV6` makes IPv6 creates throw (as
 * the kube store does on a 403), `down` makes every call throw. Counts the writes it was asked for.
 */
class FailingStore implements ClaimStore {
  readonly mem: MemoryClaimStore;
  denyV6 = true;
  down = false;
  readonly asked = { createV4: 0, createV6: 0, update: 0, delete: 0 };
  constructor(mem: MemoryClaimStore) {
    this.mem = mem;
  }
  #check(): void {
    if (this.down) throw new Error(DOWN);
  }
  async list(): Promise<IPAddressClaim[]> {
    this.#check();
    return this.mem.list();
  }
  async get(ip: string): Promise<IPAddressClaim | undefined> {
    this.#check();
    return this.mem.get(ip);
  }
  async create(claim: IPAddressClaim, opts?: { readonly dryRun?: boolean }) {
    this.#check();
    const v6 = familyOf(claim.spec.ip) === 'IPv6';
    if (!opts?.dryRun) this.asked[v6 ? 'createV6' : 'createV4']++;
    if (v6 && this.denyV6) throw new Error(DENIED);
    return this.mem.create(claim, opts);
  }
  async update(claim: IPAddressClaim) {
    this.#check();
    this.asked.update++;
    return this.mem.update(claim);
  }
  async delete(ip: string, opts?: { readonly resourceVersion?: string }) {
    this.#check();
    this.asked.delete++;
    return this.mem.delete(ip, opts);
  }
}

/**
 * A claim informer whose events (and cache contents) arrive a turn after the write's answer, as a watch delivers them:
 * the cache is updated when the event is delivered, not when the store changed.
 */
class WatchLikeClaimCache implements ClaimCache {
  readonly #items = new Map<string, IPAddressClaim>();
  readonly #fns = new Set<(e: ClaimEvent) => void>();
  constructor(mem: MemoryClaimStore) {
    for (const c of mem.listSync()) this.#items.set(c.spec.ip, c);
    mem.subscribe((e) =>
      setImmediate(() => {
        if (e.type === 'deleted') this.#items.delete(e.claim.spec.ip);
        else this.#items.set(e.claim.spec.ip, e.claim);
        for (const fn of this.#fns) fn(e);
      }),
    );
  }
  list(): IPAddressClaim[] {
    return [...this.#items.values()];
  }
  get(ip: string): IPAddressClaim | undefined {
    return this.#items.get(ip);
  }
  subscribe(fn: (e: ClaimEvent) => void): () => void {
    this.#fns.add(fn);
    return () => this.#fns.delete(fn);
  }
}

/** A MapCache whose notifications come a turn later (Service watch events follow the write's answer). */
class LaggingCache<T extends { metadata?: { name?: string; namespace?: string } }> extends MapCache<T> {
  override on(h: { add?(o: T): void; update?(o: T, old: T): void; delete?(o: T): void }): () => void {
    return super.on({
      add: (o) => void setImmediate(() => h.add?.(o)),
      update: (o, old) => void setImmediate(() => h.update?.(o, old)),
      delete: (o) => void setImmediate(() => h.delete?.(o)),
    });
  }
}

function pool(name: string, addresses: string[]): KubeObject {
  return { apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name, namespace: NS }, spec: { addresses, autoAssign: false } };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * A Controller over the failing store with a virtual clock: `advance(ms)` fires the timers due (retries, repair,
 * pool status) in time order, letting each reconcile and the watch events it causes finish before the next.
 * `events`: 'after' = claim events a turn after the write's answer; 'before' = synchronously inside the write (the
 * watch read before the response).
 */
function harness(events: 'after' | 'before') {
  const services = new LaggingCache<ServiceLike>();
  const pools = new MapCache<KubeObject>();
  const namespaces = new MapCache<KubeObject>();
  namespaces.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
  pools.put(pool('dual', ['198.51.100.0/28', '2001:db8:22::/124']));
  pools.put(pool('other', ['203.0.113.0/28', '2001:db8:33::/124']));
  let now = 0;
  const timers: Array<{ due: number; fn: () => void; cancelled: boolean }> = [];
  const mem = new MemoryClaimStore({ now: () => new Date(Date.UTC(2026, 0, 1) + now) });
  const store = new FailingStore(mem);
  const rec = new FakeRecorder();
  const allocator = new Allocator();
  /** Each reconcile: `<virtual ms> <state> <message>`. */
  const attempts: Array<{ at: number; state: string; message: string }> = [];
  const ctl = new Controller({
    services,
    pools,
    communities: new MapCache<KubeObject>(),
    namespaces,
    claimCache: events === 'after' ? new WatchLikeClaimCache(mem) : mem.asCache(),
    store,
    writer: new FakeServiceApi(services),
    recorder: rec,
    status: { writePoolStatus: async () => ({ ok: true }), writeConfigState: async () => ({ ok: true }) },
    allocator,
    buildConfig,
    namespace: NS,
    now: () => now,
    schedule: (ms, fn) => {
      const t = { due: now + ms, fn, cancelled: false };
      timers.push(t);
      return () => (t.cancelled = true);
    },
    resyncIntervalMs: 0,
    repairIntervalMs: 3_600_000,
    claimGraceMs: 3_600_000,
    decision: (key, r) => {
      if (key === KEY) attempts.push({ at: now, state: r.state, message: 'message' in r ? r.message : '' });
    },
  });
  /** Lets queued reconciles, their writes and the watch events they cause run to the end (a bounded number of turns). */
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 20; i++) {
      await ctl.idle();
      await turn();
    }
  };
  const advance = async (ms: number): Promise<void> => {
    const end = now + ms;
    for (;;) {
      const live = timers.filter((t) => !t.cancelled && t.due <= end).sort((a, b) => a.due - b.due);
      const t = live[0];
      if (!t) break;
      timers.splice(timers.indexOf(t), 1);
      now = t.due;
      t.fn();
      await settle();
    }
    now = end;
  };
  const ingress = (): string[] => (services.getByKey(KEY)?.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '');
  const warnings = (): string[] => rec.events.filter((e) => e.startsWith('Warning SyncFailed'));
  return { services, mem, store, rec, allocator, ctl, attempts, settle, advance, ingress, warnings };
}

const dsService = (poolName = 'dual') =>
  lbService('shop', 'ds', { dual: true, ipFamilyPolicy: 'RequireDualStack', annotations: { 'metallb.io/address-pool': poolName } });

/**
 * A started leader controller (harness(events)) that has reconciled the RequireDualStack Service `shop/ds` once;
 * `denyV6: false` lets IPv6 claims through from the start (default: refused).
 */
async function withDualStackService(events: 'after' | 'before', o: { denyV6?: boolean } = {}): Promise<ReturnType<typeof harness>> {
  const h = harness(events);
  if (o.denyV6 !== undefined) h.store.denyV6 = o.denyV6;
  h.ctl.start();
  h.ctl.setLeader(true);
  await h.settle();
  h.services.put(dsService());
  await h.settle();
  return h;
}

for (const events of ['after', 'before'] as const) {
  describe(`claim writes refused (claim watch events ${events} the write's answer)`, () => {
    it('retries follow the backoff (100, 200, 400... ms) and nothing else; the IPv4 claim is rolled back; one SyncFailed', async () => {
      const h = await withDualStackService(events);
      // 6.3 s of virtual time: attempts at 0, then after 100, 200, 400, 800, 1600, 3200 ms.
      await h.advance(6_300);
      const times = h.attempts.map((a) => a.at);
      assert.deepEqual(times, [0, 100, 300, 700, 1500, 3100, 6300], `reconcile times (ms):\n${h.attempts.map((a) => `${a.at} ${a.state}`).join('\n')}`);
      for (const a of h.attempts) {
        assert.equal(a.state, 'error');
        assert.match(a.message, /ValidatingAdmissionPolicy 'no-v6-claims'/);
      }
      // Each attempt took the IPv4 claim, was refused the IPv6 one and gave the IPv4 one back.
      assert.deepEqual(h.store.asked, { createV4: 7, createV6: 7, update: 0, delete: 7 });
      assert.equal(h.mem.size, 0, 'no claim is left behind (dual stack: both or neither)');
      assert.equal(h.allocator.ipsOf(KEY), undefined, 'the allocator holds nothing for the Service after the rollback');
      assert.deepEqual(h.ingress(), [], 'the Service stays <pending>');
      // One Warning for the whole run of failures, naming the refusal.
      assert.deepEqual(h.warnings(), [`Warning SyncFailed ${KEY}: ${DENIED}; retrying with backoff`]);
      h.ctl.stop();
    });

    it('after the refusal is lifted the Service gets both families; a later run of failures gives a new SyncFailed', async () => {
      const h = await withDualStackService(events);
      await h.advance(300);
      assert.equal(h.attempts.length, 3);
      assert.equal(h.warnings().length, 1);
      h.store.denyV6 = false;
      await h.advance(400); // the retry due at 700 ms
      // (With events before the answers, the echoes of a success's own writes cannot be told apart: one more no-op pass.)
      assert.deepEqual(
        h.attempts.slice(0, 4).map((a) => `${a.at} ${a.state}`),
        ['0 error', '100 error', '300 error', '700 success'],
      );
      assert.deepEqual(h.ingress(), ['198.51.100.0', '2001:db8:22::']);
      assert.deepEqual(h.mem.listSync().map((c) => c.spec.ip).sort(), ['198.51.100.0', '2001:db8:22::']);
      if (events === 'after') {
        // The echoes of its own claim creates (and of its status write) queue no further reconcile.
        await h.advance(60_000);
        assert.equal(h.attempts.length, 4, `reconciles after the success:\n${h.attempts.slice(4).map((a) => `${a.at} ${a.state}`).join('\n')}`);
      } else {
        await h.advance(60_000);
      }
      const afterSuccess = h.attempts.length;
      assert.ok(h.attempts.slice(3).every((a) => a.state === 'success'));

      // A new run of failures (API server unreachable while the Service moves to another pool): a new SyncFailed,
      // and the backoff starts again from 100 ms.
      h.store.down = true;
      const t0 = 60_700;
      h.services.put({ ...dsService('other'), metadata: { ...h.services.getByKey(KEY)!.metadata, annotations: { 'metallb.io/address-pool': 'other' } } });
      await h.settle();
      await h.advance(700);
      assert.deepEqual(
        h.attempts.slice(afterSuccess).map((a) => `${a.at - t0} ${a.state}`),
        ['0 error', '100 error', '300 error', '700 error'],
      );
      assert.deepEqual(h.warnings(), [
        `Warning SyncFailed ${KEY}: ${DENIED}; retrying with backoff`,
        `Warning SyncFailed ${KEY}: ${DOWN}; retrying with backoff`,
      ]);
      h.store.down = false;
      await h.advance(800);
      assert.equal(h.attempts.at(-1)?.state, 'success');
      assert.deepEqual(h.ingress(), ['203.0.113.0', '2001:db8:33::']);
      assert.deepEqual(h.mem.listSync().map((c) => c.spec.ip).sort(), ['2001:db8:33::', '203.0.113.0']);
      assert.equal(h.warnings().length, 2, 'a success ends the run without a new Warning');
      h.ctl.stop();
    });

    it('a Service moved to a pool whose claim is refused shows no IP: its released one is free for another Service', async () => {
      const h = await withDualStackService(events, { denyV6: false });
      assert.deepEqual(h.ingress(), ['198.51.100.0', '2001:db8:22::']);
      h.store.denyV6 = true;
      h.services.put({ ...h.services.getByKey(KEY)!, metadata: { ...h.services.getByKey(KEY)!.metadata, annotations: { 'metallb.io/address-pool': 'other' } } });
      await h.settle();
      await h.advance(300);
      assert.equal(h.attempts.at(-1)?.state, 'error');
      assert.equal(h.mem.size, 0, 'its claims in dual were released, the IPv4 one in other rolled back');
      assert.deepEqual(h.ingress(), [], 'status no longer shows the released IPs');
      assert.equal(h.services.getByKey(KEY)?.metadata?.annotations?.['berth.io/assigned-ips'], undefined);
      assert.deepEqual(h.warnings(), [`Warning SyncFailed ${KEY}: ${DENIED}; retrying with backoff`]);
      // Another Service takes the released IPv4 address: no two Services show it.
      h.services.put(lbService('shop', 'v4', { annotations: { 'metallb.io/address-pool': 'dual' } }));
      await h.settle();
      const v4 = (h.services.getByKey('shop/v4')?.status?.loadBalancer?.ingress ?? []).map((i) => i.ip);
      assert.deepEqual(v4, ['198.51.100.0']);
      assert.ok(!h.ingress().includes('198.51.100.0'));
      h.ctl.stop();
    });
  });
}
