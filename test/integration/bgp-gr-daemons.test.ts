// Issue 9 "Done when": restarting a speaker with graceful restart keeps the route at the router throughout — against
// BIRD 2 and GoBGP 3 (test/e2e/speaker-bgp-gr.test.ts proves it against FRR with the whole speaker). Here berth's
// BgpSpeaker (bgp-speaker-agent.ts, real BgpSessions, a BGPPeer with enableGracefulRestart) peers with the daemon as
// a graceful-restart helper (bgp-gr-lab.ts), announces 203.0.113.10/32, is SIGKILLed (no NOTIFICATION) and started
// again with the same plan while the test reads the daemon's RIB about every 50 ms: the route must never be missing,
// must be marked stale while the speaker is away (RFC 4724 §4.2), and must be there, no longer stale, after the new
// session's End-of-RIB (the route is sent before it). Root only; documentation ranges only.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { peerLabSkipReason, sleep, type DaemonName } from '../fixtures/bgp/router-lab.ts';
import { startGrLab, type GrLab } from './bgp-gr-lab.ts';

const PREFIX = '203.0.113.10/32';

async function until<T>(f: () => T | undefined, what: string, ms = 30_000, every = 100): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
}

/** The neighbor is Established at the router (BIRD `BGP state: Established`, GoBGP `BGP state = established`). */
function established(daemon: DaemonName, lab: GrLab): boolean {
  const t = lab.neighbor();
  return daemon === 'bird' ? /BGP state:\s+Established/.test(t) : /BGP state\s*=\s*established/i.test(t);
}

for (const daemon of ['bird', 'gobgp'] as const) {
  const skip = peerLabSkipReason(daemon);
  if (skip) process.stdout.write(`# skipping graceful restart against ${daemon}: ${skip}\n`);
  test(
    `graceful restart against ${daemon}: the route stays (stale) while the speaker is SIGKILLed and restarted, refreshed after End-of-RIB`,
    { skip, timeout: 120_000 },
    async (t) => {
      const lab = await startGrLab(daemon);
      t.after(() => lab.close());
      const first = lab.startSpeaker([PREFIX]);
      await first.waitFor((e) => e.event === 'sessionUp', 'the first speaker Established');
      await until(
        () => (lab.path(PREFIX).present && !lab.path(PREFIX).stale ? true : undefined),
        `${PREFIX} at ${daemon}`,
      );
      const gr = lab.neighbor();
      process.stdout.write(
        `# ${daemon} neighbor before the restart:\n${gr
          .split('\n')
          .map((l) => `#   ${l}`)
          .join('\n')}\n`,
      );
      if (daemon === 'bird') assert.match(gr, /Graceful restart/i, 'BIRD negotiated graceful restart');
      else assert.match(gr, /graceful-restart/i, 'GoBGP negotiated graceful restart');

      let polls = 0;
      let missing = 0;
      let stale = 0;
      let lastMissing = '';
      let watching = true;
      const watch = (async () => {
        while (watching) {
          const p = lab.path(PREFIX);
          polls++;
          if (!p.present) {
            missing++;
            lastMissing = p.text;
          } else if (p.stale) stale++;
          await sleep(50);
        }
      })();
      const t0 = performance.now();
      try {
        await first.kill();
        await until(
          () => (!established(daemon, lab) ? true : undefined),
          `${daemon} to see the session go down`,
          30_000,
        );
        const staleText = await until(
          () => {
            const p = lab.path(PREFIX);
            return p.present && p.stale ? p.text : undefined;
          },
          `${daemon} to mark ${PREFIX} stale`,
          10_000,
          50,
        ).catch((e: Error) => {
          throw new Error(`${e.message}; route: ${lab.path(PREFIX).text}; neighbor: ${lab.neighbor()}`);
        });
        process.stdout.write(
          `# ${daemon} while the speaker is away:\n${staleText
            .split('\n')
            .map((l) => `#   ${l}`)
            .join('\n')}\n`,
        );
        const second = lab.startSpeaker([PREFIX]);
        await second.waitFor((e) => e.event === 'sessionUp', 'the restarted speaker Established', 60_000);
        await until(() => (established(daemon, lab) ? true : undefined), `${daemon}: Established again`);
        await until(
          () => {
            const p = lab.path(PREFIX);
            return p.present && !p.stale ? true : undefined;
          },
          `${PREFIX} refreshed (not stale) at ${daemon}`,
          30_000,
          50,
        );
        const refreshedMs = performance.now() - t0;
        // A little longer: an End-of-RIB before the route would have the helper drop it right after.
        await sleep(1500);
        watching = false;
        await watch;
        process.stdout.write(
          `# ${daemon}: ${polls} polls, ${stale} with ${PREFIX} stale, ${missing} without it; refreshed ${(refreshedMs / 1000).toFixed(1)} s after the kill\n`,
        );
        assert.equal(
          missing,
          0,
          `${PREFIX} disappeared at ${daemon} during the restart (${missing} of ${polls} polls); last: ${lastMissing}`,
        );
        assert.ok(stale > 0, `${daemon} never marked ${PREFIX} stale (${polls} polls)`);
        const after = lab.path(PREFIX);
        assert.ok(
          after.present && !after.stale,
          `${PREFIX} present and not stale after End-of-RIB: ${after.text}`,
        );
        if (daemon === 'gobgp')
          assert.equal(lab.endOfRibReceived(), true, 'GoBGP received End-of-RIB for IPv4 unicast');
        if (daemon === 'bird') {
          // BIRD ends a neighbor's graceful restart when End-of-RIB arrived for every channel (else at the restart
          // timer, 120 s away): "done" here is the End-of-RIB, after which unrefreshed stale routes would be flushed.
          const log = lab.log();
          const gr = log.split('\n').filter((l) => /graceful restart/i.test(l));
          process.stdout.write(`# bird.log:\n${gr.map((l) => `#   ${l}`).join('\n')}\n`);
          assert.match(
            log,
            /Neighbor graceful restart detected/,
            'BIRD entered graceful restart for the neighbor',
          );
          assert.match(log, /Neighbor graceful restart done/, 'BIRD ended graceful restart on End-of-RIB');
        }
      } finally {
        watching = false;
        await watch;
      }
    },
  );
}

// The control: without enableGracefulRestart the same kill takes the route away at once (the connection's close ends
// the session, RFC 4271 §8.2.2), so the polls above do see a gap when there is one.
for (const daemon of ['bird', 'gobgp'] as const) {
  const skip = peerLabSkipReason(daemon);
  test(
    `without graceful restart ${daemon} drops the route when the speaker is SIGKILLed (the control)`,
    { skip, timeout: 60_000 },
    async (t) => {
      const lab = await startGrLab(daemon, { gracefulRestart: false });
      t.after(() => lab.close());
      const speaker = lab.startSpeaker([PREFIX]);
      await speaker.waitFor((e) => e.event === 'sessionUp', 'the speaker Established');
      await until(() => (lab.path(PREFIX).present ? true : undefined), `${PREFIX} at ${daemon}`);
      await speaker.kill();
      await until(
        () => (!lab.path(PREFIX).present ? true : undefined),
        `${daemon} to drop ${PREFIX}`,
        20_000,
        50,
      );
    },
  );
}
