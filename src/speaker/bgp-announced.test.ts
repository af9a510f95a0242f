// bgp-announced.ts: metallb_speaker_announced{protocol="bgp"} and nodeAssigned "with protocol "bgp"" from real BGP
// plans (bgp-plan.ts BgpPlanner on a config built from metallb.io objects), scraped from a real prom-client registry
// (src/metrics/speaker-metrics.ts): set when a (Service, IP) starts going to a peer, deleted (not 0) when it stops.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import type { KubeObject } from '../api/object.ts';
import { buildConfig } from '../config/build.ts';
import { NS, bgpAd, peer, pool } from '../config/test-objects.ts';
import type { Config } from '../config/types.ts';
import type { EventType, ObjectRef } from '../kube/events.ts';
import { clientMetrics } from '../metrics/client-metrics.ts';
import { speakerMetrics } from '../metrics/speaker-metrics.ts';
import { BgpAnnouncements } from './bgp-announced.ts';
import { BgpPlanner, type BgpWorld } from './bgp-plan.ts';
import type { EndpointView, ServiceView } from './l2-plan.ts';

function config(ads: KubeObject[], peers: KubeObject[] = [peer('tor', { myASN: 64500, peerASN: 64501, peerAddress: '203.0.113.1' })]): Config {
  const r = buildConfig(
    {
      pools: [pool('web', ['198.51.100.0/24', '2001:db8:1::/120'])],
      l2Advertisements: [],
      bgpAdvertisements: ads,
      bgpPeers: peers,
      communities: [],
      bfdProfiles: [],
      namespaces: [{ name: 'default', labels: {} }],
    },
    { namespace: NS },
  );
  assert.ok(r.config, JSON.stringify(r.problems));
  return r.config;
}

const svc = (name: string, ips: string[], etp: 'Cluster' | 'Local' = 'Cluster'): ServiceView => ({
  key: `default/${name}`,
  namespace: 'default',
  name,
  labels: {},
  ips,
  externalTrafficPolicy: etp,
});
const ep = (nodeName: string): EndpointView => ({ nodeName, ready: true, serving: true });

function rig(node = 'n1') {
  const registry = new Registry();
  const metrics = speakerMetrics(registry, node, clientMetrics(registry));
  const events: Array<{ obj: ObjectRef; type: EventType; reason: string; message: string }> = [];
  const lines: Array<Record<string, unknown>> = [];
  const a = new BgpAnnouncements({
    node,
    metrics,
    events: { event: (obj, type, reason, message) => events.push({ obj, type, reason, message }) },
    serviceRef: (key) => ({ kind: 'Service', apiVersion: 'v1', namespace: 'default', name: key.split('/')[1]!, uid: `uid-${key}` }),
    log: (fields) => lines.push(fields),
  });
  const planner = new BgpPlanner();
  const plan = (w: BgpWorld): void => a.update(planner.plan(w, node).decisions);
  /** The metallb_speaker_announced samples, as `service ip protocol node value`, sorted. */
  const announced = async (): Promise<string[]> => {
    const m = (await registry.getSingleMetric('metallb_speaker_announced')!.get()).values;
    return m.map((v) => `${v.labels['service']} ${v.labels['ip']} ${v.labels['protocol']} ${v.labels['node']} ${v.value}`).sort();
  };
  return { a, events, lines, plan, announced, registry };
}

const NODES = [{ name: 'n1', labels: {}, networkUnavailable: false }];

test('a dual-stack Service announced to a peer: both IPs exported with protocol bgp, one nodeAssigned on the Service', async () => {
  const r = rig();
  const c = config([bgpAd('all')]);
  const web = svc('web', ['198.51.100.10', '2001:db8:1::10']);
  const w: BgpWorld = { config: c, nodes: NODES, services: [web], endpoints: new Map([['default/web', [ep('n2')]]]) };
  r.plan(w);
  r.plan({ ...w, endpoints: new Map([['default/web', [ep('n2'), ep('n1')]]]) });
  assert.deepEqual(await r.announced(), ['default/web 198.51.100.10 bgp n1 1', 'default/web 2001:db8:1::10 bgp n1 1']);
  assert.deepEqual(r.events, [
    {
      obj: { kind: 'Service', apiVersion: 'v1', namespace: 'default', name: 'web', uid: 'uid-default/web' },
      type: 'Normal',
      reason: 'nodeAssigned',
      message: 'announcing from node "n1" with protocol "bgp"',
    },
  ]);
  assert.deepEqual(
    r.lines.map((l) => [l['decision'], l['ip'], l['protocol'], l['peers']]),
    [
      ['announce', '198.51.100.10', 'bgp', ['tor']],
      ['announce', '2001:db8:1::10', 'bgp', ['tor']],
    ],
  );
  // The exposition text a Prometheus scrape sees (label order as MetalLB's speaker declares them).
  assert.match(await r.registry.metrics(), /metallb_speaker_announced\{service="default\/web",protocol="bgp",node="n1",ip="198\.51\.100\.10"\} 1/);
});

test('the last ready endpoint gone: the series are deleted (not 0) with reason noEndpoints; back: nodeAssigned again', async () => {
  const r = rig();
  const c = config([bgpAd('all')]);
  const web = svc('web', ['198.51.100.10']);
  const base: BgpWorld = { config: c, nodes: NODES, services: [web], endpoints: new Map([['default/web', [ep('n1')]]]) };
  r.plan(base);
  r.plan({ ...base, endpoints: new Map([['default/web', []]]) });
  assert.deepEqual(await r.announced(), []);
  assert.doesNotMatch(await r.registry.metrics(), /metallb_speaker_announced\{/);
  assert.deepEqual(r.lines.at(-1), { decision: 'withdraw', service: 'default/web', ip: '198.51.100.10', node: 'n1', protocol: 'bgp', reason: 'noEndpoints' });
  r.plan(base);
  assert.deepEqual(await r.announced(), ['default/web 198.51.100.10 bgp n1 1']);
  assert.equal(r.events.filter((e) => e.reason === 'nodeAssigned').length, 2);
});

test('ETP=Local: only the node with a local endpoint announces; the IP changed: old series deleted (loadBalancerIPChanged), new one set, no second event', async () => {
  const c = config([bgpAd('all')]);
  const eps = new Map([['default/web', [ep('n1')]]]);
  const nodes = [...NODES, { name: 'n2', labels: {}, networkUnavailable: false }];
  const n2 = rig('n2');
  n2.plan({ config: c, nodes, services: [svc('web', ['198.51.100.10'], 'Local')], endpoints: eps });
  assert.deepEqual(await n2.announced(), []);
  assert.deepEqual(n2.events, []);
  const n1 = rig('n1');
  n1.plan({ config: c, nodes, services: [svc('web', ['198.51.100.10'], 'Local')], endpoints: eps });
  n1.plan({ config: c, nodes, services: [svc('web', ['198.51.100.11'], 'Local')], endpoints: eps });
  assert.deepEqual(await n1.announced(), ['default/web 198.51.100.11 bgp n1 1']);
  assert.equal(n1.lines.find((l) => l['decision'] === 'withdraw')?.['reason'], 'loadBalancerIPChanged');
  assert.equal(n1.events.length, 1);
});

test('no peer gets it (the advertisement names a BGPPeer of no session here), or no peer selects the node: not announced, no event', async () => {
  const r = rig();
  const web = svc('web', ['198.51.100.10']);
  const eps = new Map([['default/web', [ep('n1')]]]);
  // The only advertisement sends to peer "other", which selects nodes labelled rack=r9 only.
  const peers = [
    peer('tor', { myASN: 64500, peerASN: 64501, peerAddress: '203.0.113.1' }),
    peer('other', { myASN: 64500, peerASN: 64502, peerAddress: '203.0.113.2', nodeSelectors: [{ matchLabels: { rack: 'r9' } }] }),
  ];
  r.plan({ config: config([bgpAd('to-other', { peers: ['other'] })], peers), nodes: NODES, services: [web], endpoints: eps });
  assert.deepEqual(await r.announced(), []);
  assert.deepEqual(r.events, []);
  // Then an advertisement to every peer: announced; then the Service deleted: serviceDeleted.
  const w: BgpWorld = { config: config([bgpAd('all')], peers), nodes: NODES, services: [web], endpoints: eps };
  r.plan(w);
  assert.deepEqual(await r.announced(), ['default/web 198.51.100.10 bgp n1 1']);
  r.plan({ ...w, services: [] });
  assert.deepEqual(await r.announced(), []);
  assert.equal(r.lines.at(-1)?.['reason'], 'serviceDeleted');
  assert.equal(r.events.length, 1);
});

test('layer 2 and BGP series of one IP are distinct series (protocol label); removing one keeps the other', async () => {
  const registry = new Registry();
  const m = speakerMetrics(registry, 'n1', clientMetrics(registry));
  m.announced('default/web', '198.51.100.10', true);
  m.announced('default/web', '198.51.100.10', true, 'bgp');
  m.announced('default/web', '198.51.100.10', false, 'bgp');
  const text = await registry.metrics();
  assert.match(text, /metallb_speaker_announced\{service="default\/web",protocol="layer2",node="n1",ip="198\.51\.100\.10"\} 1/);
  assert.doesNotMatch(text, /protocol="bgp"/);
});

test('a plan changing many IPs: per-IP lines at debug, one info summary with the counts; the signals are all raised', async () => {
  const debug: Array<Record<string, unknown>> = [];
  const info: Array<Record<string, unknown>> = [];
  const registry = new Registry();
  const metrics = speakerMetrics(registry, 'n1', clientMetrics(registry));
  const events: string[] = [];
  const a = new BgpAnnouncements({
    node: 'n1',
    metrics,
    events: { event: (obj) => events.push(obj.name) },
    log: (f) => info.push(f),
    debug: (f) => debug.push(f),
  });
  const planner = new BgpPlanner();
  const services = Array.from({ length: 40 }, (_, i) => svc(`s${i}`, [`198.51.100.${i + 1}`]));
  const endpoints = new Map(services.map((s) => [s.key, [ep('n1')]]));
  const w: BgpWorld = { config: config([bgpAd('all')]), nodes: NODES, services, endpoints };
  a.update(planner.plan(w, 'n1').decisions);
  assert.equal(debug.length, 40);
  assert.deepEqual(info, [{ decision: 'summary', node: 'n1', protocol: 'bgp', announced: 40, withdrawn: 0, services: 40, newServices: 40 }]);
  assert.equal(events.length, 40);
  assert.equal((await registry.getSingleMetric('metallb_speaker_announced')!.get()).values.length, 40);
  assert.equal(a.announced().size, 40);
  // All withdrawn but 3 (the BGPAdvertisement gone for most): 37 debug lines, one summary.
  a.update(planner.plan({ ...w, services: services.slice(0, 3) }, 'n1').decisions);
  assert.equal(debug.length, 77);
  assert.deepEqual(info.at(-1), { decision: 'summary', node: 'n1', protocol: 'bgp', announced: 0, withdrawn: 37, services: 3, newServices: 0 });
  assert.equal(debug.at(-1)?.['reason'], 'serviceDeleted');
  assert.equal((await registry.getSingleMetric('metallb_speaker_announced')!.get()).values.length, 3);
  // A small change again: its own info line.
  a.update(planner.plan({ ...w, services: services.slice(0, 4) }, 'n1').decisions);
  assert.deepEqual(info.at(-1), { decision: 'announce', service: 'default/s3', ip: '198.51.100.4', node: 'n1', protocol: 'bgp', peers: ['tor'] });
});

test('a Service with several IPs: one of them replaced keeps the other announced (no delete/set of the unchanged series)', async () => {
  const calls: string[] = [];
  const a = new BgpAnnouncements({ node: 'n1', metrics: { announced: (s, ip, on) => calls.push(`${on ? '+' : '-'}${ip}`) } });
  const planner = new BgpPlanner();
  const eps = new Map([['default/web', [ep('n1')]]]);
  const w: BgpWorld = { config: config([bgpAd('all')]), nodes: NODES, services: [svc('web', ['198.51.100.10', '2001:db8:1::10'])], endpoints: eps };
  a.update(planner.plan(w, 'n1').decisions);
  a.update(planner.plan({ ...w, services: [svc('web', ['198.51.100.11', '2001:db8:1::10'])] }, 'n1').decisions);
  assert.deepEqual(calls, ['+198.51.100.10', '+2001:db8:1::10', '-198.51.100.10', '+198.51.100.11']);
  assert.deepEqual(a.announced(), new Map([['default/web', ['198.51.100.11', '2001:db8:1::10']]]));
});

test('with a scrape-time port (announcedFrom): no announced() call per change, the scrape follows the latest plan, layer-2 series kept beside', async () => {
  const registry = new Registry();
  const m = speakerMetrics(registry, 'n1', clientMetrics(registry));
  const calls: string[] = [];
  const port = { announced: (s: string, ip: string, on: boolean, p?: 'layer2' | 'bgp') => { calls.push(`${on ? '+' : '-'}${ip}`); m.announced(s, ip, on, p); }, announcedFrom: m.announcedFrom };
  const a = new BgpAnnouncements({ node: 'n1', metrics: port });
  m.announced('default/web', '198.51.100.10', true);
  const planner = new BgpPlanner();
  const eps = new Map([['default/web', [ep('n1')]]]);
  const w: BgpWorld = { config: config([bgpAd('all')]), nodes: NODES, services: [svc('web', ['198.51.100.10', '2001:db8:1::10'])], endpoints: eps };
  const series = async (): Promise<string[]> =>
    (await registry.getSingleMetric('metallb_speaker_announced')!.get()).values.map((v) => `${v.labels['ip']} ${v.labels['protocol']} ${v.labels['node']} ${v.value}`).sort();
  a.update(planner.plan(w, 'n1').decisions);
  assert.deepEqual(await series(), ['198.51.100.10 bgp n1 1', '198.51.100.10 layer2 n1 1', '2001:db8:1::10 bgp n1 1']);
  a.update(planner.plan({ ...w, services: [svc('web', ['198.51.100.11'])] }, 'n1').decisions);
  assert.deepEqual(await series(), ['198.51.100.10 layer2 n1 1', '198.51.100.11 bgp n1 1']);
  a.update(planner.plan({ ...w, services: [] }, 'n1').decisions);
  assert.deepEqual(await series(), ['198.51.100.10 layer2 n1 1']);
  assert.deepEqual(calls, []);
  assert.match(await registry.metrics(), /metallb_speaker_announced\{service="default\/web",protocol="layer2",node="n1",ip="198\.51\.100\.10"\} 1\n/);
});
