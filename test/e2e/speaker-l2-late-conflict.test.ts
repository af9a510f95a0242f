// Issue 8, "flag a foreign MAC answering later": a foreign host claims a Service IP AFTER a speaker announces it.
// Two node namespaces running `berth speaker` and the client (speaker-l2-harness.ts, src/lab/network), then a foreign
// host `fx` (a namespace on the same bridge running no speaker). docs/layer2.md "IP conflicts", last bullet: a foreign
// claim while the IP is already announced gives the Warning event `IPConflict` naming the foreign MAC and
// `berth_l2_ip_conflicts{ip}` 1 (docs/metrics.md); the IP stays announced and is defended by one gratuitous
// announcement (RFC 5227 §2.4 (b)); once the foreign host has been silent for 15 s the conflict clears (Normal event
// `IPConflictCleared`, the gauge's series gone). Root only: skips with the reason otherwise.
//   - IPv4: fx adds the IP to its eth0 and sends a gratuitous ARP with iputils `arping -U` (what ifup/NetworkManager
//     do on a host configured with it); the client's tcpdump sees the owner's defending gratuitous ARP after it.
//   - IPv6: fx adds the IP to its eth0 and its kernel runs Duplicate Address Detection (RFC 4862 §5.4, an NS from ::);
//     the owner answers it, so fx's kernel marks the address `dadfailed`.
//   - IPv6: fx adds a second IP with DAD off and ndisc_notify on, so its kernel sends an unsolicited Neighbor
//     Advertisement with Override (RFC 4861 §7.2.6); the client's tcpdump sees the owner's defending NA after it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { KubeObject } from '../../src/kube/client.ts';
import { SPEAKER_METRICS_PORT } from '../../src/lab/network/network.ts';
import { inNamespace, ip } from '../../src/lab/network/topology.ts';
import { metricValue } from '../helpers/metrics.ts';
import { l2LabForFile, until, type L2Lab } from './speaker-l2-harness.ts';

const { skip, l2 } = await l2LabForFile('the layer-2 late IP conflict end-to-end test', { nodes: 2 });

const V4 = '198.51.100.205';
const V6 = '2001:db8:51::205';
const V6NA = '2001:db8:51::206';
const FOREIGN = { name: 'fx', ipv4: '198.51.100.9', ipv6: '2001:db8:51::9', mac: '02:00:00:51:00:09' };
const GAUGE = (a: string): string => `berth_l2_ip_conflicts{ip="${a}"}`;
/** What the client's tcpdump printed so far (ARP and ICMPv6). */
let dumpText = '';

/** Node `node`'s speaker /metrics (it listens on the node's IPv4 address, port 7472), read from the client namespace. */
async function scrape(lab: L2Lab, node: string): Promise<string> {
  const url = `http://${lab.net.node(node).ipv4}:${SPEAKER_METRICS_PORT}/metrics`;
  const r = await inNamespace(lab.clientNs, 'curl', ['-sSf', '--max-time', '5', url], 10_000);
  if (r.code !== 0) throw new Error(`GET ${url}: ${r.stderr}`);
  return r.stdout;
}

/** Waits for an event `reason` of type `type` on Service `name`; on a timeout the error lists its events and the speakers' layer-2 log lines. */
function eventOf(lab: L2Lab, name: string, type: string, reason: string, timeoutMs = 30_000): Promise<KubeObject> {
  let seen: KubeObject[] = [];
  const detail = (): string => {
    const events = seen.map((e) => `${String(e['type'])} ${String(e['reason'])}: ${String(e['message'])}`);
    const logs = [...lab.macs.keys()].map((n) => {
      const lines = readFileSync(lab.net.speakerLog(n), 'utf8').split('\n').filter((l) => /conflict|claimed|layer2:/.test(l));
      return `speaker ${n}:\n${lines.slice(-15).join('\n')}`;
    });
    const nd = dumpText.split('\n').filter((l) => /ICMP6/.test(l));
    return [`events of ${name}:`, ...events, ...logs, 'NDP the client saw:', ...nd.slice(-20)].join('\n');
  };
  return until(`a ${type} event ${reason} on Service ${name}`, async () => (seen = await lab.events(name)).find((e) => e['reason'] === reason && e['type'] === type), timeoutMs, 500, detail);
}

test('a foreign host claiming an announced IP later: IPConflict naming its MAC, gauge 1, the IP stays announced and is defended; cleared once it is silent', { skip, timeout: 180_000 }, async () => {
  const lab = l2();
  const owner4 = lab.order(V4)[0]!;
  const owner6 = lab.order(V6)[0]!;
  const mac4 = lab.macs.get(owner4)!;
  const mac6 = lab.macs.get(owner6)!;
  const ownerNa = lab.order(V6NA)[0]!;
  const macNa = lab.macs.get(ownerNa)!;
  const nodes = [...lab.macs.keys()];
  await lab.createService('late4', [V4]);
  await lab.setEndpoints('late4', nodes.map((node) => ({ node, ready: true })));
  await lab.createService('late6', [V6]);
  await lab.setEndpoints('late6', nodes.map((node) => ({ node, ready: true })), 'IPv6');
  await lab.waitForIngress('late4', V4);
  await lab.createService('latena', [V6NA]);
  await lab.setEndpoints('latena', nodes.map((node) => ({ node, ready: true })), 'IPv6');
  await lab.waitForIngress('late6', V6);
  await lab.waitForIngress('latena', V6NA);
  await until(`ARP for ${V4} answered by ${owner4} alone`, async () => ((await lab.arping(V4)).join() === mac4 ? true : undefined), 30_000, 300);
  await until(`NDP for ${V6} answered by ${owner6} alone`, async () => ((await lab.ndisc(V6)).join() === mac6 ? true : undefined), 30_000, 300);
  await until(`NDP for ${V6NA} answered by ${ownerNa} alone`, async () => ((await lab.ndisc(V6NA)).join() === macNa ? true : undefined), 30_000, 300);
  for (const n of nodes) {
    const t = await scrape(lab, n);
    assert.equal(metricValue(t, GAUGE(V4)), undefined, `${n}: a conflict on ${V4} before any foreign host`);
    assert.equal(metricValue(t, GAUGE(V6)), undefined, `${n}: a conflict on ${V6} before any foreign host`);
    assert.equal(metricValue(t, GAUGE(V6NA)), undefined, `${n}: a conflict on ${V6NA} before any foreign host`);
  }
  // No IPConflict so far: the speaker probed before announcing and nobody answered.
  assert.equal((await lab.events('late4')).filter((e) => e['reason'] === 'IPConflict').length, 0);

  const fx = await lab.net.topology.addHost(FOREIGN);
  const dump = spawn('ip', ['netns', 'exec', lab.clientNs, 'tcpdump', '-l', '-n', '-e', '-i', 'eth0', 'arp or icmp6'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let dumpErr = '';
  dump.stdout.on('data', (b: Buffer) => (dumpText += b.toString()));
  dump.stderr.on('data', (b: Buffer) => (dumpErr += b.toString()));
  try {
    await until('tcpdump listening', async () => (/listening on/.test(dumpErr) ? true : undefined), 10_000, 50);
    // fx is up and settled (its own addresses past DAD) before it is configured with the Service IPs.
    await until(`${fx.ns}'s eth0 addresses past DAD`, async () => (/tentative/.test(await ip('-n', fx.ns, '-6', 'addr', 'show', 'dev', 'eth0')) ? undefined : true), 10_000, 100);
    // The foreign host is configured with both IPs later: its kernel answers for them from now on.
    await ip('-n', fx.ns, 'addr', 'add', `${V4}/32`, 'dev', 'eth0');
    await ip('-n', fx.ns, '-6', 'addr', 'add', `${V6}/128`, 'dev', 'eth0');
    const garp = await inNamespace(fx.ns, 'arping', ['-U', '-c', '1', '-I', 'eth0', V4], 10_000);
    assert.equal(garp.code, 0, `arping -U in ${fx.ns}: ${garp.stderr}`);

    const ev4 = await eventOf(lab, 'late4', 'Warning', 'IPConflict');
    const msg4 = String(ev4['message']);
    assert.ok(msg4.includes(FOREIGN.mac) && msg4.includes(V4) && msg4.includes(`"${owner4}"`), `IPConflict message names the foreign MAC, the IP and the node: ${msg4}`);
    assert.doesNotMatch(msg4, /not announced/, `the IP stays announced (docs/layer2.md), the message must not say otherwise: ${msg4}`);
    const ev6 = await eventOf(lab, 'late6', 'Warning', 'IPConflict');
    const msg6 = String(ev6['message']);
    assert.ok(msg6.includes(FOREIGN.mac) && msg6.includes(V6) && msg6.includes(`"${owner6}"`), `IPConflict message names the foreign MAC, the IP and the node: ${msg6}`);

    await until(`${GAUGE(V4)} 1 on ${owner4}`, async () => (metricValue(await scrape(lab, owner4), GAUGE(V4)) === 1 ? true : undefined), 15_000, 500);
    await until(`${GAUGE(V6)} 1 on ${owner6}`, async () => (metricValue(await scrape(lab, owner6), GAUGE(V6)) === 1 ? true : undefined), 15_000, 500);

    // Stays announced: the owner still answers (beside the foreign kernel, which holds the address now).
    assert.deepEqual(await lab.arping(V4, 3), [FOREIGN.mac, mac4].sort(), `ARP answers for ${V4} while fx holds it`);
    // Defended: fx's DAD saw the owner's NA, so its kernel refuses the address.
    const fxAddr = await until(`fx's ${V6} to fail DAD`, async () => {
      const out = await ip('-n', fx.ns, '-6', 'addr', 'show', 'dev', 'eth0');
      return /dadfailed/.test(out.split('\n').find((l) => l.includes(`${V6}/128`)) ?? '') ? out : undefined;
    }, 15_000, 300);
    assert.match(fxAddr, /tentative/);
    assert.deepEqual(await lab.ndisc(V6), [mac6], `NDP answers for ${V6}: the owner only (fx's copy failed DAD)`);

    // A host that skips DAD and announces itself: an unsolicited NA with Override for the second IP.
    const sysctl = await inNamespace(fx.ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.eth0.accept_dad=0', 'net.ipv6.conf.eth0.ndisc_notify=1'], 10_000);
    assert.equal(sysctl.code, 0, `sysctl in ${fx.ns}: ${sysctl.stderr}`);
    await ip('-n', fx.ns, '-6', 'addr', 'add', `${V6NA}/128`, 'dev', 'eth0');
    const evNa = await eventOf(lab, 'latena', 'Warning', 'IPConflict');
    const msgNa = String(evNa['message']);
    assert.ok(msgNa.includes(FOREIGN.mac) && msgNa.includes(V6NA) && msgNa.includes(`"${ownerNa}"`), `IPConflict message names the foreign MAC, the IP and the node: ${msgNa}`);
    assert.doesNotMatch(msgNa, /not announced/, `the IP stays announced (docs/layer2.md): ${msgNa}`);
    await until(`${GAUGE(V6NA)} 1 on ${ownerNa}`, async () => (metricValue(await scrape(lab, ownerNa), GAUGE(V6NA)) === 1 ? true : undefined), 15_000, 500);
    assert.deepEqual(await lab.ndisc(V6NA), [FOREIGN.mac, macNa].sort(), `NDP answers for ${V6NA} while fx holds it`);
  } finally {
    dump.kill('SIGTERM');
  }
  // The client saw fx's gratuitous ARP, then the owner's defending gratuitous ARP (broadcast, sender IP = the IP).
  const garps = dumpText
    .split('\n')
    .map((l) => /^\S+ ([0-9a-f:]{17}) > ff:ff:ff:ff:ff:ff, ethertype ARP \(0x0806\), length \d+: (?:Request who-has (\S+)(?: \([0-9a-f:]{17}\))? tell ([^\s,]+)|Reply (\S+) is-at)/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && (m[4] === V4 || (m[2] === V4 && m[3] === V4)))
    .map((m) => m[1]!);
  const first = garps.indexOf(FOREIGN.mac);
  assert.ok(first >= 0, `tcpdump saw no gratuitous ARP from fx:\n${dumpText.slice(0, 3000)}`);
  assert.ok(garps.slice(first + 1).includes(mac4), `no defending gratuitous ARP from ${owner4} after fx's (sequence ${garps.join(', ')})`);
  // The same for NDP: fx's unsolicited NA for V6NA to ff02::1, then the owner's.
  const nas = dumpText
    .split('\n')
    .map((l) => /^\S+ ([0-9a-f:]{17}) > 33:33:00:00:00:01, .*: \S+ > ff02::1: ICMP6, neighbor advertisement, tgt is ([^\s,]+)/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && m[2] === V6NA)
    .map((m) => m[1]!);
  const firstNa = nas.indexOf(FOREIGN.mac);
  assert.ok(firstNa >= 0, `tcpdump saw no unsolicited NA from fx for ${V6NA}:\n${dumpText.split('\n').filter((l) => l.includes('ICMP6')).join('\n')}`);
  assert.ok(nas.slice(firstNa + 1).includes(macNa), `no defending NA from ${ownerNa} after fx's (sequence ${nas.join(', ')})`);

  // The foreign host goes away: both conflicts clear after 15 s of silence, the IPs are answered by the owners alone.
  await ip('-n', fx.ns, 'addr', 'del', `${V4}/32`, 'dev', 'eth0');
  await ip('-n', fx.ns, '-6', 'addr', 'del', `${V6}/128`, 'dev', 'eth0');
  await ip('-n', fx.ns, '-6', 'addr', 'del', `${V6NA}/128`, 'dev', 'eth0');
  const cleared4 = await eventOf(lab, 'late4', 'Normal', 'IPConflictCleared', 45_000);
  assert.match(String(cleared4['message']), /still announced/, 'the IP was never withdrawn');
  await eventOf(lab, 'late6', 'Normal', 'IPConflictCleared', 45_000);
  await eventOf(lab, 'latena', 'Normal', 'IPConflictCleared', 45_000);
  const after4 = await scrape(lab, owner4);
  const after6 = await scrape(lab, owner6);
  assert.equal(metricValue(after4, GAUGE(V4)), undefined, `${GAUGE(V4)} after the conflict cleared`);
  assert.equal(metricValue(after6, GAUGE(V6)), undefined, `${GAUGE(V6)} after the conflict cleared`);
  assert.deepEqual(await lab.arping(V4), [mac4]);
  assert.deepEqual(await lab.ndisc(V6), [mac6]);
  assert.equal(metricValue(await scrape(lab, ownerNa), GAUGE(V6NA)), undefined, `${GAUGE(V6NA)} after the conflict cleared`);
  assert.deepEqual(await lab.ndisc(V6NA), [macNa]);
});
