// `berth status` after a SIGKILLed speaker (root only: real speakers with heartbeats in network namespaces,
// speaker-l2-harness.ts; skips with the reason otherwise). Two nodes; Service `local` (externalTrafficPolicy Local,
// its one ready endpoint on n1) is announced by n1 only, so nobody takes it over and n1's ServiceL2Status stays. After
// `kill -9` of n1's speaker its Lease is still fresh (40 s), but n2's heartbeats stop hearing it at once and n2
// publishes that on its Lease (berth.io/silent-peers): status marks `layer2: n1 (speaker down)` within seconds, with
// the Lease's age, well before the Lease expires; the running speaker's own Service is still listed plainly.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recordingIO } from '../../src/cli/io.ts';
import { main } from '../../src/cli/main.ts';
import { l2LabForFile, until } from './speaker-l2-harness.ts';

const { skip, l2 } = await l2LabForFile('the berth status liveness end-to-end test', { nodes: 2 });

interface Row {
  name: string;
  announcedBy: { layer2: string[] };
  notAnnounced?: { reason: string; message: string };
  unconfirmed?: Array<{ mode: string; node: string; reason: string; message: string }>;
}

async function status(): Promise<Map<string, Row>> {
  const io = recordingIO();
  const code = await main(['status', '--kubeconfig', l2().lab().kubeconfigPath, '--namespace', 'metallb-system', '-o', 'json'], io);
  assert.equal(code, 0, io.stderr.join('\n'));
  return new Map((JSON.parse(io.stdout.join('\n')) as { services: Row[] }).services.map((r) => [r.name, r]));
}

test('berth status marks a SIGKILLed speaker down from its peers\' heartbeats, long before its Lease expires', { skip, timeout: 240_000 }, async () => {
  const lab = l2();
  await lab.createService('local', ['198.51.100.205'], { etp: 'Local' });
  await lab.setEndpoints('local', [{ node: 'n1', ready: true }]);
  await lab.createService('local2', ['198.51.100.206'], { etp: 'Local' });
  await lab.setEndpoints('local2', [{ node: 'n2', ready: true }]);
  await until('status: local announced by n1, local2 by n2', async () => {
    const m = await status();
    return m.get('local')?.announcedBy.layer2.join() === 'n1' && m.get('local2')?.announcedBy.layer2.join() === 'n2' ? true : undefined;
  }, 60_000, 500);

  await lab.net.stopSpeaker('n1', 'SIGKILL');
  const killedAt = Date.now();
  const row = await until('status to mark n1 down', async () => {
    const r = (await status()).get('local');
    return r?.unconfirmed?.some((u) => u.node === 'n1' && u.reason === 'speakerDown') ? r : undefined;
  }, 30_000, 300);
  const tookS = (Date.now() - killedAt) / 1000;
  assert.deepEqual(row.announcedBy.layer2, []);
  assert.equal(row.notAnnounced?.reason, 'speakerDown');
  // The verdict comes from n2's heartbeats, while n1's own Lease is still fresh (not the 40 s expiry).
  assert.match(row.notAnnounced!.message, /the speaker of node "n1" is down: its peer n2 hears no heartbeat from it since \d+ s ago \(its Lease metallb-speaker-n1 was last renewed \d+ s ago and expires in (\d+) s\)/);
  const expiresIn = Number(/expires in (\d+) s/.exec(row.notAnnounced!.message)![1]);
  assert.ok(expiresIn > 0, `n1's Lease had already expired: the test does not show the heartbeat path (${row.notAnnounced!.message})`);
  process.stdout.write(`marked down ${tookS.toFixed(1)} s after the kill; n1's Lease expires ${expiresIn} s later\n`);
  const other = (await status()).get('local2')!;
  assert.deepEqual(other.announcedBy.layer2, ['n2'], 'the live speaker is still listed');

  const io = recordingIO();
  assert.equal(await main(['status', '--kubeconfig', lab.lab().kubeconfigPath, '--namespace', 'metallb-system'], io), 0);
  assert.match(io.stdout.join('\n'), /^default\s+local\s+198\.51\.100\.205\s+lab-l2\s+layer2: n1 \(speaker down\)\s+speakerDown: /m);
});
