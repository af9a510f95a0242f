// The addon's heartbeat sender thread through NativeSenderPort, on loopback with a real UDP receiver.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { test } from 'node:test';
import { NativeSenderPort } from './native-sender.ts';

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function spy(t: { after(fn: () => void): void }): Promise<{ port: number; got: string[] }> {
  const s = dgram.createSocket('udp4');
  t.after(() => s.close());
  await new Promise<void>((r) => s.bind(0, '127.0.0.9', r));
  const got: string[] = [];
  s.on('message', (m) => got.push(m.toString()));
  return { port: s.address().port, got };
}

type Msg = { type: string; stats?: { sent: number; starved: number; sendErrors: number; lastError: string } };

test('sends one queued heartbeat per interval, in seq order, then goes silent when the queue runs dry (starved)', async (t) => {
  const rx = await spy(t);
  const p = new NativeSenderPort({ bindAddress: '127.0.0.2', intervalMs: 20, lastSent: 4 });
  t.after(() => p.close());
  const msgs: Msg[] = [];
  p.on('message', (m: Msg) => msgs.push(m));
  await until('ready', () => msgs.some((m) => m.type === 'ready'));
  p.postMessage({ type: 'peers', peers: [{ address: '127.0.0.9', port: rx.port }] });
  // seq 4 was sent already (lastSent) and is skipped; 5..7 go out; 9 waits for 8, which never comes
  p.postMessage({ type: 'queue', items: [4, 5, 6, 7, 9].map((seq) => ({ seq, buf: Buffer.from(`hb${seq}`) })) });
  await until('three heartbeats', () => rx.got.length >= 3);
  await until('stats showing starved rounds', () => msgs.some((m) => m.type === 'stats' && m.stats!.starved > 0), 5_000);
  assert.deepEqual(rx.got, ['hb5', 'hb6', 'hb7']);
  assert.equal(p.lastSent(), 7);
  const s = msgs.findLast((m) => m.type === 'stats')!.stats!;
  assert.equal(s.sent, 3);
  assert.equal(s.sendErrors, 0);
  // a refill resumes at the next seq
  p.postMessage({ type: 'queue', items: [{ seq: 8, buf: Buffer.from('hb8') }] });
  await until('hb8 and hb9', () => rx.got.length >= 5);
  assert.deepEqual(rx.got.slice(3), ['hb8', 'hb9']);
});

test('leave: the periodic sends stop, the leaving copies go out, then "left"; close is idempotent and ends the thread', async (t) => {
  const rx = await spy(t);
  const p = new NativeSenderPort({ bindAddress: '127.0.0.2', intervalMs: 1_000 });
  const msgs: Msg[] = [];
  p.on('message', (m: Msg) => msgs.push(m));
  p.postMessage({ type: 'peers', peers: [{ address: '127.0.0.9', port: rx.port }] });
  p.postMessage({ type: 'queue', items: [1, 2, 3].map((seq) => ({ seq, buf: Buffer.from(`hb${seq}`) })) });
  await until('hb1', () => rx.got.length >= 1);
  p.postMessage({ type: 'leave', items: [Buffer.from('bye1'), Buffer.from('bye2')] });
  await until('left', () => msgs.some((m) => m.type === 'left'));
  await until('both leaving copies', () => rx.got.length >= 3);
  assert.deepEqual(rx.got, ['hb1', 'bye1', 'bye2']);
  p.close();
  p.close();
  p.postMessage({ type: 'queue', items: [{ seq: 2, buf: Buffer.from('late') }] }); // ignored after close
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(rx.got, ['hb1', 'bye1', 'bye2']);
});

test('closed before anything was queued (the thread waits for its first queue) and closed while leaving', async () => {
  const a = new NativeSenderPort({ bindAddress: '127.0.0.2', intervalMs: 100 });
  a.close();
  const b = new NativeSenderPort({ bindAddress: '::1', intervalMs: 100 });
  b.postMessage({ type: 'peers', peers: [{ address: '::1', port: 9 }] });
  b.postMessage({ type: 'leave', items: [Buffer.from('bye1'), Buffer.from('bye2'), Buffer.from('bye3')] });
  b.close();
});

test('bad input: a clear error naming the value and the rule', () => {
  assert.throws(() => new NativeSenderPort({ bindAddress: 'node-1', intervalMs: 100 }), /bindAddress "node-1" is not an IPv4 or IPv6 address/);
  assert.throws(() => new NativeSenderPort({ bindAddress: '127.0.0.2', intervalMs: 0.5 }), /intervalMs must be an integer in 1\.\.60000/);
  assert.throws(() => new NativeSenderPort({ bindAddress: '192.0.2.77', intervalMs: 100 }), (e: Error & { code?: string }) => e.code === 'EADDRNOTAVAIL');
  const p = new NativeSenderPort({ bindAddress: '127.0.0.2', intervalMs: 100 });
  try {
    assert.throws(() => p.postMessage({ type: 'peers', peers: [{ address: '::1', port: 7946 }] }), /"::1" is not an address of the bind address's family/);
    assert.throws(() => p.postMessage({ type: 'peers', peers: [{ address: '127.0.0.9', port: 0 }] }), /ports\[i\] an integer in 1\.\.65535/);
    assert.throws(() => p.postMessage({ type: 'queue', items: [{ seq: 1, buf: Buffer.alloc(1473) }] }), /Buffer of 1\.\.1472 bytes/);
  } finally {
    p.close();
  }
});
