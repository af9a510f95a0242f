// Real UDP on loopback (127.0.0.2-127.0.0.9, all local on Linux), real worker threads.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { encode, heartbeatKey } from './heartbeat.ts';
import { startLiveness, type Liveness, type LivenessOptions } from './udp.ts';

const log = pino({ level: 'silent' });
const secret = Buffer.from('test-secret-0123456789-abcdefghij');

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** N speakers n1..nN on 127.0.0.2.. with free ports; extra peers (spies) may be listed too. */
async function cluster(
  n: number,
  t: { after(fn: () => void): void },
  over: Partial<LivenessOptions>[] = [],
  extra: { node: string; address: string; port: number }[] = [],
) {
  const ls: Liveness[] = [];
  const ports: number[] = [];
  const peers = () => [
    ...ls.map((_, i) => ({ node: `n${i + 1}`, address: `127.0.0.${i + 2}`, port: ports[i]! })),
    ...extra,
  ];
  for (let i = 0; i < n; i++) {
    const l = startLiveness({
      node: `n${i + 1}`,
      bindAddress: `127.0.0.${i + 2}`,
      port: 0,
      key: secret,
      peers: () => (ports.length === n ? peers() : []),
      macs: () => [`02:00:00:00:00:0${i + 1}`],
      log,
      ...over[i],
    });
    t.after(() => l.close());
    ls.push(l);
  }
  await Promise.all(ls.map((l) => l.ready));
  for (const l of ls) ports.push(l.address().port);
  await until('everyone sees everyone', () => ls.every((l) => l.alive().size === n));
  return ls;
}

test('three speakers see each other; a closed one is dropped; leave() is seen as leaving', async (t) => {
  const [a, b, c] = await cluster(3, t);
  const changes: string[][] = [];
  a!.on('change', (alive) => changes.push([...alive].sort()));
  c!.close();
  await until('n3 dropped after silence', () => !a!.alive().has('n3'));
  assert.equal(a!.peers().find((p) => p.node === 'n3')?.left, false);
  await b!.leave();
  await until('n2 dropped', () => !a!.alive().has('n2'));
  assert.equal(
    a!.peers().find((p) => p.node === 'n2')?.left,
    true,
    'removed because it said leaving, not by silence',
  );
  // 'change' fires once per change, each with the new set
  assert.deepEqual(changes, [['n1', 'n2'], ['n1']]);
  assert.ok(a!.stats().accepted > 0 && a!.stats().drops.get('bad-mac') === 0);
});

test('friendly MACs are every speaker MAC (own included)', async (t) => {
  const [a] = await cluster(2, t);
  await until('MAC of n2 known', () => a!.friendlyMacs().has('02:00:00:00:00:02'));
  assert.deepEqual([...a!.friendlyMacs()].sort(), ['02:00:00:00:00:01', '02:00:00:00:00:02']);
});

test('forged, truncated and replayed datagrams are dropped and counted; the sender is not revived by them', async (t) => {
  const spy = dgram.createSocket('udp4');
  t.after(() => spy.close());
  spy.bind(0, '127.0.0.9');
  await once(spy, 'listening');
  const captured: Buffer[] = [];
  spy.on('message', (m) => captured.push(m));
  const lines: string[] = [];
  const warnLog = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
  const [a, b] = await cluster(
    2,
    t,
    [{ log: warnLog }],
    [{ node: 'spy', address: '127.0.0.9', port: spy.address().port }],
  );
  await until('a heartbeat of n2 captured', () => captured.some((m) => m.includes(Buffer.from('n2'))));
  const port = a!.address().port;
  const send = (buf: Buffer) => new Promise<void>((r) => spy.send(buf, port, '127.0.0.2', () => r()));
  const forged = encode(
    {
      node: 'n9',
      incarnation: 1,
      seq: 1,
      sentAtMs: Date.now(),
      state: 'alive',
      macs: [],
      intervalMs: 100,
      lagMs: 0,
    },
    heartbeatKey(Buffer.from('not-the-right-secret-xxxxxxxxxxxx')),
  );
  await send(forged);
  await send(Buffer.from('hello'));
  const n2 = captured.find((m) => m.includes(Buffer.from('n2')))!;
  await send(n2);
  await until('drops counted', () => {
    const d = a!.stats().drops;
    return d.get('bad-mac') === 1 && d.get('truncated') === 1 && d.get('replayed')! >= 1;
  });
  assert.ok(!a!.alive().has('n9'));
  // one warning per reason (per minute), naming the sender address
  const warned = lines.map((l) => JSON.parse(l) as { reason: string; from: string });
  assert.deepEqual(warned.map((w) => w.reason).sort(), ['bad-mac', 'replayed', 'truncated']);
  assert.ok(warned.every((w) => w.from === '127.0.0.9'));
  // n2 dies; replaying its captured heartbeats does not bring it back
  b!.close();
  await until('n2 dropped', () => !a!.alive().has('n2'));
  for (const m of captured.filter((x) => x.includes(Buffer.from('n2')))) await send(m);
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(!a!.alive().has('n2'));
  assert.ok(a!.stats().drops.get('replayed')! >= 2);
});

test('a restarted speaker (new incarnation) is alive again at once', async (t) => {
  const [a, b] = await cluster(2, t);
  await b!.leave();
  b!.close();
  await until('n2 gone', () => !a!.alive().has('n2'));
  const again = startLiveness({
    node: 'n2',
    bindAddress: '127.0.0.3',
    port: 0,
    key: secret,
    log,
    macs: () => [],
    peers: () => [{ node: 'n1', address: '127.0.0.2', port: a!.address().port }],
  });
  t.after(() => again.close());
  await again.ready;
  await until('n2 back', () => a!.alive().has('n2'));
});

test('the inline sender (same code on the main thread) works too', async (t) => {
  const [a] = await cluster(2, t, [{ sender: 'inline' }, {}]);
  assert.ok(a!.alive().has('n2'));
});

test('the worker sender (the fallback when the addon is missing) works too', async (t) => {
  const [a] = await cluster(2, t, [{ sender: 'worker' }, {}]);
  assert.ok(a!.alive().has('n2'));
});

test('the default sender is the addon thread (no worker): heartbeats keep leaving while the main thread is blocked', async (t) => {
  const spy = dgram.createSocket('udp4');
  t.after(() => spy.close());
  await new Promise<void>((r) => spy.bind(0, '127.0.0.9', r));
  let got = 0;
  spy.on('message', () => got++);
  const [a] = await cluster(1, t, [{}], [{ node: 'spy', address: '127.0.0.9', port: spy.address().port }]);
  assert.equal((a as unknown as { senderThread(): unknown }).senderThread(), undefined, 'no worker thread');
  await until('the spy hears a', () => got >= 2);
  // Block this thread (timers, sockets, refills) for 600 ms: the addon's thread sends from its queue meanwhile, so
  // the spy's socket holds several heartbeats when the loop wakes; a main-thread sender would have sent none.
  const before = got;
  const end = performance.now() + 600;
  while (performance.now() < end) {
    /* busy */
  }
  await new Promise((r) => setImmediate(r));
  assert.ok(got - before >= 3, `heartbeats sent during the block: ${got - before}`);
  await until('the thread reports its sends (stats every second)', () => a!.stats().sent > 0);
  assert.equal(a!.stats().starved, 0, 'the queue (20 heartbeats) outlasts a 600 ms block');
});

test('bad options and bind errors are reported with the value', async (t) => {
  const base = { node: 'n1', port: 0, peers: () => [], macs: () => [], log };
  assert.throws(
    () => startLiveness({ ...base, bindAddress: '127.0.0.2', key: Buffer.from('short') }),
    /5 bytes; it must be at least 16/,
  );
  assert.throws(
    () => startLiveness({ ...base, bindAddress: 'node-1', key: secret }),
    /bindAddress "node-1" is not an IP address/,
  );
  assert.throws(
    () => startLiveness({ ...base, bindAddress: '127.0.0.2', key: secret, intervalMs: 5 }),
    /intervalMs 5 must be an integer in 10..10000/,
  );
  const first = startLiveness({ ...base, bindAddress: '127.0.0.2', key: secret });
  t.after(() => first.close());
  await first.ready;
  const second = startLiveness({
    ...base,
    bindAddress: '127.0.0.2',
    key: secret,
    port: first.address().port,
  });
  t.after(() => second.close());
  await assert.rejects(second.ready, /cannot bind UDP 127\.0\.0\.2:\d+: .*EADDRINUSE/);
});

test('a sender worker that dies is replaced by the main-thread sender without a flap', async (t) => {
  // b's window is widened so that this test checks the hand-over (same incarnation, seq goes on), not the scheduler
  const [a, b] = await cluster(2, t, [{ sender: 'worker' }, { suspectAfterMs: 1_000 }]);
  const changes: unknown[] = [];
  b!.on('change', (s) => changes.push([...s]));
  const w = (a as unknown as { senderThread(): Worker | undefined }).senderThread();
  assert.ok(w, 'heartbeats come from a worker thread');
  await w.terminate();
  await until(
    'a sends from its main thread',
    () => (a as unknown as { senderThread(): unknown }).senderThread() === undefined,
  );
  const seqBefore = b!.peers().find((p) => p.node === 'n1')!.seq;
  await until('b keeps hearing a', () => b!.peers().find((p) => p.node === 'n1')!.seq >= seqBefore + 5);
  assert.deepEqual(changes, [], JSON.stringify(b!.peers()));
});

test('key rotation: both sides switch a few hundred ms apart, no flap; a speaker left on the old key is dropped', async (t) => {
  const [a, b, c] = await cluster(3, t);
  const changes: string[] = [];
  a!.on('change', (s) => changes.push(`a:${[...s].sort().join(',')}`));
  b!.on('change', (s) => changes.push(`b:${[...s].sort().join(',')}`));
  const next = Buffer.from('the-rotated-secret-0123456789abcdef');
  const rot = { switchAfterMs: 500, acceptOldForMs: 1_000 };
  a!.setKey(next, rot);
  await new Promise((r) => setTimeout(r, 300));
  b!.setKey(next, rot);
  await until('c (old key only) dropped by a and b', () => !a!.alive().has('n3') && !b!.alive().has('n3'));
  assert.deepEqual(changes.sort(), ['a:n1,n2', 'b:n1,n2']);
  assert.ok(a!.alive().has('n2') && b!.alive().has('n1'));
  assert.ok(c!.stats().drops.get('bad-mac')! > 0, 'c rejects the new key');
  assert.throws(() => a!.setKey(Buffer.from('tiny')), /4 bytes; it must be at least 16/);
});

test('Lease path through the edge: a peer never heard by UDP is alive while its Lease is fresh, gone when it is deleted', async (t) => {
  const [a] = await cluster(1, t);
  const changes: string[] = [];
  a!.on('change', (s) => changes.push([...s].sort().join(',')));
  a!.leaseSeen('n7', Date.now());
  await until('n7 alive by its Lease', () => a!.alive().has('n7'));
  a!.leaseGone('n7');
  await until('n7 gone with its Lease', () => !a!.alive().has('n7'));
  assert.deepEqual(changes, ['n1,n7', 'n1']);
});

test('a Liveness restarted at once (key change) is heard at once: incarnations never repeat in a process', async (t) => {
  // both n2 instances read one frozen clock: the same millisecond at start
  const frozen = Date.now();
  const clock = { now: () => frozen, sleep: () => Promise.resolve() };
  const [a, b] = await cluster(2, t, [{}, { clock }]);
  const bPort = b!.address().port;
  const before = a!.peers().find((p) => p.node === 'n2')!;
  b!.close();
  const again = startLiveness({
    node: 'n2',
    bindAddress: '127.0.0.3',
    port: bPort,
    key: secret,
    log,
    macs: () => [],
    peers: () => [{ node: 'n1', address: '127.0.0.2', port: a!.address().port }],
    clock,
  });
  t.after(() => again.close());
  await again.ready;
  await until(
    'the new incarnation heard',
    () => a!.peers().find((p) => p.node === 'n2')!.incarnation > before.incarnation,
  );
  assert.equal(a!.stats().drops.get('replayed'), 0);
});

test('IPv6: speakers on ::1 see each other (udp6 sockets)', async (t) => {
  const probe = dgram.createSocket('udp6');
  const v6 = await new Promise<boolean>((r) => {
    probe.once('error', () => r(false));
    probe.bind(0, '::1', () => r(true));
  });
  probe.close();
  if (!v6) {
    t.skip('no IPv6 loopback (::1) here');
    return;
  }
  const ports: number[] = [];
  const mk = (node: string, other: string, i: number) =>
    startLiveness({
      node,
      bindAddress: '::1',
      port: 0,
      key: secret,
      log,
      macs: () => [],
      peers: () => (ports.length === 2 ? [{ node: other, address: '::1', port: ports[1 - i]! }] : []),
    });
  const a = mk('n1', 'n2', 0);
  const b = mk('n2', 'n1', 1);
  t.after(() => {
    a.close();
    b.close();
  });
  await Promise.all([a.ready, b.ready]);
  ports.push(a.address().port, b.address().port);
  await until('both alive over IPv6', () => a.alive().has('n2') && b.alive().has('n1'));
  assert.equal(a.peers()[0]!.fromAddress, '::1');
});

test('a speaker bound to :: talks to IPv4 peers (IPv4-mapped addresses)', async (t) => {
  const ports: number[] = [];
  const a = startLiveness({
    node: 'n1',
    bindAddress: '::',
    port: 0,
    key: secret,
    log,
    macs: () => [],
    peers: () => (ports.length === 2 ? [{ node: 'n2', address: '127.0.0.3', port: ports[1]! }] : []),
  });
  const b = startLiveness({
    node: 'n2',
    bindAddress: '127.0.0.3',
    port: 0,
    key: secret,
    log,
    macs: () => [],
    peers: () => (ports.length === 2 ? [{ node: 'n1', address: '127.0.0.2', port: ports[0]! }] : []),
  });
  t.after(() => {
    a.close();
    b.close();
  });
  try {
    await Promise.all([a.ready, b.ready]);
  } catch (e) {
    t.skip(`no dual-stack socket here: ${String(e)}`);
    return;
  }
  ports.push(a.address().port, b.address().port);
  await until('both alive', () => a.alive().has('n2') && b.alive().has('n1'));
});

test('start-up rule 8 through the edge: self counts after settleMs, a listed peer is undecided until heard (a change says so)', async (t) => {
  // n2's port is not known before n2 binds: n1 sends to a port nobody listens on until then (n2 unheard).
  let bPort = 0;
  const a = startLiveness({
    node: 'n1',
    bindAddress: '127.0.0.2',
    port: 0,
    key: secret,
    log,
    macs: () => [],
    peers: () => [{ node: 'n2', address: '127.0.0.3', port: bPort || 9 }],
    startup: { settleMs: 200, boundMs: 60_000 },
  });
  t.after(() => a.close());
  assert.deepEqual([...a.alive()], [], 'not sending yet: itself not counted, n2 not expected yet');
  await a.ready;
  await until('n2 undecided', () => a.undecided().has('n2'));
  assert.ok(a.alive().has('n2'), 'an undecided peer counts as alive');
  await until('n1 settled', () => a.alive().has('n1'));
  const changes: string[] = [];
  a.on('change', (s) => changes.push(`${[...s].sort().join(',')} undecided:${[...a.undecided()].join(',')}`));
  const b = startLiveness({
    node: 'n2',
    bindAddress: '127.0.0.3',
    port: 0,
    key: secret,
    log,
    macs: () => [],
    peers: () => [{ node: 'n1', address: '127.0.0.2', port: a.address().port }],
  });
  t.after(() => b.close());
  await b.ready;
  bPort = b.address().port;
  await until('n2 heard', () => a.undecided().size === 0);
  assert.deepEqual(changes, ['n1,n2 undecided:'], 'one change: same set, n2 decided');
  b.close();
  await until('n2 dead after silence (heard once: no more undecided)', () => !a.alive().has('n2'));
});
