// Issue 8: an owner change must never give two owners answering at once (a fresh user saw two nodes answer for ~0.6 s
// under load). Root only (network namespaces, real speakers; speaker-l2-harness.ts), skips with the reason otherwise.
// The client broadcasts an ARP request about every 20 ms (50 arping -b, staggered) while tcpdump in the client namespace records
// every ARP frame; the owner is stopped with SIGTERM (handover through the 'leaving' heartbeat). Between two of the
// client's requests the replies must come from one MAC only: the old owner stops answering before it tells its peers
// it leaves, and the new one answers only once it heard that. Then the new owner answers alone.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { inNamespace } from '../../src/lab/network/topology.ts';
import { l2LabForFile, until } from './speaker-l2-harness.ts';

const { skip, l2 } = await l2LabForFile('the layer-2 handover end-to-end test', { nodes: 2 });

const IP = '198.51.100.207';
/** ARP frames of tcpdump -e -n output, in order: a request from the client, or a reply to it and the MAC that sent it. */
function arpFrames(text: string, clientMac: string): Array<{ kind: 'request' } | { kind: 'reply'; mac: string }> {
  const out: Array<{ kind: 'request' } | { kind: 'reply'; mac: string }> = [];
  for (const line of text.split('\n')) {
    const m = /^\S+ ([0-9a-f:]{17}) > ([0-9a-f:]{17}), ethertype ARP \(0x0806\), length \d+: (Request|Reply) /.exec(line);
    if (!m) continue;
    if (m[3] === 'Request' && m[1] === clientMac) out.push({ kind: 'request' });
    // Answers to the client only: a new owner's gratuitous ARP (broadcast) answers nobody's request.
    else if (m[3] === 'Reply' && m[2] === clientMac && line.includes(`${IP} is-at`)) out.push({ kind: 'reply', mac: m[1]! });
  }
  return out;
}

test('SIGTERM of the owner: never two MACs answering one ARP request; the next node answers alone after', { skip, timeout: 180_000 }, async () => {
  const lab = l2();
  const [owner, next] = lab.order(IP) as [string, string];
  const ownerMac = lab.macs.get(owner)!;
  const nextMac = lab.macs.get(next)!;
  await lab.createService('handover', [IP]);
  await lab.setEndpoints('handover', [{ node: owner, ready: true }, { node: next, ready: true }]);
  await lab.waitForIngress('handover', IP);
  await until(`ARP for ${IP} answered by ${owner}`, async () => ((await lab.arping(IP)).join() === ownerMac ? true : undefined), 30_000, 300);

  const dump = spawn('ip', ['netns', 'exec', lab.clientNs, 'tcpdump', '-l', '-n', '-e', '-i', 'eth0', 'arp'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  dump.stdout.on('data', (b: Buffer) => (text += b.toString()));
  let dumpErr = '';
  dump.stderr.on('data', (b: Buffer) => (dumpErr += b.toString()));
  try {
    await until('tcpdump listening', async () => (/listening on/.test(dumpErr) ? true : undefined), 10_000, 50);
    // iputils arping takes whole seconds for -i: 50 of them, 1 s apart each, started 20 ms apart, for 6 s each (no
    // -c: each one sees every reply to the client, so a count would end them all early).
    const probes: Array<Promise<unknown>> = [];
    for (let k = 0; k < 50; k++) {
      probes.push(inNamespace(lab.clientNs, 'arping', ['-b', '-i', '1', '-w', '6', '-I', 'eth0', IP], 30_000));
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 1500));
    await lab.net.stopSpeaker(owner, 'SIGTERM');
    await Promise.all(probes);
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    dump.kill('SIGTERM');
  }
  const frames = arpFrames(text, lab.net.topology.client.mac);
  const requests = frames.filter((f) => f.kind === 'request').length;
  assert.ok(requests >= 100, `tcpdump saw ${requests} requests:\n${text.slice(0, 2000)}`);
  // Group the replies by the request they follow.
  const doubles: string[] = [];
  let current = new Set<string>();
  let i = 0;
  const macsSeen = new Set<string>();
  for (const f of frames) {
    if (f.kind === 'request') {
      if (current.size > 1) doubles.push(`request ${i}: ${[...current].join(' and ')}`);
      current = new Set();
      i++;
    } else {
      current.add(f.mac);
      macsSeen.add(f.mac);
    }
  }
  if (current.size > 1) doubles.push(`request ${i}: ${[...current].join(' and ')}`);
  assert.deepEqual(doubles, [], `two owners answered (old ${ownerMac}, new ${nextMac})`);
  assert.ok(macsSeen.has(ownerMac) && macsSeen.has(nextMac), `both owners answered in turn (seen: ${[...macsSeen].join(', ')})`);
  // The last replies are the new owner's only.
  const lastReplies = frames.filter((f): f is { kind: 'reply'; mac: string } => f.kind === 'reply').slice(-10);
  assert.ok(lastReplies.every((f) => f.mac === nextMac), `after the handover: ${lastReplies.map((f) => f.mac).join(', ')}`);
  assert.deepEqual(await lab.arping(IP), [nextMac]);
});
