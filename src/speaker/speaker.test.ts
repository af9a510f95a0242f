// The speaker's logic object with fakes for the plan, the announcer, the liveness, the ServiceL2Status store and the
// event sink: world changes reach announcer.set, status objects are written only on change, a failing API server
// withdraws nothing, SIGTERM closes before it leaves, conflicts and failovers are reported.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import type { EventType, ObjectRef } from '../kube/events.ts';
import { clientMetrics } from '../metrics/client-metrics.ts';
import { speakerMetrics } from '../metrics/speaker-metrics.ts';
import {
  Speaker,
  type Announcement,
  type Decision,
  type L2Stats,
  type L2StatusBody,
  type L2StatusObject,
  type L2StatusPort,
  type Timers,
} from './speaker.ts';

class FakeAnnouncer extends EventEmitter {
  sets: Announcement[][] = [];
  calls: string[];
  closed = false;
  constructor(calls: string[]) {
    super();
    this.calls = calls;
  }
  set(a: readonly Announcement[]): void {
    this.sets.push([...a]);
    // As Layer2Announcer: a takeover (probe false) sends its first gratuitous packet inside set(); a new IP that is
    // probed is 'announced' only when the test says the probe passed (activate); an IP that leaves is 'withdrawn'.
    const next = new Set(a.map((x) => x.ip));
    for (const ip of this.#active) if (!next.has(ip)) this.emit('withdrawn', ip);
    for (const x of a) if (x.probe === false && !this.#active.has(x.ip)) this.emit('announced', x.ip);
    this.#active = next;
  }
  /** The probe of `ip` passed (or its conflict cleared): the first gratuitous packet, as Layer2Announcer #activate. */
  activate(ip: string): void {
    this.emit('announced', ip);
  }
  #active = new Set<string>();
  reannounce(): void {}
  stats(): L2Stats {
    return {
      requestsReceived: new Map([['192.0.2.10', 3]]),
      responsesSent: new Map([['192.0.2.10', 2]]),
      gratuitousSent: new Map([['192.0.2.10', 10]]),
      drops: new Map([['truncated', 1]]),
    };
  }
  close(): void {
    this.closed = true;
    this.calls.push('announcer.close');
  }
  get last(): Announcement[] | undefined {
    return this.sets.at(-1);
  }
}

class FakeLiveness extends EventEmitter {
  #alive: Set<string>;
  #undecided = new Set<string>();
  calls: string[];
  constructor(alive: string[], calls: string[]) {
    super();
    this.#alive = new Set(alive);
    this.calls = calls;
  }
  alive(): ReadonlySet<string> {
    return this.#alive;
  }
  undecided(): ReadonlySet<string> {
    return this.#undecided;
  }
  set(alive: string[], undecided: string[] = []): void {
    this.#alive = new Set(alive);
    this.#undecided = new Set(undecided);
    this.emit('change', this.#alive);
  }
  async leave(): Promise<void> {
    this.calls.push('liveness.leave');
    await new Promise((r) => setTimeout(r, 5));
    this.calls.push('liveness.left');
  }
  close(): void {
    this.calls.push('liveness.close');
  }
}

/** An in-memory ServiceL2Status store whose list() is the "informer cache" (updated at once unless `lag`). */
class FakeStatus implements L2StatusPort {
  objects = new Map<string, L2StatusObject>();
  writes: string[] = [];
  fail = false;
  #n = 0;
  list(): readonly L2StatusObject[] {
    return [...this.objects.values()];
  }
  async create(service: { namespace: string; name: string }, status: L2StatusBody): Promise<string | undefined> {
    await Promise.resolve();
    this.writes.push(`create ${service.namespace}/${service.name} ${status.node}`);
    if (this.fail) return undefined;
    const name = `l2-${++this.#n}`;
    this.objects.set(name, { name, node: status.node, service: `${service.namespace}/${service.name}`, status });
    return name;
  }
  async updateStatus(name: string, status: L2StatusBody): Promise<boolean> {
    await Promise.resolve();
    this.writes.push(`update ${name} ${(status.interfaces ?? []).map((i) => i.name).join(',')}`);
    if (this.fail) return false;
    const o = this.objects.get(name);
    if (o) this.objects.set(name, { ...o, status });
    return true;
  }
  async delete(name: string): Promise<boolean> {
    await Promise.resolve();
    this.writes.push(`delete ${name}`);
    if (this.fail) return false;
    this.objects.delete(name);
    return true;
  }
}

/** Timers run only when the test says so. */
class ManualTimers implements Timers {
  pending = new Map<number, { fn: () => void; ms: number }>();
  #id = 0;
  set(fn: () => void, ms: number): unknown {
    const id = ++this.#id;
    this.pending.set(id, { fn, ms });
    return id;
  }
  clear(h: unknown): void {
    this.pending.delete(h as number);
  }
  runAll(): number {
    const all = [...this.pending.entries()];
    this.pending.clear();
    for (const [, t] of all) t.fn();
    return all.length;
  }
}

const settle = () => new Promise((r) => setTimeout(r, 20));

interface Rig {
  speaker: Speaker;
  announcer: FakeAnnouncer;
  liveness: FakeLiveness;
  status: FakeStatus;
  events: Array<{ obj: ObjectRef; type: EventType; reason: string; message: string }>;
  timers: ManualTimers;
  calls: string[];
  registry: Registry;
  setDecisions(d: Decision[] | undefined): void;
  setNow(ms: number): void;
  links: { arp: string[]; ndp: string[] };
}

function rig(node = 'n1'): Rig {
  const calls: string[] = [];
  const announcer = new FakeAnnouncer(calls);
  const liveness = new FakeLiveness(['n1', 'n2', 'n3'], calls);
  const status = new FakeStatus();
  const events: Rig['events'] = [];
  const timers = new ManualTimers();
  const registry = new Registry();
  const metrics = speakerMetrics(registry, node, clientMetrics(registry));
  metrics.layer2From(() => announcer.stats());
  let decisions: Decision[] | undefined;
  let now = 1_000_000;
  const links = { arp: ['eth0'], ndp: ['eth0'] };
  const speaker = new Speaker({
    node,
    decide: () => decisions,
    announcementsFor: (n, ds) => ds.filter((d) => d.owner === n).map((d) => ({ ip: d.ip, service: d.service, interfaces: d.interfaces })),
    announcer,
    liveness,
    links: () => links,
    status,
    events: { event: (obj, type, reason, message) => events.push({ obj, type, reason, message }) },
    metrics,
    now: () => now,
    timers,
    retry: { initialMs: 100, maxMs: 1000 },
  });
  return {
    speaker,
    announcer,
    liveness,
    status,
    events,
    timers,
    calls,
    registry,
    links,
    setDecisions: (d) => (decisions = d),
    setNow: (ms) => (now = ms),
  };
}

const d = (service: string, ip: string, owner: string | undefined, interfaces: string[] = [], reason?: string): Decision => ({
  service,
  ip,
  owner,
  interfaces,
  ...(reason ? { reason } : {}),
});

test('world changes are debounced into one recompute that calls announcer.set with what this node owns', async () => {
  const r = rig();
  r.setDecisions([d('shop/web', '192.0.2.10', 'n1'), d('shop/api', '192.0.2.11', 'n2')]);
  r.speaker.changed();
  r.speaker.changed();
  r.speaker.changed();
  assert.equal(r.timers.pending.size, 1, 'one debounce timer for a burst');
  r.timers.runAll();
  assert.deepEqual(r.announcer.sets, [[{ ip: '192.0.2.10', service: 'shop/web', interfaces: [] }]]);
  // The endpoint of shop/web goes away: the plan says nobody; the next recompute withdraws it.
  r.setDecisions([d('shop/web', '192.0.2.10', undefined, [], 'noEndpoints'), d('shop/api', '192.0.2.11', 'n2')]);
  r.speaker.changed();
  r.timers.runAll();
  assert.deepEqual(r.announcer.last, []);
  // No configuration loaded (decide → undefined): nothing is touched.
  r.setDecisions(undefined);
  r.speaker.sync();
  assert.equal(r.announcer.sets.length, 2);
  await settle();
});

test('nodeAssigned once when this node takes a Service and its probe passed; metallb_speaker_announced follows', async () => {
  const r = rig();
  r.setDecisions([d('shop/web', '192.0.2.10', 'n1'), d('shop/web', '2001:db8::10', 'n1')]);
  r.speaker.sync();
  assert.deepEqual(r.events.filter((e) => e.reason === 'nodeAssigned'), [], 'elected but still probing: not announcing yet');
  r.announcer.activate('192.0.2.10');
  r.speaker.sync();
  r.announcer.activate('2001:db8::10');
  const assigned = r.events.filter((e) => e.reason === 'nodeAssigned');
  assert.equal(assigned.length, 1);
  assert.equal(assigned[0]!.type, 'Normal');
  assert.equal(assigned[0]!.message, 'announcing from node "n1" with protocol "layer2"');
  assert.deepEqual([assigned[0]!.obj.namespace, assigned[0]!.obj.name, assigned[0]!.obj.kind], ['shop', 'web', 'Service']);
  let text = await r.registry.metrics();
  assert.match(text, /metallb_speaker_announced\{service="shop\/web",protocol="layer2",node="n1",ip="192\.0\.2\.10"\} 1/);
  assert.match(text, /metallb_speaker_announced\{service="shop\/web",protocol="layer2",node="n1",ip="2001:db8::10"\} 1/);
  assert.match(text, /metallb_layer2_gratuitous_sent\{ip="192\.0\.2\.10"\} 10/);
  assert.match(text, /metallb_layer2_requests_received\{ip="192\.0\.2\.10"\} 3/);
  assert.match(text, /berth_l2_frames_dropped_total\{reason="truncated"\} 1/);
  assert.match(text, /berth_l2_frames_dropped_total\{reason="bad-checksum"\} 0/);
  r.setDecisions([d('shop/web', '192.0.2.10', 'n2'), d('shop/web', '2001:db8::10', 'n2')]);
  r.speaker.sync();
  text = await r.registry.metrics();
  assert.doesNotMatch(text, /metallb_speaker_announced\{/);
  assert.match(text, /berth_l2_owner_changes_total 2/);
  await settle();
});

test('a foreign host answers the probe: IPConflict only, no nodeAssigned; once it clears and the IP is announced: nodeAssigned', async () => {
  const r = rig();
  r.setDecisions([d('shop/web', '192.0.2.10', 'n1')]);
  r.speaker.sync();
  // Layer2Announcer while probing: the foreign reply blocks the IP (announced false) and no gratuitous packet goes out.
  r.announcer.emit('conflict', '192.0.2.10', '02:00:00:00:00:99', 'eth0', false);
  r.speaker.sync();
  assert.deepEqual(r.events.map((e) => e.reason), ['IPConflict'], 'a node that does not announce is not "assigned"');
  // The foreign host went silent: the re-probes were the probes, the IP is announced now.
  r.announcer.emit('conflictCleared', '192.0.2.10');
  r.announcer.activate('192.0.2.10');
  r.speaker.sync();
  assert.deepEqual(r.events.map((e) => e.reason), ['IPConflict', 'IPConflictCleared', 'nodeAssigned']);
  await settle();
});

test('nodeAssigned: at once on a takeover (no probe), again after the Service left and came back, and for a Service joining an IP already on the wire', async () => {
  const r = rig();
  r.setDecisions([d('shop/web', '192.0.2.10', 'n2')]);
  r.speaker.sync();
  r.setDecisions([d('shop/web', '192.0.2.10', 'n1')]);
  r.liveness.set(['n1', 'n3']);
  const assigned = () => r.events.filter((e) => e.reason === 'nodeAssigned').map((e) => e.obj.name);
  assert.deepEqual(assigned(), ['web'], 'the takeover sent its first gratuitous packet inside set()');
  r.setDecisions([d('shop/web', '192.0.2.10', 'n1'), d('shop/dns', '192.0.2.10', 'n1')]);
  r.speaker.sync();
  assert.deepEqual(assigned(), ['web', 'dns'], 'dns shares an IP already answered');
  r.setDecisions([d('shop/web', '192.0.2.10', 'n3'), d('shop/dns', '192.0.2.10', 'n3')]);
  r.speaker.sync();
  assert.deepEqual(r.announcer.last, []);
  assert.deepEqual(assigned(), ['web', 'dns']);
  r.setDecisions([d('shop/web', '192.0.2.10', 'n1'), d('shop/dns', '192.0.2.10', 'n1')]);
  r.speaker.sync();
  assert.deepEqual(assigned(), ['web', 'dns', 'web', 'dns'], 'taken back from n3: a takeover again');
  await settle();
});

test('ServiceL2Status: created once, updated only on change, other nodes’ objects deleted, own deleted when not owner', async () => {
  const r = rig();
  r.status.objects.set('l2-old', {
    name: 'l2-old',
    node: 'n2',
    service: 'shop/web',
    status: { node: 'n2', serviceName: 'web', serviceNamespace: 'shop' },
  });
  r.setDecisions([d('shop/web', '192.0.2.10', 'n1')]);
  r.speaker.sync();
  await settle();
  assert.deepEqual(r.status.writes, ['delete l2-old', 'create shop/web n1']);
  const own = [...r.status.objects.values()];
  assert.equal(own.length, 1);
  assert.deepEqual(own[0]!.status, { node: 'n1', serviceName: 'web', serviceNamespace: 'shop' });
  // Same plan again, several times: no write.
  r.speaker.sync();
  r.speaker.sync();
  await settle();
  assert.equal(r.status.writes.length, 2);
  // Restricted to interfaces: one status update.
  r.setDecisions([d('shop/web', '192.0.2.10', 'n1', ['eth0'])]);
  r.speaker.sync();
  await settle();
  assert.deepEqual(r.status.writes.slice(2), [`update ${own[0]!.name} eth0`]);
  // Not the owner any more: our object is deleted; nothing else.
  r.setDecisions([d('shop/web', '192.0.2.10', 'n3')]);
  r.speaker.sync();
  await settle();
  assert.deepEqual(r.status.writes.slice(3), [`delete ${own[0]!.name}`]);
  assert.equal(r.status.objects.size, 0);
  r.speaker.sync();
  await settle();
  assert.equal(r.status.writes.length, 4);
});

test('a failing API server withdraws nothing: status writes are retried with backoff, announcements stay', async () => {
  const r = rig();
  r.setDecisions([d('shop/web', '192.0.2.10', 'n1')]);
  r.status.fail = true;
  r.speaker.sync();
  await settle();
  assert.deepEqual(r.status.writes, ['create shop/web n1']);
  assert.equal(r.speaker.counts.statusFailures, 1);
  // A retry is scheduled (100 ms, then 200 ms...), and the announcement is untouched.
  assert.deepEqual([...r.timers.pending.values()].map((t) => t.ms), [100]);
  r.speaker.changed();
  r.timers.runAll();
  await settle();
  assert.deepEqual(r.announcer.last, [{ ip: '192.0.2.10', service: 'shop/web', interfaces: [] }]);
  assert.ok(r.announcer.sets.every((s) => s.length === 1), 'never an empty set while the API server is away');
  assert.deepEqual([...r.timers.pending.values()].map((t) => t.ms), [200]);
  // The API server is back: the next retry creates the object, and the backoff is reset.
  r.status.fail = false;
  r.timers.runAll();
  await settle();
  assert.equal(r.status.objects.size, 1);
  assert.equal(r.timers.pending.size, 0);
  const text = await r.registry.metrics();
  const errors = Number(/metallb_k8s_client_update_errors_total (\d+)/.exec(text)?.[1]);
  const updates = Number(/metallb_k8s_client_updates_total (\d+)/.exec(text)?.[1]);
  assert.ok(errors >= 2, `${errors} failed writes counted`);
  assert.equal(updates - errors, 1, 'one successful write');
});

test('SIGTERM: the announcer closes before liveness.leave() (a new owner never answers while we still do), then the heartbeats stop', async () => {
  const r = rig();
  r.setDecisions([d('shop/web', '192.0.2.10', 'n1')]);
  r.speaker.sync();
  r.speaker.changed();
  const stopping = r.speaker.stop();
  // The leave timeout is a timer too: run nothing, let leave() finish by itself.
  await stopping;
  assert.deepEqual(r.calls, ['announcer.close', 'liveness.leave', 'liveness.left', 'liveness.close']);
  // Stopped: no more recomputes.
  const n = r.announcer.sets.length;
  r.speaker.changed();
  r.speaker.sync();
  assert.equal(r.announcer.sets.length, n);
});

test('a stuck leave() is bounded: the announcer still closes', async () => {
  const r = rig();
  r.liveness.leave = () => new Promise<void>(() => undefined);
  const stopping = r.speaker.stop(50);
  await settle();
  r.timers.runAll(); // the leave timeout
  await stopping;
  assert.deepEqual(r.calls, ['announcer.close', 'liveness.close']);
});

test('a conflict reported by the announcer: Warning IPConflict on each Service of the IP, gauge while it lasts', async () => {
  const r = rig();
  r.setDecisions([d('shop/web', '192.0.2.10', 'n1'), d('shop/dns', '192.0.2.10', 'n1')]);
  r.speaker.sync();
  r.announcer.emit('conflict', '192.0.2.10', '02:00:00:00:00:99', 'eth0');
  r.announcer.emit('conflict', '192.0.2.10', '02:00:00:00:00:99', 'eth0');
  const ev = r.events.filter((e) => e.reason === 'IPConflict');
  assert.deepEqual(ev.map((e) => `${e.type} ${e.obj.namespace}/${e.obj.name}`).sort(), ['Warning shop/dns', 'Warning shop/web']);
  assert.match(ev[0]!.message, /192\.0\.2\.10.*02:00:00:00:00:99.*eth0/);
  assert.match(await r.registry.metrics(), /berth_l2_ip_conflicts\{ip="192\.0\.2\.10"\} 1/);
  r.announcer.emit('conflictCleared', '192.0.2.10');
  assert.doesNotMatch(await r.registry.metrics(), /berth_l2_ip_conflicts\{ip=/);
  const cleared = r.events.filter((e) => e.reason === 'IPConflictCleared');
  assert.deepEqual(cleared.map((e) => `${e.type} ${e.obj.namespace}/${e.obj.name}`).sort(), ['Normal shop/dns', 'Normal shop/web']);
  await settle();
});

test('failover: a peer lost → this node owns its IP → the first gratuitous packet observes berth_l2_failover_seconds', async () => {
  const r = rig();
  r.setDecisions([d('shop/web', '192.0.2.10', 'n2')]);
  r.speaker.sync();
  // n2 dies: liveness says so at t0; the plan (fed by liveness) now elects n1.
  r.setNow(2_000_000);
  r.setDecisions([d('shop/web', '192.0.2.10', 'n1')]);
  r.liveness.set(['n1', 'n3']);
  assert.deepEqual(r.announcer.last, [{ ip: '192.0.2.10', service: 'shop/web', interfaces: [], probe: false }], 'recomputed at once, no debounce, no probe on a takeover');
  // The fake announcer emitted 'announced' inside set(), at t0 (as Layer2Announcer does for a takeover): observed
  // 0 s, once; a later 'announced' (a new burst) is no failover.
  r.setNow(2_000_120);
  r.announcer.emit('announced', '192.0.2.10');
  const text = await r.registry.metrics();
  assert.match(text, /berth_l2_failover_seconds_count 1/);
  assert.match(text, /berth_l2_failover_seconds_bucket\{le="0\.01"\} 1/);
  assert.match(text, /berth_l2_owner_changes_total 1/);
  await settle();
});

test('start-up (liveness rule 8): the provisional plan is no owner, no takeover and no failover', async () => {
  const r = rig();
  // Starting: n1 (self) not live yet, n2 heard, n3 undecided (never heard): n1 owns nothing.
  r.liveness.set(['n2', 'n3'], ['n3']);
  r.setDecisions([d('shop/web', '192.0.2.10', 'n2'), d('shop/api', '192.0.2.11', 'n3')]);
  r.speaker.sync();
  assert.deepEqual(r.announcer.last, []);
  // n1 settled: it sorts before n2 for .10; n2 never held it in n2's own view → announced with the probe.
  r.setDecisions([d('shop/web', '192.0.2.10', 'n1'), d('shop/api', '192.0.2.11', 'n3')]);
  r.liveness.set(['n1', 'n2', 'n3'], ['n3']);
  assert.deepEqual(r.announcer.last, [{ ip: '192.0.2.10', service: 'shop/web', interfaces: [] }]);
  // n3 is never heard: dead at the bound. It held nothing: no probe skipped, no failover, no owner change.
  r.setDecisions([d('shop/web', '192.0.2.10', 'n1'), d('shop/api', '192.0.2.11', 'n1')]);
  r.liveness.set(['n1', 'n2']);
  assert.deepEqual(r.announcer.last, [
    { ip: '192.0.2.10', service: 'shop/web', interfaces: [] },
    { ip: '192.0.2.11', service: 'shop/api', interfaces: [] },
  ]);
  r.announcer.emit('announced', '192.0.2.11');
  let text = await r.registry.metrics();
  assert.match(text, /berth_l2_failover_seconds_count 0/);
  assert.match(text, /berth_l2_owner_changes_total 0/);
  // From now on the plan is settled: n2 (heard) lost → its IPs are a failover, as ever.
  r.setDecisions([d('shop/web', '192.0.2.10', 'n2'), d('shop/api', '192.0.2.11', 'n1')]);
  r.speaker.sync();
  r.setDecisions([d('shop/web', '192.0.2.10', 'n1'), d('shop/api', '192.0.2.11', 'n1')]);
  r.liveness.set(['n1']);
  const takeover: Announcement[] = r.announcer.sets.at(-1) ?? [];
  assert.equal(takeover.find((a) => a.ip === '192.0.2.10')?.probe, false);
  r.announcer.emit('announced', '192.0.2.10');
  text = await r.registry.metrics();
  assert.match(text, /berth_l2_failover_seconds_count 1/);
  await settle();
});

test('announceFailed when none of the listed interfaces exists here (MetalLB §5.2 text), once per IP', async () => {
  const r = rig();
  r.setDecisions([d('shop/web', '192.0.2.10', 'n1', ['eth9']), d('shop/v6', '2001:db8::5', 'n1', ['eth0'])]);
  r.speaker.sync();
  r.speaker.sync();
  const failed = r.events.filter((e) => e.reason === 'announceFailed');
  assert.equal(failed.length, 1);
  assert.equal(failed[0]!.type, 'Warning');
  assert.equal(failed[0]!.message, 'the interfaces specified by LB IP "192.0.2.10" doesn\'t exist in assigned node "n1" with protocol "layer2"');
  // The interface appears (link rescan): no new event; it disappears again: a new one.
  r.links.arp.push('eth9');
  r.speaker.sync();
  const resumed = r.events.filter((e) => e.reason === 'announceResumed');
  assert.deepEqual(resumed.map((e) => `${e.type} ${e.obj.namespace}/${e.obj.name}`), ['Normal shop/web'], 'the fault ended: a Normal event says so');
  assert.match(resumed[0]!.message, /"192\.0\.2\.10".*"n1"/);
  r.links.arp.pop();
  r.speaker.sync();
  assert.equal(r.events.filter((e) => e.reason === 'announceFailed').length, 2);
  await settle();
});

test('a plan that throws keeps the current announcements', async () => {
  const r = rig();
  r.setDecisions([d('shop/web', '192.0.2.10', 'n1')]);
  r.speaker.sync();
  const n = r.announcer.sets.length;
  const warnings: string[] = [];
  const s2 = new Speaker({
    node: 'n1',
    decide: () => {
      throw new Error('boom');
    },
    announcementsFor: () => [],
    announcer: r.announcer,
    links: () => r.links,
    warn: (_f, m) => warnings.push(m),
    timers: r.timers,
  });
  s2.sync();
  assert.equal(r.announcer.sets.length, n);
  assert.match(warnings[0]!, /planning failed, keeping the current announcements: Error: boom/);
  await settle();
});
