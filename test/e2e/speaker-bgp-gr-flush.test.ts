// Issue 9, graceful restart completion (RFC 4724 §4.2) with the real `berth speaker` of node n1 (lab network,
// speaker-bgp-lab.ts) and FRR 8 as the helper (`bgp graceful-restart`), configured by `kubectl apply` (BGPPeer with
// enableGracefulRestart, pool web, Services web and gone with their EndpointSlices): the speaker is SIGKILLed, FRR
// keeps both /32s as stale, the Service `gone` is deleted while the speaker is down (kubectl delete), and the speaker
// is started again. Its new session sends what its synced caches hold, then End-of-RIB: FRR refreshes web's path (no
// longer stale) and flushes gone's stale path at the End-of-RIB — the route of a Service deleted during the restart
// does not linger at the router. (The Restart Time running out while the speaker stays away is
// test/integration/bgp-gr-expiry.test.ts: berth advertises MetalLB's 120 s here, too long for a test.)
// Root only (skips with the reason otherwise). Documentation ranges only: segment 198.51.100.0/24, Service IPs
// 203.0.113.0/24, endpoints 192.0.2.0/24.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  bgpLabSkipReason,
  bgpPeerYaml,
  frrConfigText,
  frrNeighbor,
  frrPassiveNeighbors,
  serviceYaml,
  sliceYaml,
  startBgpLab,
  WEB_POOL_YAML,
  type BgpLab,
} from './speaker-bgp-lab.ts';

const skip = await bgpLabSkipReason(['zebra', 'bgpd']);
if (skip) process.stdout.write(`# skipping the graceful-restart End-of-RIB flush end-to-end test: ${skip}\n`);

const KEPT = '203.0.113.10/32';
const GONE = '203.0.113.11/32';

let lab: BgpLab | undefined;
let n1 = '';

const frrConfig = (d: string, nodes: readonly string[]): string => frrConfigText(d, frrPassiveNeighbors(nodes, [3, 9], undefined, ['bgp graceful-restart']));

const CONFIG = `${bgpPeerYaml('holdTime: 9s, keepaliveTime: 3s, enableGracefulRestart: true')}---
${WEB_POOL_YAML}---
${serviceYaml('web', ['203.0.113.10'])}---
${sliceYaml('web', [['n1', '192.0.2.11']])}---
${serviceYaml('gone', ['203.0.113.11'])}---
${sliceYaml('gone', [['n1', '192.0.2.12']])}`;

before(async () => {
  if (skip) return;
  lab = await startBgpLab({ nodes: 1, frrConfig, log: (l) => void process.stdout.write(`${l}\n`) });
  n1 = lab.nodes[0]!;
  await lab.kubectl(['apply', '-f', '-'], CONFIG);
});

after(async () => {
  await lab?.stop();
});

interface GrInfo {
  bgpState?: string;
  gracefulRestartInfo?: { endOfRibRecv?: Record<string, boolean> };
}

/** n1's paths for `prefix` at FRR as [valid, stale] pairs. */
async function fromN1(l: BgpLab, prefix: string): Promise<Array<[boolean, boolean]>> {
  return (await l.paths(prefix)).filter((p) => p.peer?.peerId === n1).map((p) => [Boolean(p.valid), Boolean(p.stale)]);
}

test('graceful restart: a Service deleted while the speaker is down is flushed by FRR at the restarted session\'s End-of-RIB; the others are refreshed', { skip }, async () => {
  const l = lab!;
  await l.waitFor(`${KEPT} and ${GONE} at FRR from n1`, async () =>
    (await fromN1(l, KEPT)).length === 1 && (await fromN1(l, GONE)).length === 1 ? true : undefined, 60_000, 300);

  await l.net.stopSpeaker('n1', 'SIGKILL');
  await l.waitFor('FRR to see the session with n1 go down', async () => ((await frrNeighbor(l, n1))?.['bgpState'] !== 'Established' ? true : undefined), 30_000, 100);
  // Helper mode: both kept, stale.
  const staleBoth = await l.waitFor('both paths stale at FRR', async () => {
    const a = await fromN1(l, KEPT);
    const b = await fromN1(l, GONE);
    return a.length === 1 && a[0]![1] && b.length === 1 && b[0]![1] ? [a, b] : undefined;
  }, 10_000, 100);
  process.stdout.write(`# while n1's speaker is down: ${KEPT} ${JSON.stringify(staleBoth[0])}, ${GONE} ${JSON.stringify(staleBoth[1])} ([valid, stale])\n`);

  await l.kubectl(['delete', 'service', 'gone', '-n', 'default']);
  await l.kubectl(['delete', 'endpointslice', 'gone-v4', '-n', 'default']);
  // Still there: nobody told FRR yet.
  assert.equal((await fromN1(l, GONE)).length, 1, `${GONE} stays stale at FRR until the speaker is back`);

  await l.net.startSpeaker('n1');
  await l.waitFor('the session with n1 Established again and its End-of-RIB received', async () => {
    const nb = (await frrNeighbor(l, n1)) as GrInfo | undefined;
    const eor = nb?.gracefulRestartInfo?.endOfRibRecv;
    return nb?.bgpState === 'Established' && (eor?.['IPv4 Unicast'] ?? eor?.['ipv4Unicast']) === true ? true : undefined;
  }, 60_000, 200);
  const gone = await l.waitFor(`${GONE} flushed at FRR`, async () => ((await fromN1(l, GONE)).length === 0 ? true : undefined), 10_000, 200).catch(async (e: unknown) => {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${GONE} at FRR: ${JSON.stringify(await l.paths(GONE))}`);
  });
  assert.equal(gone, true);
  assert.deepEqual(await fromN1(l, KEPT), [[true, false]], `${KEPT} refreshed: valid, no longer stale`);
  // Not a transient: a second later it is still so (no late UPDATE brings gone back, no late withdraw takes web).
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual(await fromN1(l, GONE), []);
  assert.deepEqual(await fromN1(l, KEPT), [[true, false]]);
});
