// Issue 8, layer 2 on real links (root only; skips with the reason otherwise). Two node namespaces running
// `berth speaker`, a client probing with iputils arping and ndisc6 (speaker-l2-harness.ts):
//   - NDP through a switch doing MLD snooping: the segment's bridge gets mcast_snooping 1, its own MLD querier, and
//     mcast_flood off on the nodes' ports, so an NS to a solicited-node group reaches only the ports that reported
//     the group (a group nobody joined is not flooded: checked with tcpdump in a node namespace). ndisc6 from the
//     client still gets exactly the owner's NA: the speaker joins the solicited-node group of each IPv6 it announces
//     (IPV6_JOIN_GROUP: the kernel sends the MLD report), seen in the bridge's multicast database on the owner's port;
//     with that entry deleted the NS does not reach the owner (tcpdump there), and the owner's next MLD report (to the
//     querier's query) brings the entry and the NA back;
//   - L2Advertisement `interfaces` on real links: every node gets a second link eth1 on a second bridge (the client
//     too); an advertisement naming eth1 is answered on eth1 only (arping on the client's eth1: the owner's eth1
//     MAC; on eth0: nobody); an advertisement naming an interface no node has gives MetalLB's Warning
//     `announceFailed` on the Service ("the interfaces specified by LB IP ... doesn't exist in assigned node ...").
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyObject } from '../../src/kube/apply.ts';
import type { KubeObject } from '../../src/kube/client.ts';
import { SPEAKER_NAMESPACE } from '../../src/lab/network/network.ts';
import { inNamespace, ip, run } from '../../src/lab/network/topology.ts';
import { announceFailedMessage } from '../../src/speaker/speaker.ts';
import { solicitedNodeAddress } from '../../src/speaker/layer2/ndp.ts';
import { l2LabForFile, until } from './speaker-l2-harness.ts';

const { skip, l2 } = await l2LabForFile('the layer-2 links end-to-end test', { nodes: 2 });

/** The second segment (eth1 everywhere): its own documentation range. */
const SEG2 = { client: '203.0.113.1', node: (i: number) => `203.0.113.${10 + i}`, mac: (i: number) => `02:00:00:71:00:${(0x10 + i).toString(16)}` };
const CLIENT_ETH1_MAC = '02:00:00:71:00:01';
/** Pools outside lab-l2 (198.51.100.200-220), one per advertisement of the interfaces test. */
const ETH1_IP = '198.51.100.230';
const MISSING_IP = '198.51.100.231';

async function must(what: string, o: KubeObject): Promise<void> {
  const r = await applyObject(l2().client, o);
  if (!r.ok) throw new Error(`${what}: ${r.error.message}`);
}

/** The bridge's multicast database (`bridge mdb show` in the switch namespace). */
async function mdb(): Promise<string> {
  const r = await run('ip', ['netns', 'exec', l2().net.topology.sw, 'bridge', 'mdb', 'show']);
  return r.stdout;
}

test('NDP through an MLD-snooping switch: the owner joins the solicited-node group, ndisc6 gets exactly its NA', { skip }, async () => {
  const lab = l2();
  const { sw, nodes } = lab.net.topology;
  // Snooping on, the bridge as MLD querier (its queries make "a querier exists", so the multicast database is
  // enforced; a general query every 5 s), unknown multicast not flooded to the nodes' ports.
  await ip('-n', sw, 'link', 'set', 'br0', 'type', 'bridge', 'mcast_snooping', '1', 'mcast_querier', '1', 'mcast_query_response_interval', '100', 'mcast_startup_query_interval', '100', 'mcast_query_interval', '500');
  for (const h of nodes) {
    const r = await run('ip', ['netns', 'exec', sw, 'bridge', 'link', 'set', 'dev', h.port, 'mcast_flood', 'off']);
    assert.equal(r.code, 0, `bridge link set dev ${h.port} mcast_flood off: ${r.stderr}`);
  }
  // The bridge enforces its multicast database only once a querier exists: its own first MLD query goes out when br0
  // has a link-local address (a few seconds). Until then it floods, and flooding is off on the nodes' ports: wait
  // until an NS for a node's own address (a group its kernel joined) is answered.
  const n1 = nodes[0]!;
  await until(`an NA from ${n1.ipv6} (the bridge's MLD querier active)`, async () => {
    const r = await inNamespace(lab.clientNs, 'ndisc6', ['-n', '-r', '1', '-w', '500', n1.ipv6, 'eth0'], 20_000);
    return /Target link-layer address/.test(r.stdout) ? true : undefined;
  }, 60_000, 500);
  const details = await ip('-d', '-n', sw, 'link', 'show', 'br0');
  assert.match(details, /mcast_snooping 1/, details);
  assert.match(details, /mcast_querier 1/, details);

  // Control: an NS for an address nobody holds (so nobody joined its group) does not reach a node's port.
  const unjoined = '2001:db8:51::99';
  const group = solicitedNodeAddress(unjoined);
  const cap = inNamespace(nodes[0]!.ns, 'timeout', ['6', 'tcpdump', '-l', '-n', '-i', 'eth0', '-c', '1', `icmp6 and ip6 dst ${group}`], 20_000);
  await new Promise((r) => setTimeout(r, 1500)); // tcpdump listening
  await inNamespace(lab.clientNs, 'ndisc6', ['-n', '-r', '3', '-w', '500', unjoined, 'eth0'], 20_000);
  const seen = await cap;
  assert.doesNotMatch(seen.stdout, /neighbor solicitation/i, `the switch flooded an NS for an unjoined group to ${nodes[0]!.ns}: snooping is not in effect\n${seen.stdout}`);

  // The Service IP: the first IPv6 of the pool.
  const V6 = '2001:db8:51::200';
  const owner = lab.order(V6)[0]!;
  const ownerHost = lab.net.node(owner);
  await lab.createService('mld', [V6]);
  await lab.setEndpoints('mld', [{ node: owner, ready: true }], 'IPv6');
  await lab.waitForIngress('mld', V6);
  const g6 = solicitedNodeAddress(V6);
  // The owner's MLD report registered the group on its port.
  await until(`the bridge's multicast database to hold ${g6} on ${ownerHost.port} (the owner's port)`, async () => {
    const m = await mdb();
    return m.split('\n').some((line) => line.includes(` port ${ownerHost.port} `) && line.includes(g6)) ? m : undefined;
  }, 30_000, 300, () => `owner ${owner} (port ${ownerHost.port})`).catch(async (e: Error) => {
    throw new Error(`${e.message}\n${await mdb()}`);
  });
  let nd: string[] = [];
  await until(`an NA for ${V6} through the snooping switch`, async () => ((nd = await lab.ndisc(V6)).length ? true : undefined), 20_000, 300);
  assert.deepEqual(nd, [lab.macs.get(owner)!], `ndisc6 ${V6}: answers ${nd.join(',')}, owner ${owner}`);
  // Still exactly one answer on a second round.
  assert.deepEqual(await lab.ndisc(V6), [lab.macs.get(owner)!]);
  // The NS reaches the owner only through that membership: with the entry deleted from the bridge, an NS for V6 does
  // not arrive in the owner's namespace (tcpdump there; retried when the querier's next query, every 5 s, made the
  // owner report again meanwhile). Captured at the owner rather than judged by ndisc6's output, which also accepts
  // an unsolicited NA that happens to arrive while it waits.
  const ownerEntry = async (): Promise<boolean> => (await mdb()).split('\n').some((line) => line.includes(` port ${ownerHost.port} `) && line.includes(g6));
  let blocked = false;
  for (let i = 0; i < 6 && !blocked; i++) {
    const capture = inNamespace(ownerHost.ns, 'timeout', ['4', 'tcpdump', '-l', '-n', '-i', 'eth0', '-c', '1', `icmp6 and ip6[40] == 135 and ip6 dst ${g6}`], 20_000);
    await new Promise((r) => setTimeout(r, 1500)); // tcpdump listening
    await run('ip', ['netns', 'exec', sw, 'bridge', 'mdb', 'del', 'dev', 'br0', 'port', ownerHost.port, 'grp', g6]);
    await inNamespace(lab.clientNs, 'ndisc6', ['-n', '-r', '1', '-w', '500', V6, 'eth0'], 20_000);
    const got = await capture;
    if (!/neighbor solicitation/i.test(got.stdout)) blocked = true;
    else assert.ok(await ownerEntry(), `an NS for ${V6} reached ${owner} with its group deleted from the bridge: the bridge floods, the test proves nothing\n${got.stdout}`);
  }
  assert.ok(blocked, `the owner's group entry came back before each of 6 probes`);
  // The speaker still holds the group: the owner reports it on the querier's next query, and the NA comes back.
  await until(`the owner's MLD report to restore ${g6} on ${ownerHost.port}`, async () => ((await ownerEntry()) ? true : undefined), 30_000, 300);
  assert.deepEqual(await lab.ndisc(V6), [lab.macs.get(owner)!]);
});

test("L2Advertisement interfaces on real links: answered on the named link only; a missing one gives announceFailed", { skip }, async () => {
  const lab = l2();
  const { sw, nodes, client } = lab.net.topology;
  // Second segment: bridge br1, eth1 in the client and in every node (created in their namespaces directly).
  await ip('-n', sw, 'link', 'add', 'br1', 'type', 'bridge', 'mcast_snooping', '0');
  await ip('-n', sw, 'link', 'set', 'br1', 'up');
  const hosts = [{ ns: client.ns, mac: CLIENT_ETH1_MAC, v4: SEG2.client }, ...nodes.map((h, i) => ({ ns: h.ns, mac: SEG2.mac(i + 1), v4: SEG2.node(i + 1) }))];
  for (const [i, h] of hosts.entries()) {
    await ip('link', 'add', 'eth1', 'netns', h.ns, 'address', h.mac, 'type', 'veth', 'peer', 'name', `q${i + 1}`, 'netns', sw);
    await ip('-n', sw, 'link', 'set', `q${i + 1}`, 'master', 'br1', 'up');
    await ip('-n', h.ns, 'addr', 'add', `${h.v4}/24`, 'dev', 'eth1');
    await ip('-n', h.ns, 'link', 'set', 'eth1', 'up');
  }
  const eth1Mac = new Map(nodes.map((h, i) => [h.name, SEG2.mac(i + 1)]));
  for (const [pool, ipAddr, ifs] of [
    ['links-eth1', ETH1_IP, ['eth1']],
    ['links-missing', MISSING_IP, ['eth9']],
  ] as const) {
    await must(`pool ${pool}`, {
      apiVersion: 'metallb.io/v1beta1',
      kind: 'IPAddressPool',
      metadata: { name: pool, namespace: SPEAKER_NAMESPACE },
      spec: { addresses: [`${ipAddr}/32`], autoAssign: false },
    });
    await must(`L2Advertisement ${pool}`, {
      apiVersion: 'metallb.io/v1beta1',
      kind: 'L2Advertisement',
      metadata: { name: pool, namespace: SPEAKER_NAMESPACE },
      spec: { ipAddressPools: [pool], interfaces: [...ifs] },
    });
  }
  await lab.createService('eth1', [ETH1_IP]);
  await lab.setEndpoints('eth1', [{ node: 'n1', ready: true }]);
  await lab.createService('eth9', [MISSING_IP]);
  await lab.setEndpoints('eth9', [{ node: 'n1', ready: true }]);
  await lab.waitForIngress('eth1', ETH1_IP);
  await lab.waitForIngress('eth9', MISSING_IP);

  const owner = lab.order(ETH1_IP)[0]!;
  const arpingOn = async (ifname: string, target: string): Promise<string[]> => {
    const r = await inNamespace(lab.clientNs, 'arping', ['-b', '-c', '2', '-w', '3', '-I', ifname, target], 20_000);
    return [...new Set([...r.stdout.matchAll(/reply from \S+ \[([0-9A-Fa-f:]{17})\]/g)].map((m) => m[1]!.toLowerCase()))].sort();
  };
  // The speakers rescan links every 10 s: eth1 appears within that.
  let last: string[] = [];
  await until(`ARP for ${ETH1_IP} answered on eth1 by ${owner}'s eth1`, async () => {
    last = await arpingOn('eth1', ETH1_IP);
    return JSON.stringify(last) === JSON.stringify([eth1Mac.get(owner)]) ? true : undefined;
  }, 40_000, 500).catch((e: Error) => {
    throw new Error(`${e.message}; last answers: ${last.join(',') || 'none'}`);
  });
  assert.deepEqual(await arpingOn('eth0', ETH1_IP), [], `${ETH1_IP} was answered on eth0, which its L2Advertisement does not list`);
  assert.deepEqual(await arpingOn('eth1', ETH1_IP), [eth1Mac.get(owner)!]);
  // The IPs of the lab-l2 advertisement (no interfaces) are still answered on every link, eth0 included.
  // The advertisement naming eth9: MetalLB's announceFailed Warning, and nothing answers on any link.
  const missingOwner = lab.order(MISSING_IP)[0]!;
  const ev = await until(
    'a Warning event announceFailed on Service eth9',
    async () => (await lab.events('eth9')).find((e) => e['reason'] === 'announceFailed' && e['type'] === 'Warning'),
    30_000,
    500,
  );
  assert.equal(String(ev['message']), announceFailedMessage(MISSING_IP, missingOwner));
  assert.deepEqual(await arpingOn('eth0', MISSING_IP), []);
  assert.deepEqual(await arpingOn('eth1', MISSING_IP), []);
});
