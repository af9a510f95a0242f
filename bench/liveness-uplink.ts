// npx tsx bench/liveness-uplink.ts [--seconds 45] [--burst-kb 100] [--every-ms 3000] [--rate 1mbit] (root; one
// benchmark at a time) — false node losses when a node's heartbeats are delayed after its sender's timer
// (docs/layer2.md "A busy node keeps its IPs"), printed, never asserted. The 3-node namespace lab
// (test/e2e/speaker-l2-harness.ts, speakers under tsx) with three Services; node n1's eth0 gets a token-bucket qdisc
// (`tc qdisc … tbf rate --rate`), and a process in n1's namespace sends --burst-kb of UDP to the client every
// --every-ms, so n1's heartbeats wait behind each burst (~0.8 s with the defaults) while its sender thread, on time,
// reports no lag. Counts the `decision: liveness` lines of n2 and n3 that lose n1 (each one a takeover of n1's IPs
// while n1 still answers), with the load average, and where the client's neighbour entries for n1's IPs (made with
// ping before the bursts) point 4 s after the last burst (each false takeover moved them to a peer's MAC; n1's
// re-announcement brings them back). Without CPU load on purpose: the delay is in the uplink only.
// 2026-12-01: before the receiver-seen lateness (detector.ts rule 4) 30 losses in 45 s (every burst, both peers);
// after, 2 (the first burst). Client's entries for n1's IPs at the end: n2 and n3 without the announcer's re-announcement
// after another speaker's claim, n1 with it.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { run } from '../src/lab/network/topology.ts';
import { l2SkipReason, startL2Lab } from '../test/e2e/speaker-l2-harness.ts';

const { values: v } = parseArgs({
  options: {
    seconds: { type: 'string', default: '45' },
    'burst-kb': { type: 'string', default: '100' },
    'every-ms': { type: 'string', default: '3000' },
    rate: { type: 'string', default: '1mbit' },
  },
});
const SECONDS = Number(v.seconds);
const BURST_KB = Number(v['burst-kb']);
const EVERY_MS = Number(v['every-ms']);
for (const [name, n] of [['--seconds', SECONDS], ['--burst-kb', BURST_KB], ['--every-ms', EVERY_MS]] as const) {
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`bench:liveness-uplink: ${name} ${String(n)} must be a positive integer\n`);
    process.exit(2);
  }
}
if (!/^\d+(k|m)?bit$/.test(v.rate)) {
  process.stderr.write(`bench:liveness-uplink: --rate "${v.rate}" must be tc's <n>bit, <n>kbit or <n>mbit\n`);
  process.exit(2);
}
const skip = await l2SkipReason();
if (skip) {
  process.stdout.write(`bench:liveness-uplink: cannot run here: ${skip}\n`);
  process.exit(0);
}
const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' ');
const l = await startL2Lab({});
try {
  const all = ['n1', 'n2', 'n3'];
  for (let i = 0; i < 3; i++) {
    await l.createService(`s${i}`, [`198.51.100.${200 + i}`]);
    await l.setEndpoints(`s${i}`, all.map((node) => ({ node, ready: true })));
  }
  await new Promise((r) => setTimeout(r, 8000)); // start-up and the first gratuitous bursts are over
  const mine = [0, 1, 2].map((i) => `198.51.100.${200 + i}`).filter((ip) => l.order(ip)[0] === 'n1');
  for (const ip of mine) await l.ping(ip);
  const ns = l.net.node('n1').ns;
  const tc = await run('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', v.rate, 'burst', '4kb', 'latency', '3s']);
  if (tc.code !== 0) throw new Error(`tc qdisc add tbf in ${ns}: ${tc.stderr}`);
  const logs = all.map((n) => l.net.speakerLog(n));
  const before = logs.map((f) => readFileSync(f, 'utf8').length);
  const blaster = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', `
    const s = require('node:dgram').createSocket('udp4'); const b = Buffer.alloc(1000);
    setInterval(() => { for (let i = 0; i < ${BURST_KB}; i++) s.send(b, 9, '198.51.100.1'); }, ${EVERY_MS});`], { stdio: 'ignore' });
  process.stdout.write(`n1's uplink: tbf ${v.rate}, ${BURST_KB} KB of UDP every ${EVERY_MS} ms for ${SECONDS} s; load average ${load()}\n`);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  blaster.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 4000 + EVERY_MS));
  let losses = 0;
  for (const [i, f] of logs.entries()) {
    for (const line of readFileSync(f, 'utf8').slice(before[i]).split('\n')) {
      if (!line.includes('"decision":"liveness"')) continue;
      const e = JSON.parse(line) as { lost?: string[]; time?: string };
      if (e.lost?.includes('n1')) {
        losses++;
        process.stdout.write(`  ${all[i]} lost n1 at ${e.time ?? '?'}\n`);
      }
    }
  }
  process.stdout.write(`losses of n1 (still running, heartbeats on time) seen by n2 and n3: ${losses} in ${SECONDS} s; load average ${load()}\n`);
  for (const ip of mine) {
    const e = await l.neigh(ip);
    const who = e?.lladdr ? (l.nodeOf(e.lladdr) ?? e.lladdr) : 'none';
    process.stdout.write(`client's neighbour entry for ${ip} (owner n1): ${who} (${e?.state ?? 'no entry'})\n`);
  }
} finally {
  await l.stop();
}
