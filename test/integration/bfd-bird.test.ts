// Interop: berth's BFD (bfd-agent.ts child) against BIRD 2's `protocol bfd` (recipes §4.1/§4.5), namespaces joined by a
// veth pair, 100 ms × 3 over IPv4 and IPv6: BIRD shows both sessions Up with a 100 ms interval and a 300 ms timeout
// (its Poll answered with our Final), SIGSTOP of BIRD → berth goes Down with diag 1, SIGSTOP of berth → BIRD shows
// the session Down. BIRD sends from a random source port (recipes §4.5): demultiplexing does not depend on it.
// Needs root, `ip netns`, bird and birdc; skips with the reason otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  makeLab,
  netnsSkipReason,
  ROUTER,
  routerPeer,
  SPEAKER,
  startAgent,
  startBird,
  until,
  type AgentLine,
} from './bfd-lab.ts';

test(
  'berth BFD against BIRD 2: up at 100 ms × 3 on IPv4 and IPv6, detection both ways',
  { skip: netnsSkipReason(['/usr/sbin/bird', '/usr/sbin/birdc']), timeout: 120_000 },
  async (t) => {
    const lab = makeLab(`bt${process.pid % 100000}b`);
    t.after(() => lab.cleanup());
    const bird = await startBird(lab, 100, 3);
    const agent = startAgent(lab, [routerPeer('v4'), routerPeer('v6')]);
    const of = (peer: string, event: string) => (l: AgentLine) => l.peer === peer && l.event === event;

    for (const [ours, peer] of [
      [ROUTER.v4, SPEAKER.v4],
      [ROUTER.v6, SPEAKER.v6],
    ] as const) {
      await agent.next(of(ours, 'up'), `${peer}: up`);
      const neg = await agent.next(
        (l) => of(ours, 'negotiated')(l) && l.txIntervalMs === 100,
        `${peer}: 100 ms`,
      );
      assert.equal(neg.detectionTimeMs, 300);
      const s = await until(() => {
        const q = bird.sessions().get(peer);
        return q?.state === 'Up' && q.intervalMs === 100 ? q : undefined;
      }, `BIRD: ${peer} Up at 100 ms`);
      assert.equal(s.timeoutMs, 300);
    }

    const from = agent.lines.length;
    const stoppedAt = Date.now();
    process.kill(bird.pid, 'SIGSTOP');
    const down = await agent.next(of(ROUTER.v4, 'down'), 'down after SIGSTOP of BIRD', from);
    process.kill(bird.pid, 'SIGCONT');
    assert.equal(down.diag, 1);
    t.diagnostic(
      `berth detected BIRD's silence ${down.at - stoppedAt} ms after SIGSTOP (${down.sinceLastRxMs} ms after the last packet)`,
    );
    await agent.next(of(ROUTER.v4, 'up'), 'up again after SIGCONT', from);

    await until(() => (bird.sessions().get(SPEAKER.v6)?.state === 'Up' ? true : undefined), 'BIRD: IPv6 Up');
    agent.kill('SIGSTOP');
    await until(
      () => (bird.sessions().get(SPEAKER.v6)?.state === 'Down' ? true : undefined),
      'BIRD: the IPv6 session Down after SIGSTOP of berth',
    );
    agent.kill('SIGCONT');
  },
);
