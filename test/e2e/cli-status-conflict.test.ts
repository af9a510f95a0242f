// `berth status` after an IP conflict is fixed (fresh-user report), for real: the layer-2 lab (speaker-l2-harness.ts:
// three node namespaces each running `berth speaker`, a client namespace probing with arping) and a foreign host that
// holds the Service's IP on its interface. Status marks the owner `(IP conflict)`; after `ip addr del` on the foreign
// host, the speaker clears the conflict (re-probe, 15 s of silence), writes Normal IPConflictCleared, answers ARP
// again, and status shows the owner announcing with no fault while the Warning IPConflict Event is still there.
// Root only: skips with the reason otherwise.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { main } from '../../src/cli/main.ts';
import { recordingIO } from '../../src/cli/io.ts';
import { ip } from '../../src/lab/network/topology.ts';
import { l2SkipReason, startL2Lab, until, type L2Lab } from './speaker-l2-harness.ts';

const skip = await l2SkipReason();
if (skip) process.stdout.write(`# skipping the status-after-conflict end-to-end test: ${skip}\n`);

const CLASH = '198.51.100.205';
const FOREIGN = { name: 'fy', ipv4: '198.51.100.8', ipv6: '2001:db8:51::8', mac: '02:00:00:51:00:08' };
let l: L2Lab | undefined;

before(async () => {
  if (skip) return;
  l = await startL2Lab();
});

after(async () => {
  await l?.stop();
});

interface Row {
  name: string;
  announcedBy: { layer2: string[] };
  unconfirmed?: Array<{ node: string; reason: string }>;
}

test('IPConflict, then the foreign address deleted: status shows the owner announcing and no fault', { skip, timeout: 240_000 }, async () => {
  const lab = l!;
  const row = async (): Promise<Row | undefined> => {
    const io = recordingIO();
    assert.equal(await main(['status', '--kubeconfig', lab.lab().kubeconfigPath, '-o', 'json'], io), 0, io.stderr.join('\n'));
    return (JSON.parse(io.stdout.join('\n')) as { services: Row[] }).services.find((x) => x.name === 'clash');
  };
  const fx = await lab.net.topology.addHost(FOREIGN);
  await ip('-n', fx.ns, 'addr', 'add', `${CLASH}/32`, 'dev', 'eth0');
  await lab.createService('clash', [CLASH]);
  await lab.setEndpoints('clash', [
    { node: 'n1', ready: true },
    { node: 'n2', ready: true },
    { node: 'n3', ready: true },
  ]);
  await lab.waitForIngress('clash', CLASH);
  const owner = lab.order(CLASH)[0]!;
  let last: Row | undefined;
  await until('status marks the owner (IP conflict)', async () => ((last = await row())?.unconfirmed?.some((u) => u.reason === 'IPConflict') ? true : undefined), 60_000, 500).catch(
    (e: unknown) => {
      throw new Error(`${String(e)}; last row: ${JSON.stringify(last)}`);
    },
  );
  assert.deepEqual(last?.unconfirmed?.map((u) => [u.node, u.reason]), [[owner, 'IPConflict']]);
  assert.deepEqual(last?.announcedBy.layer2, []);
  // The text output says it in plain words: the IP, the foreign MAC, the node that does not announce it.
  const text = recordingIO();
  assert.equal(await main(['status', '--kubeconfig', lab.lab().kubeconfigPath], text), 0, text.stderr.join('\n'));
  const line = text.stdout.join('\n').split('\n').find((x) => /^default\s+clash\s/.test(x)) ?? text.stdout.join('\n');
  assert.ok(line.includes(`layer2: ${owner} (IP conflict)`), line);
  assert.ok(line.includes(`IPConflict: ${CLASH} is already used by another host, MAC ${FOREIGN.mac} `), line);
  assert.ok(line.includes(`so ${owner} does not announce it`), line);

  await ip('-n', fx.ns, 'addr', 'del', `${CLASH}/32`, 'dev', 'eth0');
  await until('the owner answers ARP again', async () => ((await lab.arping(CLASH, 1)).includes(lab.macs.get(owner)!) ? true : undefined), 90_000, 1000);
  const fixed = await until('status shows the owner announcing', async () => ((last = await row())?.announcedBy.layer2.includes(owner) ? last : undefined), 30_000, 500).catch(
    (e: unknown) => {
      throw new Error(`${String(e)}; last row: ${JSON.stringify(last)}`);
    },
  );
  assert.equal(fixed.unconfirmed, undefined, `no fault left: ${JSON.stringify(fixed.unconfirmed)}`);
  const events = await lab.events('clash');
  assert.ok(events.some((e) => e['reason'] === 'IPConflict' && e['type'] === 'Warning'), 'the Warning is still in the cluster');
  assert.ok(events.some((e) => e['reason'] === 'IPConflictCleared' && e['type'] === 'Normal'), 'the speaker wrote IPConflictCleared');
});
