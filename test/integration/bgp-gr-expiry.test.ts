// Issue 9, graceful restart when the speaker does NOT come back (RFC 4724 §4.2: "If the session does not get
// re-established within the Restart Time that the peer advertised previously, the Receiving Speaker MUST delete all
// the stale routes from the peer"). berth's BgpSession (bgp-session-agent.ts in the node namespace of
// test/fixtures/bgp/router-lab.ts, facing bgp-gr-lab.ts's helper-mode router configs) advertises the Graceful Restart
// capability with a Restart Time of 5 s — the real speaker advertises MetalLB's 120 s (GRACEFUL_RESTART_TIME_SEC),
// too long for a test, and test/e2e/speaker-bgp-gr.test.ts checks FRR reads that 120 — announces 203.0.113.10/32 and
// is SIGKILLed (no NOTIFICATION: the kernel closes the connection). The router (BIRD 2, FRR 8, GoBGP 3 as helpers) must read the Restart Time from the OPEN, keep
// the route as stale while the speaker is away, and delete it when the Restart Time has run out with no new session.
// The time from the kill to the deletion is printed, not asserted. Root only; documentation ranges only.
import assert from 'node:assert/strict';
import { loadavg } from 'node:os';
import { test } from 'node:test';
import { startSessionAgent } from '../fixtures/bgp/session-agent.ts';
import {
  createRouterNode,
  peerLabSkipReason,
  sh,
  sleep,
  startRouterDaemon,
  type DaemonName,
  type RouterDaemon,
  type RouterNode,
} from '../fixtures/bgp/router-lab.ts';
import { GR_NODE, GR_ROUTER, grDaemonConfig, routerPath } from './bgp-gr-lab.ts';

const PREFIX = '203.0.113.10/32';
const RESTART_TIME_S = 5;

/** The value of varint field `field` at the top level of protobuf message `b` (varint fields only before it). */
function protoVarintField(b: Buffer, field: number): number | undefined {
  let i = 0;
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; i < b.length; shift += 7) {
      const x = b[i++]!;
      v += (x & 0x7f) * 2 ** shift;
      if (!(x & 0x80)) break;
    }
    return v;
  };
  while (i < b.length) {
    const tag = varint();
    if ((tag & 7) !== 0) return undefined;
    const v = varint();
    if (tag >>> 3 === field) return v;
  }
  return undefined;
}

/** The Restart Time the router read from our OPEN: FRR receivedRestartTimer, GoBGP peer-restart-time, BIRD's text. */
function receivedRestartTime(daemon: DaemonName, node: RouterNode, d: RouterDaemon): { value: number | undefined; text: string } {
  try {
    switch (daemon) {
      case 'frr': {
        const text = d.vtysh(`show bgp neighbors ${GR_NODE} json`);
        const j = JSON.parse(text) as Record<string, { gracefulRestartInfo?: { timers?: { receivedRestartTimer?: number } } }>;
        return { value: j[GR_NODE]?.gracefulRestartInfo?.timers?.receivedRestartTimer, text };
      }
      case 'gobgp': {
        // state.remote_cap[] holds the OPEN's capabilities as protobuf Any: apipb.GracefulRestartCapability's field 2
        // (varint) is the Restart Time; field 1 (flags) may come first.
        const text = d.gobgp(['neighbor', GR_NODE, '-j']);
        const j = JSON.parse(text) as { state?: { remote_cap?: Array<{ type_url?: string; value?: string }> } };
        const cap = j.state?.remote_cap?.find((c) => c.type_url?.endsWith('.GracefulRestartCapability'));
        return { value: cap?.value ? protoVarintField(Buffer.from(cap.value, 'base64'), 2) : undefined, text };
      }
      case 'bird': {
        // BIRD 2 prints the neighbor's capabilities: `Graceful restart` then `Restart time: N`.
        const text = sh('birdc', ['-s', `${node.dir}/bird.ctl`, 'show', 'protocols', 'all', 'speaker1']);
        const caps = text.slice(text.indexOf('Neighbor capabilities'));
        const m = /Graceful restart[\s\S]*?Restart time:\s+(\d+)/.exec(caps);
        return { value: m ? Number(m[1]) : undefined, text };
      }
    }
  } catch (e) {
    return { value: undefined, text: String(e) };
  }
}

for (const daemon of ['bird', 'frr', 'gobgp'] as const) {
  const skip = peerLabSkipReason(daemon);
  if (skip) process.stdout.write(`# skipping graceful restart expiry against ${daemon}: ${skip}\n`);
  test(
    `graceful restart against ${daemon}: the speaker does not come back, the stale route is deleted when its Restart Time (${RESTART_TIME_S} s) runs out`,
    { skip, timeout: 60_000 },
    async (t) => {
      // The helper-mode router of bgp-gr-lab.ts (BIRD `graceful restart on`, FRR `bgp graceful-restart`, GoBGP
      // graceful-restart enabled), passive, AS 64501; berth's session from the node namespace, AS 64500.
      const node = await createRouterNode({ label: `${daemon}-grx`, routerAddresses: [`${GR_ROUTER}/24`], nodeAddresses: [`${GR_NODE}/24`] });
      t.after(() => node.close());
      const d = await startRouterDaemon(node, daemon, { config: grDaemonConfig(daemon, node.dir), listen: GR_ROUTER });
      const state = (): 'absent' | 'present' | 'stale' => {
        const p = routerPath(daemon, d, node.dir, PREFIX);
        return !p.present ? 'absent' : p.stale ? 'stale' : 'present';
      };
      const agent = startSessionAgent(node, {
        sessions: [{
          id: 'router', peerAddress: GR_ROUTER, localAddress: GR_NODE, localAsn: 64500, peerAsn: 64501, holdTime: 9,
          backoffMs: 200, nodeName: 'n1', families: ['ipv4'], gracefulRestart: { restartTimeSec: RESTART_TIME_S },
        }],
      });
      await agent.waitFor((e) => e.event === 'established', `the session with ${daemon}`, 30_000);
      agent.send({ cmd: 'announce', prefix: PREFIX });
      for (let i = 0; state() !== 'present'; i++) {
        if (i > 150) assert.fail(`${PREFIX} never reached ${daemon}: ${routerPath(daemon, d, node.dir, PREFIX).text}`);
        await sleep(200);
      }
      // The router read our Restart Time from the OPEN's Graceful Restart capability (RFC 4724 §3).
      const rt = receivedRestartTime(daemon, node, d);
      process.stdout.write(`# ${daemon} read Restart Time ${rt.value} s from the speaker's OPEN\n`);
      assert.equal(rt.value, RESTART_TIME_S, `${daemon}'s neighbor view:\n${rt.text}`);

      await agent.kill();
      const t0 = performance.now();
      const seen: string[] = [];
      let now = state();
      let staleSeen = false;
      while (now !== 'absent') {
        if (now === 'stale') staleSeen = true;
        if (seen.at(-1) !== now) seen.push(now);
        if (performance.now() - t0 > 40_000) assert.fail(`${PREFIX} still at ${daemon} 40 s after the kill (${now}):\n${routerPath(daemon, d, node.dir, PREFIX).text}`);
        await sleep(100);
        now = state();
      }
      const goneS = (performance.now() - t0) / 1000;
      seen.push('absent');
      process.stdout.write(`# ${daemon}: ${seen.join(' → ')}; deleted ${goneS.toFixed(1)} s after the kill (Restart Time ${RESTART_TIME_S} s; load ${loadavg()[0]!.toFixed(1)})\n`);
      assert.ok(staleSeen, `${daemon} kept ${PREFIX} as stale after the connection closed (seen: ${seen.join(' → ')})`);
    },
  );
}
