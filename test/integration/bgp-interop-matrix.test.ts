// The BGP interop matrix (issue 9): berth's BgpSession against BIRD 2, FRR 8 and GoBGP 3 in network namespaces
// (bgp-interop-lab.ts startMatrixLab; root, skipped with the reason otherwise), table-driven over MATRIX_PEERS: for
// each daemon × transport {IPv4, IPv6} × {no MD5, TCP MD5 (RFC 2385)}, plus iBGP over IPv4, the session reaches
// Established and one IPv4 and one IPv6 service route appear at the router, read back with birdc / vtysh / gobgp,
// with the right next hop, AS path, communities, large communities (and LOCAL_PREF 300 on iBGP), then go on a withdraw.
// A wrong MD5 key (on the IPv6 MD5 neighbor) never establishes. One namespace pair and one daemon start per daemon
// serve every case: the daemon is configured with every neighbor at once, and one agent (one process) runs the five
// sessions and the wrong-key one side by side, the IPv6 one with hop limit 1. Each case prints its duration and the
// load average.
//
// Next hops (RFC 4760 §3 / RFC 4271 §5.1.3, what session.ts #nextHop sends): on an IPv4 transport, IPv4 routes carry
// NEXT_HOP = the session's local address and IPv6 routes an MP_REACH_NLRI next hop = a global IPv6 of the same
// interface (16 octets, no link-local); on an IPv6 transport, IPv6 routes carry the local address and IPv4 routes
// the classic NEXT_HOP = an IPv4 of the same interface (no RFC 8950 Extended Next Hop: that is only offered on
// unnumbered sessions). All three daemons accept both without extra configuration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadavg } from 'node:os';
import {
  DAEMONS,
  MATRIX_PEERS,
  peerLabSkipReason,
  sleep,
  startMatrixLab,
  type DaemonName,
  type MatrixLab,
  type Agent,
  type MatrixPeer,
} from './bgp-interop-lab.ts';

async function eventually(f: () => boolean, what: () => string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what()}`);
    await sleep(200);
  }
}

const esc = (s: string): string => s.replace(/[.]/g, '\\.');

/** What the router's CLI must show for a route from `peer` with a next hop matching the regex source `nh` (see the header for the next hops). */
function expectations(daemon: DaemonName, peer: MatrixPeer, nh: string): RegExp[] {
  switch (daemon) {
    case 'bird':
      return [
        new RegExp(`BGP\\.next_hop: ${nh}`),
        peer.ibgp ? /BGP\.as_path:\s*$/m : /BGP\.as_path: 64500\s*$/m,
        /BGP\.community: \(64500,100\)/,
        /BGP\.large_community: \(64500, 1, 2\)/,
        ...(peer.ibgp ? [/BGP\.local_pref: 300/] : []),
      ];
    case 'frr':
      return [
        new RegExp(`${nh} from ${esc(peer.nodeAddress)}`),
        peer.ibgp ? /^\s*Local\s*$/m : /^\s*64500\s*$/m,
        /Community: 64500:100/,
        /Large Community: 64500:1:2/,
        ...(peer.ibgp ? [/localpref 300/] : []),
      ];
    case 'gobgp':
      return [
        peer.ibgp ? new RegExp(`${nh}\\s+\\d\\d:`) : new RegExp(`${nh}\\s+64500\\s`),
        /Communities: 64500:100/,
        /LargeCommunity: \[ 64500:1:2\]/,
        ...(peer.ibgp ? [/LocalPref: 300/] : []),
      ];
  }
}

/**
 * The next hops berth sends on `peer`'s session (header), as regex sources: [IPv4 routes, IPv6 routes]. The local
 * address exactly; for the other family "an address of that family on the same interface", which is whichever the
 * kernel lists first (IPv4: the first added, 198.51.100.2; IPv6: the last added, 2001:db8:77::3), so any of the
 * node's addresses of that family on the link is accepted.
 */
function nextHops(peer: MatrixPeer): [string, string] {
  const node4 = '198\\.51\\.100\\.[234]';
  const node6 = '2001:db8:77::[23]';
  return peer.transport === 4 ? [esc(peer.nodeAddress), node6] : [node4, esc(peer.nodeAddress)];
}

/** One case on the shared agent: `peer`'s session (id = its name) carries its own IPv4 and IPv6 prefix. */
async function matrixCase(
  lab: MatrixLab,
  agent: Agent,
  daemon: DaemonName,
  peer: MatrixPeer,
  i: number,
): Promise<void> {
  const v4 = `203.0.113.${10 + i}/32`;
  const v6 = `2001:db8:100::${10 + i}/128`;
  const session = peer.name;
  const up = await agent.waitFor(
    (e) => e.event === 'established' && e.id === session,
    `the ${session} session with ${daemon}`,
    60_000,
  );
  assert.equal(up.holdTime, 9);
  const attrs = {
    communities: ['64500:100'],
    large: ['64500:1:2'],
    ...(peer.ibgp ? { localPref: 300 } : {}),
  };
  agent.send({ cmd: 'announce', session, prefix: v4, ...attrs });
  agent.send({ cmd: 'announce', session, prefix: v6, ...attrs });
  await eventually(
    () => lab.route(v4) !== '' && lab.route(v6) !== '',
    () => `${v4} and ${v6} in ${daemon}:\n${lab.route(v4)}\n${lab.route(v6)}`,
  );
  const [nh4, nh6] = nextHops(peer);
  const r4 = lab.route(v4);
  const r6 = lab.route(v6);
  if (process.env.SHOW_ROUTES) console.log(r4, r6);
  for (const re of expectations(daemon, peer, nh4))
    assert.match(r4, re, `${daemon} ${session} IPv4 route:\n${r4}`);
  for (const re of expectations(daemon, peer, nh6))
    assert.match(r6, re, `${daemon} ${session} IPv6 route:\n${r6}`);
  agent.send({ cmd: 'withdraw', session, prefix: v4 });
  agent.send({ cmd: 'withdraw', session, prefix: v6 });
  await eventually(
    () => lab.route(v4) === '' && lab.route(v6) === '',
    () => `the withdraw in ${daemon}:\n${lab.route(v4)}\n${lab.route(v6)}`,
  );
  assert.ok(!agent.events.some((e) => e.event === 'down' && e.id === session), JSON.stringify(agent.events));
}

for (const daemon of DAEMONS) {
  test(
    `${daemon}: interop matrix (IPv4/IPv6 transport × MD5 or not, iBGP; a wrong MD5 key)`,
    {
      skip: peerLabSkipReason(daemon),
      concurrency: true,
    },
    async (t) => {
      const t0 = Date.now();
      const lab = await startMatrixLab(daemon);
      t.after(() => lab.close());
      console.log(`# ${daemon}: lab up in ${Date.now() - t0} ms (load ${loadavg()[0]!.toFixed(1)})`);
      // The five sessions come from five node addresses to five neighbors, in one agent: their cases run side by side.
      // Beside them, a sixth session from the IPv6 MD5 neighbor's address with a wrong key.
      const md6 = MATRIX_PEERS.find((p) => p.md5 && p.transport === 6)!;
      const wrongKey: MatrixPeer = {
        ...md6,
        name: 'wrong-key',
        session: { ...md6.session, password: 'not-the-key', connectTimeMs: 1000 },
      };
      const agent = lab.agent([...MATRIX_PEERS, wrongKey]);
      t.after(() => agent.stop());
      const wrong = t.test(
        `${md6.name} with a wrong key: never Established (the key really is on the SYN)`,
        async () => {
          const t1 = Date.now();
          const down = await agent.waitFor(
            (e) => e.event === 'down' && e.id === wrongKey.name,
            'a failed attempt',
            60_000,
          );
          assert.equal(down.reason, 'connect-timeout', 'SYNs not signed with the right key are dropped');
          await agent.waitFor(
            (e) => e.event === 'down' && e.id === wrongKey.name && e !== down,
            'a second failed attempt',
            60_000,
          );
          assert.ok(
            !agent.events.some((e) => e.event === 'established' && e.id === wrongKey.name),
            JSON.stringify(agent.events),
          );
          console.log(`# ${daemon} wrong key: ${Date.now() - t1} ms (load ${loadavg()[0]!.toFixed(1)})`);
        },
      );
      await Promise.all([
        wrong,
        ...MATRIX_PEERS.map((peer, i) =>
          t.test(
            `${peer.name}: Established, IPv4 and IPv6 routes with next hop and communities${peer.ibgp ? ' and LOCAL_PREF' : ''}, withdrawn`,
            async () => {
              const t1 = Date.now();
              await matrixCase(lab, agent, daemon, peer, i);
              console.log(
                `# ${daemon} ${peer.name}: ${Date.now() - t1} ms (load ${loadavg()[0]!.toFixed(1)})`,
              );
            },
          ),
        ),
      ]);
    },
  );
}
