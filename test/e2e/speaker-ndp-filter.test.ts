// Issue 8, the per-IP NDP filter on the namespace lab (root only; skips with the reason otherwise): three node
// namespaces on one bridge, so every Neighbor Solicitation the client sends to an IP's solicited-node group reaches all
// three speakers' IPv6 sockets. The kernel filter each socket carries (ndpFilter, src/speaker/link/ndp-filter.ts,
// pushed by the announcer with the watched IPs) drops on the non-owners every NS and NA whose target they do not
// watch. A classic BPF program cannot check the ICMPv6 checksum, so NSs with a corrupt checksum show where the check
// happens: the owner still receives them and counts them (berth_l2_frames_dropped_total{reason="bad-checksum"}, its
// userspace validation, RFC 4861 §7.1.1), the non-owners never see them (0; before the filter each counted every
// one). Valid NSs from ndisc6 are answered by the owner alone, as before.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { run } from '../../src/lab/network/topology.ts';
import { ipv6MulticastMac, solicitedNodeAddress } from '../../src/speaker/layer2/ndp.ts';
import { ndpFrame } from '../../src/speaker/layer2/responder.ts';
import { SEGMENT } from '../../src/lab/network/topology.ts';
import { Agent, agentArgv } from '../integration/link-harness.ts';
import { l2LabForFile, until } from './speaker-l2-harness.ts';

const { skip, l2 } = await l2LabForFile('the NDP filter end-to-end test', { nodes: 3 });

const IP = '2001:db8:51::213';
const CORRUPT = 200;

/** berth_l2_frames_dropped_total{reason="bad-checksum"} of node `name`'s speaker (its :7472 from the client namespace). */
async function badChecksums(clientNs: string, address: string): Promise<number> {
  const r = await run('ip', ['netns', 'exec', clientNs, 'curl', '-s', '--max-time', '5', `http://${address}:7472/metrics`]);
  assert.equal(r.code, 0, `metrics of ${address}: ${r.stderr}`);
  const m = /^berth_l2_frames_dropped_total\{reason="bad-checksum"\} (\d+)/m.exec(r.stdout);
  assert.ok(m, `no bad-checksum series in the metrics of ${address}`);
  return Number(m[1]);
}

test('a bridged segment: only the owner receives the NSs for its IPv6 (corrupt ones counted there), the non-owners drop them in the kernel', { skip, timeout: 180_000 }, async (t) => {
  const lab = l2();
  await lab.createService('ndp-filter', [IP]);
  await lab.setEndpoints('ndp-filter', ['n1', 'n2', 'n3'].map((node) => ({ node, ready: true })), 'IPv6');
  await lab.waitForIngress('ndp-filter', IP);
  const owner = await until(`a single NA for ${IP}`, async () => {
    const macs = await lab.ndisc(IP);
    return macs.length === 1 ? lab.nodeOf(macs[0]!) : undefined;
  }, 30_000);
  assert.ok(owner, `the MAC answering for ${IP} is a lab node's`);
  assert.equal(owner, lab.order(IP)[0], `MetalLB's order for ${IP} puts ${lab.order(IP)[0]} first`);

  const nodes = ['n1', 'n2', 'n3'];
  const address = (n: string): string => lab.net.node(n).ipv4;
  const before = new Map<string, number>();
  for (const n of nodes) before.set(n, await badChecksums(lab.clientNs, address(n)));

  // NSs from the client (as ndisc6 sends them) with the checksum spoiled, to the solicited-node group of the IP.
  const agent = new Agent(agentArgv('eth0', 0x86dd, ['ip', 'netns', 'exec', lab.clientNs]));
  t.after(() => agent.stop());
  const ready = await agent.waitFor((e) => e.event === 'ready' || e.event === 'open-failed');
  assert.equal(ready.event, 'ready', JSON.stringify(ready));
  const group = solicitedNodeAddress(IP);
  const ns = ndpFrame(ipv6MulticastMac(group), Buffer.from(SEGMENT.client.mac.replaceAll(':', ''), 'hex'), {
    source: SEGMENT.client.ipv6,
    destination: group,
    hopLimit: 255,
    message: { type: 'neighbor-solicitation', target: IP, options: [{ type: 'source-link-layer-address', address: SEGMENT.client.mac }] },
  });
  ns.writeUInt16BE(ns.readUInt16BE(56) ^ 0xffff, 56);
  for (let i = 0; i < CORRUPT; i++) agent.send({ send: ns.toString('hex') });
  let sent = 0;
  await until(`${CORRUPT} frames sent`, async () => ((sent = agent.events.filter((e) => e.event === 'sent').length) >= CORRUPT ? true : undefined), 30_000);

  const counted = new Map<string, number>();
  await until(`the owner ${owner} counts the ${CORRUPT} corrupt NSs`, async () => {
    for (const n of nodes) counted.set(n, (await badChecksums(lab.clientNs, address(n))) - before.get(n)!);
    return counted.get(owner)! >= CORRUPT ? true : undefined;
  }, 20_000, 500);
  const report = [...counted].map(([n, c]) => `${n}${n === owner ? ' (owner)' : ''} ${c}`).join(', ');
  t.diagnostic(`bad-checksum drops counted for ${sent} corrupt NSs: ${report}`);
  assert.equal(counted.get(owner), CORRUPT, `the owner's userspace check counts each corrupt NS once (${report})`);
  for (const n of nodes) if (n !== owner) assert.equal(counted.get(n), 0, `non-owner ${n} never received an NS for an IP it does not watch (${report})`);
  // Valid solicitations: still answered, by the owner alone.
  assert.deepEqual(await lab.ndisc(IP), [lab.macs.get(owner)]);
});
