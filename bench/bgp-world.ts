// The BGP world bench/bgp-agent.ts and bench/bgp-cpu.ts plan over: one pool `bench`, one BGPAdvertisement (community
// 64500:100), eBGP peers (myASN 64500, peerASN 64501, dualStackAddressFamily) and one single-stack Service per IP,
// each with one ready endpoint on node n1 (externalTrafficPolicy Cluster).
import { buildConfig } from '../src/config/build.ts';
import { NS, bgpAd, peer, pool } from '../src/config/test-objects.ts';
import type { BgpWorld } from '../src/speaker/bgp-plan.ts';
import type { EndpointView, ServiceView } from '../src/speaker/l2-plan.ts';

/** A bench's BGP world: every Service, and `world(svcs)` = the world with only `svcs` (n1 the only node). */
export interface BenchBgpWorld {
  services: ServiceView[];
  world: (svcs: ServiceView[]) => BgpWorld;
}

/**
 * Builds the world for `ips` (Service i = `bench/s<i>` with `ips[i]`), pool `bench` of `poolAddresses`, and one
 * BGPPeer `name` per entry of `peers` with the entry's other fields added to its spec (peerAddress, sourceAddress,
 * peerPort…). Returns `{ problems }` (buildConfig's, as JSON) when the configuration is refused.
 */
export function benchBgpWorld(
  poolAddresses: string[],
  peers: Array<{ name: string } & Record<string, unknown>>,
  ips: string[],
): BenchBgpWorld | { problems: string } {
  const built = buildConfig(
    {
      pools: [pool('bench', poolAddresses)],
      l2Advertisements: [],
      bgpAdvertisements: [bgpAd('bench', { communities: ['64500:100'] })],
      bgpPeers: peers.map(({ name, ...spec }) =>
        peer(name, { myASN: 64500, peerASN: 64501, ...spec, dualStackAddressFamily: true }),
      ),
      communities: [],
      bfdProfiles: [],
      namespaces: [],
    },
    { namespace: NS },
  );
  const config = built.config;
  if (!config) return { problems: JSON.stringify(built.problems) };
  const services: ServiceView[] = ips.map((ip, i) => ({
    key: `bench/s${i}`,
    namespace: 'bench',
    name: `s${i}`,
    labels: {},
    ips: [ip],
    externalTrafficPolicy: 'Cluster',
  }));
  const endpoints = new Map<string, EndpointView[]>(
    services.map((s) => [s.key, [{ nodeName: 'n1', ready: true, serving: true }]]),
  );
  return {
    services,
    world: (svcs) => ({ config, nodes: [{ name: 'n1', labels: {}, networkUnavailable: false }], services: svcs, endpoints }),
  };
}
