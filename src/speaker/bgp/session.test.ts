// The session edge against a tiny BGP peer on loopback (no root): establishment, the Adj-RIB-Out batched into
// UPDATEs with End-of-RIB, replay after a reset, RFC 7606 treat-as-withdraw without a reset, NOTIFICATIONs for a bad
// header and a bad peer AS, and the hold timer on an injected clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { pino } from 'pino';
import { FakeClock } from '../../kube/clock.ts';
import { BgpSession, downText, routerIdFor, type BgpSessionOptions, type SessionDown } from './session.ts';
import {
  CeaseSubcode,
  KEEPALIVE,
  community,
  decodeStream,
  encode,
  endOfRibFamily,
  findAttribute,
  formatPrefix,
  newNotification,
  newOpen,
  announcedPrefixes,
  withdrawnPrefixes,
  type BgpMessage,
  type Capability,
  type CodecContext,
  type UpdateMessage,
} from './wire/index.ts';

const log = pino({ level: 'silent' });
const CTX: CodecContext = { fourOctetAs: true };

/** A scripted peer: answers our OPEN with its own (AS `asn`) + KEEPALIVE, records everything it receives. */
class Peer {
  readonly server: net.Server;
  readonly got: BgpMessage[] = [];
  sockets: net.Socket[] = [];
  connections = 0;
  asn = 64501;
  ctx: CodecContext = CTX;
  /** Capabilities the peer's OPEN carries besides IPv4/IPv6 unicast. */
  extraCapabilities: Capability[] = [];
  #waiters: Array<() => void> = [];

  constructor() {
    this.server = net.createServer((s) => {
      this.connections++;
      this.sockets.push(s);
      let buf = Buffer.alloc(0);
      s.on('error', () => {});
      s.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        const r = decodeStream(buf, this.ctx);
        buf = Buffer.from(r.rest);
        for (const m of r.messages) {
          this.got.push(m);
          if (m.type === 'open') {
            s.write(
              encode(
                newOpen({
                  asn: this.asn,
                  holdTime: 9,
                  bgpIdentifier: '198.51.100.1',
                  capabilities: [
                    { type: 'multiprotocol', afi: 1, safi: 1 },
                    { type: 'multiprotocol', afi: 2, safi: 1 },
                    ...this.extraCapabilities,
                  ],
                }),
                CTX,
              ),
            );
            s.write(encode(KEEPALIVE, CTX));
          }
        }
        for (const w of this.#waiters.splice(0)) w();
      });
    });
  }

  async listen(host = '127.0.0.1'): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, host, r));
    return (this.server.address() as net.AddressInfo).port;
  }

  get last(): net.Socket {
    return this.sockets[this.sockets.length - 1]!;
  }

  updates(): UpdateMessage[] {
    return this.got.filter((m): m is UpdateMessage => m.type === 'update');
  }

  /** Waits until `f()` holds (re-checked on every message received); fails after 5 s with `what`. */
  async until(f: () => boolean, what: string): Promise<void> {
    const end = Date.now() + 5000;
    while (!f()) {
      if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }
}

async function setup(t: test.TestContext, o: Partial<BgpSessionOptions> = {}) {
  const peer = new Peer();
  const port = await peer.listen();
  const session = new BgpSession({
    peerAddress: '127.0.0.1',
    peerPort: port,
    localAsn: 64500,
    peerAsn: 64501,
    holdTime: 9,
    nextHopV6: '2001:db8::2',
    backoffMs: 20,
    log,
    ...o,
  });
  const downs: SessionDown[] = [];
  session.on('down', (d: SessionDown) => downs.push(d));
  t.after(async () => {
    await session.stop();
    peer.close();
  });
  return { peer, session, downs };
}

const announced = (us: UpdateMessage[]) => us.flatMap((u) => announcedPrefixes(u).map(formatPrefix));
const withdrawn = (us: UpdateMessage[]) => us.flatMap((u) => withdrawnPrefixes(u).map(formatPrefix));
const eors = (us: UpdateMessage[]) => us.flatMap((u) => (endOfRibFamily(u) ? [endOfRibFamily(u)!.afi] : []));

test('establishes, sends the Adj-RIB-Out with eBGP attributes, then End-of-RIB per family', async (t) => {
  const { peer, session } = await setup(t);
  session.announce('198.51.100.10/32', { communities: [community(64500, 100)], localPref: 300 });
  session.announce('198.51.100.11/32', { communities: [community(64500, 100)], localPref: 300 });
  session.announce('2001:db8:100::10/128', {
    largeCommunities: [{ globalAdministrator: 64500, localData1: 1, localData2: 2 }],
  });
  assert.equal(session.stats().pendingPrefixes, 3);
  const up = new Promise((r) => session.once('established', r));
  session.start();
  await up;
  assert.equal(session.state, 'Established');
  await peer.until(() => eors(peer.updates()).length === 2, 'two End-of-RIBs');
  const us = peer.updates();
  assert.deepEqual(announced(us).sort(), ['198.51.100.10/32', '198.51.100.11/32', '2001:db8:100::10/128']);
  assert.equal(us.length, 4, 'one UPDATE for both IPv4 prefixes (same attributes), one IPv6, two End-of-RIB');
  const v4 = us.find((u) => u.nlri.length > 0)!;
  assert.deepEqual(findAttribute(v4.attributes, 'AS_PATH')?.segments, [
    { type: 'AS_SEQUENCE', asns: [64500] },
  ]);
  assert.equal(findAttribute(v4.attributes, 'NEXT_HOP')?.nextHop, '127.0.0.1', 'next hop = local address');
  assert.deepEqual(findAttribute(v4.attributes, 'COMMUNITIES')?.communities, [community(64500, 100)]);
  assert.equal(findAttribute(v4.attributes, 'LOCAL_PREF'), undefined, 'no LOCAL_PREF on eBGP');
  const v6 = us.find((u) => findAttribute(u.attributes, 'MP_REACH_NLRI'))!;
  assert.equal(findAttribute(v6.attributes, 'MP_REACH_NLRI')?.nextHop, '2001:db8::2');
  assert.ok(findAttribute(v6.attributes, 'LARGE_COMMUNITY'));
  const open = peer.got.find((m) => m.type === 'open');
  assert.ok(open?.type === 'open' && open.bgpIdentifier === '127.0.0.1' && open.holdTime === 9);
  assert.deepEqual(
    { ...session.stats(), updateErrors: undefined, lastDown: undefined },
    {
      ...session.stats(),
      updateErrors: undefined,
      lastDown: undefined,
      announcedPrefixes: 3,
      pendingPrefixes: 0,
      up: true,
      updatesSent: 4,
    },
  );

  // Changes in one turn go out batched: a withdraw and two announces → one withdraw UPDATE, one announce UPDATE.
  const before = peer.updates().length;
  session.withdraw('198.51.100.11/32');
  session.announce('203.0.113.7/32', { communities: [community(64500, 100)], localPref: 300 });
  session.announce('203.0.113.8/32', { communities: [community(64500, 100)], localPref: 300 });
  session.announce('198.51.100.10/32', { communities: [community(64500, 100)], localPref: 300 }); // unchanged: not re-sent
  await peer.until(() => peer.updates().length >= before + 2, 'the batched UPDATEs');
  await new Promise((r) => setTimeout(r, 50));
  const more = peer.updates().slice(before);
  assert.equal(more.length, 2);
  assert.deepEqual(withdrawn(more), ['198.51.100.11/32']);
  assert.deepEqual(announced(more).sort(), ['203.0.113.7/32', '203.0.113.8/32']);
  assert.equal(session.stats().announcedPrefixes, 4);
});

test('flush() sends the changes before returning, every UPDATE of one flush in a single socket write', async (t) => {
  // The socket the session dials, with its writes counted (_write: one chunk, _writev: a corked batch).
  const writes: number[] = [];
  const { peer, session } = await setup(t, {
    openSocket: () => {
      const s = new net.Socket();
      const sock = s as unknown as {
        _write: (...a: unknown[]) => void;
        _writev: (chunks: unknown[], cb: unknown) => void;
      };
      const w = sock._write.bind(s);
      const wv = sock._writev.bind(s);
      sock._write = (...a: unknown[]) => (writes.push(1), w(...a));
      sock._writev = (chunks: unknown[], cb: unknown) => (writes.push(chunks.length), wv(chunks, cb));
      return s;
    },
  });
  const up = new Promise((r) => session.once('established', r));
  session.start();
  await up;
  await peer.until(() => eors(peer.updates()).length === 2, 'End-of-RIB');
  // 2,000 IPv6 /128 with one attribute set: several UPDATEs (4,096 bytes each at most).
  const prefixes = Array.from({ length: 2000 }, (_, i) => `2001:db8:100::${(i + 1).toString(16)}/128`);
  for (const p of prefixes) session.announce(p, { communities: [community(64500, 100)] });
  const before = writes.length;
  const sent = session.stats().updatesSent;
  session.flush();
  assert.equal(session.stats().pendingPrefixes, 0, 'nothing left pending once flush() returns');
  const n = session.stats().updatesSent - sent;
  assert.ok(n > 1, `the 2,000 prefixes take several UPDATEs (got ${n})`);
  assert.deepEqual(writes.slice(before), [n], `one writev of the ${n} UPDATEs`);
  await peer.until(() => announced(peer.updates()).length === 2000, 'the 2,000 prefixes');
  assert.deepEqual(announced(peer.updates()).sort(), [...prefixes].sort());
  session.flush();
  assert.equal(session.stats().updatesSent - sent, n, 'a flush with nothing changed sends nothing');
});

test('changes undone before the flush send nothing; an attribute change is re-sent; stats count what the peer has', async (t) => {
  const { peer, session } = await setup(t);
  const c100 = { communities: [community(64500, 100)] };
  session.announce('198.51.100.10/32', c100);
  session.announce('198.51.100.11/32', c100);
  const up = new Promise((r) => session.once('established', r));
  session.start();
  await up;
  await peer.until(() => eors(peer.updates()).length === 2, 'End-of-RIB');
  const sent = session.stats().updatesSent;
  // Withdrawn then announced again with equal attributes (another object), changed and changed back, a prefix
  // announced and withdrawn: the peer already has the result, nothing is sent.
  session.withdraw('198.51.100.10/32');
  session.announce('198.51.100.10/32', { communities: [community(64500, 100)] });
  session.announce('198.51.100.11/32', { communities: [community(64500, 200)] });
  session.announce('198.51.100.11/32', c100);
  session.announce('198.51.100.12/32', c100);
  session.withdraw('198.51.100.12/32');
  assert.deepEqual([session.stats().announcedPrefixes, session.stats().pendingPrefixes], [2, 0]);
  session.flush();
  assert.equal(session.stats().updatesSent, sent, 'nothing sent');
  // A real change: new attributes for .11, .10 withdrawn; before the flush the peer still has both.
  session.announce('198.51.100.11/32', { communities: [community(64500, 200)] });
  session.withdraw('198.51.100.10/32');
  assert.deepEqual([session.stats().announcedPrefixes, session.stats().pendingPrefixes], [2, 1]);
  const before = peer.updates().length;
  session.flush();
  assert.deepEqual([session.stats().announcedPrefixes, session.stats().pendingPrefixes], [1, 0]);
  await peer.until(() => peer.updates().length >= before + 2, 'the withdraw and the new attributes');
  const more = peer.updates().slice(before);
  assert.deepEqual(withdrawn(more), ['198.51.100.10/32']);
  assert.deepEqual(announced(more), ['198.51.100.11/32']);
  assert.deepEqual(findAttribute(more.find((u) => u.nlri.length > 0)!.attributes, 'COMMUNITIES')?.communities, [community(64500, 200)]);
});

test('iBGP: empty AS_PATH and LOCAL_PREF', async (t) => {
  const { peer, session } = await setup(t, { peerAsn: 64501, localAsn: 64501, routerId: '198.51.100.2' });
  peer.ctx = { fourOctetAs: true, ibgp: true };
  session.announce('198.51.100.10/32', { localPref: 300 });
  session.start();
  await peer.until(() => eors(peer.updates()).length === 2, 'End-of-RIB');
  const v4 = peer.updates().find((u) => u.nlri.length > 0)!;
  assert.deepEqual(findAttribute(v4.attributes, 'AS_PATH')?.segments, []);
  assert.equal(findAttribute(v4.attributes, 'LOCAL_PREF')?.localPref, 300);
});

test('dynamicASN: the AS in the peer OPEN decides eBGP (AS_PATH [ours]) or iBGP (empty AS_PATH, LOCAL_PREF)', async (t) => {
  for (const [mode, peerAs, path, lp] of [
    ['external', 64501, [{ type: 'AS_SEQUENCE', asns: [64500] }], undefined],
    ['internal', 64500, [], 300],
  ] as const) {
    const { peer, session } = await setup(t, {
      peerAsn: 0,
      dynamicAsn: mode,
      routerId: '198.51.100.2',
    });
    peer.asn = peerAs;
    if (mode === 'internal') peer.ctx = { fourOctetAs: true, ibgp: true };
    session.announce('198.51.100.10/32', { localPref: 300 });
    const up = new Promise<{ peerAsn: number }>((r) => session.once('established', r));
    session.start();
    assert.equal((await up).peerAsn, peerAs, `${mode}: established reports the peer's AS`);
    await peer.until(() => eors(peer.updates()).length === 2, `${mode}: End-of-RIB`);
    const v4 = peer.updates().find((u) => u.nlri.length > 0)!;
    assert.deepEqual(findAttribute(v4.attributes, 'AS_PATH')?.segments, path, mode);
    assert.equal(findAttribute(v4.attributes, 'LOCAL_PREF')?.localPref, lp, mode);
    await session.stop();
  }
});

test('localASN: OPEN and AS_PATH carry the per-peer local AS only (replace-as), never myASN', async (t) => {
  const { peer, session } = await setup(t, { localAsn: 64510, routerAsn: 64500, peerAsn: 64501 });
  session.announce('198.51.100.10/32');
  session.start();
  await peer.until(() => eors(peer.updates()).length === 2, 'End-of-RIB');
  const open = peer.got.find((m) => m.type === 'open');
  assert.ok(open?.type === 'open' && open.myAutonomousSystem === 64510);
  const v4 = peer.updates().find((u) => u.nlri.length > 0)!;
  assert.deepEqual(findAttribute(v4.attributes, 'AS_PATH')?.segments, [
    { type: 'AS_SEQUENCE', asns: [64510] },
  ]);
});

test('vrf: the device reaches the socket factory before connect; a bad device name is refused', async (t) => {
  const seen: Array<string | undefined> = [];
  const { peer, session } = await setup(t, {
    device: 'vrf-blue',
    openSocket: (o) => {
      seen.push(o.device);
      return new net.Socket();
    },
  });
  session.start();
  await peer.until(() => peer.got.some((m) => m.type === 'open'), 'the OPEN');
  assert.deepEqual(seen, ['vrf-blue']);
  assert.throws(
    () => new BgpSession({ peerAddress: '127.0.0.1', localAsn: 1, peerAsn: 2, device: 'a/b', log }),
    /device "a\/b" must be an interface or VRF name/,
  );
});

test('RFC 7606: a treat-as-withdraw UPDATE keeps the session; a bad header resets it with its NOTIFICATION, then the table is replayed', async (t) => {
  const { peer, session, downs } = await setup(t);
  session.announce('198.51.100.10/32');
  session.start();
  await peer.until(() => eors(peer.updates()).length === 2, 'End-of-RIB');
  // A valid UPDATE from the peer, then the same with ORIGIN = 5 (RFC 7606 §7.1: treat-as-withdraw).
  const good = encode(
    {
      type: 'update',
      withdrawnRoutes: [],
      nlri: [{ prefix: '203.0.113.0', length: 24 }],
      attributes: [
        { type: 'ORIGIN', origin: 'IGP' },
        { type: 'AS_PATH', segments: [{ type: 'AS_SEQUENCE', asns: [64501] }] },
        { type: 'NEXT_HOP', nextHop: '198.51.100.1' },
      ],
    },
    CTX,
  );
  const bad = Buffer.from(good);
  const at = bad.indexOf(Buffer.from([0x40, 0x01, 0x01, 0x00]));
  assert.ok(at > 0);
  bad[at + 3] = 5;
  peer.last.write(Buffer.concat([good, bad]));
  const until = async (f: () => boolean, what: string) => {
    const end = Date.now() + 5000;
    while (!f()) {
      if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await until(() => session.stats().updatesReceived === 2, 'two UPDATEs received');
  assert.equal(session.stats().updateErrors.get('treat-as-withdraw'), 1);
  assert.equal(session.state, 'Established');
  assert.equal(downs.length, 0);

  // A message whose marker is not all ones: Message Header Error / Connection Not Synchronized, session reset.
  const broken = encode(KEEPALIVE, CTX);
  broken[0] = 0;
  const sentBefore = peer.updates().length;
  peer.last.write(broken);
  await until(() => downs.length === 1, 'the reset');
  assert.equal(downs[0]!.reason, 'decode-error');
  assert.equal(downs[0]!.wasEstablished, true);
  await peer.until(() => peer.got.some((m) => m.type === 'notification'), 'the NOTIFICATION');
  const n = peer.got.find((m) => m.type === 'notification');
  assert.ok(n?.type === 'notification' && n.code === 1 && n.subcode === 1, JSON.stringify(n));
  // Back off 20 ms, reconnect, replay the table.
  await peer.until(
    () => peer.connections === 2 && announced(peer.updates().slice(sentBefore)).includes('198.51.100.10/32'),
    'the replay',
  );
  assert.equal(session.stats().establishedCount, 2);
});

test('a peer with the wrong AS gets OPEN Message Error / Bad Peer AS', async (t) => {
  const { peer, session, downs } = await setup(t);
  peer.asn = 64999;
  session.start();
  await peer.until(() => peer.got.some((m) => m.type === 'notification'), 'the NOTIFICATION');
  const n = peer.got.find((m) => m.type === 'notification');
  assert.ok(n?.type === 'notification' && n.code === 2 && n.subcode === 2);
  assert.equal(downs[0]?.reason, 'bad-peer-as');
  assert.match(downs[0]!.text, /peer AS 64999 is not the configured peerASN 64501/);
});

test('a NOTIFICATION from the peer takes the session down with its text', async (t) => {
  const { peer, session, downs } = await setup(t);
  session.start();
  await new Promise((r) => session.once('established', r));
  peer.last.write(encode(newNotification(6, 2, { shutdownCommunication: 'maintenance' }), CTX));
  await new Promise((r) => session.once('down', r));
  assert.equal(downs[0]!.reason, 'notification-received');
  assert.match(downs[0]!.text, /Cease\/AdministrativeShutdown: "maintenance"/);
  assert.equal(session.stats().notificationsReceived, 1);
});

test('hold timer (injected clock): a silent peer gets Hold Timer Expired after the negotiated 9 s', async (t) => {
  const clock = new FakeClock();
  const { peer, session, downs } = await setup(t, { clock });
  session.start();
  await new Promise((r) => session.once('established', r));
  await clock.advance(8000);
  assert.equal(session.state, 'Established');
  assert.ok(peer.got.filter((m) => m.type === 'keepalive').length >= 3, 'keepalives every 3 s');
  await clock.advance(1500);
  await peer.until(() => peer.got.some((m) => m.type === 'notification'), 'the NOTIFICATION');
  const n = peer.got.find((m) => m.type === 'notification');
  assert.ok(n?.type === 'notification' && n.code === 4);
  assert.equal(downs[0]!.reason, 'hold-timer-expired');
});

test('connect failures back off and retry; stop() ends the retries', async (t) => {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const { session, downs } = await setup(t, { peerPort: port });
  session.start();
  const end = Date.now() + 5000;
  while (downs.length < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  assert.ok(downs.length >= 3, `retried (${downs.length} attempts)`);
  assert.ok(downs.every((d) => d.reason === 'connect-failed' && !d.wasEstablished));
  await session.stop();
  const n = downs.length;
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(downs.length, n, 'no retry after stop');
  assert.equal(session.state, 'Idle');
});

test('router ID rules and option errors', () => {
  assert.equal(routerIdFor('198.51.100.2', 'n1'), '198.51.100.2');
  const h = routerIdFor('2001:db8:ffff::99', 'node-a');
  assert.match(h, /^\d+\.\d+\.\d+\.\d+$/);
  assert.equal(routerIdFor('2001:db8:ffff::99', 'node-a'), h, 'stable per node name');
  assert.notEqual(routerIdFor('2001:db8:ffff::99', 'node-b'), h);
  assert.throws(
    () => new BgpSession({ peerAddress: 'x', localAsn: 1, peerAsn: 2, log }),
    /peerAddress "x" is not an IP address/,
  );
  assert.throws(
    () => new BgpSession({ peerAddress: '198.51.100.1', localAsn: 1, peerAsn: 2, holdTime: 2, log }),
    /holdTime 2/,
  );
  assert.throws(
    () => new BgpSession({ peerAddress: '198.51.100.1', localAsn: 1, peerAsn: 2, peerPort: 0, log }),
    /peerPort 0/,
  );
});

test('passive: a connection handed in with incoming() is answered and established; a second one is refused', async (t) => {
  const session = new BgpSession({
    peerAddress: '127.0.0.1',
    localAsn: 64500,
    peerAsn: 64501,
    holdTime: 9,
    passive: true,
    families: ['ipv4'],
    log,
  });
  const server = net.createServer((s) => session.incoming(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const clients: net.Socket[] = [];
  t.after(async () => {
    await session.stop();
    for (const c of clients) c.destroy();
    server.close();
  });
  session.announce('198.51.100.10/32');
  session.start();
  assert.equal(session.state, 'Active');
  const got: BgpMessage[] = [];
  const client = net.connect(port, '127.0.0.1');
  clients.push(client);
  let buf = Buffer.alloc(0);
  client.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    const r = decodeStream(buf, CTX);
    buf = Buffer.from(r.rest);
    for (const m of r.messages) {
      got.push(m);
      if (m.type === 'open') {
        client.write(encode(newOpen({ asn: 64501, holdTime: 9, bgpIdentifier: '198.51.100.1' }), CTX));
        client.write(encode(KEEPALIVE, CTX));
      }
    }
  });
  await new Promise((r) => session.once('established', r));
  const end = Date.now() + 5000;
  while (!got.some((m) => m.type === 'update' && m.nlri.length > 0) && Date.now() < end)
    await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(announced(got.filter((m): m is UpdateMessage => m.type === 'update')), [
    '198.51.100.10/32',
  ]);
  const second = net.connect(port, '127.0.0.1');
  clients.push(second);
  await new Promise((r) => second.once('close', r));
  assert.equal(session.state, 'Established', 'the second connection did not disturb the session');
});

/**
 * A Clock whose due sleeps the test wakes with `fire`: the session's timer work then runs as microtasks, before the
 * event loop polls the socket again — as after a SIGSTOP/SIGCONT, where libuv runs overdue timers before reading.
 */
class ManualClock {
  #now = 0;
  #sleeps: Array<{ at: number; resolve: () => void }> = [];
  now(): number {
    return this.#now;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const s = { at: this.#now + ms, resolve };
      this.#sleeps.push(s);
      signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  }
  /** Moves time forward by `ms` and wakes every sleep now due, in deadline order (synchronously). */
  fire(ms: number): void {
    this.#now += ms;
    const due = this.#sleeps.filter((s) => s.at <= this.#now).sort((a, b) => a.at - b.at);
    this.#sleeps = this.#sleeps.filter((s) => s.at > this.#now);
    for (const s of due) s.resolve();
  }
}

/** Blocks the thread (no event-loop turn) so loopback segments sent just before are processed by the kernel. */
function blockMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Lets queued microtasks (timer callbacks woken by ManualClock.fire, and their writes) run, without polling I/O. */
async function microtasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

for (const [how, end] of [
  ['resets the connection (RST)', (s: net.Socket) => s.resetAndDestroy()],
  ['closes the connection (FIN)', (s: net.Socket) => s.destroy()],
] as const) {
  test(`a peer that sends a NOTIFICATION and ${how} while we write: the NOTIFICATION is the reason, not the write error`, async (t) => {
    const clock = new ManualClock();
    const { peer, session, downs } = await setup(t, { clock });
    session.start();
    await new Promise((r) => session.once('established', r));
    // The peer says why and goes away; nothing of it is read before the session's timers write into the dead socket.
    peer.last.write(encode(newNotification(6, 2, { shutdownCommunication: 'maintenance window 42' }), CTX));
    end(peer.last);
    blockMs(30);
    clock.fire(3000); // keepalive: the first write (FIN case: answered with an RST)
    await microtasks();
    blockMs(30);
    clock.fire(3000); // keepalive again: EPIPE / ECONNRESET now in every case
    await microtasks();
    if (downs.length === 0) await new Promise((r) => session.once('down', r));
    assert.equal(downs[0]!.reason, 'notification-received', downs[0]!.text);
    assert.match(downs[0]!.text, /Cease\/AdministrativeShutdown: "maintenance window 42"/);
    assert.equal(downs[0]!.notification?.direction, 'received');
    assert.equal(session.stats().notificationsReceived, 1);
  });
}

test("after a stall (SIGSTOP/SIGCONT) the peer's NOTIFICATION wins over our overdue hold timer", async (t) => {
  const clock = new ManualClock();
  const { peer, session, downs } = await setup(t, { clock });
  session.start();
  await new Promise((r) => session.once('established', r));
  // The peer's hold timer expired while we were stopped: it sent Hold Timer Expired and closed.
  peer.last.write(encode(newNotification(4, 0), CTX));
  peer.last.destroy();
  blockMs(30);
  clock.fire(10_000); // on SIGCONT libuv runs the overdue keepalive and hold timers before it reads the socket
  await microtasks();
  if (downs.length === 0) await new Promise((r) => session.once('down', r));
  assert.equal(downs[0]!.reason, 'notification-received', downs[0]!.text);
  assert.match(downs[0]!.text, /NOTIFICATION received: HoldTimerExpired/);
  assert.ok(!peer.got.some((m) => m.type === 'notification'), 'we sent no Hold Timer Expired of our own');
});

test("stop() (BFD down after a stall) reports the peer's queued NOTIFICATION, and still stops", async (t) => {
  const clock = new ManualClock();
  const { peer, session, downs } = await setup(t, { clock });
  session.start();
  await new Promise((r) => session.once('established', r));
  peer.last.write(encode(newNotification(6, 10), CTX)); // Cease / BFD Down (RFC 9384)
  peer.last.destroy();
  blockMs(30);
  const stopped = session.stop('BFD down (ControlDetectionTimeExpired)', 10);
  assert.equal(downs.length, 1);
  assert.equal(downs[0]!.reason, 'notification-received', downs[0]!.text);
  assert.match(downs[0]!.text, /NOTIFICATION received: Cease\/BfdDown/);
  await stopped;
  assert.equal(session.state, 'Idle');
  clock.fire(200_000);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(peer.connections, 1, 'no reconnect after stop()');
});

test('after a stall, KEEPALIVEs the peer sent meanwhile restart the hold timer instead of our overdue one firing', async (t) => {
  const clock = new ManualClock();
  const { peer, session, downs } = await setup(t, { clock });
  session.start();
  await new Promise((r) => session.once('established', r));
  peer.last.write(encode(KEEPALIVE, CTX));
  blockMs(30);
  clock.fire(9500); // hold time 9 s: due, but a KEEPALIVE is queued unread
  await microtasks();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(session.state, 'Established');
  assert.deepEqual(downs, []);
  assert.ok(!peer.got.some((m) => m.type === 'notification'), 'no Hold Timer Expired sent');
});

test('interface (unnumbered): dials the router found on the interface, sends RAs while started, IPv4 routes with the IPv6 next hop once Extended Next Hop is agreed (RFC 8950)', async (t) => {
  const peer = new Peer();
  const port = await peer.listen('::1');
  peer.extraCapabilities = [{ type: 'unknown', code: 5, value: Buffer.from([0, 1, 0, 1, 0, 2]) }];
  const router: { address?: string } = {};
  const asked: string[] = [];
  let announcing = 0;
  const session = new BgpSession({
    peerAddress: '',
    interface: 'bt-test0',
    peerPort: port,
    localAsn: 64500,
    peerAsn: 64501,
    holdTime: 9,
    backoffMs: 20,
    maxBackoffMs: 20,
    routerId: '198.51.100.2',
    log,
    findRouter: (ifname) => {
      asked.push(ifname);
      return router.address;
    },
    announceRouter: () => {
      announcing++;
      return { close: () => announcing-- };
    },
  });
  const downs: SessionDown[] = [];
  session.on('down', (d: SessionDown) => downs.push(d));
  t.after(async () => {
    await session.stop();
    peer.close();
  });
  session.announce('203.0.113.10/32');
  session.start();
  assert.equal(announcing, 1, 'RAs start with the session');
  // No RA from the router yet: attempts fail and back off, naming the interface.
  const end = Date.now() + 5000;
  while (downs.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  assert.match(downs[0]!.text, /no Router Advertisement seen on bt-test0 yet/);
  assert.equal(session.peerAddress, '');
  router.address = '::1';
  await new Promise((r) => session.once('established', r));
  assert.equal(session.peerAddress, '::1');
  assert.ok(asked.every((i) => i === 'bt-test0'));
  const open = peer.got.find((m) => m.type === 'open');
  assert.ok(
    open?.type === 'open' && open.capabilities.some((c) => c.type === 'unknown' && c.code === 5),
    'our OPEN offers Extended Next Hop',
  );
  await peer.until(() => announced(peer.updates()).includes('203.0.113.10/32'), 'the IPv4 route');
  const u = peer.updates().find((x) => announced([x]).includes('203.0.113.10/32'))!;
  const mp = findAttribute(u.attributes, 'MP_REACH_NLRI');
  assert.equal(mp?.afi, 1, 'IPv4 NLRI in MP_REACH_NLRI');
  assert.equal(mp?.nextHop, '::1', 'the IPv6 next hop (the local address of the session)');
  assert.equal(findAttribute(u.attributes, 'NEXT_HOP'), undefined);
  assert.deepEqual(u.nlri, []);
  await session.stop();
  assert.equal(announcing, 0, 'RAs stop with the session');
  assert.throws(
    () => new BgpSession({ peerAddress: '198.51.100.1', interface: 'eth1', localAsn: 1, peerAsn: 2, log }),
    /peerAddress "198.51.100.1" and interface "eth1" are exclusive/,
  );
  assert.throws(
    () => new BgpSession({ peerAddress: '', interface: 'eth1', passive: true, localAsn: 1, peerAsn: 2, log }),
    /passive is not supported with interface/,
  );
});

test('stop() of an established session: the down text names the Cease subcode once (fresh-user problem 4)', async (t) => {
  const { session, downs } = await setup(t);
  const up = new Promise((r) => session.once('established', r));
  session.start();
  await up;
  await session.stop(undefined, CeaseSubcode.OtherConfigurationChange);
  assert.equal(downs.length, 1);
  assert.equal(downs[0]!.reason, 'manual-stop');
  assert.equal(downs[0]!.text, 'stopped (Cease/OtherConfigurationChange)');
  assert.equal(downs[0]!.attempt, undefined, 'a stop is not a failed attempt');
});

test('downText: the NOTIFICATION once; a Shutdown Communication joins the named subcode; other details get it appended', () => {
  const cease = (subcode: number) => newNotification(6, subcode);
  assert.equal(
    downText('stopped (Cease/AdministrativeShutdown)', cease(2)),
    'stopped (Cease/AdministrativeShutdown)',
  );
  assert.equal(
    downText(
      'stopped (Cease/AdministrativeShutdown)',
      newNotification(6, 2, { shutdownCommunication: 'maintenance' }),
    ),
    'stopped (Cease/AdministrativeShutdown: "maintenance")',
  );
  assert.equal(downText('NOTIFICATION received', cease(10)), 'NOTIFICATION received: Cease/BfdDown');
  assert.equal(downText('connect ECONNREFUSED 127.0.0.1:1'), 'connect ECONNREFUSED 127.0.0.1:1');
});

test('connect failures: the first and each new error at info, warn once after warnAfterAttempts, repeats at debug (fresh-user problem 3)', async (t) => {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const lines: Array<{ level: number; msg: string; attempt?: number }> = [];
  const captured = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const { session, downs } = await setup(t, { peerPort: port, log: captured, warnAfterAttempts: 3 });
  session.start();
  const end = Date.now() + 5000;
  while (downs.length < 5 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  await session.stop();
  const failed = downs.filter((d) => d.reason === 'connect-failed');
  assert.ok(failed.length >= 5, `retried (${failed.length} attempts)`);
  assert.deepEqual(
    failed.slice(0, 5).map((d) => d.attempt),
    [1, 2, 3, 4, 5],
  );
  const attemptLines = lines.filter((l) => l.attempt !== undefined);
  const at = (n: number) => attemptLines.find((l) => l.attempt === n)!;
  assert.equal(at(1).level, 30, 'the first failure is logged at info');
  assert.match(at(1).msg, /BGP connection attempt failed: .*ECONNREFUSED/);
  assert.equal(at(2).level, 20, 'the same error again: debug');
  assert.equal(at(3).level, 40, 'warn after 3 attempts');
  assert.match(at(3).msg, /not established after 3 attempts: .*ECONNREFUSED/);
  assert.equal(at(4).level, 20);
  assert.throws(
    () => new BgpSession({ peerAddress: '127.0.0.1', localAsn: 1, peerAsn: 2, log, warnAfterAttempts: 0 }),
    /warnAfterAttempts 0 must be an integer of at least 1/,
  );
});

test('connect failures: a new error after repeats is logged at info again, naming the attempt', async (t) => {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const lines: Array<{ level: number; msg: string; attempt?: number }> = [];
  const captured = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const { session, downs } = await setup(t, { peerPort: port, log: captured, warnAfterAttempts: 100 });
  session.start();
  const until = async (cond: () => boolean) => {
    const end = Date.now() + 5000;
    while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  };
  await until(() => downs.length >= 2);
  // Now something listens on the port and hangs up at once: a different error.
  const rude = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => rude.listen(port, '127.0.0.1', r));
  t.after(() => rude.close());
  await until(() => downs.some((d) => d.reason !== 'connect-failed'));
  await session.stop();
  const changed = downs.find((d) => d.reason !== 'connect-failed')!;
  assert.ok(changed, `a different error came (${downs.map((d) => d.reason).join(', ')})`);
  const line = lines.find((l) => l.attempt === changed.attempt)!;
  assert.equal(line.level, 30, 'a change of error: info');
  assert.match(
    line.msg,
    new RegExp(`^BGP connection attempt failed \\(attempt ${changed.attempt}, new error\\): `),
  );
  assert.equal(lines.find((l) => l.attempt === 2)!.level, 20, 'the repeat before it: debug');
});

test('stop({ gracefulRestart }): a session advertising Graceful Restart closes without a NOTIFICATION (RFC 4724 §4); one without GR sends the Cease', async (t) => {
  for (const gr of [true, false]) {
    const { peer, session, downs } = await setup(t, gr ? { gracefulRestart: { restartTimeSec: 120 } } : {});
    const up = new Promise((r) => session.once('established', r));
    session.start();
    await up;
    const ended = new Promise<void>((r) => peer.last.once('close', () => r()));
    await session.stop('speaker shutting down', undefined, { gracefulRestart: true });
    await ended; // every byte the speaker wrote has been read by the peer
    const notes = peer.got.filter((m) => m.type === 'notification');
    if (gr) {
      assert.deepEqual(notes, [], 'no NOTIFICATION: the peer keeps the routes as stale');
      assert.equal(session.stats().notificationsSent, 0);
      assert.match(downs[0]!.text, /without NOTIFICATION \(graceful restart/);
    } else {
      assert.equal(notes.length, 1, 'the Cease without Graceful Restart');
      assert.ok(notes[0]!.type === 'notification' && notes[0]!.code === 6 && notes[0]!.subcode === 2);
    }
    assert.equal(downs[0]!.reason, 'manual-stop');
    assert.equal(downs.length, 1);
  }
});
