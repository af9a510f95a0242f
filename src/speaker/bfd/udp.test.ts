// Two BfdServers in one process talk over loopback (real UDP sockets, no namespaces needed; 50 ms × 5 so a busy
// host's event-loop stalls do not flap the sessions): the handshake, Poll/Final,
// detection on silence, AdminDown on remove, and hostile datagrams being dropped and counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { pino } from 'pino';
import { readFileSync } from 'node:fs';
import { BfdServer, dgramFd, ttlFilter, type BfdPeer } from './udp.ts';
import { Diag } from './packet.ts';
import type { BfdParams } from './session.ts';

const log = pino({ level: 'silent' });
const fast: BfdParams = {
  transmitIntervalMs: 50,
  receiveIntervalMs: 50,
  detectMultiplier: 5,
  passive: false,
};

async function pair(
  family: 4 | 6,
  aParams: BfdParams = fast,
  bParams: BfdParams = fast,
): Promise<{ a: BfdServer; b: BfdServer; pa: BfdPeer; pb: BfdPeer }> {
  const a = new BfdServer({ log, port: 0 });
  const b = new BfdServer({ log, port: 0 });
  const [portA, portB] = [await a.listen(family), await b.listen(family)];
  const [ipA, ipB] = family === 4 ? ['127.0.0.1', '127.0.0.2'] : ['::1', '::1'];
  const pa = await a.add({ peer: ipB, local: ipA, port: portB, params: aParams });
  const pb = await b.add({ peer: ipA, local: ipB, port: portA, params: bParams });
  return { a, b, pa, pb };
}

async function until(cond: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  for (let waited = 0; !cond(); waited += 10) {
    if (waited > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const family of [4, 6] as const) {
  test(`IPv${family} loopback: both ends come Up, the Polls end, timers are 50 ms × 5`, async (t) => {
    const { a, b, pa, pb } = await pair(family);
    t.after(() => Promise.all([a.close(), b.close()]));
    const ups = [once(pa, 'up'), once(pb, 'up')];
    await Promise.all(ups);
    await until(() => !pa.session.polling && !pb.session.polling, 'the Poll Sequences to end');
    const ia = pa.info();
    assert.equal(ia.state, 'Up');
    assert.equal(ia.remoteDiscr, pb.session.localDiscr);
    assert.equal(ia.txIntervalMs, 50);
    assert.equal(ia.detectionTimeMs, 250);
    assert.ok(ia.counters.controlPacketInput > 0 && ia.counters.controlPacketOutput > 0);
    assert.equal(ia.counters.sessionUpEvents, 1);
  });
}

test('silence: when one end stops without a word, the other goes Down with diag 1 (Control Detection Time Expired)', async (t) => {
  const { a, b, pa, pb } = await pair(4);
  t.after(() => Promise.all([a.close(), b.close()]));
  await Promise.all([once(pa, 'up'), once(pb, 'up')]);
  const down = once(pa, 'down');
  await b.close();
  const [ev] = (await down) as [{ diag: number; diagName: string }];
  assert.deepEqual(ev, { diag: Diag.ControlDetectionTimeExpired, diagName: 'ControlDetectionTimeExpired' });
  assert.equal(pa.state, 'Down');
  assert.equal(pa.session.remoteDiscr, 0);
});

test('remove: the peer is told AdminDown and goes Down with diag 3 (Neighbor Signaled Session Down)', async (t) => {
  const { a, b, pa, pb } = await pair(4);
  t.after(() => Promise.all([a.close(), b.close()]));
  await Promise.all([once(pa, 'up'), once(pb, 'up')]);
  const down = once(pa, 'down');
  b.remove(pb);
  const [ev] = (await down) as [{ diag: number }];
  assert.equal(ev.diag, Diag.NeighborSignaledSessionDown);
  assert.equal(pa.session.remoteState, 0, 'remote AdminDown');
});

test('a profile change while Up runs a Poll Sequence and the new interval is used after the Final', async (t) => {
  const { a, b, pa, pb } = await pair(4);
  t.after(() => Promise.all([a.close(), b.close()]));
  await Promise.all([once(pa, 'up'), once(pb, 'up')]);
  await until(() => !pa.session.polling && !pb.session.polling, 'the first Polls to end');
  a.setParams(pa, { ...fast, transmitIntervalMs: 80, receiveIntervalMs: 80 });
  assert.equal(pa.session.polling, true);
  await until(() => !pa.session.polling, 'the Final');
  assert.equal(pa.info().txIntervalMs, 80);
  await until(() => pb.info().detectionTimeMs === 400, 'the peer to use 5 × 80 ms');
  assert.equal(pa.state, 'Up');
  assert.equal(pb.state, 'Up');
});

test('hostile datagrams are dropped and counted; the session stays Up', async (t) => {
  const { a, b, pa, pb } = await pair(4);
  t.after(() => Promise.all([a.close(), b.close()]));
  await Promise.all([once(pa, 'up'), once(pb, 'up')]);
  const port = await a.listen(4);
  const s = dgram.createSocket('udp4');
  t.after(() => s.close());
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  s.setTTL(255); // past the kernel's TTL filter: these reach the parser
  const junk = [
    Buffer.alloc(0),
    Buffer.from('ffffffff', 'hex'),
    Buffer.from('2040031800000001000000000000000000000000000000', 'hex'), // 23 of 24 bytes
    Buffer.from('20c003180000000100bad0bd000f4240000f424000000000', 'hex'), // Up, unknown Your Discriminator
    Buffer.from('208003180000000100000000000f4240000f424000000000', 'hex'), // Init with Your Discriminator 0
    Buffer.from('204403180000000100000000000f4240000f424000000000', 'hex'), // A bit, Length 24
  ];
  for (const j of junk) s.send(j, port, '127.0.0.1');
  await until(
    () => [...a.drops.values()].reduce((x, y) => x + y, 0) >= junk.length,
    'every datagram counted',
  );
  assert.equal(a.drops.get('unknown-discriminator'), 1);
  assert.equal(a.drops.get('your-discriminator-zero'), 1);
  assert.equal(a.drops.get('bad-length'), 1);
  assert.equal(pa.state, 'Up');
});

test('passive end: says nothing until spoken to, then comes Up', async (t) => {
  const { a, b, pa, pb } = await pair(4, { ...fast, passive: true }, fast);
  t.after(() => Promise.all([a.close(), b.close()]));
  await Promise.all([once(pa, 'up'), once(pb, 'up')]);
  assert.equal(pa.state, 'Up');
});

test('bad input: an address that is not an IP, a duplicate peer, and mixed families are refused with the value', async (t) => {
  const a = new BfdServer({ log, port: 0 });
  t.after(() => a.close());
  await assert.rejects(
    a.add({ peer: 'router1', params: fast }),
    /peer "router1" is not an IPv4 or IPv6 address/,
  );
  await assert.rejects(a.add({ peer: '127.0.0.1', local: '::1', params: fast }), /not the same family/);
  await a.add({ peer: '127.0.0.9', params: fast, port: 9 });
  await assert.rejects(a.add({ peer: '127.0.0.9', params: fast }), /127\.0\.0\.9 already exists/);
});

test('dgramFd finds the fd of a bound socket', async (t) => {
  const s = dgram.createSocket('udp4');
  t.after(() => s.close());
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const fd = dgramFd(s);
  assert.equal(typeof fd, 'number');
  assert.ok(fd! > 2);
});

test('sync: adds, re-parameterizes in place (Poll), toggles AdminDown and removes sessions', async (t) => {
  const a = new BfdServer({ log, port: 0 });
  const b = new BfdServer({ log, port: 0 });
  t.after(() => Promise.all([a.close(), b.close()]));
  const [portA, portB] = [await a.listen(4), await b.listen(4)];
  const bCfg = { peer: '127.0.0.1', local: '127.0.0.2', port: portA, params: fast };
  await b.add(bCfg);
  const first = await a.sync([
    { peer: '127.0.0.2', local: '127.0.0.1', port: portB, params: fast },
    { peer: 'not-an-ip', params: fast },
  ]);
  assert.deepEqual(first.errors, ['bfd: peer "not-an-ip" is not an IPv4 or IPv6 address']);
  const [pa] = first.peers;
  await once(pa!, 'up');
  await until(() => !pa!.session.polling, 'the first Poll to end');

  const slower = { ...fast, transmitIntervalMs: 100, receiveIntervalMs: 100 };
  const second = await a.sync([{ peer: '127.0.0.2', local: '127.0.0.1', port: portB, params: slower }]);
  assert.equal(second.peers[0], pa, 'same session object: parameters changed in place');
  await until(() => !pa!.session.polling && pa!.info().txIntervalMs === 100, 'the Poll for 100 ms');
  assert.equal(pa!.state, 'Up');

  await a.sync([{ peer: '127.0.0.2', local: '127.0.0.1', port: portB, params: slower, adminDown: true }]);
  assert.equal(pa!.state, 'AdminDown');
  const pb = b.peers()[0]!;
  await until(() => pb.state === 'Down' && pb.session.localDiag === 3, 'the peer to see AdminDown');

  await a.sync([]);
  assert.deepEqual(a.peers(), []);
});

test('guardTtl is applied to each receive and transmit socket with its fd, family and 255', async (t) => {
  const calls: Array<[number, number, number]> = [];
  const a = new BfdServer({
    log,
    port: 0,
    guardTtl: (fd, family, ttl) => void calls.push([fd, family, ttl]),
  });
  t.after(() => a.close());
  await a.listen(4);
  await a.listen(6);
  assert.equal(calls.length, 2);
  assert.deepEqual(
    calls.map(([fd, family, ttl]) => [typeof fd, fd > 2, family, ttl]),
    [
      ['number', true, 4, 255],
      ['number', true, 6, 255],
    ],
  );
  await a.add({ peer: '127.0.0.9', local: '127.0.0.1', params: fast, port: 9 });
  assert.deepEqual(calls[2]?.slice(1), [4, 255], 'the transmit socket too');
});

test('a TTL guard that cannot be attached is logged once and BFD still runs (no crash)', async (t) => {
  const warnings: string[] = [];
  const warnLog = pino(
    { level: 'warn' },
    { write: (l: string) => void warnings.push((JSON.parse(l) as { msg: string }).msg) },
  );
  const a = new BfdServer({
    log: warnLog,
    port: 0,
    guardTtl: () => {
      throw new Error('addon missing');
    },
  });
  const b = new BfdServer({ log, port: 0 });
  t.after(() => Promise.all([a.close(), b.close()]));
  const [portA, portB] = [await a.listen(4), await b.listen(4)];
  const pa = await a.add({ peer: '127.0.0.2', local: '127.0.0.1', port: portB, params: fast });
  await b.add({ peer: '127.0.0.1', local: '127.0.0.2', port: portA, params: fast });
  await once(pa, 'up');
  assert.deepEqual(warnings, [
    'bfd: received TTL not enforced (addon missing); RFC 5881 §5 wants only TTL 255 accepted',
  ]);
});

test('ttlFilter: IPv4 TTL at SKF_NET_OFF+8, IPv6 Hop Limit at +7, accept only the value; bad TTL refused', () => {
  assert.deepEqual(ttlFilter(4, 255), [
    { code: 0x30, jt: 0, jf: 0, k: 0xfff00008 },
    { code: 0x15, jt: 0, jf: 1, k: 255 },
    { code: 0x06, jt: 0, jf: 0, k: 0xffffffff },
    { code: 0x06, jt: 0, jf: 0, k: 0 },
  ]);
  assert.equal(ttlFilter(6, 255)[0]!.k, 0xfff00007);
  assert.throws(() => ttlFilter(4, 256), /TTL 256 is invalid: an integer in 0\.\.255/);
});

for (const [family, host] of [
  [4, '127.0.0.1'],
  [6, '::1'],
] as const) {
  test(`default TTL guard over IPv${family} loopback: TTL 254 dropped in the kernel (socket drops), 255 parsed`, async (t) => {
    const a = new BfdServer({ log, port: 0 });
    t.after(() => a.close());
    const port = await a.listen(family);
    const s = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
    t.after(() => s.close());
    await new Promise<void>((r) => s.bind(0, host, r));
    const junk = Buffer.from('ffffffff', 'hex'); // reaches the parser only if the kernel lets it through
    const drops = () => [...a.drops.values()].reduce((x, y) => x + y, 0);
    const kernelDrops = () => udpSocketDrops(family, port);
    const before = kernelDrops();
    s.setTTL(254);
    for (let i = 0; i < 3; i++) s.send(junk, port, host);
    await until(() => kernelDrops() >= before + 3, 'the kernel to drop the three TTL 254 datagrams');
    assert.equal(drops(), 0, 'nothing with TTL 254 reached the parser');
    s.setTTL(255);
    s.send(junk, port, host);
    await until(() => drops() === 1, 'the TTL 255 datagram to be parsed (and dropped as bad)');
    assert.equal(kernelDrops(), before + 3);
  });
}

/** The `drops` column of /proc/net/udp(6) for the socket bound to local `port`. */
function udpSocketDrops(family: 4 | 6, port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync(family === 4 ? '/proc/net/udp' : '/proc/net/udp6', 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1]?.endsWith(`:${hex}`)) return Number(f[f.length - 1]);
  }
  return -1;
}

test('unnumbered entries (peer "" + ifname): the session starts once the router is found on the interface, retried until then; it keeps its router while RAs are missing', async (t) => {
  let router: string | undefined;
  const asked: string[] = [];
  const a = new BfdServer({
    log,
    port: 0,
    unnumberedRetryMs: 20,
    findRouter: (ifname) => {
      asked.push(ifname);
      return router;
    },
    localLinkLocal: () => '::1',
  });
  t.after(() => a.close());
  const first = await a.sync([{ peer: '', ifname: 'lo', params: fast }]);
  assert.deepEqual(
    [first.peers.length, first.errors],
    [0, []],
    'nothing yet, and no error: the router is not known',
  );
  assert.deepEqual(asked, ['lo']);
  router = '::1%lo'; // what routerLinkLocal returns: the RA-learned gateway with its zone
  await until(() => a.peers().length === 1, 'the retried sync to add the session');
  const p = a.peers()[0]!;
  assert.deepEqual([p.peer, p.ifname, p.local], ['::1', 'lo', '::1']);
  // The router's RAs stop (or the route expires): the session stays, BFD decides whether the router is up.
  router = undefined;
  const again = await a.sync([{ peer: '', ifname: 'lo', params: fast }]);
  assert.deepEqual([again.errors, a.peers()], [[], [p]]);
  // Not wanted any more: removed.
  await a.sync([]);
  assert.deepEqual(a.peers(), []);
});

test('sync: a local address not usable yet (EADDRNOTAVAIL, e.g. a link-local during DAD) is retried; a bad entry is not', async (t) => {
  const a = new BfdServer({ log, port: 0, unnumberedRetryMs: 20 });
  t.after(() => a.close());
  await a.listen(4);
  const realSync = a.sync.bind(a);
  let calls = 0;
  a.sync = (d) => {
    calls++;
    return realSync(d);
  };
  // 192.0.2.77 is on no interface of this host: bind() fails with EADDRNOTAVAIL, as for a tentative IPv6 address.
  const first = await a.sync([{ peer: '127.0.0.1', local: '192.0.2.77', port: 9, params: fast }]);
  assert.equal(first.errors.length, 1);
  assert.match(first.errors[0]!, /EADDRNOTAVAIL/);
  await until(() => calls >= 3, 'the sync to be retried');

  const b = new BfdServer({ log, port: 0, unnumberedRetryMs: 20 });
  t.after(() => b.close());
  const realB = b.sync.bind(b);
  let bCalls = 0;
  b.sync = (d) => {
    bCalls++;
    return realB(d);
  };
  const bad = await b.sync([{ peer: 'not-an-ip', params: fast }]);
  assert.equal(bad.errors.length, 1);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(bCalls, 1, 'a refused entry is not retried');
});
