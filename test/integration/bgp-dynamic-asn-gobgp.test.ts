// BGPPeer dynamicASN and localASN against GoBGP 3 (root, network namespaces; test/fixtures/bgp/router-lab.ts), the
// GoBGP twin of bgp-dynamic-asn.test.ts (FRR). GoBGP has no `remote-as internal|external`: each neighbor has a fixed
// peer-as (the AS berth speaks), and berth is the side that does not know the other's AS. berth's BgpSession runs in
// the node namespace (bgp-session-agent.ts) with the options bgp-speaker.ts sessionSpecFor derives from the BGPPeer:
// - GoBGP AS 4200000001 (4-octet: AS_TRANS in the OPEN's My AS, RFC 6793), three node addresses: dynamicASN external
//   (myASN 64500) is established and GoBGP holds the route with AS_PATH [64500]; localASN 64510 (myASN 64500, GoBGP
//   peer-as 64510) is established and GoBGP sees AS_PATH [64510] only (replace-as); dynamicASN internal is refused by
//   berth with Bad Peer AS, which GoBGP counts as a received NOTIFICATION and never reaches Established.
// - GoBGP AS 64500: dynamicASN internal is established as iBGP, GoBGP sees an empty AS_PATH and LOCAL_PREF 300;
//   dynamicASN external from a second address is refused with Bad Peer AS (the router's AS is berth's myASN).
// gobgpd stays passive (recipes §4.4: its active mode waits 5-10 s before the first dial).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRouterNode, eventually, peerLabSkipReason, startRouterDaemon } from '../fixtures/bgp/router-lab.ts';
import { startSessionAgent, type Agent } from '../fixtures/bgp/session-agent.ts';

const skip = peerLabSkipReason('gobgp');
if (skip) console.log(`# skipping bgp-dynamic-asn-gobgp: ${skip}`);

const ROUTER = '198.51.100.1';

/** gobgpd.toml: one passive neighbor per entry, hold 9 s, IPv4 unicast. */
function gobgpConfig(asn: number, neighbors: Array<{ address: string; peerAs: number }>): string {
  return `[global.config]
  as = ${asn}
  router-id = "${ROUTER}"
  port = 179
  local-address-list = ["${ROUTER}"]
${neighbors
  .map(
    (n) => `
[[neighbors]]
  [neighbors.config]
    neighbor-address = "${n.address}"
    peer-as = ${n.peerAs}
  [neighbors.transport.config]
    passive-mode = true
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
`,
  )
  .join('')}`;
}

interface GobgpNeighbor {
  conf?: { peer_asn?: number; local_asn?: number; type?: number };
  state?: {
    session_state?: number | string;
    peer_asn?: number;
    peer_type?: number;
    messages?: { received?: { notification?: number } };
  };
}

interface GobgpPath {
  /** type 2 AS_PATH (`as_paths`), type 5 LOCAL_PREF (`value`). */
  attrs?: Array<{ type?: number; as_paths?: Array<{ asns?: number[] }>; value?: number }>;
  'source-id'?: string;
  'neighbor-ip'?: string;
}

async function startLab(asn: number, nodes: Array<{ address: string; peerAs: number }>) {
  const lab = await createRouterNode({
    label: 'gobgp',
    routerAddresses: [`${ROUTER}/24`],
    nodeAddresses: nodes.map((n) => `${n.address}/24`),
  });
  try {
    const d = await startRouterDaemon(lab, 'gobgp', { config: gobgpConfig(asn, nodes), listen: ROUTER });
    const json = <T>(args: string[]): T | undefined => {
      try {
        return JSON.parse(d.gobgp([...args, '-j'])) as T;
      } catch {
        return undefined;
      }
    };
    const agents: Agent[] = [];
    return {
      neighbor: (address: string) => json<GobgpNeighbor>(['neighbor', address]),
      /** GoBGP's paths for `prefix` in its global RIB (empty when absent). */
      paths: (prefix: string): GobgpPath[] =>
        Object.values(json<Record<string, GobgpPath[]>>(['global', 'rib', prefix]) ?? {}).flat(),
      agent: (sessions: object[]) => {
        const a = startSessionAgent(lab, { sessions });
        agents.push(a);
        return a;
      },
      close: async () => {
        for (const a of agents) await a.stop();
        await lab.close();
      },
    };
  } catch (e) {
    await lab.close();
    throw e;
  }
}

/** GoBGP's session state, as a name (the JSON has the gRPC enum: 6 = ESTABLISHED). */
const established = (n: GobgpNeighbor | undefined): boolean =>
  n?.state?.session_state === 6 || String(n?.state?.session_state).toLowerCase() === 'established';
const asPath = (p: GobgpPath | undefined): number[] =>
  (p?.attrs ?? [])
    .filter((a) => a.type === 2)
    .flatMap((a) => (a.as_paths ?? []).flatMap((s) => s.asns ?? []));
const localPref = (p: GobgpPath | undefined): number | undefined =>
  (p?.attrs ?? []).find((a) => a.type === 5)?.value;

const base = { peerAddress: ROUTER, holdTime: 9, backoffMs: 300, nodeName: 'n1' };

test(
  'GoBGP AS 4200000001: dynamicASN external and localASN establish with the right AS_PATH; dynamicASN internal is refused with Bad Peer AS',
  { skip, timeout: 90_000 },
  async (t) => {
    const lab = await startLab(4200000001, [
      { address: '198.51.100.2', peerAs: 64500 },
      { address: '198.51.100.3', peerAs: 64510 },
      { address: '198.51.100.4', peerAs: 64500 },
    ]);
    t.after(() => lab.close());
    const agent = lab.agent([
      {
        ...base,
        id: 'external',
        localAddress: '198.51.100.2',
        localAsn: 64500,
        peerAsn: 0,
        dynamicAsn: 'external',
      },
      {
        ...base,
        id: 'local',
        localAddress: '198.51.100.3',
        localAsn: 64510,
        routerAsn: 64500,
        peerAsn: 4200000001,
      },
      {
        ...base,
        id: 'internal',
        localAddress: '198.51.100.4',
        localAsn: 64500,
        peerAsn: 0,
        dynamicAsn: 'internal',
      },
    ]);
    await agent.waitFor(
      (e) => e.id === 'external' && e.event === 'established',
      'dynamicASN external established',
    );
    await agent.waitFor((e) => e.id === 'local' && e.event === 'established', 'localASN established');
    const refused = await agent.waitFor(
      (e) => e.id === 'internal' && e.event === 'down' && e.reason === 'bad-peer-as',
      'dynamicASN internal refused',
    );
    assert.match(String(refused.text), /peer AS 4200000001 is not internal/);
    await eventually(() => established(lab.neighbor('198.51.100.2')), 'GoBGP: 198.51.100.2 Established');
    await eventually(() => established(lab.neighbor('198.51.100.3')), 'GoBGP: 198.51.100.3 Established');
    // GoBGP received berth's OPEN Message Error / Bad Peer AS and never got further.
    const n4 = await eventually(() => {
      const n = lab.neighbor('198.51.100.4');
      return (n?.state?.messages?.received?.notification ?? 0) > 0 ? n : undefined;
    }, 'GoBGP to count the NOTIFICATION from 198.51.100.4');
    assert.equal(established(n4), false, JSON.stringify(n4.state).slice(0, 300));
    assert.equal(
      agent.events.filter((e) => e.id === 'internal' && e.event === 'established').length,
      0,
      'dynamicASN internal never established against AS 4200000001',
    );

    agent.send({ cmd: 'announce', prefix: '203.0.113.10/32' });
    const paths = await eventually(() => {
      const ps = lab.paths('203.0.113.10/32');
      return ps.length === 2 ? ps : undefined;
    }, 'GoBGP to learn 203.0.113.10/32 from both sessions');
    const byPeer = new Map(paths.map((p) => [p['neighbor-ip'], p]));
    assert.deepEqual(asPath(byPeer.get('198.51.100.2')), [64500], JSON.stringify(paths));
    assert.deepEqual(
      asPath(byPeer.get('198.51.100.3')),
      [64510],
      'localASN replaces myASN: 64500 never appears',
    );
  },
);

test(
  'GoBGP AS 64500: dynamicASN internal is established as iBGP (empty AS_PATH, LOCAL_PREF sent); dynamicASN external is refused',
  { skip, timeout: 60_000 },
  async (t) => {
    const lab = await startLab(64500, [
      { address: '198.51.100.2', peerAs: 64500 },
      { address: '198.51.100.3', peerAs: 64500 },
    ]);
    t.after(() => lab.close());
    const agent = lab.agent([
      {
        ...base,
        id: 'internal',
        localAddress: '198.51.100.2',
        localAsn: 64500,
        peerAsn: 0,
        dynamicAsn: 'internal',
        routerId: '198.51.100.2',
      },
      {
        ...base,
        id: 'external',
        localAddress: '198.51.100.3',
        localAsn: 64500,
        peerAsn: 0,
        dynamicAsn: 'external',
      },
    ]);
    await agent.waitFor(
      (e) => e.id === 'internal' && e.event === 'established',
      'dynamicASN internal established',
    );
    const refused = await agent.waitFor(
      (e) => e.id === 'external' && e.event === 'down' && e.reason === 'bad-peer-as',
      'dynamicASN external refused',
    );
    assert.match(String(refused.text), /peer AS 64500 is not external/);
    const n = await eventually(() => {
      const x = lab.neighbor('198.51.100.2');
      return established(x) ? x : undefined;
    }, 'GoBGP: 198.51.100.2 Established');
    assert.equal(n.state?.peer_asn, 64500, JSON.stringify(n.state).slice(0, 300));
    agent.send({ cmd: 'announce', prefix: '203.0.113.20/32', localPref: 300 });
    const p = await eventually(() => lab.paths('203.0.113.20/32')[0], 'GoBGP to learn 203.0.113.20/32');
    assert.deepEqual(asPath(p), [], JSON.stringify(p));
    assert.equal(localPref(p), 300, JSON.stringify(p));
  },
);
