// Issue 9 "Done when": restarting a speaker with graceful restart keeps the route at the router throughout. The real
// `berth speaker` of node n1 (lab network, speaker-bgp-lab.ts) peers with FRR 8 (helper mode, `bgp graceful-restart`)
// through a BGPPeer with enableGracefulRestart; a Service's /32 is at FRR. The speaker is killed and started again
// while the test reads FRR's RIB every ~50 ms: the path never disappears, FRR marks it stale while the speaker is away
// (RFC 4724 §4.2), and once the new speaker is Established and has sent End-of-RIB — after its caches synced, so the
// route came before the EoR — the path is there and no longer stale (refreshed, not withdrawn on EoR). vtysh is slow
// on a loaded machine (a poll can take a second), so the kernel route zebra installed in the router's namespace is
// watched too, gap-free, with `ip monitor route`: no `Deleted` line for the Service IP. Root only.
// Documentation ranges only: segment 198.51.100.0/24, Service IP 203.0.113.0/24, endpoint 192.0.2.0/24.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { test } from 'node:test';
import { bgpLabSkipReason, bgpPeerYaml, frrConfigText, frrNeighbor, frrPassiveNeighbors, useWebLab, WEB_POOL_YAML, type BgpLab } from './speaker-bgp-lab.ts';

const skip = await bgpLabSkipReason(['zebra', 'bgpd']);
if (skip) process.stdout.write(`# skipping the graceful-restart end-to-end test: ${skip}\n`);

const WEB = '203.0.113.10';
const PREFIX = `${WEB}/32`;
let lab: BgpLab | undefined;
let n1 = '';

const frrConfig = (d: string, nodes: readonly string[]): string => frrConfigText(d, frrPassiveNeighbors(nodes, [3, 9], undefined, ['bgp graceful-restart']));

const CONFIG = `${bgpPeerYaml('holdTime: 9s, keepaliveTime: 3s, enableGracefulRestart: true')}---
${WEB_POOL_YAML}`;

useWebLab(skip, frrConfig, CONFIG, WEB, (l) => {
  lab = l;
  n1 = l.nodes[0]!;
});

interface GrInfo {
  bgpState?: string;
  gracefulRestartInfo?: { remoteGrMode?: string; endOfRibRecv?: Record<string, boolean>; timers?: { receivedRestartTimer?: number } };
}

/**
 * Restarts n1's speaker (stopped with `signal`, then started again) while reading FRR's path for PREFIX every ~50 ms
 * until the path is back from n1 and not stale. Returns what was seen: polls, polls without the path, polls with a
 * stale path, and the time from the stop to the refreshed path.
 */
async function restartWatched(l: BgpLab, signal: NodeJS.Signals): Promise<{ polls: number; missing: number; stale: number; refreshedMs: number }> {
  let polls = 0;
  let missing = 0;
  let stale = 0;
  let watching = true;
  const missingAt: number[] = [];
  const t0 = performance.now();
  const monitor = spawn('ip', ['-n', l.net.topology.client.ns, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let events = '';
  monitor.stdout.on('data', (b: Buffer) => (events += b.toString()));
  const watch = (async () => {
    while (watching) {
      const ps = (await l.paths(PREFIX)).filter((p) => p.peer?.peerId === n1);
      polls++;
      if (ps.length === 0) {
        missing++;
        missingAt.push(Math.round(performance.now() - t0));
      } else if (ps.some((p) => p.stale)) stale++;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    await l.net.stopSpeaker('n1', signal);
    // FRR noticed the connection gone (the session left Established): GR helper mode holds the routes as stale.
    await l.waitFor('FRR to see the session with n1 go down', async () => ((await frrNeighbor(l, n1))?.['bgpState'] !== 'Established' ? true : undefined), 30_000, 100);
    await l.net.startSpeaker('n1');
    await l.waitFor('the session with n1 Established again', async () => ((await frrNeighbor(l, n1))?.['bgpState'] === 'Established' ? true : undefined), 60_000, 100);
    await l.waitFor(`${PREFIX} from ${n1}, no longer stale`, async () => {
      const ps = (await l.paths(PREFIX)).filter((p) => p.peer?.peerId === n1);
      return ps.length === 1 && !ps[0]!.stale ? true : undefined;
    }, 30_000, 50);
    const refreshedMs = performance.now() - t0;
    // A little longer: an End-of-RIB sent before the route would withdraw it right after.
    await new Promise((r) => setTimeout(r, 1500));
    return { polls, missing, stale, refreshedMs };
  } finally {
    watching = false;
    await watch;
    monitor.kill('SIGTERM');
    const deleted = events.split('\n').filter((x) => x.startsWith('Deleted') && x.includes(WEB));
    process.stdout.write(`# ip monitor route in the router namespace during the restart:\n${events.split('\n').filter((x) => x.includes(WEB)).map((x) => `#   ${x}`).join('\n')}\n`);
    missing += deleted.length;
    if (missingAt.length) process.stdout.write(`# ${PREFIX} missing at FRR at ${missingAt.slice(0, 20).join(', ')} ms after the stop\n`);
  }
}

test('graceful restart: the route stays at FRR (stale) while the speaker is SIGKILLed and restarted, refreshed after End-of-RIB', { skip }, async () => {
  const l = lab!;
  await l.waitFor(`${PREFIX} at FRR from ${n1}`, async () => ((await l.paths(PREFIX)).some((p) => p.peer?.peerId === n1) ? true : undefined), 60_000, 200);
  // zebra installed it in the router namespace's kernel table (what `ip monitor route` watches below).
  await l.waitFor(`the kernel route ${WEB} in the router namespace`, async () =>
    execFileSync('ip', ['-n', l.net.topology.client.ns, 'route', 'show', WEB], { encoding: 'utf8' }).includes(n1) ? true : undefined,
  );
  const nb = (await frrNeighbor(l, n1)) as GrInfo | undefined;
  process.stdout.write(`# FRR's GR view of ${n1}: ${JSON.stringify(nb?.gracefulRestartInfo)}\n`);
  assert.equal(nb?.gracefulRestartInfo?.timers?.receivedRestartTimer, 120, 'the speaker advertises Restart Time 120 s');
  const r = await restartWatched(l, 'SIGKILL');
  process.stdout.write(`# SIGKILL + restart: ${r.polls} polls of FRR's RIB, ${r.stale} with the path stale, ${r.missing} without it; refreshed ${(r.refreshedMs / 1000).toFixed(1)} s after the kill\n`);
  assert.equal(r.missing, 0, `${PREFIX} disappeared from FRR during the restart (${r.missing} of ${r.polls} polls)`);
  assert.ok(r.stale > 0, `FRR never marked ${PREFIX} stale while the speaker was down (${r.polls} polls)`);
  const after = (await frrNeighbor(l, n1)) as GrInfo | undefined;
  assert.equal(after?.gracefulRestartInfo?.endOfRibRecv?.['IPv4 Unicast'] ?? after?.gracefulRestartInfo?.endOfRibRecv?.['ipv4Unicast'], true, `End-of-RIB received: ${JSON.stringify(after?.gracefulRestartInfo)}`);
  const ps = await l.paths(PREFIX);
  assert.deepEqual(ps.map((p) => [p.peer?.peerId, p.valid, Boolean(p.stale)]), [[n1, true, false]]);
});

// A SIGTERM (a rolling update of the DaemonSet): the speaker closes its GR sessions without a NOTIFICATION
// (BgpSpeaker.close({ gracefulRestart }) → BgpSession.stop → ManualStop notify: false), because RFC 4724 §4 ends
// graceful restart on a NOTIFICATION (RFC 8538 keeps it only when both sides set the N bit, which the speaker does
// not); FRR then keeps the route as stale until the restarted speaker's End-of-RIB.
test('graceful restart across a SIGTERM restart (rolling update): the route stays at FRR', { skip }, async () => {
  const l = lab!;
  await l.waitFor(`${PREFIX} at FRR from ${n1}, not stale`, async () => ((await l.paths(PREFIX)).some((p) => p.peer?.peerId === n1 && !p.stale) ? true : undefined), 60_000, 200);
  const r = await restartWatched(l, 'SIGTERM');
  process.stdout.write(`# SIGTERM + restart: ${r.polls} polls of FRR's RIB, ${r.stale} with the path stale, ${r.missing} without it (or deleted from the kernel); refreshed ${(r.refreshedMs / 1000).toFixed(1)} s after the stop\n`);
  assert.equal(r.missing, 0, `${PREFIX} disappeared from FRR during the SIGTERM restart (${r.missing} of ${r.polls} polls or kernel deletions)`);
});
