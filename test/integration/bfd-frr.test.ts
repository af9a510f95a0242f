// Interop: berth's BFD (one child process with one BfdServer, test/integration/bfd-agent.ts) against FRR 8's bfdd,
// each in its own network namespace joined by a veth pair (recipes §4.5: bfdd standalone, no zebra, as user frr).
// 100 ms × 3, three sessions at once: IPv4, IPv6 and IPv6 link-local over eth0 (demultiplexed by peer + interface).
// FRR reports the peers up with the remote timers at 100 ms (our Final answered its Poll, recipes §4.5 gotcha; FRR
// drops single-hop packets whose TTL / hop limit is not 255, so "up" also proves we send 255);
// SIGSTOP of bfdd → berth goes Down with diag 1 (Control Detection Time Expired) — the detection time is printed, not
// asserted; SIGSTOP of berth → FRR goes down with "control detection time expired"; SIGTERM of berth → FRR sees
// AdminDown. Needs root, `ip netns`, bfdd and the frr user; skips with the reason otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  BFDD,
  linkLocal,
  makeLab,
  netnsSkipReason,
  routerPeer,
  ROUTER,
  SPEAKER,
  startAgent,
  startFrrBfdd,
  until,
  type AgentLine,
} from './bfd-lab.ts';

function skipReason(): string | undefined {
  const r = netnsSkipReason([BFDD, '/usr/bin/vtysh']);
  if (r) return r;
  try {
    execFileSync('id', ['frr'], { stdio: 'ignore' });
  } catch {
    return 'user frr missing (Debian package frr)';
  }
  return undefined;
}

test(
  'berth BFD against FRR 8 bfdd: up, Poll/Final to 100 ms, detection both ways, AdminDown',
  { skip: skipReason(), timeout: 120_000 },
  async (t) => {
    const lab = makeLab(`bt${process.pid % 100000}f`);
    t.after(() => lab.cleanup());
    const [rtrLL, spkLL] = await Promise.all([linkLocal(lab.nsRouter), linkLocal(lab.nsSpeaker)]);
    const frr = await startFrrBfdd(lab, 100, 3, [`${spkLL} interface eth0 local-address ${rtrLL}`]);
    const agent = startAgent(lab, [
      routerPeer('v4'),
      routerPeer('v6'),
      { peer: rtrLL, local: spkLL, ifname: 'eth0' },
    ]);
    const of = (peer: string, event: string) => (l: AgentLine) => l.peer === peer && l.event === event;

    // 1. Up on all three; timers negotiated to 100 ms once the Polls are answered with Finals.
    for (const [ours, theirs] of [
      [ROUTER.v4, SPEAKER.v4],
      [ROUTER.v6, SPEAKER.v6],
      [rtrLL, spkLL],
    ] as const) {
      await agent.next(of(ours, 'up'), `${ours}: up`);
      const neg = await agent.next(
        (l) => of(ours, 'negotiated')(l) && l.txIntervalMs === 100,
        `${ours}: 100 ms`,
      );
      assert.equal(neg.detectionTimeMs, 300, 'our detection time: 3 × 100 ms');
      const p = await until(() => {
        const q = frr.peers().get(theirs);
        return q?.status === 'up' && q['remote-transmit-interval'] === 100 ? q : undefined;
      }, `FRR: ${theirs} up with remote TX 100 ms`);
      assert.equal(p['remote-receive-interval'], 100);
      assert.equal(p['remote-detect-multiplier'], 3);
    }

    // 2. SIGSTOP of FRR's bfdd → berth goes Down with diag 1. Three rounds, SIGCONT in between (it comes back Up).
    const detections: number[] = [];
    for (let round = 0; round < 3; round++) {
      const from = agent.lines.length;
      const stoppedAt = Date.now();
      process.kill(frr.pid, 'SIGSTOP');
      const down = await agent.next(of(ROUTER.v4, 'down'), 'down after SIGSTOP of bfdd', from);
      process.kill(frr.pid, 'SIGCONT');
      assert.equal(down.diag, 1);
      assert.equal(down.diagName, 'ControlDetectionTimeExpired');
      detections.push(down.at - stoppedAt);
      t.diagnostic(
        `round ${round}: berth detected FRR's silence ${down.at - stoppedAt} ms after SIGSTOP (${down.sinceLastRxMs} ms after the last packet)`,
      );
      await agent.next(of(ROUTER.v4, 'up'), 'up again after SIGCONT', from);
      await agent.next((l) => of(ROUTER.v4, 'negotiated')(l) && l.txIntervalMs === 100, '100 ms again', from);
    }
    detections.sort((x, y) => x - y);
    t.diagnostic(
      `berth detection time after SIGSTOP of bfdd (100 ms × 3): min ${detections[0]} ms, median ${detections[1]} ms, max ${detections[2]} ms`,
    );

    // 3. SIGSTOP of berth → FRR reports the IPv4 peer down (control detection time expired).
    await until(() => (frr.peers().get(SPEAKER.v4)?.status === 'up' ? true : undefined), 'FRR: up again');
    const stoppedAt = Date.now();
    agent.kill('SIGSTOP');
    const gone = await until(
      () => {
        const q = frr.peers().get(SPEAKER.v4);
        return q && q.status !== 'up' ? q : undefined;
      },
      'FRR: the IPv4 peer down after SIGSTOP of berth',
      15_000,
      20,
    );
    t.diagnostic(
      `FRR reported the peer ${gone.status} ${Date.now() - stoppedAt} ms after SIGSTOP of berth (vtysh polled every ~20 ms + its run time)`,
    );
    assert.equal(gone.status, 'down');
    assert.equal(gone.diagnostic, 'control detection time expired');
    agent.kill('SIGCONT');
    await until(
      () => (frr.peers().get(SPEAKER.v6)?.status === 'up' ? true : undefined),
      'FRR: up after SIGCONT',
    );

    // 4. SIGTERM of berth: it says AdminDown, FRR goes down with the remote diagnostic "administratively down".
    agent.kill('SIGTERM');
    const admin = await until(() => {
      const q = frr.peers().get(SPEAKER.v6);
      return q && q.status !== 'up' ? q : undefined;
    }, 'FRR: the IPv6 peer down after SIGTERM of berth');
    assert.equal(admin['remote-diagnostic'], 'administratively down');
  },
);
