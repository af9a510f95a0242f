// Metric coverage, the half a dry-run speaker cannot show (root, network namespaces): the speaker series that exist
// only after an event (monitoring-files.ts AFTER_EVENT) get their samples on a real layer-2 segment. One node
// namespace running `berth speaker` (test/e2e/speaker-l2-harness.ts, src/lab/network), a Service it owns
// (198.51.100.200): real arping from the client namespace → metallb_layer2_requests_received and
// metallb_layer2_responses_sent for that IP; a foreign host holding 198.51.100.203 on its interface and a Service
// asking for it → berth_l2_ip_conflicts{ip="198.51.100.203"} 1. The speaker's /metrics is read from the client
// namespace (the speaker listens on its node address, port 7472). Skips with the reason without root.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { inNamespace, ip } from '../../src/lab/network/topology.ts';
import { SPEAKER_METRICS_PORT } from '../../src/lab/network/network.ts';
import { l2SkipReason, startL2Lab, until, type L2Lab } from '../e2e/speaker-l2-harness.ts';
import { AFTER_EVENT, exported } from './monitoring-files.ts';
import { metricValue as value } from '../helpers/metrics.ts';

const skip = await l2SkipReason();
const VIP = '198.51.100.200';
const CLASH = '198.51.100.203';
const FOREIGN = { name: 'fx', ipv4: '198.51.100.9', ipv6: '2001:db8:51::9', mac: '02:00:00:51:00:09' };
let l: L2Lab | undefined;

before(async () => {
  if (skip) return;
  l = await startL2Lab({ nodes: 1 });
});

after(async () => {
  await l?.stop();
});

/** Node's fetch run inside a namespace: prints the body of argv[1], exit 1 with the error otherwise. */
const FETCH = `fetch(process.argv[1], { signal: AbortSignal.timeout(5000) })
  .then(async (r) => { if (!r.ok) throw new Error('HTTP ' + r.status); process.stdout.write(await r.text()); })
  .catch((e) => { console.error(String(e)); process.exit(1); });`;

/** n1's speaker /metrics, fetched from the client namespace (by this Node, no curl needed). */
async function scrape(): Promise<string> {
  const n1 = l!.net.topology.nodes[0]!;
  const url = `http://${n1.ipv4}:${SPEAKER_METRICS_PORT}/metrics`;
  const r = await inNamespace(l!.clientNs, process.execPath, ['-e', FETCH, url], 10_000);
  if (r.code !== 0) throw new Error(`GET ${url}: ${r.stderr}`);
  return r.stdout;
}

test('the after-event speaker series are sampled once their event happens: ARP requests and replies, an IP conflict', { skip }, async () => {
  const lab = l!;
  await lab.createService('cov', [VIP]);
  await lab.setEndpoints('cov', [{ node: 'n1', ready: true }]);
  await lab.waitForIngress('cov', VIP);
  const mac = lab.macs.get('n1')!;
  await until(`n1 (${mac}) to answer ARP for ${VIP}`, async () => ((await lab.arping(VIP)).includes(mac) ? true : undefined), 30_000, 300);
  const counted = await until('the request and reply counters of the VIP', async () => {
    const text = await scrape();
    return (value(text, `metallb_layer2_requests_received{ip="${VIP}"}`) ?? 0) >= 1 && (value(text, `metallb_layer2_responses_sent{ip="${VIP}"}`) ?? 0) >= 1 ? text : undefined;
  }, 20_000, 500);
  assert.equal(value(counted, 'berth_l2_ip_conflicts{ip="' + CLASH + '"}'), undefined, 'no conflict before the foreign host');

  const fx = await lab.net.topology.addHost(FOREIGN);
  await ip('-n', fx.ns, 'addr', 'add', `${CLASH}/32`, 'dev', 'eth0');
  await lab.createService('clash', [CLASH]);
  await lab.setEndpoints('clash', [{ node: 'n1', ready: true }]);
  await lab.waitForIngress('clash', CLASH);
  const text = await until(`berth_l2_ip_conflicts{ip="${CLASH}"} 1`, async () => {
    const t = await scrape();
    return value(t, `berth_l2_ip_conflicts{ip="${CLASH}"}`) === 1 ? t : undefined;
  }, 30_000, 500);

  const names = exported(text);
  for (const [name, event] of AFTER_EVENT) assert.ok(names.has(name), `${name} has no sample after ${event}`);
});
