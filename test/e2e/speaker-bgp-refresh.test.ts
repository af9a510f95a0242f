// Issue 9 proof gaps, against FRR 8 (zebra + bfdd + bgpd) and the real `berth speaker` of node n1 (lab network,
// speaker-bgp-lab.ts), everything configured by `kubectl apply` (BFDProfile steady, BGPPeer with bfdProfile, pool web,
// BGPAdvertisement web, Services web and web2 (IPv4) and web6 (IPv6) with their EndpointSlices, over one IPv4 session
// with dualStackAddressFamily):
//   - metric values on the real speaker, scraped from its :7472 over the segment: with the session Established and
//     BFD Up, metallb_bgp_session_up{peer="198.51.100.1:179"} = 1, metallb_bgp_updates_total > 0,
//     metallb_bgp_announced_prefixes_total = 3 (the Service IPs), metallb_bgp_pending_prefixes_total = 0,
//     metallb_bfd_session_up{peer="198.51.100.1",vrf="default"} = 1 (MetalLB's names and labels, docs/metrics.md;
//     vrf "default" as FRR's JSON names the default VRF, which MetalLB's BFD collector copies);
//   - route refresh (RFC 2918): FRR sees the capability advertised by the speaker; `clear bgp ipv4 unicast <n1> soft
//     in` makes FRR send a ROUTE-REFRESH for IPv4 unicast (seen on the wire by tcpdump in the router namespace, type
//     5, and in FRR's routeRefreshSent), the speaker re-sends that family's Adj-RIB-Out (its
//     metallb_bgp_updates_total and FRR's updatesRecv rise; tcpdump shows both /32s after the request and not the
//     /128: RFC 2918 §4 asks for the requested <AFI, SAFI> only), then the same for IPv6; every prefix stays at FRR
//     and the session is not reset. (The speaker re-sent both families for any request before this test.)
// Root only (skips with the reason otherwise). Documentation ranges only: segment 198.51.100.0/24, Service IPs
// 203.0.113.0/24, endpoints 192.0.2.0/24.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import {
  BFD_PROFILE_FAST_YAML,
  bgpLabSkipReason,
  bgpPeerYaml,
  frrConfigText,
  frrNeighbor,
  frrPassiveNeighbors,
  ROUTER,
  sampleValue,
  scrapeSpeaker,
  serviceYaml,
  sliceYaml,
  startBgpLab,
  WEB_POOL_YAML,
  type BgpLab,
} from './speaker-bgp-lab.ts';

const skip = await bgpLabSkipReason(['zebra', 'bfdd', 'bgpd']);
if (skip) process.stdout.write(`# skipping the route refresh / metrics end-to-end test: ${skip}\n`);

const IPS = ['203.0.113.10', '203.0.113.11'] as const;
const V6 = '2001:db8:113::10';
const V4_PREFIXES = IPS.map((ip) => `${ip}/32`);
const V6_PREFIX = `${V6}/128`;
const PREFIXES = [...V4_PREFIXES, V6_PREFIX];
const PEER_LABEL = `${ROUTER.v4}:179`;

let lab: BgpLab | undefined;
let n1 = '';

// BFD at 300 ms × 5 on both sides (FRR's profile `fast` of frrConfigText, slowed down; BFDProfile `steady`): the
// metrics are read while BFD is Up, and 100 ms × 3 flaps on a loaded 2-core machine, resetting the BGP session.
const frrConfig = (d: string, nodes: readonly string[]): string =>
  frrConfigText(d, {
    bfdFast: true,
    ...frrPassiveNeighbors(nodes, [3, 9], (n) => [`neighbor ${n} bfd profile fast`]),
    ipv6: nodes.flatMap((n) => [`neighbor ${n} activate`, `neighbor ${n} route-map NONE out`]),
  })
    .replaceAll('-interval 100', '-interval 300')
    .replace('detect-multiplier 3', 'detect-multiplier 5');

const BFD_PROFILE_STEADY_YAML = BFD_PROFILE_FAST_YAML.replace('name: fast', 'name: steady')
  .replace('receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3', 'receiveInterval: 300, transmitInterval: 300, detectMultiplier: 5');

const CONFIG = `${BFD_PROFILE_STEADY_YAML}---
${bgpPeerYaml('holdTime: 9s, keepaliveTime: 3s, bfdProfile: steady, dualStackAddressFamily: true')}---
${WEB_POOL_YAML.replace('addresses: ["203.0.113.10-203.0.113.19"]', 'addresses: ["203.0.113.10-203.0.113.19", "2001:db8:113::10-2001:db8:113::19"]')}---
${serviceYaml('web', [IPS[0]])}---
${sliceYaml('web', [['n1', '192.0.2.11']])}---
${serviceYaml('web2', [IPS[1]])}---
${sliceYaml('web2', [['n1', '192.0.2.12']])}---
${serviceYaml('web6', [V6])}---
${sliceYaml('web6', [['n1', '192.0.2.13']])}`;

before(async () => {
  if (skip) return;
  lab = await startBgpLab({ nodes: 1, daemons: ['zebra', 'bfdd', 'bgpd'], frrConfig, log: (l) => void process.stdout.write(`${l}\n`) });
  n1 = lab.nodes[0]!;
  await lab.kubectl(['apply', '-f', '-'], CONFIG);
});

after(async () => {
  await lab?.stop();
});

interface NeighborView {
  bgpState?: string;
  connectionsEstablished?: number;
  neighborCapabilities?: Record<string, unknown>;
  messageStats?: { updatesRecv?: number; routeRefreshSent?: number; routeRefreshRecv?: number };
}

/** The three prefixes at FRR from n1 (valid), waited for. */
async function allAtFrr(l: BgpLab): Promise<void> {
  await l.waitFor(`${PREFIXES.join(' and ')} at FRR from ${n1}`, async () => {
    for (const p of PREFIXES) if (!(await l.paths(p)).some((x) => x.peer?.peerId === n1 && x.valid)) return undefined;
    return true;
  }, 60_000, 300);
}

test('metric values on the real speaker: session up, updates sent, 3 prefixes announced, BFD up (MetalLB names and labels)', { skip }, async () => {
  const l = lab!;
  await allAtFrr(l);
  await l.waitFor(`FRR's BFD session with ${n1} up`, async () => {
    const b = await l.vtyJson<Array<{ peer?: string; status?: string }>>('show bfd peers json');
    return b.find((p) => p.peer === n1)?.status === 'up' ? true : undefined;
  });
  // The speaker publishes what it did: poll its scrape until BFD and the 3 prefixes show (sessions report on change).
  let last = '';
  const text = await l.waitFor('n1 metrics: BFD up and 3 announced prefixes', async () => {
    const t = await scrapeSpeaker(l, 'n1');
    last = t.split('\n').filter((x) => /^metallb_(bgp|bfd)_/.test(x)).join('\n');
    return sampleValue(t, `metallb_bfd_session_up{peer="${ROUTER.v4}",vrf="default"}`) === 1 &&
      sampleValue(t, `metallb_bgp_announced_prefixes_total{peer="${PEER_LABEL}"}`) === 3
      ? t
      : undefined;
  }, 60_000, 500).catch((e: unknown) => {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n--- n1's last metallb_bgp/bfd samples:\n${last}`);
  });
  const lines = text.split('\n').filter((x) => /^metallb_(bgp|bfd)_/.test(x));
  process.stdout.write(`# n1's :7472, BGP and BFD samples:\n${lines.map((x) => `#   ${x}`).join('\n')}\n`);
  assert.equal(sampleValue(text, `metallb_bgp_session_up{peer="${PEER_LABEL}"}`), 1, 'metallb_bgp_session_up');
  const updates = sampleValue(text, `metallb_bgp_updates_total{peer="${PEER_LABEL}"}`);
  assert.ok(updates !== undefined && updates > 0, `metallb_bgp_updates_total > 0 (got ${updates})`);
  assert.equal(sampleValue(text, `metallb_bgp_announced_prefixes_total{peer="${PEER_LABEL}"}`), 3, 'metallb_bgp_announced_prefixes_total');
  // Pending = wanted but not yet sent on this connection (BgpSessionStats.pendingPrefixes, MetalLB's native speaker's
  // len(s.new)): nothing once the prefixes are at FRR.
  assert.equal(sampleValue(text, `metallb_bgp_pending_prefixes_total{peer="${PEER_LABEL}"}`), 0, 'metallb_bgp_pending_prefixes_total');
  assert.equal(sampleValue(text, `metallb_bfd_session_up{peer="${ROUTER.v4}",vrf="default"}`), 1, 'metallb_bfd_session_up');
  const bfdIn = sampleValue(text, `metallb_bfd_control_packet_input{peer="${ROUTER.v4}",vrf="default"}`);
  assert.ok(bfdIn !== undefined && bfdIn > 0, `metallb_bfd_control_packet_input > 0 (got ${bfdIn})`);
});

/**
 * Runs `clear bgp <afi> unicast <n1> soft in` at FRR while tcpdump watches the router namespace, and returns what
 * tcpdump printed from the ROUTE-REFRESH on (once FRR counted the refresh and an UPDATE after it, and the speaker's
 * metallb_bgp_updates_total rose). Asserts the session was kept (Established, no new connection).
 */
async function refresh(l: BgpLab, afi: 'ipv4' | 'ipv6'): Promise<string> {
  const nb0 = (await frrNeighbor(l, n1)) as NeighborView | undefined;
  assert.equal(nb0?.bgpState, 'Established');
  const stats0 = nb0?.messageStats ?? {};
  const updates0 = sampleValue(await scrapeSpeaker(l, 'n1'), `metallb_bgp_updates_total{peer="${PEER_LABEL}"}`) ?? NaN;
  // tcpdump in the router namespace: BGP messages between FRR and n1, decoded (-v prints each message's type).
  const dump = spawn('ip', ['netns', 'exec', l.net.topology.client.ns, 'tcpdump', '-l', '-n', '-v', '-i', 'any', `tcp port 179 and host ${n1}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let wire = '';
  dump.stdout.on('data', (b: Buffer) => (wire += b.toString()));
  let listening = false;
  dump.stderr.on('data', (b: Buffer) => (listening ||= b.toString().includes('listening on')));
  try {
    await l.waitFor('tcpdump listening', async () => (listening ? true : undefined), 10_000, 50);
    await l.vtysh(`clear bgp ${afi} unicast ${n1} soft in`);
    // FRR counts the ROUTE-REFRESH it sent and the UPDATEs that came back; the speaker counts the UPDATEs it re-sent.
    const nb = await l.waitFor(`FRR: a ROUTE-REFRESH (${afi}) sent to n1 and UPDATEs received after it`, async () => {
      const v = (await frrNeighbor(l, n1)) as NeighborView | undefined;
      const st = v?.messageStats ?? {};
      return (st.routeRefreshSent ?? 0) > (stats0.routeRefreshSent ?? 0) && (st.updatesRecv ?? 0) > (stats0.updatesRecv ?? 0) ? v : undefined;
    }, 20_000, 200);
    process.stdout.write(`# ${afi}: FRR messageStats before ${JSON.stringify(stats0)}, after ${JSON.stringify(nb.messageStats)}\n`);
    const updates1 = await l.waitFor('n1 metallb_bgp_updates_total rising', async () => {
      const u = sampleValue(await scrapeSpeaker(l, 'n1'), `metallb_bgp_updates_total{peer="${PEER_LABEL}"}`);
      return u !== undefined && u > updates0 ? u : undefined;
    }, 10_000, 300);
    process.stdout.write(`# ${afi}: n1 metallb_bgp_updates_total ${updates0} → ${updates1}\n`);
    await l.waitFor('the ROUTE-REFRESH on the wire (tcpdump)', async () => (/Route Refresh/i.test(wire) ? true : undefined), 10_000, 200);
    // A little longer: an UPDATE of another family would come right after the requested one.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(nb.bgpState, 'Established', 'session kept');
    assert.equal(nb.connectionsEstablished, nb0?.connectionsEstablished, 'no new connection: the refresh did not reset the session');
    const from = wire.search(/Route Refresh/i);
    process.stdout.write(`# ${afi}: tcpdump in the router namespace from the ROUTE-REFRESH on:\n${wire.slice(from).split('\n').filter((x) => /Refresh|AFI|\/(32|128)\b/.test(x)).slice(0, 12).map((x) => `#   ${x.trim()}`).join('\n')}\n`);
    return wire.slice(from);
  } finally {
    dump.kill('SIGTERM');
  }
}

test('route refresh (RFC 2918): FRR `clear bgp <afi> unicast <node> soft in` → ROUTE-REFRESH on the wire → every route of that family re-sent, none of the other, session kept', { skip }, async () => {
  const l = lab!;
  await allAtFrr(l);
  const caps = JSON.stringify(((await frrNeighbor(l, n1)) as NeighborView | undefined)?.neighborCapabilities ?? {});
  process.stdout.write(`# FRR's view of n1's capabilities: ${caps}\n`);
  assert.match(caps, /"routeRefresh":"advertisedAndReceived[^"]*"/, 'route refresh negotiated (advertised by FRR and received from the speaker)');

  const v4 = await refresh(l, 'ipv4');
  for (const p of V4_PREFIXES) assert.ok(v4.includes(p), `${p} re-sent after the IPv4 ROUTE-REFRESH (tcpdump):\n${v4.slice(0, 3000)}`);
  assert.ok(!v4.includes(V6_PREFIX), `${V6_PREFIX} re-sent after an IPv4 ROUTE-REFRESH (RFC 2918 §4: only the requested <AFI, SAFI>):\n${v4.slice(0, 3000)}`);
  const v6 = await refresh(l, 'ipv6');
  assert.ok(v6.includes(V6_PREFIX), `${V6_PREFIX} re-sent after the IPv6 ROUTE-REFRESH (tcpdump):\n${v6.slice(0, 3000)}`);
  for (const p of V4_PREFIXES) assert.ok(!v6.includes(p), `${p} re-sent after an IPv6 ROUTE-REFRESH:\n${v6.slice(0, 3000)}`);
  for (const p of PREFIXES) {
    const ps = (await l.paths(p)).filter((x) => x.peer?.peerId === n1);
    assert.equal(ps.length, 1, `${p} still at FRR after the refreshes`);
    assert.ok(ps[0]!.valid, `${p} valid`);
  }
});
