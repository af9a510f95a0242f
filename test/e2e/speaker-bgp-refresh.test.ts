// Issue 9 proof gaps, against FRR 8 (zebra + bfdd + bgpd) and the real `berth speaker` of node n1 (lab network,
// speaker-bgp-lab.ts), everything configured by `kubectl apply` (BFDProfile steady, BGPPeer with bfdProfile, pool web,
// BGPAdvertisement web, two Services web and web2 with their EndpointSlices):
//   - metric values on the real speaker, scraped from its :7472 over the segment: with the session Established and
//     BFD Up, metallb_bgp_session_up{peer="198.51.100.1:179"} = 1, metallb_bgp_updates_total > 0,
//     metallb_bgp_announced_prefixes_total = 2 (the two Service IPs), metallb_bgp_pending_prefixes_total = 0,
//     metallb_bfd_session_up{peer="198.51.100.1",vrf="default"} = 1 (MetalLB's names and labels, docs/metrics.md;
//     vrf "default" as FRR's JSON names the default VRF, which MetalLB's BFD collector copies);
//   - route refresh (RFC 2918): FRR sees the capability advertised by the speaker; `clear bgp <n1> soft in` makes FRR
//     send a ROUTE-REFRESH (seen on the wire by tcpdump in the router namespace, type 5, and in FRR's
//     routeRefreshSent), the speaker re-sends its Adj-RIB-Out (its metallb_bgp_updates_total and FRR's updatesRecv
//     rise), both prefixes stay at FRR and the session is not reset.
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
const PREFIXES = IPS.map((ip) => `${ip}/32`);
const PEER_LABEL = `${ROUTER.v4}:179`;

let lab: BgpLab | undefined;
let n1 = '';

// BFD at 300 ms × 5 on both sides (FRR's profile `fast` of frrConfigText, slowed down; BFDProfile `steady`): the
// metrics are read while BFD is Up, and 100 ms × 3 flaps on a loaded 2-core machine, resetting the BGP session.
const frrConfig = (d: string, nodes: readonly string[]): string =>
  frrConfigText(d, { bfdFast: true, ...frrPassiveNeighbors(nodes, [3, 9], (n) => [`neighbor ${n} bfd profile fast`]) })
    .replaceAll('-interval 100', '-interval 300')
    .replace('detect-multiplier 3', 'detect-multiplier 5');

const BFD_PROFILE_STEADY_YAML = BFD_PROFILE_FAST_YAML.replace('name: fast', 'name: steady')
  .replace('receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3', 'receiveInterval: 300, transmitInterval: 300, detectMultiplier: 5');

const CONFIG = `${BFD_PROFILE_STEADY_YAML}---
${bgpPeerYaml('holdTime: 9s, keepaliveTime: 3s, bfdProfile: steady')}---
${WEB_POOL_YAML}---
${serviceYaml('web', [IPS[0]])}---
${sliceYaml('web', [['n1', '192.0.2.11']])}---
${serviceYaml('web2', [IPS[1]])}---
${sliceYaml('web2', [['n1', '192.0.2.12']])}`;

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

/** Both prefixes at FRR from n1 (valid), waited for. */
async function bothAtFrr(l: BgpLab): Promise<void> {
  await l.waitFor(`${PREFIXES.join(' and ')} at FRR from ${n1}`, async () => {
    for (const p of PREFIXES) if (!(await l.paths(p)).some((x) => x.peer?.peerId === n1 && x.valid)) return undefined;
    return true;
  }, 60_000, 300);
}

test('metric values on the real speaker: session up, updates sent, 2 prefixes announced, BFD up (MetalLB names and labels)', { skip }, async () => {
  const l = lab!;
  await bothAtFrr(l);
  await l.waitFor(`FRR's BFD session with ${n1} up`, async () => {
    const b = await l.vtyJson<Array<{ peer?: string; status?: string }>>('show bfd peers json');
    return b.find((p) => p.peer === n1)?.status === 'up' ? true : undefined;
  });
  // The speaker publishes what it did: poll its scrape until BFD and both prefixes show (sessions report on change).
  let last = '';
  const text = await l.waitFor('n1 metrics: BFD up and 2 announced prefixes', async () => {
    const t = await scrapeSpeaker(l, 'n1');
    last = t.split('\n').filter((x) => /^metallb_(bgp|bfd)_/.test(x)).join('\n');
    return sampleValue(t, `metallb_bfd_session_up{peer="${ROUTER.v4}",vrf="default"}`) === 1 &&
      sampleValue(t, `metallb_bgp_announced_prefixes_total{peer="${PEER_LABEL}"}`) === 2
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
  assert.equal(sampleValue(text, `metallb_bgp_announced_prefixes_total{peer="${PEER_LABEL}"}`), 2, 'metallb_bgp_announced_prefixes_total');
  // Pending = wanted but not yet sent on this connection (BgpSessionStats.pendingPrefixes, MetalLB's native speaker's
  // len(s.new)): nothing once both prefixes are at FRR.
  assert.equal(sampleValue(text, `metallb_bgp_pending_prefixes_total{peer="${PEER_LABEL}"}`), 0, 'metallb_bgp_pending_prefixes_total');
  assert.equal(sampleValue(text, `metallb_bfd_session_up{peer="${ROUTER.v4}",vrf="default"}`), 1, 'metallb_bfd_session_up');
  const bfdIn = sampleValue(text, `metallb_bfd_control_packet_input{peer="${ROUTER.v4}",vrf="default"}`);
  assert.ok(bfdIn !== undefined && bfdIn > 0, `metallb_bfd_control_packet_input > 0 (got ${bfdIn})`);
});

test('route refresh (RFC 2918): FRR `clear bgp <node> soft in` → ROUTE-REFRESH on the wire → every route re-sent, session kept', { skip }, async () => {
  const l = lab!;
  await bothAtFrr(l);
  const nb0 = (await frrNeighbor(l, n1)) as NeighborView | undefined;
  assert.equal(nb0?.bgpState, 'Established');
  const caps = JSON.stringify(nb0?.neighborCapabilities ?? {});
  process.stdout.write(`# FRR's view of n1's capabilities: ${caps}\n`);
  assert.match(caps, /"routeRefresh":"advertisedAndReceived[^"]*"/, 'route refresh negotiated (advertised by FRR and received from the speaker)');
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
    await l.vtysh(`clear bgp ${n1} soft in`);
    // FRR counts the ROUTE-REFRESH it sent and the UPDATEs that came back; the speaker counts the UPDATEs it re-sent.
    const nb = await l.waitFor('FRR: a ROUTE-REFRESH sent to n1 and UPDATEs received after it', async () => {
      const v = (await frrNeighbor(l, n1)) as NeighborView | undefined;
      const s = v?.messageStats ?? {};
      return (s.routeRefreshSent ?? 0) > (stats0.routeRefreshSent ?? 0) && (s.updatesRecv ?? 0) > (stats0.updatesRecv ?? 0) ? v : undefined;
    }, 20_000, 200);
    process.stdout.write(`# FRR messageStats before ${JSON.stringify(stats0)}, after ${JSON.stringify(nb.messageStats)}\n`);
    const updates1 = await l.waitFor('n1 metallb_bgp_updates_total rising', async () => {
      const u = sampleValue(await scrapeSpeaker(l, 'n1'), `metallb_bgp_updates_total{peer="${PEER_LABEL}"}`);
      return u !== undefined && u > updates0 ? u : undefined;
    }, 10_000, 300);
    process.stdout.write(`# n1 metallb_bgp_updates_total ${updates0} → ${updates1}\n`);
    await l.waitFor('the ROUTE-REFRESH on the wire (tcpdump)', async () => (/Route Refresh/i.test(wire) ? true : undefined), 10_000, 200);
    assert.equal(nb.bgpState, 'Established', 'session kept');
    assert.equal(nb.connectionsEstablished, nb0?.connectionsEstablished, 'no new connection: the refresh did not reset the session');
    for (const p of PREFIXES) {
      const ps = (await l.paths(p)).filter((x) => x.peer?.peerId === n1);
      assert.equal(ps.length, 1, `${p} still at FRR after the refresh`);
      assert.ok(ps[0]!.valid, `${p} valid`);
    }
    const refreshLines = wire.split('\n').filter((x) => /Route Refresh/i.test(x));
    process.stdout.write(`# tcpdump in the router namespace:\n${refreshLines.slice(0, 4).map((x) => `#   ${x.trim()}`).join('\n')}\n`);
    // Every route re-sent: tcpdump shows the UPDATE(s) from n1 after the ROUTE-REFRESH carrying both prefixes.
    const afterRefresh = wire.slice(wire.search(/Route Refresh/i));
    for (const ip of IPS) assert.ok(afterRefresh.includes(`${ip}/32`), `${ip}/32 re-sent after the ROUTE-REFRESH (tcpdump):\n${afterRefresh.slice(0, 3000)}`);
  } finally {
    dump.kill('SIGTERM');
  }
});
