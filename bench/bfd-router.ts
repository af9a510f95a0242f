// npm run bench:bfd-router [-- --runs 20] — issue 9, the router-side figure: SIGSTOP of the real `berth speaker`
// process → its path gone at FRR, with BFD 100 ms × 3 and a 90 s hold time (so only BFD can drop it). Printed, never
// asserted (target: under a second; bench/bfd.ts measures berth's own detection against bfdd).
//
// The lab of test/e2e/speaker-bgp-lab.ts with one node: the lab API server and controller, node namespace n1 running
// `berth speaker`, FRR 8 (zebra, bfdd, bgpd as user frr) as the router, configured by kubectl (BFDProfile, BGPPeer,
// pool, BGPAdvertisement, a Service with a ready endpoint on n1). Each run: wait until the route 203.0.113.10 is in the
// router namespace's kernel table (zebra installed FRR's best path) and FRR's BFD session is up, SIGSTOP the speaker,
// time until `ip monitor route` in the router namespace prints the route's deletion (event-driven: no polling gap),
// SIGCONT, and check FRR's BFD diagnostic ("control detection time expired"). Prints each run, then p50/p90/p99/max
// and the load average. Needs root, `ip netns`, FRR and kubectl; skips with the reason otherwise. Everything started
// is stopped by pid, namespaces and temp dirs are removed (also on Ctrl-C).
import { spawn } from 'node:child_process';
import os from 'node:os';
import { parseArgs } from 'node:util';
import {
  BFD_PROFILE_FAST_YAML,
  bgpLabSkipReason,
  bgpPeerYaml,
  frrConfigText,
  frrPassiveNeighbors,
  serviceYaml,
  sliceYaml,
  startBgpLab,
  WEB_POOL_YAML,
  type BgpLab,
} from '../test/e2e/speaker-bgp-lab.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`bench/bfd-router: --runs ${String(values.runs)} is not a positive integer`);
  process.exit(2);
}
const skip = await bgpLabSkipReason(['zebra', 'bfdd', 'bgpd']);
if (skip) {
  console.log(`bench/bfd-router: skipped: ${skip}`);
  process.exit(0);
}

const WEB = '203.0.113.10';
const frrConfig = (d: string, nodes: readonly string[]): string =>
  frrConfigText(d, { bfdFast: true, ...frrPassiveNeighbors(nodes, [30, 90], (n) => [`neighbor ${n} bfd profile fast`]) });
const CONFIG = `${BFD_PROFILE_FAST_YAML}---
${bgpPeerYaml('holdTime: 90s, keepaliveTime: 30s, bfdProfile: fast')}---
${WEB_POOL_YAML}---
${serviceYaml('web', [WEB])}---
${sliceYaml('web', [['n1', '192.0.2.11']])}`;

function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

let lab: BgpLab | undefined;
let stoppedPid = 0;
const cleanup = async (): Promise<void> => {
  if (stoppedPid) try { process.kill(stoppedPid, 'SIGCONT'); } catch { /* gone */ }
  await lab?.stop();
};
process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
try {
  lab = await startBgpLab({ nodes: 1, daemons: ['zebra', 'bfdd', 'bgpd'], frrConfig, log: (l) => console.log(l) });
  const l = lab;
  const n1 = l.nodes[0]!;
  const ns = l.net.topology.client.ns;
  await l.kubectl(['apply', '-f', '-'], CONFIG);
  // Route events of the router namespace, time-stamped on arrival.
  const monitor = spawn('ip', ['-n', ns, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const events: Array<{ t: number; line: string }> = [];
  let buf = '';
  monitor.stdout.on('data', (b: Buffer) => {
    const t = performance.now();
    buf += b.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const line of lines) if (line.includes(WEB)) events.push({ t, line });
  });
  const kernelRoute = async (): Promise<boolean> => {
    const { execFileSync } = await import('node:child_process');
    return execFileSync('ip', ['-n', ns, 'route', 'show', WEB], { encoding: 'utf8' }).includes(n1);
  };
  const bfdPeer = async (): Promise<{ status?: string; diagnostic?: string } | undefined> =>
    (await l.vtyJson<Array<{ peer?: string; status?: string; diagnostic?: string }>>('show bfd peers json')).find((p) => p.peer === n1);
  const results: number[] = [];
  const diags = new Map<string, number>();
  for (let i = 0; i < runs; i++) {
    await l.waitFor(`run ${i}: the route and BFD up`, async () => ((await kernelRoute()) && (await bfdPeer())?.status === 'up' ? true : undefined), 120_000, 200);
    // Settled a little: the session just came up (a BFD Up that flaps at once would measure the flap).
    await new Promise((r) => setTimeout(r, 1000));
    const from = events.length;
    const pid = l.net.speakers.get('n1')!.pid;
    const t0 = performance.now();
    process.kill(pid, 'SIGSTOP');
    stoppedPid = pid;
    try {
      const del = await l.waitFor(`run ${i}: ${WEB} deleted at the router`, async () => events.slice(from).find((e) => e.line.startsWith('Deleted')), 30_000, 5);
      results.push(del.t - t0);
      const b = await bfdPeer();
      diags.set(String(b?.diagnostic), (diags.get(String(b?.diagnostic)) ?? 0) + 1);
      console.log(`run ${String(i + 1).padStart(2)}: SIGSTOP → route deleted at FRR's router in ${(del.t - t0).toFixed(0)} ms (FRR BFD ${b?.status}, ${b?.diagnostic})`);
    } finally {
      process.kill(pid, 'SIGCONT');
      stoppedPid = 0;
    }
  }
  monitor.kill('SIGTERM');
  const s = [...results].sort((a, b) => a - b);
  console.log(
    `bfd-router: SIGSTOP of the speaker → its route gone at FRR (BFD 100 ms × 3, hold 90 s), ${s.length} runs: ` +
      `p50 ${pct(s, 50).toFixed(0)} ms, p90 ${pct(s, 90).toFixed(0)} ms, p99 ${pct(s, 99).toFixed(0)} ms, max ${s[s.length - 1]!.toFixed(0)} ms; ` +
      `FRR BFD diagnostics ${JSON.stringify(Object.fromEntries(diags))}; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`,
  );
} finally {
  await cleanup();
}
