// BgpSpeaker with fake sessions and a fake BFD server: route diffs, no reset on an advertisement change, reset of one
// session on an OPEN-affecting change, BFD down → that session down at once (Cease/BFD Down) and back on BFD up,
// metrics with MetalLB's names; plus one real BgpSession pair over loopback (passive peer) to see routes arrive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { BFDProfileConfig, PeerConfig } from '../config/types.ts';
import type { BfdPeerConfig } from './bfd/udp.ts';
import { BgpSession, type AdvertisedAttributes, type BgpSessionStats } from './bgp/session.ts';
import {
  CeaseSubcode,
  announcedPrefixes,
  decode,
  withdrawnPrefixes,
  type UpdateMessage as Update,
} from './bgp/wire/index.ts';
import type { BgpRoute } from './bgp-plan.ts';
import { sessionEvents } from './bgp-status.ts';
import {
  BgpSpeaker,
  bgpMetrics,
  peerLabel,
  sessionSpecFor,
  type BgpPlanLike,
  type SessionPort,
  type SessionSpec,
} from './bgp-speaker.ts';

const log = pino({ level: 'silent' });

function peer(name: string, over: Partial<PeerConfig> = {}): PeerConfig {
  return {
    name,
    myASN: 64500,
    peerASN: 64501,
    peerAddress: '198.51.100.1',
    peerPort: 179,
    nodeSelectors: [],
    enableGracefulRestart: false,
    ebgpMultiHop: false,
    dualStackAddressFamily: false,
    ...over,
  };
}

function route(prefix: string, communities: number[] = [], localPref?: number): BgpRoute {
  return {
    prefix,
    family: prefix.includes(':') ? 'IPv6' : 'IPv4',
    communities,
    largeCommunities: [],
    extendedCommunities: [],
    services: ['default/svc'],
    ...(localPref !== undefined ? { localPref } : {}),
  };
}

function plan(...peers: Array<[PeerConfig, BgpRoute[]]>): BgpPlanLike {
  return {
    peers: new Map(
      peers.map(([p, rs]) => [
        p.name,
        { name: p.name, peer: p, routes: new Map(rs.map((r) => [r.prefix, r])) },
      ]),
    ),
  };
}

type Call =
  | { op: 'start' }
  | { op: 'stop'; text?: string; subcode?: number }
  | { op: 'announce'; prefix: string; attrs: AdvertisedAttributes }
  | { op: 'withdraw'; prefix: string };

class FakeSession extends EventEmitter implements SessionPort {
  calls: Call[] = [];
  up = false;
  /** flush() calls, and calls.length at the last one (what had been handed to the session when it flushed). */
  flushes = 0;
  flushedAt = -1;
  /** stop() resolves only once this does (a slow close). */
  stopGate: Promise<void> | undefined;
  constructor(readonly spec: SessionSpec) {
    super();
  }
  start(): void {
    this.calls.push({ op: 'start' });
  }
  stop(text?: string, subcode?: number): Promise<void> {
    this.calls.push({
      op: 'stop',
      ...(text !== undefined ? { text } : {}),
      ...(subcode !== undefined ? { subcode } : {}),
    });
    if (this.up) {
      this.up = false;
      this.emit('down', { reason: 'manual-stop', text: `Cease: ${text}`, wasEstablished: true });
    }
    return this.stopGate ?? Promise.resolve();
  }
  flush(): void {
    this.flushes++;
    this.flushedAt = this.calls.length;
  }
  announce(prefix: string, attrs: AdvertisedAttributes): void {
    this.calls.push({ op: 'announce', prefix, attrs });
  }
  withdraw(prefix: string): void {
    this.calls.push({ op: 'withdraw', prefix });
  }
  stats(): BgpSessionStats {
    return {
      state: this.up ? 'Established' : 'Active',
      up: this.up,
      updatesSent: this.calls.filter((c) => c.op === 'announce' || c.op === 'withdraw').length,
      updatesReceived: 0,
      updateErrors: new Map(),
      announcedPrefixes: this.up ? 1 : 0,
      pendingPrefixes: this.up ? 0 : 1,
      notificationsSent: 0,
      notificationsReceived: 0,
      establishedCount: 0,
    };
  }
  establish(): void {
    this.up = true;
    this.emit('established', {
      negotiated: {},
      peerRouterId: '198.51.100.1',
      localAddress: '',
      routerId: '',
    });
  }
  ops(op: Call['op']): Call[] {
    return this.calls.filter((c) => c.op === op);
  }
}

function harness(withBfd = false) {
  const created: FakeSession[] = [];
  const bfd = Object.assign(new EventEmitter(), {
    synced: [] as BfdPeerConfig[][],
    sync(desired: readonly BfdPeerConfig[]) {
      this.synced.push([...desired]);
      return Promise.resolve({ errors: [] as string[] });
    },
  });
  const speaker = new BgpSpeaker({
    node: 'node-a',
    log,
    createSession: (spec) => {
      const s = new FakeSession(spec);
      created.push(s);
      return s;
    },
    ...(withBfd ? { bfd } : {}),
  });
  return { speaker, created, bfd };
}

test('a new peer gets one started session with every route; the next plan sends only the differences', async () => {
  const { speaker, created } = harness();
  const a = peer('a');
  await speaker.sync(plan([a, [route('203.0.113.10/32', [0xfc000001]), route('203.0.113.11/32')]]));
  assert.equal(created.length, 1);
  const s = created[0]!;
  assert.deepEqual(s.spec.families, ['ipv4']);
  assert.deepEqual(
    s.calls.map((c) => c.op),
    ['announce', 'announce', 'start'],
  );
  s.establish();
  s.calls = [];
  // .10 community changes, .11 removed, .12 added: an UPDATE each, no reset.
  await speaker.sync(plan([a, [route('203.0.113.10/32', [0xfc000002]), route('203.0.113.12/32')]]));
  assert.equal(created.length, 1, 'no new session on an advertisement change');
  assert.deepEqual(s.calls, [
    {
      op: 'announce',
      prefix: '203.0.113.10/32',
      attrs: { communities: [0xfc000002], largeCommunities: [], extendedCommunities: [] },
    },
    {
      op: 'announce',
      prefix: '203.0.113.12/32',
      attrs: { communities: [], largeCommunities: [], extendedCommunities: [] },
    },
    { op: 'withdraw', prefix: '203.0.113.11/32' },
  ]);
  s.calls = [];
  await speaker.sync(plan([a, [route('203.0.113.10/32', [0xfc000002]), route('203.0.113.12/32')]]));
  assert.deepEqual(s.calls, [], 'the same plan twice sends nothing');
});

test('a prefix the session refuses is retried on the next sync (same routes map) and never withdrawn', async () => {
  const { speaker, created } = harness();
  const a = peer('a');
  let refuse = true;
  const p1 = plan([a, [route('203.0.113.10/32'), route('203.0.113.11/32')]]);
  const routes = p1.peers.get('a')!.routes;
  await speaker.sync(p1);
  const s = created[0]!;
  const announce = s.announce.bind(s);
  s.announce = (prefix, attrs) => {
    if (refuse && prefix === '203.0.113.11/32') throw new RangeError('refused');
    announce(prefix, attrs);
  };
  s.calls = [];
  await speaker.sync({ peers: new Map([['a', { name: 'a', peer: a, routes }]]) });
  assert.deepEqual(s.calls, [], 'same map, nothing refused yet: nothing sent');
  const p2 = plan([a, [route('203.0.113.10/32'), route('203.0.113.11/32', [1])]]);
  await speaker.sync(p2);
  assert.deepEqual(s.calls, [], 'the changed route was refused');
  refuse = false;
  await speaker.sync(p2);
  assert.deepEqual(
    s.ops('announce').map((c) => (c as { prefix: string }).prefix),
    ['203.0.113.11/32'],
    'retried with the same map',
  );
  s.calls = [];
  refuse = true;
  await speaker.sync(plan([a, [route('203.0.113.10/32'), route('203.0.113.11/32', [2])]]));
  s.calls = [];
  await speaker.sync(plan([a, [route('203.0.113.10/32')]]));
  assert.deepEqual(s.calls, [], 'a refused prefix that leaves the plan is not withdrawn');
});

test('an ASN change resets only that peer; a removed peer gets Cease/Peer De-configured', async () => {
  const { speaker, created } = harness();
  const a = peer('a');
  const b = peer('b', { peerAddress: '198.51.100.2' });
  const routes = [route('203.0.113.10/32')];
  await speaker.sync(plan([a, routes], [b, routes]));
  assert.equal(created.length, 2);
  const [sa, sb] = created as [FakeSession, FakeSession];
  sa.calls = [];
  sb.calls = [];
  await speaker.sync(plan([peer('a', { peerASN: 64999 }), routes], [b, routes]));
  assert.equal(created.length, 3);
  assert.deepEqual(sa.ops('stop'), [
    { op: 'stop', text: 'peer configuration changed', subcode: CeaseSubcode.OtherConfigurationChange },
  ]);
  assert.deepEqual(sb.calls, [], 'the other peer is untouched');
  const sa2 = created[2]!;
  assert.equal(sa2.spec.peerAsn, 64999);
  assert.deepEqual(
    sa2.calls.map((c) => c.op),
    ['announce', 'start'],
    'the new session starts with every route',
  );
  await speaker.sync(plan([peer('a', { peerASN: 64999 }), routes]));
  assert.deepEqual(sb.ops('stop'), [
    { op: 'stop', text: 'peer de-configured', subcode: CeaseSubcode.PeerDeconfigured },
  ]);
  assert.deepEqual(
    speaker.sessions().map((s) => s.name),
    ['a'],
  );
});

test('hold time, password (from the secret) and source address reset the session; bfdProfile alone does not', async () => {
  const { speaker, created } = harness();
  const rs = [route('203.0.113.10/32')];
  await speaker.sync(plan([peer('a'), rs]));
  await speaker.sync(plan([peer('a', { holdTimeMs: 30_000 }), rs]));
  assert.equal(created.length, 2);
  assert.equal(created[1]!.spec.holdTime, 30);
  await speaker.sync(plan([peer('a', { holdTimeMs: 30_900 }), rs]));
  assert.equal(created.length, 2, 'hold time is in whole seconds: 30.9 s is still 30');
  await speaker.sync(plan([peer('a', { holdTimeMs: 30_000 }), rs]), {
    passwords: new Map([['a', 's3cret']]),
  });
  assert.equal(created.length, 3);
  assert.equal(created[2]!.spec.password, 's3cret');
  await speaker.sync(plan([peer('a', { holdTimeMs: 30_000, bfdProfile: 'p' }), rs]), {
    passwords: new Map([['a', 's3cret']]),
  });
  assert.equal(created.length, 3, 'BFD is not part of the OPEN');
  await speaker.sync(plan([peer('a', { holdTimeMs: 30_000, sourceAddress: '198.51.100.9' }), rs]), {
    passwords: new Map([['a', 's3cret']]),
  });
  assert.equal(created.length, 4);
  assert.equal(created[3]!.spec.localAddress, '198.51.100.9');
});

test('routes of a family the session does not carry are left out unless dualStackAddressFamily', async () => {
  const { speaker, created } = harness();
  const rs = [route('203.0.113.10/32'), route('2001:db8::10/128')];
  await speaker.sync(plan([peer('a'), rs]));
  assert.deepEqual(
    created[0]!.ops('announce').map((c) => (c as { prefix: string }).prefix),
    ['203.0.113.10/32'],
  );
  await speaker.sync(plan([peer('a', { dualStackAddressFamily: true }), rs]));
  assert.deepEqual(created[1]!.spec.families, ['ipv4', 'ipv6']);
  assert.deepEqual(
    created[1]!.ops('announce').map((c) => (c as { prefix: string }).prefix),
    ['203.0.113.10/32', '2001:db8::10/128'],
  );
});

test('BFD: the profile gives a BFD session; BFD down closes the BGP session at once (Cease/BFD Down), up restarts it', async () => {
  const { speaker, created, bfd } = harness(true);
  const profiles: BFDProfileConfig[] = [
    { name: 'fast', receiveInterval: 50, transmitInterval: 50, detectMultiplier: 3 } as BFDProfileConfig,
  ];
  const rs = [route('203.0.113.10/32')];
  const downs: unknown[] = [];
  speaker.on('sessionDown', (d) => downs.push(d));
  await speaker.sync(
    plan(
      [peer('a', { bfdProfile: 'fast', sourceAddress: '198.51.100.9' }), rs],
      [peer('b', { peerAddress: '198.51.100.2' }), rs],
    ),
    { bfdProfiles: profiles },
  );
  assert.equal(bfd.synced.length, 1);
  assert.equal(bfd.synced[0]!.length, 1);
  const want = bfd.synced[0]![0]!;
  assert.equal(want.peer, '198.51.100.1');
  assert.equal(want.local, '198.51.100.9');
  assert.equal(want.params.transmitIntervalMs, 50);
  assert.equal(want.params.detectMultiplier, 3);
  const [sa, sb] = created as [FakeSession, FakeSession];
  sa.establish();
  sb.establish();
  sa.calls = [];
  bfd.emit('down', { peer: '198.51.100.1' }, { diag: 1, diagName: 'Control Detection Time Expired' });
  assert.deepEqual(sa.calls, [
    { op: 'stop', text: 'BFD down (Control Detection Time Expired)', subcode: CeaseSubcode.BfdDown },
  ]);
  assert.equal(sb.calls.filter((c) => c.op === 'stop').length, 0);
  assert.equal(downs.length, 1);
  assert.equal(speaker.sessions()[0]!.bfdDown, true);
  // A plan while BFD is down must not restart it.
  await speaker.sync(plan([peer('a', { bfdProfile: 'fast', sourceAddress: '198.51.100.9' }), rs]), {
    bfdProfiles: profiles,
  });
  assert.equal(sa.ops('start').length, 0);
  // A configuration change while BFD is down: the new session is held down too, until BFD is up.
  await speaker.sync(
    plan([peer('a', { bfdProfile: 'fast', sourceAddress: '198.51.100.9', holdTimeMs: 30_000 }), rs]),
    { bfdProfiles: profiles },
  );
  const sa2 = created.at(-1)!;
  assert.notEqual(sa2, sa);
  assert.equal(sa2.ops('start').length, 0);
  assert.equal(speaker.sessions()[0]!.bfdDown, true);
  bfd.emit('up', { peer: '198.51.100.1' });
  assert.equal(sa2.ops('start').length, 1);
  assert.equal(sa.ops('start').length, 0, 'the replaced session stays stopped');
  assert.equal(speaker.sessions()[0]!.bfdDown, false);
  // An unknown profile is reported, not thrown.
  const r = await speaker.sync(plan([peer('a', { bfdProfile: 'nope', sourceAddress: '198.51.100.9' }), rs]), {
    bfdProfiles: profiles,
  });
  assert.match(r.errors.join('\n'), /bfdProfile "nope" is not a known BFDProfile/);
  assert.deepEqual(bfd.synced.at(-1), []);
});

test('metrics: metallb_bgp_* with peer="ip:port", updates_total keeps counting across a reset', async () => {
  const { speaker, created } = harness();
  const registry = new Registry();
  bgpMetrics(registry, speaker);
  await speaker.sync(
    plan([peer('a'), [route('203.0.113.10/32')]], [peer('v6', { peerAddress: '2001:db8::1' }), []]),
  );
  created[0]!.establish();
  let text = await registry.metrics();
  assert.match(text, /metallb_bgp_session_up\{peer="198\.51\.100\.1:179"\} 1/);
  assert.match(text, /metallb_bgp_session_up\{peer="\[2001:db8::1\]:179"\} 0/);
  assert.match(text, /metallb_bgp_announced_prefixes_total\{peer="198\.51\.100\.1:179"\} 1/);
  assert.match(text, /metallb_bgp_pending_prefixes_total\{peer="\[2001:db8::1\]:179"\} 1/);
  assert.match(text, /metallb_bgp_updates_total\{peer="198\.51\.100\.1:179"\} 1/);
  await speaker.sync(plan([peer('a', { peerASN: 65000 }), [route('203.0.113.10/32')]]));
  text = await registry.metrics();
  assert.match(text, /metallb_bgp_updates_total\{peer="198\.51\.100\.1:179"\} 2/);
  assert.doesNotMatch(text, /2001:db8::1/);
});

test('sessionSpecFor: MetalLB defaults and the rules it maps', () => {
  const s = sessionSpecFor(peer('a', { ebgpMultiHop: true, keepaliveTimeMs: 10_000, password: 'pw' }), 'n1');
  assert.equal(s.ttl, 255);
  assert.equal(s.keepaliveTime, 10);
  assert.equal(s.password, 'pw');
  assert.equal(s.holdTime, undefined);
  assert.equal(sessionSpecFor(peer('a'), 'n1').ttl, undefined);
  assert.equal(sessionSpecFor(peer('a', { password: 'pw' }), 'n1', 'fromSecret').password, 'fromSecret');
  assert.equal(peerLabel('2001:db8::1', 1179), '[2001:db8::1]:1179');
});

test('real sessions over loopback: routes arrive at a passive BgpSession, a community change is an UPDATE, not a reset', async (t) => {
  const router = new BgpSession({
    peerAddress: '127.0.0.1',
    localAsn: 64501,
    peerAsn: 64500,
    passive: true,
    log,
  });
  const server = net.createServer((sock) => router.incoming(sock));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const speaker = new BgpSpeaker({ node: 'node-a', log });
  t.after(async () => {
    await speaker.close();
    await router.stop();
    server.close();
  });
  router.start();
  const ups: unknown[] = [];
  const downs: unknown[] = [];
  speaker.on('sessionUp', (u) => ups.push(u));
  speaker.on('sessionDown', (d) => downs.push(d));
  const p = peer('lo', { peerAddress: '127.0.0.1', peerPort: port, myASN: 64500, peerASN: 64501 });
  await speaker.sync(plan([p, [route('203.0.113.10/32', [0xfc000001]), route('203.0.113.11/32')]]));
  await waitFor(() => speaker.sessions()[0]!.stats.up && speaker.sessions()[0]!.stats.pendingPrefixes === 0);
  assert.equal(speaker.sessions()[0]!.stats.announcedPrefixes, 2);
  const before = router.stats().updatesReceived;
  await speaker.sync(plan([p, [route('203.0.113.10/32', [0xfc000002])]]));
  await waitFor(() => router.stats().updatesReceived >= before + 2);
  assert.equal(speaker.sessions()[0]!.stats.announcedPrefixes, 1);
  assert.equal(speaker.sessions()[0]!.stats.establishedCount, 1, 'the session did not flap');
  assert.equal(ups.length, 1);
  assert.equal(downs.length, 0);
});

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('real BFD over loopback: the peer signals BFD down → the BGP session is closed at once and comes back with BFD up', async (t) => {
  const { BfdServer } = await import('./bfd/udp.ts');
  const routerBfd = new BfdServer({ log, port: 0 });
  const nodeBfd = new BfdServer({ log, port: 0 });
  const [portNode, portRouter] = [await nodeBfd.listen(4), await routerBfd.listen(4)];
  const router = new BgpSession({
    peerAddress: '127.0.0.1',
    localAsn: 64501,
    peerAsn: 64500,
    passive: true,
    log,
  });
  const server = net.createServer((sock) => router.incoming(sock));
  await new Promise<void>((r) => server.listen(0, '127.0.0.2', r));
  const port = (server.address() as net.AddressInfo).port;
  const speaker = new BgpSpeaker({ node: 'node-a', log, bfd: nodeBfd, bfdPeerPort: portRouter });
  t.after(async () => {
    await speaker.close();
    await router.stop();
    server.close();
    await nodeBfd.close();
    await routerBfd.close();
  });
  router.start();
  const fast = { transmitIntervalMs: 50, receiveIntervalMs: 50, detectMultiplier: 5, passive: false };
  const routerCfg = { peer: '127.0.0.1', local: '127.0.0.2', port: portNode, params: fast };
  let pr = await routerBfd.add(routerCfg);
  const p = peer('lo', {
    peerAddress: '127.0.0.2',
    sourceAddress: '127.0.0.1',
    peerPort: port,
    bfdProfile: 'fast',
  });
  const profiles = [
    { name: 'fast', receiveInterval: 50, transmitInterval: 50, detectMultiplier: 5 } as BFDProfileConfig,
  ];
  const bfdEvents: string[] = [];
  speaker.on('bfdDown', () => bfdEvents.push('down'));
  speaker.on('bfdUp', () => bfdEvents.push('up'));
  const r = await speaker.sync(plan([p, [route('203.0.113.10/32')]]), { bfdProfiles: profiles });
  assert.deepEqual(r.errors, []);
  await waitFor(() => speaker.sessions()[0]!.stats.up && nodeBfd.peers()[0]?.state === 'Up');
  // The router side ends its BFD session (AdminDown, RFC 5880 §6.8.16: the node sees Neighbor Signaled Down).
  routerBfd.remove(pr);
  await waitFor(() => bfdEvents.includes('down'));
  assert.equal(speaker.sessions()[0]!.bfdDown, true);
  await waitFor(() => router.stats().lastDown !== undefined);
  assert.equal(router.stats().lastDown!.reason, 'notification-received');
  assert.match(router.stats().lastDown!.text, /Cease/);
  await waitFor(() => !speaker.sessions()[0]!.stats.up);
  // BFD comes back: the BGP session is allowed again and re-establishes with its routes.
  pr = await routerBfd.add(routerCfg);
  await waitFor(() => bfdEvents.includes('up'));
  await waitFor(() => speaker.sessions()[0]!.stats.up && speaker.sessions()[0]!.stats.pendingPrefixes === 0);
  assert.equal(speaker.sessions()[0]!.stats.establishedCount, 2);
  assert.equal(speaker.sessions()[0]!.stats.announcedPrefixes, 1);
  void pr;
});

test('real sessions over loopback: N prefixes with the same attributes go out packed, ceil(N/k) UPDATEs of at most 4096 bytes, and are withdrawn packed too', async (t) => {
  const router = new BgpSession({ peerAddress: '::1', localAsn: 64501, peerAsn: 64500, passive: true, log });
  // Every byte the router receives, framed and decoded here too (4-octet AS: both ends advertise it).
  let raw = Buffer.alloc(0);
  const server = net.createServer((sock) => {
    sock.on('data', (d: Buffer) => (raw = Buffer.concat([raw, d])));
    router.incoming(sock);
  });
  try {
    await new Promise<void>((r, j) => server.once('error', j).listen(0, '::1', r));
  } catch (err) {
    t.skip(`no IPv6 loopback here: ${(err as Error).message}`);
    return;
  }
  const port = (server.address() as net.AddressInfo).port;
  const speaker = new BgpSpeaker({ node: 'node-a', log });
  t.after(async () => {
    await speaker.close();
    await router.stop();
    server.close();
  });
  router.start();
  const updates = (): Array<{ bytes: number; m: Update }> => {
    const out: Array<{ bytes: number; m: Update }> = [];
    for (let off = 0; off + 19 <= raw.length;) {
      const len = raw.readUInt16BE(off + 16);
      if (off + len > raw.length) break;
      if (raw[off + 18] === 2)
        out.push({
          bytes: len,
          m: decode(raw.subarray(off, off + len), { fourOctetAs: true }).value as Update,
        });
      off += len;
    }
    return out;
  };
  const text = (ps: Array<{ prefix: string; length: number }>) => ps.map((p) => `${p.prefix}/${p.length}`);
  const v4 = Array.from({ length: 512 }, (_, i) => `${i < 256 ? '198.51.100' : '203.0.113'}.${i & 255}/32`);
  const v6 = Array.from({ length: 2000 }, (_, i) => `2001:db8:100::${(i + 1).toString(16)}/128`);
  const p = peer('lo', {
    peerAddress: '::1',
    peerPort: port,
    myASN: 64500,
    peerASN: 64501,
    dualStackAddressFamily: true,
  });
  await speaker.sync(plan([p, [...v4, ...v6].map((x) => route(x, [0xfc000001]))]));
  await waitFor(() => speaker.sessions()[0]!.stats.up && speaker.sessions()[0]!.stats.pendingPrefixes === 0);
  await waitFor(() => router.stats().updatesReceived >= 2);
  await waitFor(() => text(updates().flatMap((u) => announcedPrefixes(u.m))).length >= v4.length + v6.length);
  const check = (
    us: Array<{ bytes: number; m: Update }>,
    want: string[],
    perPrefix: number,
    what: string,
  ): void => {
    assert.ok(us.length > 0, what);
    for (const u of us) assert.ok(u.bytes <= 4096, `${what}: an UPDATE of ${u.bytes} bytes`);
    const got = us.flatMap((u) => text([...announcedPrefixes(u.m), ...withdrawnPrefixes(u.m)]));
    assert.deepEqual([...got].sort(), [...want].sort(), `${what}: every prefix once`);
    // k = what the first UPDATE holds; it is full (one more prefix would not fit), so the others are too.
    const first = text([...announcedPrefixes(us[0]!.m), ...withdrawnPrefixes(us[0]!.m)]).length;
    assert.equal(us.length, Math.ceil(want.length / first), `${what}: ceil(${want.length}/${first}) UPDATEs`);
    if (us.length > 1)
      assert.ok(us[0]!.bytes + perPrefix > 4096, `${what}: the first UPDATE (${us[0]!.bytes} bytes) is full`);
  };
  const announced = updates().filter((u) => announcedPrefixes(u.m).length > 0);
  const isV6 = (u: { m: Update }) => text(announcedPrefixes(u.m))[0]!.includes(':');
  check(
    announced.filter((u) => !isV6(u)),
    v4,
    5,
    'IPv4 announce',
  );
  check(announced.filter(isV6), v6, 17, 'IPv6 announce (MP_REACH_NLRI)');
  // Every announce UPDATE carries the same attributes (one group): ORIGIN, AS_PATH, NEXT_HOP/MP_REACH, COMMUNITIES.
  for (const u of announced)
    assert.ok(
      u.m.attributes.some((a) => a.type === 'COMMUNITIES'),
      'the community is on every UPDATE',
    );

  await speaker.sync(plan([p, []]));
  await waitFor(() => speaker.sessions()[0]!.stats.announcedPrefixes === 0);
  const withdrawn = () => updates().filter((u) => withdrawnPrefixes(u.m).length > 0);
  await waitFor(
    () => text(withdrawn().flatMap((u) => withdrawnPrefixes(u.m))).length >= v4.length + v6.length,
  );
  const w = withdrawn();
  check(
    w.filter((u) => !text(withdrawnPrefixes(u.m))[0]!.includes(':')),
    v4,
    5,
    'IPv4 withdraw',
  );
  check(
    w.filter((u) => text(withdrawnPrefixes(u.m))[0]!.includes(':')),
    v6,
    17,
    'IPv6 withdraw (MP_UNREACH_NLRI)',
  );
  assert.equal(speaker.sessions()[0]!.stats.establishedCount, 1, 'no reset');
});

test('real session to a closed loopback port: each failed attempt is a connectFailed with its count, turned into a Warning BGPSessionConnectFailed on the BGPPeer (fresh-user problem 3)', async (t) => {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const speaker = new BgpSpeaker({ node: 'node-a', log });
  t.after(() => speaker.close());
  const failed: Array<{ name: string; label: string; down: { attempt?: number; text: string } }> = [];
  speaker.on('connectFailed', (e) => failed.push(e));
  const events: string[] = [];
  sessionEvents({
    speaker,
    node: 'node-a',
    events: {
      event: (ref, type, reason, message) => events.push(`${ref.name} ${type} ${reason}: ${message}`),
    },
    peerRef: (name) => ({
      kind: 'BGPPeer',
      apiVersion: 'metallb.io/v1beta2',
      namespace: 'metallb-system',
      name,
    }),
  });
  const p = peer('closed', { peerAddress: '127.0.0.1', peerPort: port, myASN: 64500, peerASN: 64501 });
  await speaker.sync(plan([p, [route('203.0.113.10/32')]]));
  await waitFor(() => failed.length >= 1);
  assert.equal(failed[0]!.name, 'closed');
  assert.equal(failed[0]!.label, `127.0.0.1:${port}`);
  assert.equal(failed[0]!.down.attempt, 1);
  assert.match(
    events[0]!,
    new RegExp(
      `^closed Warning BGPSessionConnectFailed: node "node-a": BGP session to 127\\.0\\.0\\.1:${port} not established \\(attempt 1\\): .*ECONNREFUSED`,
    ),
  );
  await speaker.close();
  const n = failed.length;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(failed.length, n, 'closing is no failed attempt');
});

test('sync: with no sync running, the routes are applied and every session flushed before sync() returns; a sync called while one waits runs after it, in order', async () => {
  const { speaker, created } = harness();
  const a = peer('a');
  const first = speaker.sync(plan([a, [route('203.0.113.10/32')]]));
  // Synchronously: no turn of the event loop between the plan and the UPDATEs.
  const s = created[0]!;
  assert.deepEqual(s.ops('announce').map((c) => (c as { prefix: string }).prefix), ['203.0.113.10/32']);
  assert.equal(s.flushes, 1);
  assert.equal(s.flushedAt, s.calls.length, 'flushed after the announce');
  await first;

  // A configuration change whose stop is slow: the sync waits for it; the next two syncs queue behind it.
  let release!: () => void;
  s.stopGate = new Promise<void>((r) => (release = r));
  const changed = peer('a', { holdTimeMs: 30_000 });
  const p1 = speaker.sync(plan([changed, [route('203.0.113.10/32')]]));
  const s2 = created[1]!;
  assert.equal(s2.ops('announce').length, 1, 'the new session got its routes at once');
  const p2 = speaker.sync(plan([changed, [route('203.0.113.10/32'), route('203.0.113.11/32')]]));
  const p3 = speaker.sync(plan([changed, [route('203.0.113.12/32')]]));
  await new Promise((r) => setImmediate(r));
  assert.equal(s2.ops('announce').length, 1, 'queued syncs wait for the running one');
  release();
  await Promise.all([p1, p2, p3]);
  assert.deepEqual(
    s2.calls.filter((c) => c.op !== 'start').map((c) => `${c.op} ${(c as { prefix: string }).prefix}`),
    ['announce 203.0.113.10/32', 'announce 203.0.113.11/32', 'announce 203.0.113.12/32', 'withdraw 203.0.113.10/32', 'withdraw 203.0.113.11/32'],
    'the second plan, then the third',
  );
  assert.equal(s2.flushes, 3);
});
