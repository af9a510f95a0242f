// Issue 9: TCP MD5 (RFC 2385) from a BGPPeer, through the real `berth speaker` process. The speaker of node n1 (lab
// network, speaker-bgp-lab.ts) peers with FRR 8 bgpd (`neighbor … password`) through a BGPPeer whose passwordSecret
// names a kubernetes.io/basic-auth Secret (key `password`, as MetalLB requires): Established, the Service's /32 at
// FRR. The Secret changed to a wrong password alone (no BGPPeer edit): the speaker reads it again (its informer of
// basic-auth Secrets rebuilds the configuration, bgp-main.ts reads the passwords), resets the session, and FRR never
// establishes it (the kernel drops segments whose MD5 digest does not match: FRR's state never reaches Established).
// The right password back in the Secret: Established again. Then `password` inline in the BGPPeer, the same way.
// Root only. Documentation ranges only: segment 198.51.100.0/24, Service IP 203.0.113.0/24, endpoint 192.0.2.0/24.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bgpLabSkipReason, bgpPeerYaml, frrConfigText, frrNeighbor, frrPassiveNeighbors, METALLB_NS, useWebLab, WEB_POOL_YAML, type BgpLab } from './speaker-bgp-lab.ts';

const skip = await bgpLabSkipReason(['zebra', 'bgpd']);
if (skip) process.stdout.write(`# skipping the MD5 end-to-end test: ${skip}\n`);

const KEY = 'berth-md5-e2e';
const WEB = '203.0.113.12';
const PREFIX = `${WEB}/32`;
let lab: BgpLab | undefined;
let n1 = '';

const frrConfig = (d: string, nodes: readonly string[]): string => frrConfigText(d, frrPassiveNeighbors(nodes, [3, 9], (n) => [`neighbor ${n} password ${KEY}`]));

const secretYaml = (password: string): string => `apiVersion: v1
kind: Secret
metadata: {name: router-md5, namespace: ${METALLB_NS}}
type: kubernetes.io/basic-auth
stringData: {password: ${JSON.stringify(password)}}
`;

const peerYaml = (auth: string): string => bgpPeerYaml(`holdTime: 9s, keepaliveTime: 3s, connectTime: 2s, ${auth}`);

const CONFIG = WEB_POOL_YAML;

useWebLab(skip, frrConfig, CONFIG, WEB, (l) => {
  lab = l;
  n1 = l.nodes[0]!;
});

const state = async (l: BgpLab): Promise<string | undefined> => (await frrNeighbor(l, n1))?.['bgpState'] as string | undefined;

async function established(l: BgpLab, what: string): Promise<void> {
  const t0 = performance.now();
  await l.waitFor(`${what}: the session with ${n1} Established at FRR`, async () => ((await state(l)) === 'Established' ? true : undefined), 60_000, 200);
  await l.waitFor(`${what}: ${PREFIX} at FRR from ${n1}`, async () => ((await l.paths(PREFIX)).some((p) => p.peer?.peerId === n1) ? true : undefined), 30_000, 200);
  process.stdout.write(`# ${what}: Established with ${PREFIX} after ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

/** The session is not Established, and stays so for `ms` (several of the speaker's connect attempts, connectTime 2 s). */
async function neverEstablished(l: BgpLab, what: string, ms = 8_000): Promise<void> {
  await l.waitFor(`${what}: the session with ${n1} down at FRR`, async () => ((await state(l)) !== 'Established' ? true : undefined), 30_000, 200);
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const s = await state(l);
    assert.notEqual(s, 'Established', `${what}: FRR established the session with ${n1}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  assert.equal((await l.paths(PREFIX)).length, 0, `${what}: ${PREFIX} at FRR`);
  process.stdout.write(`# ${what}: not Established for ${ms / 1000} s (FRR state ${await state(l)})\n`);
}

test('BGPPeer passwordSecret (kubernetes.io/basic-auth): Established with MD5 at FRR; a wrong password in the Secret alone is picked up and never establishes; the right one back establishes', { skip }, async () => {
  const l = lab!;
  await l.kubectl(['apply', '-f', '-'], `${secretYaml(KEY)}---\n${peerYaml('passwordSecret: {name: router-md5, namespace: metallb-system}')}`);
  await established(l, 'passwordSecret with the right key');
  // FRR's neighbor shows the MD5 configuration it checks the segments with.
  const nb = await frrNeighbor(l, n1);
  process.stdout.write(`# FRR neighbor ${n1}: state ${String(nb?.['bgpState'])}, remote AS ${String(nb?.['remoteAs'])}\n`);

  await l.kubectl(['apply', '-f', '-'], secretYaml('not-the-key'));
  await neverEstablished(l, 'the Secret changed to a wrong password');
  const log = l.net.speakers.get('n1')!.output();
  assert.match(log, /configuration changed, resetting its session/, 'the speaker reset the session on the Secret change');

  await l.kubectl(['apply', '-f', '-'], secretYaml(KEY));
  await established(l, 'the right password back in the Secret');
});

test('BGPPeer password inline: Established with MD5; a wrong one never establishes', { skip }, async () => {
  const l = lab!;
  await l.kubectl(['apply', '-f', '-'], peerYaml(`password: not-the-key`));
  await neverEstablished(l, 'inline wrong password');
  await l.kubectl(['apply', '-f', '-'], peerYaml(`password: ${KEY}`));
  await established(l, 'inline right password');
});
