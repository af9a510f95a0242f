// Issue 9 "Done when", BGP mode for real, configured like a user would: the lab API server and controller, two node
// namespaces each running `berth speaker` (src/lab/network, nodes n1 198.51.100.11 and n2 .12), and FRR 8 (zebra +
// bfdd + bgpd, run as user frr) in the segment's other namespace as the router (198.51.100.1, AS 64501, passive,
// `maximum-paths`, BFD profile 100 ms × 3). Everything berth is told comes from `kubectl apply` (BFDProfile, BGPPeer,
// IPAddressPools, BGPAdvertisements, Services, EndpointSlices). Root only: skips with the reason otherwise. Asserted at
// the router, with FRR's own JSON:
//   - a dual-stack Service: its /32 and /128 from both nodes, multipath (ECMP), with the advertisement's communities
//     and large communities; zebra holds both next hops; each node keeps one ServiceBGPStatus (peers [router]),
//     rewritten only on change (compared once both speakers provably planned the change); each node exports
//     metallb_speaker_announced{protocol="bgp"} for both IPs on :7472 and emits nodeAssigned "… with protocol "bgp""
//     on the Service; deleting the last ready endpoint withdraws both prefixes and the objects;
//   - berth.io/bgp-link-bandwidth with ETP=Local, 3 ready endpoints on n1 and 1 on n2: link-bandwidth communities
//     3:1 and zebra's next-hop weights in the same proportion (FRR weighted ECMP, draft-ietf-idr-link-bandwidth);
//   - deleting the Service (kubectl delete svc) withdraws its prefix from FRR and deletes its ServiceBGPStatus objects;
//   - Events on the BGPPeer: BGPSessionUp from each node; after SIGSTOP of n1's speaker, FRR's BFD removes n1's path
//     (time printed, not asserted): the hold time is 90 s (keepalive 30 s), so only BFD can take the session down
//     within the test's 15 s — FRR's BFD peer shows "control detection time expired" and its BGP neighbor was reset
//     by BFD; after SIGCONT the path comes back and n1 reports BGPSessionDown with the NOTIFICATION text.
// Not here: LOCAL_PREF (iBGP only). One bgpd has one AS, and a second instance (`router bgp 64500 view …`) cannot take
// the speakers' sessions: FRR 8.4 looks incoming connections up in the default instance only (bgp_accept), so the
// view closes them ("the peer closed the TCP connection", tried); test/integration/bgp-interop.test.ts covers iBGP
// LOCAL_PREF against the daemons, and here the eBGP paths are checked to carry none.
// SPEAKER_DEBUG=1 runs the speakers with --log-level debug (connection attempts are logged at debug).
// Documentation ranges only (RFC 5737/3849): segment 198.51.100.0/24 + 2001:db8:51::/64, Service IPs 203.0.113.0/24 +
// 2001:db8:113::/64, endpoint addresses 192.0.2.0/24.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { inNamespace } from '../../src/lab/network/topology.ts';
import {
  BFD_PROFILE_FAST_YAML,
  bgpLabSkipReason,
  frrConfigText,
  METALLB_NS,
  NODE_ASN,
  ROUTER,
  sampleValue,
  scrapeSpeaker,
  serviceYaml,
  sliceYaml,
  startBgpLab,
  type BgpLab,
  type FrrPath,
} from './speaker-bgp-lab.ts';

const WEB = { v4: '203.0.113.10', v6: '2001:db8:113::10' };
/** The Service whose EndpointSlice, applied after another change, proves the speakers planned that change. */
const PROBE = '203.0.113.12';
const WEIGHTED = '203.0.113.20';

const skip = await bgpLabSkipReason(['zebra', 'bfdd', 'bgpd']);
if (skip) process.stdout.write(`# skipping the BGP end-to-end test: ${skip}\n`);

let lab: BgpLab | undefined;

function frrConfig(d: string, nodes: readonly string[]): string {
  return frrConfigText(d, {
    bfdFast: true,
    router: [
      'no bgp network import-check',
      'neighbor SPEAKERS peer-group',
      `neighbor SPEAKERS remote-as ${NODE_ASN}`,
      'neighbor SPEAKERS passive',
      'neighbor SPEAKERS timers 30 90',
      'neighbor SPEAKERS bfd profile fast',
      ...nodes.map((n) => `neighbor ${n} peer-group SPEAKERS`),
    ],
    ipv4: ['maximum-paths 8', 'neighbor SPEAKERS route-map NONE out'],
    ipv6: ['maximum-paths 8', 'neighbor SPEAKERS activate', 'neighbor SPEAKERS route-map NONE out'],
  });
}

// The lab's helpers (speaker-bgp-lab.ts), for the lab started in before().
const vtyJson = <T = Record<string, unknown>>(cmd: string): Promise<T> => lab!.vtyJson<T>(cmd);
const configure = (line: string): Promise<void> => lab!.configure(line);
const waitFor = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs?: number, everyMs?: number): Promise<T> => lab!.waitFor(what, fn, timeoutMs, everyMs);
const kubectl = (args: readonly string[], input?: string): Promise<string> => lab!.kubectl(args, input);

/** The configuration a user applies: BFD profile, the router as BGPPeer (dual-stack over IPv4), two pools and ads. */
const CONFIG = `${BFD_PROFILE_FAST_YAML}---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: router, namespace: ${METALLB_NS}}
spec:
  myASN: ${NODE_ASN}
  peerASN: ${ROUTER.asn}
  peerAddress: ${ROUTER.v4}
  holdTime: 90s
  keepaliveTime: 30s
  bfdProfile: fast
  dualStackAddressFamily: true
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: web, namespace: ${METALLB_NS}}
spec: {addresses: ["203.0.113.10-203.0.113.19", "2001:db8:113::10-2001:db8:113::19"], autoAssign: false}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: weighted, namespace: ${METALLB_NS}}
spec: {addresses: ["203.0.113.20-203.0.113.29"], autoAssign: false}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: web, namespace: ${METALLB_NS}}
spec:
  ipAddressPools: [web]
  communities: ["64500:100", "large:64500:1:2"]
  localPref: 150
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata:
  name: weighted
  namespace: ${METALLB_NS}
  annotations: {berth.io/bgp-link-bandwidth: per-endpoint}
spec:
  ipAddressPools: [weighted]
`;

/** FRR's paths for `prefix` (empty when it has none). */
function paths(prefix: string): Promise<FrrPath[]> {
  return lab!.paths(prefix);
}

/** The peers (node addresses) FRR has a path for `prefix` from, sorted. */
async function pathPeers(prefix: string): Promise<string[]> {
  return (await paths(prefix)).map((p) => p.peer?.peerId ?? '?').sort();
}

/** Waits until FRR has a path for `prefix` from both nodes and returns them (a BFD flap under load only delays it). */
async function bothPaths(prefix: string, timeoutMs = 30_000): Promise<FrrPath[]> {
  return waitFor(`${prefix} from ${n1} and ${n2}`, async () => {
    const ps = await paths(prefix);
    return ps.map((p) => p.peer?.peerId ?? '?').sort().join() === [n1, n2].sort().join() ? ps : undefined;
  }, timeoutMs);
}

interface ZebraNexthop {
  ip?: string;
  weight?: number;
  active?: boolean;
  fib?: boolean;
}

/** zebra's next hops for `prefix` (`show ip route … json`). */
async function zebraNexthops(prefix: string): Promise<ZebraNexthop[]> {
  const fam = prefix.includes(':') ? 'ipv6' : 'ip';
  const j = await vtyJson<Record<string, Array<{ nexthops?: ZebraNexthop[]; selected?: boolean }>>>(`show ${fam} route ${prefix} json`);
  const routes = j[prefix] ?? [];
  return (routes.find((r) => r.selected) ?? routes[0])?.nexthops ?? [];
}

interface BgpStatusItem {
  metadata: { name: string; resourceVersion: string; labels?: Record<string, string> };
  status?: { node?: string; serviceName?: string; serviceNamespace?: string; peers?: string[] };
}

async function bgpStatuses(svc: string): Promise<BgpStatusItem[]> {
  const j = JSON.parse(await kubectl(['get', 'servicebgpstatuses', '-n', METALLB_NS, '-l', `metallb.io/service-name=${svc}`, '-o', 'json'])) as { items: BgpStatusItem[] };
  return j.items.sort((a, b) => String(a.status?.node).localeCompare(String(b.status?.node)));
}

interface EventItem {
  reason?: string;
  type?: string;
  message?: string;
  count?: number;
  reportingInstance?: string;
  involvedObject?: { kind?: string; name?: string };
}

/** nodeAssigned Events on Service default/`svc`. */
async function nodeAssignedEvents(svc: string): Promise<EventItem[]> {
  const j = JSON.parse(await kubectl(['get', 'events', '-n', 'default', '--field-selector', `involvedObject.name=${svc},reason=nodeAssigned`, '-o', 'json'])) as { items: EventItem[] };
  return j.items.filter((e) => e.involvedObject?.kind === 'Service');
}

/** metallb_speaker_announced{service,protocol="bgp",node,ip} on node `node`'s :7472 (undefined: no such series). */
async function announcedBgp(node: string, service: string, ip: string): Promise<number | undefined> {
  return sampleValue(await scrapeSpeaker(lab!, node), `metallb_speaker_announced{service="${service}",protocol="bgp",node="${node}",ip="${ip}"}`);
}

async function peerEvents(): Promise<EventItem[]> {
  const j = JSON.parse(await kubectl(['get', 'events', '-n', METALLB_NS, '--field-selector', 'involvedObject.name=router', '-o', 'json'])) as { items: EventItem[] };
  return j.items.filter((e) => e.involvedObject?.kind === 'BGPPeer');
}

let n1 = '';
let n2 = '';

before(async () => {
  if (skip) return;
  const t0 = performance.now();
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  lab = await startBgpLab({
    nodes: 2,
    daemons: ['zebra', 'bfdd', 'bgpd'],
    frrConfig,
    ...(process.env['SPEAKER_DEBUG'] ? { speakerArgs: ['--log-level', 'debug'] } : {}),
    log,
  });
  n1 = lab.net.node('n1').ipv4;
  n2 = lab.net.node('n2').ipv4;
  await kubectl(['apply', '-f', '-'], CONFIG);
  log(`# the configuration applied after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
});

// The lab's stop() also sends SIGCONT to a speaker a failed test left stopped; KEEP_DIR=1 keeps the lab folder (speaker
// logs) and FRR's (frr.log) for a look after a failure.
after(async () => {
  await lab?.stop();
});

test('both speakers establish with FRR, and report BGPSessionUp on the BGPPeer', { skip }, async () => {
  const t0 = performance.now();
  await waitFor(
    'both BGP sessions Established at FRR',
    async () => {
      const s = await vtyJson<{ ipv4Unicast?: { peers?: Record<string, { state?: string }> } }>('show bgp summary json');
      const peers = s.ipv4Unicast?.peers ?? {};
      return peers[n1]?.state === 'Established' && peers[n2]?.state === 'Established' ? true : undefined;
    },
    45_000,
    300,
  );
  process.stdout.write(`# both sessions Established at FRR ${((performance.now() - t0) / 1000).toFixed(1)} s after the BGPPeer was applied\n`);
  // berth's BFD (BFDProfile fast) answers FRR's: both sessions up with 100 ms timers on both sides.
  const bfd = await waitFor('FRR BFD up with both nodes at 100 ms', async () => {
    const b = await vtyJson<Array<{ peer?: string; status?: string; 'remote-receive-interval'?: number; 'remote-detect-multiplier'?: number }>>('show bfd peers json');
    return [n1, n2].every((a) => b.find((p) => p.peer === a)?.status === 'up') ? b : undefined;
  });
  for (const a of [n1, n2]) {
    const p = bfd.find((x) => x.peer === a)!;
    assert.deepEqual([p['remote-receive-interval'], p['remote-detect-multiplier']], [100, 3], `BFD timers of ${a}: ${JSON.stringify(p)}`);
  }
  const ev = await waitFor(
    'BGPSessionUp events from n1 and n2 on BGPPeer router',
    async () => {
      const e = (await peerEvents()).filter((x) => x.reason === 'BGPSessionUp');
      return ['n1', 'n2'].every((n) => e.some((x) => x.reportingInstance === n)) ? e : undefined;
    },
    20_000,
    500,
  );
  for (const e of ev) {
    assert.equal(e.type, 'Normal');
    assert.match(String(e.message), new RegExp(`^node "n[12]": BGP session to ${ROUTER.v4.replaceAll('.', '\\.')}:179 established \\(peer router ID ${ROUTER.v4.replaceAll('.', '\\.')}`));
  }
});

test('a dual-stack Service: /32 and /128 from both nodes as ECMP with the communities; ServiceBGPStatus per node; withdrawn with its last ready endpoint', { skip }, async () => {
  await kubectl(['apply', '-f', '-'], `${serviceYaml('web', [WEB.v4, WEB.v6], 'Cluster')}---\n${sliceYaml('web', [['n1', '192.0.2.11']])}`);
  const v4 = `${WEB.v4}/32`;
  const v6 = `${WEB.v6}/128`;
  const t0 = performance.now();
  const lap = (what: string): void => void process.stdout.write(`# ${what} after ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  await bothPaths(v4);
  await bothPaths(v6);
  lap(`${v4} and ${v6} at FRR from both nodes`);
  for (const prefix of [v4, v6]) {
    const ps = await bothPaths(prefix);
    assert.ok(ps.every((p) => p.valid), `${prefix}: both paths valid: ${JSON.stringify(ps)}`);
    assert.equal(ps.filter((p) => p.bestpath?.overall).length, 1, `${prefix}: one best path`);
    assert.ok(ps.every((p) => p.multipath || p.bestpath?.overall), `${prefix}: both paths used (ECMP): ${JSON.stringify(ps)}`);
    for (const p of ps) {
      // localPref 150 is in the advertisement, but LOCAL_PREF goes on iBGP sessions only (RFC 4271 §5.1.5).
      assert.notEqual(p.localpref, 150, `${prefix}: LOCAL_PREF sent on an eBGP session: ${JSON.stringify(p)}`);
      assert.equal(p.community?.string, '64500:100', `${prefix} communities`);
      assert.equal(p.largeCommunity?.string, '64500:1:2', `${prefix} large communities`);
      assert.equal(p.extendedCommunity, undefined, `${prefix}: no link-bandwidth without the annotation`);
    }
  }
  // The IPv6 paths' next hops are the nodes' global IPv6 addresses (MP_REACH over the IPv4 session).
  const v6hops = (await bothPaths(v6)).map((p) => p.nexthops?.find((h) => h.scope !== 'link-local')?.ip).sort();
  assert.deepEqual(v6hops, [lab!.net.node('n1').ipv6, lab!.net.node('n2').ipv6].sort());
  // zebra installed both next hops.
  const hops = await waitFor(`zebra: two next hops for ${v4}`, async () => {
    const h = await zebraNexthops(v4);
    return h.filter((x) => x.active).length === 2 ? h : undefined;
  });
  assert.deepEqual(hops.map((h) => h.ip).sort(), [n1, n2].sort());

  // One ServiceBGPStatus per announcing node.
  const st = await waitFor('a ServiceBGPStatus from each node for web', async () => {
    const s = await bgpStatuses('web');
    return s.length === 2 && s.every((x) => x.status?.peers?.length) ? s : undefined;
  });
  assert.deepEqual(
    st.map((s) => [s.metadata.name.startsWith('bgp-'), s.metadata.labels?.['metallb.io/node'], s.status]),
    [
      [true, 'n1', { node: 'n1', serviceName: 'web', serviceNamespace: 'default', peers: ['router'] }],
      [true, 'n2', { node: 'n2', serviceName: 'web', serviceNamespace: 'default', peers: ['router'] }],
    ],
  );
  lap('both ServiceBGPStatus objects written');
  // MetalLB's announcement signals in BGP mode (speaker/main.go): metallb_speaker_announced{protocol="bgp"} = 1 for
  // both IPs on each node's :7472, and one Normal nodeAssigned per node on the Service.
  for (const n of ['n1', 'n2']) {
    for (const ip of [WEB.v4, WEB.v6]) {
      await waitFor(`metallb_speaker_announced{protocol="bgp"} of ${ip} on ${n}`, async () => ((await announcedBgp(n, 'default/web', ip)) === 1 ? true : undefined), 20_000, 300);
    }
  }
  const assigned = await waitFor('nodeAssigned from n1 and n2 on Service web', async () => {
    const e = await nodeAssignedEvents('web');
    return ['n1', 'n2'].every((n) => e.some((x) => x.message === `announcing from node "${n}" with protocol "bgp"`)) ? e : undefined;
  }, 20_000, 500);
  assert.ok(assigned.every((e) => e.type === 'Normal'), JSON.stringify(assigned));
  // Written only on change: an endpoint added (a change the speakers recompute on) leaves them untouched. Proof that
  // both speakers planned it before the resourceVersions are compared: Service web-probe (no endpoint yet, so not
  // announced) gets its EndpointSlice after web's new one; each speaker watches EndpointSlices in one stream, in
  // resourceVersion order, so a plan that announces web-probe includes web's new slice. Its ServiceBGPStatus written
  // by a node means that node's status pass for that plan got past web (keys in order, default/web first).
  await kubectl(['apply', '-f', '-'], serviceYaml('web-probe', [PROBE], 'Cluster'));
  await kubectl(['apply', '-f', '-'], sliceYaml('web', [['n1', '192.0.2.11'], ['n2', '192.0.2.12']]));
  await kubectl(['apply', '-f', '-'], sliceYaml('web-probe', [['n2', '192.0.2.13']]));
  for (const n of ['n1', 'n2']) {
    await waitFor(`${n} announcing web-probe (metallb_speaker_announced{protocol="bgp"})`, async () => ((await announcedBgp(n, 'default/web-probe', PROBE)) === 1 ? true : undefined), 20_000, 300);
  }
  await waitFor('a ServiceBGPStatus from each node for web-probe', async () => ((await bgpStatuses('web-probe')).length === 2 ? true : undefined), 20_000);
  assert.deepEqual((await bgpStatuses('web')).map((s) => s.metadata.resourceVersion), st.map((s) => s.metadata.resourceVersion), 'ServiceBGPStatus rewritten without a change');
  // The probe deleted: its series deleted (not set to 0) on both nodes, as MetalLB's deleteBalancerProtocol.
  await kubectl(['delete', 'svc', '-n', 'default', 'web-probe']);
  await kubectl(['delete', 'endpointslice', '-n', 'default', 'web-probe-v4']);
  for (const n of ['n1', 'n2']) {
    await waitFor(`the web-probe series gone on ${n}`, async () => ((await announcedBgp(n, 'default/web-probe', PROBE)) === undefined ? true : undefined), 20_000, 300);
  }

  // The last ready endpoint deleted: withdrawn from FRR (both families), the objects deleted.
  await kubectl(['delete', 'endpointslice', '-n', 'default', 'web-v4']);
  await waitFor(`${v4} withdrawn`, async () => ((await paths(v4)).length === 0 ? true : undefined), 20_000);
  await waitFor(`${v6} withdrawn`, async () => ((await paths(v6)).length === 0 ? true : undefined), 20_000);
  lap('withdrawn at FRR');
  await waitFor('the ServiceBGPStatus objects of web deleted', async () => ((await bgpStatuses('web')).length === 0 ? true : undefined), 20_000);
  assert.equal(await announcedBgp('n1', 'default/web', WEB.v4), undefined, 'metallb_speaker_announced of web still exported after its withdrawal');
  // Back for the next tests.
  await kubectl(['apply', '-f', '-'], sliceYaml('web', [['n1', '192.0.2.11']]));
  await bothPaths(v4, 20_000);
});

test('link bandwidth (ETP=Local, 3 endpoints on n1, 1 on n2): FRR weights the next hops 3:1', { skip }, async () => {
  await kubectl(
    ['apply', '-f', '-'],
    `${serviceYaml('weighted', [WEIGHTED], 'Local')}---\n${sliceYaml('weighted', [
      ['n1', '192.0.2.21'],
      ['n1', '192.0.2.22'],
      ['n1', '192.0.2.23'],
      ['n2', '192.0.2.24'],
    ])}`,
  );
  const prefix = `${WEIGHTED}/32`;
  const ps = await bothPaths(prefix);
  const lb = new Map(ps.map((p) => [p.peer?.peerId, p.extendedCommunity?.string ?? '']));
  process.stdout.write(`# FRR link-bandwidth communities for ${prefix}: ${JSON.stringify([...lb])}\n`);
  // draft-ietf-idr-link-bandwidth: 1 Gbit/s per ready endpoint = 125,000,000 bytes/s; FRR prints "LB:<AS>:<bytes/s> (<Gbps>)".
  assert.match(lb.get(n1)!, /LB:64500:375000000 \(3\.000 Gbps\)/);
  assert.match(lb.get(n2)!, /LB:64500:125000000 \(1\.000 Gbps\)/);
  const hops = await waitFor(`zebra: two weighted next hops for ${prefix}`, async () => {
    const h = await zebraNexthops(prefix);
    return h.filter((x) => x.active).length === 2 ? h : undefined;
  });
  process.stdout.write(`# zebra next hops for ${prefix}: ${JSON.stringify(hops.map((h) => ({ ip: h.ip, weight: h.weight })))}\n`);
  const w = new Map(hops.map((h) => [h.ip, h.weight ?? 0]));
  assert.ok(w.get(n1)! > 0 && w.get(n2)! > 0, `weights ${JSON.stringify([...w])}`);
  assert.equal(w.get(n1)! / w.get(n2)!, 3, `next-hop weights not 3:1: ${JSON.stringify([...w])}`);
  // The kernel route in the router namespace carries them too (iproute2 prints weight per nexthop).
  const kernel = await inNamespace(lab!.net.topology.client.ns, 'ip', ['route', 'show', WEIGHTED]);
  process.stdout.write(`# kernel route: ${kernel.stdout.trim().replace(/\s+/g, ' ')}\n`);

  // Endpoints move to 2 + 2: plain ECMP weights.
  await kubectl(['apply', '-f', '-'], sliceYaml('weighted', [['n1', '192.0.2.21'], ['n1', '192.0.2.22'], ['n2', '192.0.2.23'], ['n2', '192.0.2.24']]));
  await waitFor(`zebra: equal weights for ${prefix}`, async () => {
    const h = await zebraNexthops(prefix);
    const ws = h.filter((x) => x.active).map((x) => x.weight ?? 0);
    return ws.length === 2 && ws[0] === ws[1] ? true : undefined;
  });
});

test('deleting a Service (kubectl delete svc) withdraws its prefix at FRR and deletes its ServiceBGPStatus objects', { skip }, async () => {
  const ip = '203.0.113.11';
  const prefix = `${ip}/32`;
  await kubectl(['apply', '-f', '-'], `${serviceYaml('gone', [ip], 'Cluster')}---\n${sliceYaml('gone', [['n1', '192.0.2.31']])}`);
  await bothPaths(prefix);
  await waitFor('a ServiceBGPStatus from each node for gone', async () => ((await bgpStatuses('gone')).length === 2 ? true : undefined));
  const t0 = performance.now();
  await kubectl(['delete', 'svc', '-n', 'default', 'gone']);
  await waitFor(`${prefix} withdrawn after kubectl delete svc`, async () => ((await paths(prefix)).length === 0 ? true : undefined), 20_000, 100);
  process.stdout.write(`# kubectl delete svc gone → ${prefix} withdrawn at FRR after ${(performance.now() - t0).toFixed(0)} ms\n`);
  await waitFor('the ServiceBGPStatus objects of gone deleted', async () => ((await bgpStatuses('gone')).length === 0 ? true : undefined), 20_000);
  // The other Service is untouched.
  assert.deepEqual(await pathPeers(`${WEB.v4}/32`), [n1, n2].sort());
  await kubectl(['delete', 'endpointslice', '-n', 'default', 'gone-v4']);
});

test('BFD 100 ms × 3: SIGSTOP of a speaker removes its next hop at FRR; SIGCONT brings it back; n1 reports BGPSessionDown', { skip }, async () => {
  const prefix = `${WEB.v4}/32`;
  await bothPaths(prefix);
  const pid = lab!.net.speakers.get('n1')!.pid;
  const t0 = performance.now();
  process.kill(pid, 'SIGSTOP');
  let gone = 0;
  try {
    await waitFor(`${n1}'s path for ${prefix} to go`, async () => ((await pathPeers(prefix)).includes(n1) ? undefined : true), 15_000, 20);
    gone = performance.now() - t0;
    process.stdout.write(`# SIGSTOP of n1's speaker → its path gone at FRR after ${gone.toFixed(0)} ms (BFD 100 ms × 3, hold time 90 s)\n`);
    const bfd = await vtyJson<Array<{ peer?: string; status?: string; diagnostic?: string }>>('show bfd peers json');
    const b1 = bfd.find((p) => p.peer === n1);
    process.stdout.write(`# FRR BFD for ${n1}: ${JSON.stringify(b1)}\n`);
    assert.deepEqual(await pathPeers(prefix), [n2]);
    // BFD did it: FRR's BFD session with n1 timed out, and BFD reset the BGP session (the 90 s hold timer cannot have).
    assert.equal(b1?.status, 'down', `FRR's BFD peer ${n1}: ${JSON.stringify(b1)}`);
    assert.equal(b1?.diagnostic, 'control detection time expired', `FRR's BFD peer ${n1}: ${JSON.stringify(b1)}`);
    type Nb = { bgpState?: string; lastNotificationReason?: string; lastResetDueTo?: string; bgpTimerHoldTimeMsecs?: number; peerBfdInfo?: { status?: string } };
    const nb = (await vtyJson<Record<string, Nb>>(`show bgp neighbors ${n1} json`))[n1];
    process.stdout.write(`# FRR BGP neighbor ${n1}: state ${nb?.bgpState}, hold time ${nb?.bgpTimerHoldTimeMsecs} ms, last NOTIFICATION ${nb?.lastNotificationReason} (${nb?.lastResetDueTo}), BFD ${nb?.peerBfdInfo?.status}\n`);
    assert.notEqual(nb?.bgpState, 'Established');
    assert.equal(nb?.bgpTimerHoldTimeMsecs, 90_000, 'negotiated hold time 90 s');
    // FRR's BFD took the session down: it sent Cease/BFD Down (RFC 9384 subcode 10).
    assert.equal(nb?.lastNotificationReason, 'Cease/BFD Down', `FRR's last reset of ${n1} was not BFD's: ${JSON.stringify(nb)}`);
    assert.equal(nb?.peerBfdInfo?.status, 'Down');
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  await waitFor(`${n1}'s path for ${prefix} back`, async () => ((await pathPeers(prefix)).includes(n1) ? true : undefined), 30_000, 200);
  const down = await waitFor(
    'BGPSessionDown from n1 on BGPPeer router',
    async () => (await peerEvents()).find((e) => e.reason === 'BGPSessionDown' && e.reportingInstance === 'n1'),
    20_000,
    500,
  );
  const log = lab!.net.speakers
    .get('n1')!
    .output()
    .split('\n')
    .filter((l) => /bgp: |bfd/i.test(l))
    .slice(-8)
    .map((l) => l.slice(0, 300));
  process.stdout.write(`# event BGPSessionDown of n1: ${down.message}\n# n1's last BGP/BFD log lines:\n${log.map((l) => `#   ${l}`).join('\n')}\n`);
  assert.equal(down.type, 'Warning');
  // Its own BFD saw the gap too (its detection time expired, or FRR's Down state arrived first): BFDSessionDown.
  const bfdDown = (await peerEvents()).find((e) => e.reason === 'BFDSessionDown' && e.reportingInstance === 'n1');
  assert.match(String(bfdDown?.message), /^node "n1": BFD down for the peer at 198\.51\.100\.1:179 \((ControlDetectionTimeExpired|NeighborSignaledSessionDown)\)/);
  const ups = (await peerEvents()).filter((e) => e.reason === 'BGPSessionUp' && e.reportingInstance === 'n1');
  assert.ok(ups.some((e) => (e.count ?? 1) >= 2), `BGPSessionUp of n1 counted again after the flap: ${JSON.stringify(ups)}`);
});

test('the router shuts the session down with a message: BGPSessionDown carries the NOTIFICATION and its text (RFC 8203)', { skip }, async () => {
  await configure(`neighbor ${n2} shutdown message maintenance window 42`);
  const down = await waitFor(
    "BGPSessionDown from n2 on BGPPeer router with the router's shutdown message",
    async () => (await peerEvents()).find((e) => e.reason === 'BGPSessionDown' && e.reportingInstance === 'n2' && /maintenance window 42/.test(String(e.message))),
    20_000,
    500,
  );
  process.stdout.write(`# event BGPSessionDown of n2: ${down.message}\n`);
  assert.equal(down.type, 'Warning');
  assert.match(String(down.message), /^node "n2": BGP session to 198\.51\.100\.1:179 down: .*NOTIFICATION/);
  assert.match(String(down.message), /Cease\/Administrative ?Shutdown/i);
  assert.match(String(down.message), /maintenance window 42/);
  await waitFor(`${WEB.v4}/32 without ${n2}`, async () => ((await pathPeers(`${WEB.v4}/32`)).includes(n2) ? undefined : true), 20_000);
  await configure(`no neighbor ${n2} shutdown`);
  await waitFor(`${WEB.v4}/32 from ${n2} again`, async () => ((await pathPeers(`${WEB.v4}/32`)).includes(n2) ? true : undefined), 30_000);
});
