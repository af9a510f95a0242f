// npx tsx bench/bfd.ts [--runs 20] [--interval 100] [--mult 3] — BFD failure-detection time of berth against FRR 8's
// bfdd, printed, never asserted (issue 9: p99 ≤ 300 ms at 100 ms × 3).
//
// Two network namespaces joined by a veth pair (test/integration/bfd-lab.ts: documentation ranges, removed at the end),
// FRR bfdd standalone as user frr in one, berth's BFD agent (test/integration/bfd-agent.ts) in the other. Each run:
// wait until the session is Up at the negotiated interval, SIGSTOP bfdd, time until berth reports Down with diag 1
// (Control Detection Time Expired), SIGCONT. Two figures per run: from the SIGSTOP (what a failure costs: ≤ detection
// time, less the part of the last interval already elapsed) and from the last packet received (≈ the detection time,
// plus timer lateness on a busy host). Needs root, `ip netns` and FRR.
import { parseArgs } from 'node:util';
import {
  BFDD,
  makeLab,
  netnsSkipReason,
  routerPeer,
  startAgent,
  startFrrBfdd,
} from '../test/integration/bfd-lab.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    interval: { type: 'string', default: '100' },
    mult: { type: 'string', default: '3' },
  },
});
const runs = Number(values.runs);
const ms = Number(values.interval);
const mult = Number(values.mult);
for (const [k, v] of Object.entries({ runs, interval: ms, mult })) {
  if (!Number.isInteger(v) || v < 1) {
    console.error(`bench/bfd: --${k} ${String(v)} is not a positive integer`);
    process.exit(2);
  }
}
const skip = netnsSkipReason([BFDD, '/usr/bin/vtysh']);
if (skip) {
  console.log(`bench/bfd: skipped: ${skip}`);
  process.exit(0);
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const lab = makeLab(`bb${process.pid % 100000}`);
const stop = (): void => lab.cleanup();
process.on('SIGINT', () => (stop(), process.exit(130)));
try {
  const frr = await startFrrBfdd(lab, ms, mult);
  const agent = startAgent(lab, [routerPeer('v4')], [ms, ms, mult]);
  const fromStop: number[] = [];
  const fromLastRx: number[] = [];
  let since = 0; // index of the first agent line of the current run
  for (let i = 0; i < runs; i++) {
    await agent.next(
      (l) => l.event === 'negotiated' && l.txIntervalMs === ms,
      `run ${i}: Up at ${ms} ms`,
      since,
      30_000,
    );
    // Let the session run a few intervals at the fast rate so the SIGSTOP lands at a random point of an interval.
    await new Promise((r) => setTimeout(r, ms * (2 + Math.random() * 3)));
    const mark = agent.lines.length;
    const t0 = Date.now();
    process.kill(frr.pid, 'SIGSTOP');
    const down = await agent.next((l) => l.event === 'down', `run ${i}: down`, mark, 30_000);
    process.kill(frr.pid, 'SIGCONT');
    if (down.diag !== 1) console.log(`run ${i}: unexpected diag ${String(down.diag)}`);
    fromStop.push(down.at - t0);
    fromLastRx.push(down.sinceLastRxMs ?? Number.NaN);
    await agent.next((l) => l.event === 'up', `run ${i}: up again`, mark, 30_000);
    since = mark;
  }
  const a = [...fromStop].sort((x, y) => x - y);
  const b = [...fromLastRx].sort((x, y) => x - y);
  console.log(
    `BFD detection, berth vs FRR bfdd, ${ms} ms × ${mult} (detection time ${ms * mult} ms), ${runs} runs`,
  );
  console.log(
    `  from SIGSTOP of bfdd:      p50 ${pct(a, 50)} ms  p99 ${pct(a, 99)} ms  min ${a[0]} ms  max ${a[a.length - 1]} ms`,
  );
  console.log(
    `  from the last packet:      p50 ${pct(b, 50)} ms  p99 ${pct(b, 99)} ms  min ${b[0]} ms  max ${b[b.length - 1]} ms`,
  );
} finally {
  stop();
}
