// The heartbeat sender's code, run in its own worker thread so that a busy main event loop (a long JSON parse, GC,
// a relist of 1,000 Services) never delays a heartbeat: a worker has its own event loop and V8 isolate.
//
// It is plain JavaScript using only node:dgram and node:perf_hooks (no TypeScript loader needed in the worker, a
// small isolate). It does no cryptography: the main thread pre-encodes and signs the next `depth` heartbeats (seq
// lastSent+1 … lastSent+depth) and posts them; the worker sends one per interval to every peer and publishes the last
// seq it sent in shared memory. When the main thread stops refilling (hung for depth × interval, 2 s by default), the
// worker runs out and goes silent, so a wedged speaker is declared dead instead of being kept alive by its sender.
//
// Protocol (main → worker): {type:'queue', items:[{seq, buf}]} (replaces entries), {type:'peers', peers:[{address, port}]},
// {type:'leave', items:[buf…]} (stop the periodic sends; send these 10 ms apart; answer {type:'left'}),
// {type:'close'}. Worker → main: {type:'ready', port}, {type:'stats', …} every second, {type:'error', message},
// {type:'left'}.
// workerData: {bindAddress, family: 'udp4'|'udp6', intervalMs, shared: SharedArrayBuffer(8) (BigInt64 last seq sent)}.
export const SENDER_SOURCE = String.raw`
'use strict';
const dgram = require('node:dgram');
const { performance } = require('node:perf_hooks');
const d = workerData;
const lastSent = new BigInt64Array(d.shared);
const queue = new Map();
let peers = [];
let leaving = false;
let closed = false;
let timer;
let lastSeq = Number(Atomics.load(lastSent, 0));
const stats = { sent: 0, sendErrors: 0, starved: 0, rounds: 0, maxDriftMs: 0, lastError: '' };
let windowDrift = 0;
const sock = dgram.createSocket({ type: d.family });
sock.on('error', (e) => parentPort.postMessage({ type: 'error', message: String(e && e.message) }));
function sendAll(buf, done) {
  let n = peers.length;
  if (n === 0) { if (done) done(); return; }
  for (const p of peers) {
    sock.send(buf, p.port, p.address, (err) => {
      if (err) { stats.sendErrors++; stats.lastError = p.address + ': ' + err.message; } else stats.sent++;
      if (--n === 0 && done) done();
    });
  }
}
let next = 0;
function tick() {
  if (closed || leaving) return;
  const now = performance.now();
  const drift = now - next;
  if (drift > windowDrift) windowDrift = drift;
  stats.rounds++;
  const seq = lastSeq + 1;
  const buf = queue.get(seq);
  for (const k of queue.keys()) if (k <= seq) queue.delete(k);
  if (buf) {
    lastSeq = seq;
    Atomics.store(lastSent, 0, BigInt(seq));
    sendAll(buf);
  } else {
    stats.starved++;
  }
  next += d.intervalMs;
  if (next < now) next = now + d.intervalMs;
  timer = setTimeout(tick, Math.max(0, next - performance.now()));
}
const statsTimer = setInterval(() => {
  stats.maxDriftMs = Math.round(windowDrift);
  windowDrift = 0;
  parentPort.postMessage({ type: 'stats', stats: { ...stats } });
}, 1000);
parentPort.on('message', (m) => {
  if (closed) return;
  if (m.type === 'queue') {
    for (const it of m.items) if (it.seq > lastSeq) queue.set(it.seq, it.buf);
  } else if (m.type === 'peers') {
    peers = m.peers;
  } else if (m.type === 'leave') {
    leaving = true;
    clearTimeout(timer);
    let i = 0;
    const step = () => {
      if (closed) return;
      if (i >= m.items.length) { parentPort.postMessage({ type: 'left' }); return; }
      sendAll(m.items[i++], () => setTimeout(step, 10));
    };
    step();
  } else if (m.type === 'close') {
    closed = true;
    clearTimeout(timer);
    clearInterval(statsTimer);
    try { sock.close(); } catch {}
    parentPort.close();
  }
});
sock.bind({ address: d.bindAddress, port: 0 }, () => {
  parentPort.postMessage({ type: 'ready', port: sock.address().port });
  next = performance.now();
  tick();
});
`;
