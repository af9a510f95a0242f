// node --import tsx bench/bgp-plan.ts [services] — cost of one BGP plan (src/speaker/bgp-plan.ts), printed, never asserted.
//
// A node with 3 sessions (eBGP, iBGP, eBGP) and N dual-stack Services (default 10,000; half ETP=Local, two ready
// endpoints each, one of them on this node) in one pool selected by two BGPAdvertisements: host routes with a
// community, and /24 aggregates with the berth.io/bgp-link-bandwidth annotation. Plans 5 times (the first one parses
// every IP; later ones hit the memo, as a running speaker replans) and prints wall and CPU time per plan, routes,
// and RSS. The load average is printed too: on a shared machine wall time mostly measures the neighbours.
import os from 'node:os';
import { buildConfig } from '../src/config/build.ts';
import { NS, bgpAd, peer, pool } from '../src/config/test-objects.ts';
import { planBgp, type BgpWorld } from '../src/speaker/bgp-plan.ts';
import type { EndpointView, ServiceView } from '../src/speaker/l2-plan.ts';

const N = Number(process.argv[2] ?? 10_000);
const lbw = bgpAd('weighted', { aggregationLength: 24 });
const r = buildConfig(
  {
    pools: [pool('web', ['198.51.0.0/16', '2001:db8:1::/112'])],
    l2Advertisements: [],
    bgpAdvertisements: [
      bgpAd('hosts', { communities: ['65000:1'] }),
      {
        ...lbw,
        metadata: { ...lbw.metadata, annotations: { 'berth.io/bgp-link-bandwidth': 'per-endpoint' } },
      },
    ],
    bgpPeers: [
      peer('tor-a', { myASN: 64500, peerASN: 64501, peerAddress: '203.0.113.1' }),
      peer('rr', { myASN: 64500, peerASN: 64500, peerAddress: '203.0.113.2' }),
      peer('tor-b', { myASN: 64500, peerASN: 64502, peerAddress: '203.0.113.3' }),
    ],
    communities: [],
    bfdProfiles: [],
    namespaces: [],
  },
  { namespace: NS },
);
if (!r.config) throw new Error(JSON.stringify(r.problems));
const services: ServiceView[] = [];
const endpoints = new Map<string, EndpointView[]>();
for (let i = 0; i < N; i++) {
  const key = `default/s${i}`;
  services.push({
    key,
    namespace: 'default',
    name: `s${i}`,
    labels: {},
    ips: [`198.51.${(i >> 8) & 255}.${i & 255}`, `2001:db8:1::${(i & 0xffff).toString(16)}`],
    externalTrafficPolicy: i % 2 ? 'Local' : 'Cluster',
  });
  endpoints.set(key, [
    { nodeName: 'n1', ready: true, serving: true },
    { nodeName: 'n2', ready: true, serving: true },
  ]);
}
const world: BgpWorld = {
  config: r.config,
  nodes: [
    { name: 'n1', labels: {}, networkUnavailable: false },
    { name: 'n2', labels: {}, networkUnavailable: false },
  ],
  services,
  endpoints,
};
console.log(
  `bgp-plan: ${N} dual-stack Services, 3 sessions, load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs`,
);
for (let k = 0; k < 5; k++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const plan = planBgp(world, 'n1');
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  let routes = 0;
  for (const p of plan.peers.values()) routes += p.routes.size;
  console.log(
    `plan ${k + 1}: wall ${wall.toFixed(0)} ms, cpu ${((c.user + c.system) / 1000).toFixed(0)} ms, ${routes} routes, ` +
      `${plan.statuses.size} ServiceBGPStatus, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`,
  );
}
