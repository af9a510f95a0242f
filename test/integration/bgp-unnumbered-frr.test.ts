// BGP unnumbered (BGPPeer `interface`) at the session level against FRR 8 with zebra (root, network namespaces;
// test/fixtures/bgp/router-lab.ts): the router namespace runs zebra + bgpd as user frr (lab/recipes.md §4.3) with
// `neighbor <if> interface remote-as external`, passive; the veth pair carries no configured address at all, only the
// kernel's IPv6 link-locals. berth's BgpSession (bgp-session-agent.ts, option `interface`) finds the router from the
// Router Advertisements FRR sends (the kernel's `default via fe80::… proto ra`), sends its own RAs (lifetime 0) so
// FRR learns the node's link-local, connects, and negotiates RFC 8950 Extended Next Hop. Asserted at the router: the
// session and the capability in FRR's JSON, the IPv4 route with the node's IPv6 link-local next hop in BGP and in the
// router namespace's kernel table (IPv4 via IPv6 next hop, Linux ≥ 5.2), then withdrawn. Documentation ranges only.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, sh } from '../fixtures/bgp/router-lab.ts';
import { startLineAgent, startUnnumberedLab, unnumberedSession, unnumberedSkipReason, type UnnumberedLab } from './bgp-unnumbered-lab.ts';
import { startSessionAgent } from '../fixtures/bgp/session-agent.ts';
import { fileURLToPath } from 'node:url';
import { validateObjects } from '../../src/config/build.ts';

const SPEAKER_AGENT = fileURLToPath(new URL('./bgp-speaker-agent.ts', import.meta.url));

const skip = unnumberedSkipReason();
if (skip) console.log(`# skipping bgp-unnumbered-frr: ${skip}`);

/** The unnumbered lab (bgp-unnumbered-lab.ts, no neighbor options, no BFD), closed after `t`. */
async function startLab(t: TestContext): Promise<UnnumberedLab> {
  const u = await startUnnumberedLab();
  t.after(() => u.close());
  return u;
}

test(
  'unnumbered: berth finds FRR by its RAs, FRR learns berth by its RAs; IPv4 routes with the IPv6 link-local next hop reach the router kernel (RFC 8950)',
  { skip, timeout: 90_000 },
  async (t) => {
    const { lab, rif, nif, vtysh, neighbor } = await startLab(t);
    const agent = startSessionAgent(lab, {
      sessions: [unnumberedSession(nif)],
    });
    t.after(() => agent.stop());
    const up = await agent.waitFor((e) => e.event === 'established', 'the unnumbered session', 40_000);
    process.stdout.write(`# berth: ${JSON.stringify(up)}\n`);
    const n = await eventually(() => {
      const x = neighbor();
      return x?.bgpState === 'Established' ? x : undefined;
    }, 'FRR: the interface neighbor Established');
    const caps = n.neighborCapabilities as Record<string, unknown> | undefined;
    process.stdout.write(
      `# FRR neighbor ${rif}: host ${String(n.hostname ?? '')} ${JSON.stringify(caps?.extendedNexthop)}\n`,
    );
    assert.match(JSON.stringify(caps?.extendedNexthop ?? ''), /advertisedAndReceived/, JSON.stringify(caps));
    const nodeLinkLocal = sh('ip', ['-n', lab.node, '-6', 'addr', 'show', 'dev', nif, 'scope', 'link']).match(
      /inet6 (fe80::[0-9a-f:]+)\//,
    )?.[1];
    assert.ok(nodeLinkLocal, 'the node has a link-local address');

    agent.send({ cmd: 'announce', prefix: '203.0.113.10/32' });
    const path = await eventually(
      () =>
        (vtysh('show bgp ipv4 unicast 203.0.113.10/32 json') as { paths?: Array<Record<string, unknown>> })
          ?.paths?.[0],
      'FRR to learn 203.0.113.10/32',
    );
    const hops = (path.nexthops as Array<{ ip?: string; afi?: string; scope?: string }>) ?? [];
    process.stdout.write(`# FRR path: ${JSON.stringify(hops)}\n`);
    assert.ok(
      hops.some((h) => h.afi === 'ipv6' && h.ip === nodeLinkLocal),
      `next hop is the node's link-local ${nodeLinkLocal}: ${JSON.stringify(hops)}`,
    );
    const kernel = await eventually(() => {
      const r = sh('ip', ['-n', lab.router, 'route', 'show', '203.0.113.10']).trim();
      return r !== '' ? r : undefined;
    }, 'zebra to install 203.0.113.10 in the router kernel');
    process.stdout.write(`# router kernel: ${kernel}\n`);
    assert.match(kernel, new RegExp(`dev ${rif}`));
    assert.match(
      kernel,
      /via (inet6 fe80::|169\.254\.0\.1)/,
      'IPv4 route via the IPv6 link-local (or FRR 8’s 169.254.0.1)',
    );

    // IPv6 routes: the link-local is the next hop too (no global address on the link).
    agent.send({ cmd: 'announce', prefix: '2001:db8:113::10/128' });
    const kernel6 = await eventually(() => {
      const r = sh('ip', ['-n', lab.router, '-6', 'route', 'show', '2001:db8:113::10']).trim();
      return r !== '' ? r : undefined;
    }, 'zebra to install 2001:db8:113::10 in the router kernel');
    process.stdout.write(`# router kernel: ${kernel6}\n`);
    assert.match(kernel6, new RegExp(`via ${nodeLinkLocal} dev ${rif}`));

    agent.send({ cmd: 'withdraw', prefix: '203.0.113.10/32' });
    agent.send({ cmd: 'withdraw', prefix: '2001:db8:113::10/128' });
    await eventually(
      () =>
        sh('ip', ['-n', lab.router, 'route', 'show', '203.0.113.10']).trim() === '' &&
        sh('ip', ['-n', lab.router, '-6', 'route', 'show', '2001:db8:113::10']).trim() === '',
      'the routes to leave the router kernel after the withdraw',
    );
  },
);

test(
  'unnumbered from a BGPPeer: spec.interface through config and BgpSpeaker; the route reaches the router kernel via the link-local',
  { skip, timeout: 90_000 },
  async (t) => {
    const { lab, nif, neighbor, kernelRoute, nodeLinkLocal } = await startLab(t);
    const built = validateObjects(
      [
        {
          apiVersion: 'metallb.io/v1beta2',
          kind: 'BGPPeer',
          metadata: { name: 'tor', namespace: 'metallb-system' },
          spec: { myASN: 64500, peerASN: 64501, interface: nif, holdTime: '9s' },
        },
      ],
      { namespace: 'metallb-system' },
    );
    assert.deepEqual(built.problems, []);
    const peer = built.config!.peers[0]!;
    const { child, events } = startLineAgent(t, lab, SPEAKER_AGENT);
    const route = (prefix: string) => ({
      prefix,
      family: prefix.includes(':') ? 'IPv6' : 'IPv4',
      communities: [],
      largeCommunities: [],
      extendedCommunities: [],
      services: ['default/web'],
    });
    const prefixes = ['203.0.113.20/32', '2001:db8:113::20/128'];
    child.stdin!.write(
      JSON.stringify({
        cmd: 'sync',
        plan: { peers: [['tor', { name: 'tor', peer, routes: prefixes.map((p) => [p, route(p)]) }]] },
      }) + '\n',
    );
    const up = await eventually(
      () => events.find((e) => e.event === 'sessionUp'),
      'sessionUp from BgpSpeaker',
      40_000,
    );
    assert.equal(up.label, nif, 'an unnumbered session is labelled by its interface');
    await eventually(() => neighbor()?.bgpState === 'Established', 'FRR: Established');
    const ll = nodeLinkLocal();
    for (const p of prefixes) {
      const r = await eventually(() => kernelRoute(p) || undefined, `${p} in the router kernel`);
      process.stdout.write(`# router kernel: ${r}\n`);
      assert.match(r, new RegExp(`via (inet6 )?${ll}`));
    }
  },
);
