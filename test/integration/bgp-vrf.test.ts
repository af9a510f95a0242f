// BGPPeer vrf → the session socket bound with SO_BINDTODEVICE before connect (session.ts `device`, through the native
// addon), against FRR 8 in namespaces (root; bgp-peer-options-lab.ts). src/config/peers.ts still refuses `vrf` until
// the VRF case below has passed on a VRF-capable kernel (docs/bgp.md).
// - VRF: the node's link to the router is enslaved to a VRF device (`ip link add <vrf> type vrf table 100`), so the
//   main table has no route to the router: the session bound to the VRF is established, an unbound one cannot
//   connect. Skipped with the reason when the kernel has no VRF support (CONFIG_NET_VRF, e.g. this lab machine).
// - Device binding (runs without VRF support, same socket option): the main table sends the router's address out of a
//   dead-end veth; the session bound to the real link's device is established, an unbound one is not.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  peerLabSkipReason,
  ROUTER_ADDRESS,
  startPeerOptionsLab,
  type PeerOptionsLab,
} from './bgp-peer-options-lab.ts';

const skip = peerLabSkipReason('frr');
if (skip) console.log(`# skipping bgp-vrf: ${skip}`);

/** Why VRF devices cannot be created here, or undefined. */
function vrfSkipReason(): string | undefined {
  if (skip) return skip;
  const ns = `bt${process.pid}vrfp`;
  try {
    execFileSync('ip', ['netns', 'add', ns], { stdio: 'ignore' });
    execFileSync('ip', ['-n', ns, 'link', 'add', 'vrf-probe', 'type', 'vrf', 'table', '100'], {
      stdio: 'pipe',
    });
    return undefined;
  } catch (e) {
    const err = String((e as { stderr?: Buffer }).stderr ?? e).trim();
    return `this kernel cannot create VRF devices (ip link add … type vrf: ${err}; needs CONFIG_NET_VRF)`;
  } finally {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* absent */
    }
  }
}
const vrfSkip = vrfSkipReason();
if (vrfSkip && !skip) console.log(`# skipping the VRF case: ${vrfSkip}`);

const session = (localAddress: string, extra: Record<string, unknown> = {}) => ({
  peerAddress: ROUTER_ADDRESS,
  localAddress,
  localAsn: 64500,
  peerAsn: 64501,
  holdTime: 9,
  backoffMs: 300,
  connectTimeMs: 2000,
  nodeName: 'n1',
  ...extra,
});

/**
 * A lab with node addresses 198.51.100.2 and .3 (both FRR neighbors, AS 64500 → 64501) and `nodeSetup`; a session
 * from .2 bound to `device(lab)` must establish, one from .3 without a device must fail and never establish.
 */
async function boundVsUnbound(
  t: TestContext,
  nodeSetup: string[][],
  device: (lab: PeerOptionsLab) => string,
  what: string,
): Promise<void> {
  const lab = await startPeerOptionsLab({
    routerAsn: 64501,
    extraNodeAddresses: ['198.51.100.3'],
    neighbors: [
      { address: '198.51.100.2', remoteAs: 64500 },
      { address: '198.51.100.3', remoteAs: 64500 },
    ],
    nodeSetup,
  });
  t.after(() => lab.close());
  const bound = lab.agent(session('198.51.100.2', { device: device(lab) }));
  const unbound = lab.agent(session('198.51.100.3'));
  await bound.waitFor((e) => e.event === 'established', `the ${what} session`);
  await unbound.waitFor((e) => e.event === 'down', 'the unbound session to fail');
  assert.equal(lab.neighbor('198.51.100.2')?.bgpState, 'Established');
  assert.notEqual(lab.neighbor('198.51.100.3')?.bgpState, 'Established');
  assert.equal(unbound.events.filter((e) => e.event === 'established').length, 0);
}

test(
  'vrf: a session bound to the VRF device reaches a router only routed in that VRF; unbound it cannot',
  { skip: vrfSkip, timeout: 60_000 },
  (t) =>
    boundVsUnbound(
      t,
      [
        ['link', 'add', 'vrf-t', 'type', 'vrf', 'table', '100'],
        ['link', 'set', 'vrf-t', 'up'],
        ['link', 'set', '{id}b', 'master', 'vrf-t'],
      ],
      () => 'vrf-t',
      'VRF-bound',
    ),
);

test(
  'device binding: the bound session leaves through its device whatever the main table says; unbound it follows the table',
  { skip, timeout: 60_000 },
  (t) =>
    boundVsUnbound(
      t,
      // A dead-end veth pair in the node namespace and a host route to the router through it.
      [
        ['link', 'add', '{id}c', 'type', 'veth', 'peer', 'name', '{id}d'],
        ['link', 'set', '{id}c', 'up'],
        ['link', 'set', '{id}d', 'up'],
        ['route', 'add', `${ROUTER_ADDRESS}/32`, 'dev', '{id}c'],
      ],
      (lab) => lab.nodeIfname,
      'device-bound',
    ),
);
