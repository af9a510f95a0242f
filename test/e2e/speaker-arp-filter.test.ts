// Issue 8, the per-IP ARP filter on the namespace lab (root only; skips with the reason otherwise): three node
// namespaces on one bridge, so every ARP request the client broadcasts reaches all three speakers' ARP sockets. The
// kernel filter each socket carries (arpFilter, src/speaker/link/packet.ts; pushed by the announcer with the watched
// IPs) drops on the non-owners every plain request for an IP they do not announce, so only the owner's answer
// thread wakes for the load: 4,000 requests at 2,000/s from bench/failover-arp-load.ts in the client namespace, all
// answered, and each speaker's busiest thread but the main one (the owner's: its answer thread) counted by its
// context switches (/proc/PID/task/TID/status) over the run. With the filter off (announcer filterOff forced, on a
// copy of the tree), the non-owners' busiest threads woke 3,363 and 3,457 times for the 4,000 requests, the owner's
// 2,625: each reads every request only to drop it; with it on, 47 and 48 (the heartbeat sender's ticks) against
// 2,779 (2026-12-01, load ~6).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { run } from '../../src/lab/network/topology.ts';
import { l2LabForFile, until } from './speaker-l2-harness.ts';

const { skip, l2 } = await l2LabForFile('the ARP filter end-to-end test', { nodes: 3 });

const IP = '198.51.100.212';
const RATE = 2000;
const SECONDS = 2;
const ARP_LOAD = fileURLToPath(new URL('../../bench/failover-arp-load.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

/** Context switches (voluntary + involuntary) of each thread of `pid` but its main thread, by TID. */
function threadSwitches(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    if (Number(tid) === pid) continue;
    try {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      let n = 0;
      for (const k of ['voluntary_ctxt_switches', 'nonvoluntary_ctxt_switches'])
        n += Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
      out.set(tid, n);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** The most any one thread (main thread aside) of `pid` switched since `before`: the answer thread's wake-ups when it is busy. */
function busiestThread(pid: number, before: Map<string, number>): number {
  let most = 0;
  for (const [tid, n] of threadSwitches(pid)) most = Math.max(most, n - (before.get(tid) ?? 0));
  return most;
}

test('a bridged segment: only the owner wakes for ARP requests of its IP, the non-owners drop them in the kernel', { skip }, async (t) => {
  const lab = l2();
  await lab.createService('arp-filter', [IP]);
  await lab.setEndpoints('arp-filter', ['n1', 'n2', 'n3'].map((node) => ({ node, ready: true })));
  await lab.waitForIngress('arp-filter', IP);
  const owner = await until(`a single ARP answer for ${IP}`, async () => {
    const macs = await lab.arping(IP, 1);
    return macs.length === 1 ? lab.nodeOf(macs[0]!) : undefined;
  }, 30_000);
  assert.ok(owner, `the MAC answering for ${IP} is a lab node's`);
  assert.equal(owner, lab.order(IP)[0], `MetalLB's order for ${IP} puts ${lab.order(IP)[0]} first`);
  await new Promise((r) => setTimeout(r, 5500)); // the owner's gratuitous burst (5 s) is over

  const pids = new Map([...lab.net.speakers].map(([node, p]) => [node, p.pid]));
  const before = new Map([...pids].map(([node, pid]) => [node, threadSwitches(pid)]));
  const r = await run('ip', ['netns', 'exec', lab.clientNs, process.execPath, '--import', TSX, ARP_LOAD, '--ifname', 'eth0', '--target', IP, '--rate', String(RATE), '--seconds', String(SECONDS)], 60_000);
  const woke = new Map([...pids].map(([node, pid]) => [node, busiestThread(pid, before.get(node)!)]));
  assert.equal(r.code, 0, `failover-arp-load: ${r.stderr}`);
  const load = JSON.parse(r.stdout.trim().split('\n').pop()!) as { sent: number; replies: number; lost: number };
  assert.equal(load.sent, RATE * SECONDS);
  assert.ok(load.replies >= load.sent * 0.99, `${load.replies} of ${load.sent} requests answered (lost ${load.lost})`);
  const ownerWoke = woke.get(owner)!;
  const report = [...woke].map(([n, w]) => `${n}${n === owner ? ' (owner)' : ''} ${w}`).join(', ');
  t.diagnostic(`busiest thread's wake-ups during ${load.sent} requests: ${report}`);
  assert.ok(ownerWoke >= load.sent / 20, `the owner's busiest thread woke ${ownerWoke} times for ${load.sent} requests (${report})`);
  for (const [node, w] of woke) {
    if (node === owner) continue;
    assert.ok(w < load.sent / 10, `non-owner ${node}'s busiest thread woke ${w} times for ${load.sent} requests not for it (${report})`);
    assert.ok(w * 3 < ownerWoke, `non-owner ${node} woke ${w} times, the owner ${ownerWoke} (${report})`);
  }
});
