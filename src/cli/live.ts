// What `berth status` and `berth plan --live` read from a live cluster (or the lab): berth's configuration objects,
// the namespaces, the LoadBalancer Services, the IPAddressClaims and the speakers' ServiceL2Status / ServiceBGPStatus
// objects, plus what explains a Service nobody announces: the Nodes (labels, NetworkUnavailable), the EndpointSlices
// and the speakers' Leases. One list per resource through src/kube (paged with `limit`), each reported to `progress` as it arrives so a
// big cluster shows what is happening. The two status kinds are optional: a cluster without their CRDs (MetalLB's
// older versions, or berth before its speaker) answers 404, which reads as "no announcement known".
import { Allocator } from '../allocator/index.ts';
import type { IPAddressClaim } from '../api/claim.ts';
import type { KubeObject } from '../api/object.ts';
import { loadClaims } from '../claims/allocator-sync.ts';
import { buildConfig, type BuildResult, type LabelledName } from '../config/index.ts';
import { isLoadBalancer, serviceKey, serviceRequestFrom, type ServiceLike } from '../config/service.ts';
import type { KubeClient } from '../kube/client.ts';
import { connect } from '../kube/connect.ts';
import type { Resource } from '../kube/resources.ts';
import { Resources } from '../kube/resources.ts';
import { SPEAKER_LEASE_LABELS, SPEAKER_LEASE_PREFIX } from '../speaker/liveness/lease.ts';
import { announceEventsOf, type AnnounceEvent } from './announce-reasons.ts';
import { endpointViews, nodeView, type EndpointView, type NodeView } from '../speaker/world.ts';
import { SILENT_PEERS_ANNOTATION, parseSilentPeers } from '../speaker/liveness/silent-peers.ts';

/** MetalLB's status-only CRDs (metallb-compat.md §1.7); the speakers write them. */
const serviceL2Statuses: Resource = { group: 'metallb.io', version: 'v1beta1', plural: 'servicel2statuses', kind: 'ServiceL2Status', namespaced: true };
const serviceBGPStatuses: Resource = { group: 'metallb.io', version: 'v1beta1', plural: 'servicebgpstatuses', kind: 'ServiceBGPStatus', namespaced: true };

/** Who announces a Service's IPs, from the speakers' status objects. */
export interface Announcers {
  /** Layer 2: the elected node(s) (more than one only during a split brain). */
  l2Nodes: string[];
  /** BGP: `node → peers` the node announces to. */
  bgp: Array<{ node: string; peers: string[] }>;
}

/** Everything read from the cluster, plain objects. */
export interface LiveSnapshot {
  /** berth's namespace (metallb-system by default). */
  namespace: string;
  /** IPAddressPools, L2/BGPAdvertisements, BGPPeers, Communities, BFDProfiles of `namespace`. */
  config: {
    pools: KubeObject[];
    l2Advertisements: KubeObject[];
    bgpAdvertisements: KubeObject[];
    bgpPeers: KubeObject[];
    communities: KubeObject[];
    bfdProfiles: KubeObject[];
  };
  namespaces: LabelledName[];
  nodes: LabelledName[];
  /** Every Service of the cluster (all types: a former LoadBalancer may still hold claims). */
  services: ServiceLike[];
  claims: IPAddressClaim[];
  /** `namespace/name` → who announces it; absent when no speaker reported it. */
  announcers: Map<string, Announcers>;
  /** The Nodes as the speakers see them (labels, NetworkUnavailable); absent: not read. */
  nodeViews?: NodeView[];
  /** `namespace/name` → endpoints of its EndpointSlices; absent: not read. */
  endpoints?: Map<string, EndpointView[]>;
  /** The speakers' Leases (`metallb-speaker-<node>`), one per node whose speaker ever ran; absent: not readable. */
  speakerLeases?: SpeakerLease[];
  /** The Events about announcements (announce-reasons.ts announceEventsOf); absent: not read or not readable. */
  announceEvents?: AnnounceEvent[];
  /** Optional kinds whose list answered 404 (their CRD is not installed): `ServiceL2Status`, `ServiceBGPStatus`. */
  missingKinds?: string[];
}

/** A speaker's Lease: the node, when it was last renewed (ms since the epoch, undefined: never) and for how long (s). */
export interface SpeakerLease {
  node: string;
  renewMs?: number;
  durationSeconds: number;
  /** Its speaker's heartbeat view: peers it hears no more, since when (ms; src/speaker/liveness/silent-peers.ts). */
  silentPeers?: Map<string, number>;
}

export interface ReadLiveOptions {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  namespace: string;
  /** One line per resource listed (`listed 12000 services`). */
  progress?: (line: string) => void;
  /** Also read what explains an unannounced Service (EndpointSlices, speaker Leases): `berth status`. */
  announce?: boolean;
}

export type ReadLiveResult = { ok: true; snapshot: LiveSnapshot } | { ok: false; message: string };

/**
 * Lists what berth needs from the cluster named by the kubeconfig. Errors are values naming the resource and the API
 * server's answer (`listing services: Unauthorized: …`); 404 on the optional status kinds is not an error.
 */
export async function readLive(opts: ReadLiveOptions): Promise<ReadLiveResult> {
  const conn = await connect({
    ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
    ...(opts.context !== undefined ? { context: opts.context } : {}),
    component: 'berth-cli',
  });
  if (!conn.ok) return { ok: false, message: conn.message };
  const { client } = conn.kube;
  const missingKinds: string[] = [];
  try {
    const list = async (r: Resource, o: { namespace?: string; optional?: boolean } = {}): Promise<KubeObject[]> => {
      const res = await client.list<KubeObject>(r, o.namespace !== undefined ? { namespace: o.namespace } : {});
      if (!res.ok) {
        if (o.optional && res.error.kind === 'NotFound') {
          missingKinds.push(r.kind);
          return [];
        }
        throw new Error(`listing ${r.plural}: ${res.error.message}`);
      }
      opts.progress?.(`listed ${res.value.items.length} ${r.plural}`);
      return res.value.items;
    };
    const ns = opts.namespace;
    const [pools, l2Advertisements, bgpAdvertisements, bgpPeers, communities, bfdProfiles] = await Promise.all([
      list(Resources.ipAddressPools, { namespace: ns }),
      list(Resources.l2Advertisements, { namespace: ns }),
      list(Resources.bgpAdvertisements, { namespace: ns }),
      list(Resources.bgpPeers, { namespace: ns }),
      list(Resources.communities, { namespace: ns }),
      list(Resources.bfdProfiles, { namespace: ns }),
    ]);
    const namespaces = (await list(Resources.namespaces)).map(labelled);
    const nodeObjects = await list(Resources.nodes);
    const nodes = nodeObjects.map(labelled);
    const services = (await list(Resources.services)) as ServiceLike[];
    const claims = (await list(Resources.ipAddressClaims)) as unknown as IPAddressClaim[];
    const l2 = await list(serviceL2Statuses, { namespace: ns, optional: true });
    const bgp = await list(serviceBGPStatuses, { namespace: ns, optional: true });
    const slices = opts.announce ? await list(Resources.endpointSlices) : undefined;
    const leases = opts.announce ? await listSpeakerLeases(client, ns) : undefined;
    const events = opts.announce ? await listAnnounceEvents(client, opts.progress) : undefined;
    return {
      ok: true,
      snapshot: {
        namespace: ns,
        config: { pools, l2Advertisements, bgpAdvertisements, bgpPeers, communities, bfdProfiles },
        namespaces,
        nodes,
        services,
        claims,
        announcers: announcersOf(l2, bgp),
        nodeViews: nodeObjects.flatMap((n) => nodeView(n as Parameters<typeof nodeView>[0]) ?? []),
        ...(slices ? { endpoints: endpointViews(slices as Parameters<typeof endpointViews>[0]) } : {}),
        ...(leases ? { speakerLeases: leases } : {}),
        ...(events ? { announceEvents: events } : {}),
        ...(missingKinds.length > 0 ? { missingKinds } : {}),
      },
    };
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  } finally {
    conn.kube.close();
  }
}

/**
 * The speakers' Leases in `namespace` (src/speaker/liveness/lease.ts), or undefined when they cannot be listed (no
 * RBAC for leases, an API server without coordination.k8s.io): then nothing is said about running speakers.
 */
/** The Lease's `berth.io/silent-peers` when it names any peer. */
function silentOf(o: KubeObject): { silentPeers?: Map<string, number> } {
  const m = parseSilentPeers(o.metadata?.annotations?.[SILENT_PEERS_ANNOTATION]);
  return m.size > 0 ? { silentPeers: m } : {};
}

async function listSpeakerLeases(client: KubeClient, namespace: string): Promise<SpeakerLease[] | undefined> {
  const selector = Object.entries(SPEAKER_LEASE_LABELS)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const res = await client.list<KubeObject>(Resources.leases, { namespace, labelSelector: selector });
  if (!res.ok) return undefined;
  const out: SpeakerLease[] = [];
  for (const o of res.value.items) {
    const spec = (o as { spec?: { holderIdentity?: unknown; renewTime?: unknown; leaseDurationSeconds?: unknown } }).spec ?? {};
    const name = o.metadata?.name ?? '';
    const node = typeof spec.holderIdentity === 'string' && spec.holderIdentity !== '' ? spec.holderIdentity : name.startsWith(SPEAKER_LEASE_PREFIX) ? name.slice(SPEAKER_LEASE_PREFIX.length) : '';
    if (node === '') continue;
    const renew = typeof spec.renewTime === 'string' ? Date.parse(spec.renewTime) : NaN;
    out.push({
      node,
      ...(Number.isFinite(renew) ? { renewMs: renew } : {}),
      durationSeconds: typeof spec.leaseDurationSeconds === 'number' && spec.leaseDurationSeconds > 0 ? spec.leaseDurationSeconds : 40,
      ...silentOf(o),
    });
  }
  return out;
}

/**
 * Every Event of the cluster reduced to those about announcements (IPConflict/announceFailed on Services and the Normal
 * Events that end them: IPConflictCleared, announceResumed, nodeAssigned "layer2"; the session Events on BGPPeers), or
 * undefined when Events cannot be listed (RBAC): then nothing is said about them.
 */
async function listAnnounceEvents(client: KubeClient, progress?: (line: string) => void): Promise<AnnounceEvent[] | undefined> {
  const res = await client.list<KubeObject>(Resources.events);
  if (!res.ok) return undefined;
  progress?.(`listed ${res.value.items.length} events`);
  return announceEventsOf(res.value.items);
}

function labelled(o: KubeObject): LabelledName {
  const name = o.metadata?.name ?? '';
  return { name, labels: { ...(o.metadata?.labels ?? {}) } };
}

interface StatusObject {
  metadata?: { labels?: Record<string, string> };
  status?: { node?: string; serviceName?: string; serviceNamespace?: string; peers?: string[] };
}

/** ServiceL2Status/ServiceBGPStatus → per-Service announcers (status fields, else MetalLB's `metallb.io/*` labels). */
export function announcersOf(l2: readonly KubeObject[], bgp: readonly KubeObject[]): Map<string, Announcers> {
  const out = new Map<string, Announcers>();
  const entry = (o: StatusObject): { key: string; node: string } | undefined => {
    const labels = o.metadata?.labels ?? {};
    const node = o.status?.node ?? labels['metallb.io/node'];
    const name = o.status?.serviceName ?? labels['metallb.io/service-name'];
    const namespace = o.status?.serviceNamespace ?? labels['metallb.io/service-namespace'];
    if (!node || !name || !namespace) return undefined;
    return { key: `${namespace}/${name}`, node };
  };
  const at = (key: string): Announcers => {
    let a = out.get(key);
    if (!a) out.set(key, (a = { l2Nodes: [], bgp: [] }));
    return a;
  };
  for (const o of l2 as unknown as StatusObject[]) {
    const e = entry(o);
    if (e && !at(e.key).l2Nodes.includes(e.node)) at(e.key).l2Nodes.push(e.node);
  }
  for (const o of bgp as unknown as StatusObject[]) {
    const e = entry(o);
    if (e) at(e.key).bgp.push({ node: e.node, peers: [...(o.status?.peers ?? [])].sort() });
  }
  for (const a of out.values()) {
    a.l2Nodes.sort();
    a.bgp.sort((x, y) => x.node.localeCompare(y.node));
  }
  return out;
}

/** The live configuration built as the controller builds it (transient references deferred, as MetalLB's webhooks do). */
export function liveConfig(s: LiveSnapshot): BuildResult {
  return buildConfig(
    { ...s.config, namespaces: s.namespaces, nodes: s.nodes },
    { namespace: s.namespace, deferTransient: true },
  );
}

/** Services by key, for the allocator's lookups (labels of claim holders). */
export function serviceIndex(s: LiveSnapshot): Map<string, ServiceLike> {
  return new Map(s.services.map((svc) => [serviceKey(svc), svc]));
}

/**
 * An allocator holding what the claims say, over `pools` (the live pools for `status`, the Git ones for `plan --live`
 * through setPools afterwards). Holders' labels come from the live Services so pool selectors can be judged.
 */
export function allocatorFromClaims(s: LiveSnapshot, pools: Parameters<Allocator['setPools']>[0]): Allocator {
  const alloc = new Allocator();
  alloc.setPools(pools);
  const index = serviceIndex(s);
  loadClaims(alloc, s.claims, {
    lookup: (key) => {
      const svc = index.get(key);
      if (!svc || !isLoadBalancer(svc)) return undefined;
      const r = serviceRequestFrom(svc);
      return r.ok ? r.req : undefined;
    },
  });
  return alloc;
}
