// The speaker process: `berth speaker --node-name N [flags]` (flags.ts), one per node (DaemonSet, host network).
// Wires src/kube (informers, writes, events), the link (AF_PACKET addon), the announcer, the liveness heartbeats and
// src/metrics to the Speaker (speaker.ts), which holds the logic. Modelled on src/controller/main.ts:
// - /metrics /healthz /readyz listen at once (--metrics-port 7472; /readyz 503 with the reason until synced);
// - the kubeconfig and informers are retried with backoff; the API server going away never exits the process nor
//   withdraws anything (informer caches are kept; the plan is recomputed from them; status writes are retried);
// - prints `speaker: ready node=N …` once its caches are synced and the first plan is applied;
// - SIGTERM/SIGINT: liveness.leave() (peers take over at once), announcer.close(), then exit 0.
// `--dry-run-link` (tests): no socket is opened; the announcer works on one fake link `dry0` that records frames.
import { startOptimizing } from './v8-flags.ts';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { Gauge, Registry } from 'prom-client';
import { SERVICE_STATUS_LABELS } from '../api/service-l2-status.ts';
import { buildConfig } from '../config/build.ts';
import type { ServiceLike } from '../config/service.ts';
import type { Config } from '../config/types.ts';
import type { KubeObject } from '../kube/client.ts';
import { realClock } from '../kube/clock.ts';
import { writeConfigurationState } from '../kube/configuration-state.ts';
import { connectWithRetry } from '../kube/connect.ts';
import { EventRecorder, ignoreNumbers } from '../kube/events.ts';
import { slim, type Informer } from '../kube/informer.ts';
import { createLogger, type Logger } from '../kube/log.ts';
import { Resources } from '../kube/resources.ts';
import { clientMetrics, metricsHandler } from '../metrics/index.ts';
import { speakerMetrics } from '../metrics/speaker-metrics.ts';
import type { BgpMain } from './bgp-main.ts';
import type { BgpWorld } from './bgp-plan.ts';
import { parseSpeakerFlags, SPEAKER_USAGE, type SpeakerFlags } from './flags.ts';
import { announcementsFor, planLayer2, type L2Decision } from './l2-plan.ts';
import { Layer2Announcer, type LinkPort, type OpenLink } from './layer2/announcer.ts';
import { layer2Links, listLinks } from './link/interfaces.ts';
import { openPacketSocket, startMallocTrim, type PacketSocket } from './link/packet.ts';
import { SpeakerLeases } from './liveness/lease.ts';
import { livenessMetrics } from './liveness/metrics.ts';
import { startLiveness, type Liveness } from './liveness/udp.ts';
import { Speaker, type L2StatusBody, type L2StatusObject, type L2StatusPort } from './speaker.ts';
import { readServiceStatusObject } from './service-status.ts';
import {
  bgpWanted,
  cachedServiceView,
  endpointViews,
  memberlistKey,
  nodeInternalIP,
  nodeView,
  projectEndpointSlice,
  projectService,
  projectStatusObject,
} from './world.ts';
import { EventEmitter } from 'node:events';

interface ProbeServer {
  readonly port: number;
  close(): Promise<void>;
}

/** /metrics (the registry), /healthz (always ok) and /readyz (503 with the reason until ready). */
function serveProbes(registry: Registry, notReady: () => string | undefined, opts: { port: number; host: string }): Promise<ProbeServer> {
  const metrics = metricsHandler(registry);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') return metrics(req, res);
    if (path === '/healthz') return void res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
    if (path === '/readyz') {
      const why = notReady();
      return void res.writeHead(why ? 503 : 200, { 'Content-Type': 'text/plain' }).end(why ? `not ready: ${why}\n` : 'ok\n');
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
  });
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}

/** A locally administered MAC derived from the node name (the dry-run link's). */
export function dryRunMac(node: string): Buffer {
  const h = createHash('sha256').update(`berth-dry-run#${node}`).digest();
  const mac = Buffer.from(h.subarray(0, 6));
  mac[0] = (mac[0]! & 0xfe) | 0x02;
  return mac;
}

/** The dry-run link: records frames (counted per link and EtherType), sends nothing, receives nothing. */
function dryRunLinks(node: string, log: Logger): { openLink: OpenLink; frames: Map<string, number> } {
  const frames = new Map<string, number>();
  const mac = dryRunMac(node);
  const openLink: OpenLink = (ifname, ethertype): LinkPort => {
    const key = `${ifname}/0x${ethertype.toString(16).padStart(4, '0')}`;
    return {
      ifname,
      mac,
      send(frame) {
        frames.set(key, (frames.get(key) ?? 0) + 1);
        log.debug({ link: key, bytes: frame.length }, `speaker: dry-run link ${key}: frame recorded (${frame.length} bytes)`);
      },
      close() {},
    };
  };
  return { openLink, frames };
}

function statusObject(o: KubeObject): L2StatusObject {
  return readServiceStatusObject<L2StatusBody>(o, (st) =>
    Array.isArray(st.interfaces) && st.interfaces.length > 0
      ? { interfaces: st.interfaces as Array<{ name: string }> }
      : {},
  );
}

/**
 * The liveness as the Speaker sees it (docs/layer2.md, Liveness). Three states:
 * - attached (heartbeats running): the detector's view, start-up rule 8 included (this node counts once its
 *   heartbeats have gone out for suspect-after; peers not heard yet count as alive until heard or a bound);
 * - pending (--memberlist-bind set, the heartbeats not started yet: the memberlist Secret is not read yet): every
 *   other Node counts as alive and this node does not — it announces nothing while its peers cannot hear it;
 * - off (no --memberlist-bind, or the heartbeats cannot run): every Node counts as alive, this one too (MetalLB
 *   without memberlist).
 */
class LivenessHandle extends EventEmitter {
  inner: Liveness | undefined;
  #off: boolean;
  constructor(
    readonly self: string,
    readonly allNodes: () => string[],
    configured: boolean,
  ) {
    super();
    this.#off = !configured;
  }
  /** Heartbeats started: the Speaker follows `l` from now on (the Leases seen so far are handed over first). */
  attach(l: Liveness, leases?: ReadonlyMap<string, number | undefined>): void {
    this.inner = l;
    this.#off = false;
    for (const [node, renew] of leases ?? []) l.leaseSeen(node, renew);
    l.on('change', () => {
      if (this.inner === l) this.emit('change', this.alive());
    });
    this.emit('change', this.alive());
  }
  /** The heartbeats cannot run (or are not started within the bound): every Node counts as alive, this one too. */
  turnOff(): void {
    this.inner = undefined;
    this.#off = true;
    this.emit('change', this.alive());
  }
  /** Configured but not attached yet. */
  pending(): boolean {
    return !this.inner && !this.#off;
  }
  alive(): ReadonlySet<string> {
    if (this.inner) return this.inner.alive();
    const all = new Set(this.allNodes());
    if (this.#off) all.add(this.self);
    else all.delete(this.self);
    return all;
  }
  /** Peers counted as alive only because they were not heard yet (every other Node while pending). */
  undecided(): ReadonlySet<string> {
    if (this.inner) return this.inner.undecided();
    if (this.#off) return new Set();
    const all = new Set(this.allNodes());
    all.delete(this.self);
    return all;
  }
  friendlyMacs(): ReadonlySet<string> {
    return this.inner?.friendlyMacs() ?? new Set();
  }
  async leave(): Promise<void> {
    await this.inner?.leave();
  }
  close(): void {
    this.inner?.close();
  }
}

export async function runSpeaker(argv: readonly string[]): Promise<number> {
  const parsed = parseSpeakerFlags(argv, process.env);
  if (!parsed.ok) {
    console.error(`speaker: ${parsed.message}\n${SPEAKER_USAGE}`);
    return 2;
  }
  const f: SpeakerFlags = parsed.flags;
  const logger = createLogger({ name: 'berth-speaker', format: f.logFormat, level: f.logLevel });
  const log = (line: string): void => logger.info(line);
  const ns = f.namespace;
  const self = f.nodeName;

  // --- stop: whatever has been started so far, in reverse order ---
  const aborter = new AbortController();
  const cleanups: Array<() => unknown> = [];
  let stopping = false;
  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((r) => (resolveExit = r));
  /**
   * Set once the announcer and the liveness exist: on SIGTERM this node stops answering, then the 'leaving' heartbeat
   * goes out, before anything else (a new owner never answers while this one still does: speaker.stop()).
   */
  const first: { silence?: () => void; leave?: () => void } = {};
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    // Peers take over the moment they hear it: first thing, before logging and aborting (speaker.stop() awaits it).
    first.silence?.();
    first.leave?.();
    log(`speaker: ${sig}, stopping`);
    aborter.abort(new Error(`speaker: ${sig}`));
    void (async () => {
      for (const c of cleanups.reverse()) {
        try {
          await c();
        } catch (e) {
          logger.warn(`speaker: while stopping: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      log('speaker: stopped');
      resolveExit(0);
    })();
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  const keepAlive = setInterval(() => undefined, 1 << 30);
  cleanups.push(() => clearInterval(keepAlive));
  // glibc keeps what start-up and bursts free()d resident: hand it back every 10 s (issue 8: RSS; link/packet.ts).
  cleanups.push(startMallocTrim());

  // --- probes first ---
  let notReady: string | undefined = 'loading the kubeconfig';
  const registry = new Registry();
  const cm = clientMetrics(registry);
  const sm = speakerMetrics(registry, self, cm);
  const lm = livenessMetrics(registry);
  let probes: ProbeServer | undefined;
  if (f.metricsPort !== 0) {
    try {
      probes = await serveProbes(registry, () => notReady, { port: f.metricsPort === 'auto' ? 0 : f.metricsPort, host: f.metricsHost });
    } catch (e) {
      logger.error(`speaker: cannot listen on ${f.metricsHost}:${f.metricsPort}: ${e instanceof Error ? e.message : String(e)}`);
      clearInterval(keepAlive);
      return 1;
    }
    const p = probes;
    cleanups.push(() => p.close());
    log(`speaker: serving /metrics /healthz /readyz on http://${f.metricsHost}:${p.port}`);
  }

  let kube: Awaited<ReturnType<typeof connectWithRetry>>;
  try {
    kube = await connectWithRetry(
      { ...(f.kubeconfig ? { kubeconfig: f.kubeconfig } : {}), ...(f.context ? { context: f.context } : {}), component: 'berth-speaker' },
      { log: (l) => logger.warn(`speaker: ${l}`), signal: aborter.signal },
    );
  } catch {
    return exited;
  }
  const k = kube;
  cleanups.splice(1, 0, () => k.close());
  const client = kube.client;
  notReady = 'informer caches are not synced';
  log(`speaker: node ${self} connecting to ${kube.access.server} (${kube.access.source}), namespace ${ns}`);

  // --- informers (never cleared on errors: the API server away keeps the last known state) ---
  const ilog = (l: string): void => logger.warn(l);
  const inf = <T extends KubeObject = KubeObject>(r: (typeof Resources)[keyof typeof Resources], o: { namespace?: string; fieldSelector?: string } = {}) =>
    kube.informer<T>(r, { ...o, transform: slim, log: ilog });
  const nodes = inf(Resources.nodes);
  // Services and EndpointSlices, the bulk of the speaker's memory, are held projected to what the plan reads.
  const services = kube.informer<KubeObject>(Resources.services, { transform: (o) => projectService(o as ServiceLike) as KubeObject, log: ilog });
  const slices = kube.informer<KubeObject>(Resources.endpointSlices, { transform: (o) => projectEndpointSlice(o as never) as KubeObject, log: ilog });
  const namespaces = inf(Resources.namespaces);
  const configInformers: Record<string, Informer> = {
    pools: inf(Resources.ipAddressPools, { namespace: ns }),
    l2Advertisements: inf(Resources.l2Advertisements, { namespace: ns }),
    bgpAdvertisements: inf(Resources.bgpAdvertisements, { namespace: ns }),
    bgpPeers: inf(Resources.bgpPeers, { namespace: ns }),
    communities: inf(Resources.communities, { namespace: ns }),
    bfdProfiles: inf(Resources.bfdProfiles, { namespace: ns }),
  };
  const secrets = inf(Resources.secrets, { namespace: ns, fieldSelector: `metadata.name=${f.memberlistSecretName}` });
  // BGPPeer passwordSecrets (kubernetes.io/basic-auth, this namespace, as MetalLB): a change of one rebuilds the
  // configuration, so bgp-main.ts reads the passwords again (MetalLB's speaker reconciles on Secret events too).
  const peerSecrets = inf(Resources.secrets, { namespace: ns, fieldSelector: 'type=kubernetes.io/basic-auth' });
  // One ServiceL2Status per announced Service: held projected too (name, labels, status).
  const statuses = kube.informer<KubeObject>(Resources.serviceL2Statuses, { namespace: ns, transform: (o) => projectStatusObject(o as never) as KubeObject, log: ilog });
  // ServiceBGPStatus: only this node's (label metallb.io/node): the BGP writer reads and deletes nothing else (bgp-status.ts),
  // and 3 nodes × 10,000 Services would be 30,000 cached objects per speaker. ServiceL2Status stays unfiltered: the
  // announcing node deletes other nodes' objects of its Services (speaker.ts #statusPass).
  const bgpStatuses = kube.informer<KubeObject>(Resources.serviceBGPStatuses, {
    namespace: ns,
    labelSelector: `${SERVICE_STATUS_LABELS.node}=${self}`,
    transform: (o) => projectStatusObject(o as never) as KubeObject,
    log: ilog,
  });

  // Nothing is decided before every informer has listed once (a partial world would withdraw what it has not read yet).
  let synced = false;

  // --- configuration: rebuilt when a config object, a namespace or a node's labels change; invalid → keep the last ---
  let config: Config | undefined;
  let configDirty = true;
  let lastProblems = '';
  // ConfigurationState `speaker-<node>` (MetalLB §4.6): written when the result or the errors change; retried on the
  // next configuration event after a failure.
  let stateWritten = '';
  let stateBusy = false;
  const reportConfigState = (result: 'Valid' | 'Invalid', errorSummary: string): void => {
    const want = `${result}\u0000${errorSummary}`;
    if (want === stateWritten || stateBusy || !synced) return;
    stateBusy = true;
    void writeConfigurationState(client, ns, `speaker-${self}`, 'speaker', { result, errorSummary, conditionType: 'configReconcilerValid' })
      .then((r) => {
        sm.update(r.ok);
        if (r.ok) stateWritten = want;
        else logger.warn(`speaker: ConfigurationState ${ns}/speaker-${self} not written: ${r.error.message}`);
      })
      .finally(() => (stateBusy = false));
  };
  const rebuildConfig = (): void => {
    if (!configDirty) return;
    configDirty = false;
    const c = configInformers;
    const res = buildConfig(
      {
        pools: c.pools!.list() as never,
        l2Advertisements: c.l2Advertisements!.list() as never,
        bgpAdvertisements: c.bgpAdvertisements!.list() as never,
        bgpPeers: c.bgpPeers!.list() as never,
        communities: c.communities!.list() as never,
        bfdProfiles: c.bfdProfiles!.list() as never,
        namespaces: namespaces.list().map((n) => ({ name: n.metadata?.name ?? '', labels: n.metadata?.labels ?? {} })),
        nodes: nodes.list().map((n) => ({ name: n.metadata?.name ?? '', labels: n.metadata?.labels ?? {} })),
      },
      { namespace: ns },
    );
    if (res.config) {
      if (config === undefined) log(`speaker: configuration loaded (${res.config.pools.length} pools, ${res.config.l2Advertisements.length} L2Advertisements)`);
      config = res.config;
      lastProblems = '';
      sm.configLoaded(true);
      sm.configStale(false);
      reportConfigState('Valid', '');
      return;
    }
    const summary = res.problems.map((p) => `${p.object ? `${p.object}: ` : ''}${p.message}`).join('; ');
    if (summary !== lastProblems) {
      logger.warn({ problems: res.problems.length }, `speaker: configuration invalid, keeping the last valid one: ${summary}`);
      lastProblems = summary;
    }
    sm.configStale(config !== undefined);
    reportConfigState('Invalid', summary);
  };

  // --- links ---
  const dry = f.dryRunLink ? dryRunLinks(self, logger) : undefined;
  let links: { arp: string[]; ndp: string[] } = dry ? { arp: ['dry0'], ndp: ['dry0'] } : layer2Links(listLinks());
  const rescanLinks = (): void => {
    if (!dry) links = layer2Links(listLinks());
  };
  // --layer2-answer-priority: the ARP sockets' native answer threads run SCHED_FIFO (docs/layer2.md "Real-time
  // answer thread"). Without CAP_SYS_NICE one Warning for the whole process; the threads answer at SCHED_OTHER.
  const arpSockets = new Map<string, PacketSocket>();
  let priorityWarned = false;
  new Gauge({
    name: 'berth_speaker_layer2_answer_priority',
    help: 'SCHED_FIFO priority the native ARP answer thread of the interface runs at (0 = SCHED_OTHER); see --layer2-answer-priority',
    labelNames: ['interface'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [ifname, sock] of arpSockets) {
        const t = sock.answerThread();
        if (t.running) this.set({ interface: ifname }, t.policy === 'fifo' ? t.priority : 0);
      }
    },
  });
  const openLink: OpenLink =
    dry?.openLink ??
    ((ifname, ethertype, onFrame) => {
      const arp = ethertype === 0x0806;
      const sock = openPacketSocket({
        ifname,
        ethertype,
        onFrame: (frame) => onFrame(frame),
        onError: (e) => {
          if (e.syscall !== 'pthread_setschedparam')
            logger.warn({ interface: ifname, code: e.code }, `speaker: link ${ifname}: ${e.message}`);
          else if (!priorityWarned) {
            priorityWarned = true;
            logger.warn(
              { interface: ifname, code: e.code, flag: '--layer2-answer-priority' },
              `speaker: --layer2-answer-priority=${f.layer2AnswerPriority} not applied: ${e.message}` +
                ` (the container needs CAP_SYS_NICE; set --layer2-answer-priority=0 to silence this)`,
            );
          }
        },
        ...(arp && f.layer2AnswerPriority > 0 ? { answerPriority: f.layer2AnswerPriority } : {}),
      });
      if (arp) {
        arpSockets.set(ifname, sock);
        if (f.layer2AnswerPriority > 0) {
          // Once, as the first setArpAnswers starts the answer thread: say that it runs real-time.
          const setArpAnswers = sock.setArpAnswers.bind(sock);
          let told = false;
          sock.setArpAnswers = (announced, watched): void => {
            setArpAnswers(announced, watched);
            if (told) return;
            told = true;
            const t = sock.answerThread();
            if (t.running && t.policy === 'fifo')
              logger.info(
                { interface: ifname, tid: t.tid, priority: t.priority },
                `speaker: layer-2 answer thread of ${ifname} runs SCHED_FIFO priority ${t.priority} (--layer2-answer-priority)`,
              );
          };
        }
      }
      return sock;
    });
  const macs = (): string[] => (dry ? [[...dryRunMac(self)].map((b) => b.toString(16).padStart(2, '0')).join(':')] : listLinks().map((l) => l.mac).filter((m) => m && m !== '00:00:00:00:00:00'));

  // --- liveness: heartbeats (fast) and per-node Leases (slow, authoritative), both only with --memberlist-bind ---
  const leases = f.memberlistBind
    ? new SpeakerLeases({
        client,
        namespace: ns,
        node: self,
        log: logger.child({ component: 'lease' }),
        onLease: (node, renew) => liveness.inner?.leaseSeen(node, renew),
        onLeaseGone: (node) => liveness.inner?.leaseGone(node),
        // Published on our Lease for `berth status` (liveness/silent-peers.ts): peers heard and now silent.
        silentPeers: () => (liveness.inner?.peers() ?? []).filter((p) => !p.alive && (p.lastHeardMs !== undefined || p.left)).map((p) => p.node),
      })
    : undefined;
  const liveness = new LivenessHandle(
    self,
    () => nodes.list().map((n) => n.metadata?.name ?? '').filter((n) => n !== ''),
    f.memberlistBind !== undefined,
  );
  liveness.on('change', () => leases?.publish());
  first.leave = () => void liveness.leave().catch(() => undefined);
  let livenessKey: string | undefined;
  const startHeartbeats = (): void => {
    if (!f.memberlistBind || stopping) return;
    const key = memberlistKey(secrets.list()[0] as { data?: Record<string, string> } | undefined);
    if (!key) return;
    const hex = key.toString('hex');
    if (hex === livenessKey) return;
    if (livenessKey !== undefined && liveness.inner) {
      // Rotation without a flap: the old key stays accepted while every speaker picks up the new Secret.
      log('speaker: the memberlist key changed: rotating the heartbeat key');
      livenessKey = hex;
      liveness.inner.setKey(key);
      return;
    }
    livenessKey = hex;
    try {
      const l = startLiveness({
        node: self,
        bindAddress: f.memberlistBind,
        port: f.memberlistPort,
        key,
        peers: () =>
          nodes.list().flatMap((n) => {
            const address = nodeInternalIP(n as never);
            const name = n.metadata?.name;
            return address && name && name !== self ? [{ node: name, address }] : [];
          }),
        intervalMs: f.heartbeatIntervalMs,
        suspectAfterMs: f.suspectAfterMs,
        // Start-up (detector.ts rule 8): this node counts once 3 of its heartbeats can have been heard; a peer not
        // heard yet counts as alive for at most 2 s (a peer started with us needs 0.2-0.9 s under load to send).
        startup: { settleMs: f.suspectAfterMs, boundMs: Math.max(2_000, 5 * f.suspectAfterMs) },
        macs,
        log: logger.child({ component: 'liveness' }),
      });
      l.ready.catch((e: unknown) => {
        // A liveness that cannot bind hears nobody: using it would make this node take every IP. Back to "every Node
        // is alive" (MetalLB without memberlist) and say so.
        logger.error(`speaker: heartbeats cannot start on ${f.memberlistBind}:${f.memberlistPort}: ${String(e)}; every Node counts as a live speaker`);
        if (liveness.inner === l) {
          liveness.turnOff();
          lm.from(undefined);
        }
        livenessKey = undefined;
        l.close();
      });
      liveness.attach(l, leases?.leases());
      lm.from(() => l.stats());
      log(`speaker: heartbeats on ${f.memberlistBind}:${f.memberlistPort} every ${f.heartbeatIntervalMs} ms, peers dead after ${f.suspectAfterMs} ms`);
    } catch (e) {
      logger.error(`speaker: heartbeats not started: ${e instanceof Error ? e.message : String(e)}; every Node counts as a live speaker`);
      livenessKey = undefined;
      liveness.turnOff();
    }
  };

  // --- the announcer and the Speaker ---
  first.silence = () => announcer.close();
  const announcer = new Layer2Announcer({
    openLink,
    clock: realClock,
    links: () => links,
    log: logger.child({ component: 'layer2' }),
    friendlyMacs: () => liveness.friendlyMacs(),
  });
  announcer.on('linkError', (ifname, error) => logger.warn({ interface: ifname }, `speaker: cannot open ${ifname}: ${error.message}`));
  sm.layer2From(() => announcer.stats());
  const recorder = new EventRecorder({
    client,
    component: 'metallb-speaker',
    reportingComponent: 'berth-speaker',
    reportingInstance: self,
    log: ilog,
    cause: ignoreNumbers,
  });
  // Owner of the ServiceL2Status objects: this speaker's Pod (downward API POD_NAME/POD_UID), as MetalLB, so they go
  // with it (a removed node leaves none behind). Without both variables (a speaker outside a Pod) no owner is set.
  const podOwner =
    process.env.POD_NAME && process.env.POD_UID
      ? [{ apiVersion: 'v1', kind: 'Pod', name: process.env.POD_NAME, uid: process.env.POD_UID }]
      : undefined;
  const statusPort: L2StatusPort = {
    list: () => statuses.list().map(statusObject),
    async create(svc, status) {
      const r = await client.create<KubeObject>(Resources.serviceL2Statuses, {
        apiVersion: 'metallb.io/v1beta1',
        kind: 'ServiceL2Status',
        metadata: {
          generateName: 'l2-',
          namespace: ns,
          labels: { [SERVICE_STATUS_LABELS.node]: self, [SERVICE_STATUS_LABELS.serviceName]: svc.name, [SERVICE_STATUS_LABELS.serviceNamespace]: svc.namespace },
          ...(podOwner ? { ownerReferences: podOwner } : {}),
        },
        status,
      });
      if (!r.ok) {
        logger.warn(`speaker: creating the ServiceL2Status of ${svc.namespace}/${svc.name}: ${r.error.message}`);
        return undefined;
      }
      const name = r.value.metadata?.name ?? '';
      // The status subresource ignores status on create (as kube-apiserver): write it through /status.
      const p = await client.patch(Resources.serviceL2Statuses, name, { status }, { namespace: ns, subresource: 'status' });
      if (!p.ok) {
        logger.warn(`speaker: writing the status of ServiceL2Status ${ns}/${name}: ${p.error.message}`);
        // Deleted meanwhile (another speaker owned the Service for a moment): not ours, create again if still needed.
        if (p.error.kind === 'NotFound') return undefined;
      }
      return name;
    },
    async updateStatus(name, status) {
      const r = await client.patch(Resources.serviceL2Statuses, name, { status: { ...status, interfaces: status.interfaces ?? null } }, { namespace: ns, subresource: 'status' });
      if (!r.ok) logger.warn(`speaker: updating ServiceL2Status ${ns}/${name}: ${r.error.message}`);
      return r.ok;
    },
    async delete(name) {
      const r = await client.delete(Resources.serviceL2Statuses, name, { namespace: ns });
      if (!r.ok && r.error.kind !== 'NotFound') {
        logger.warn(`speaker: deleting ServiceL2Status ${ns}/${name}: ${r.error.message}`);
        return false;
      }
      return true;
    },
  };

  // BGP (issue 9): loaded on first need (bgp-main.ts, its own chunk in the bundle): the first plan whose configuration
  // has a BGPPeer selecting this node, or a cached ServiceBGPStatus of this node (left by an earlier run) to clean
  // up. A speaker in layer 2 only never reads the session, FSM, wire, BFD, BGP plan and status code (issue 8: RSS).
  let bgpMain: BgpMain | undefined;
  let bgpLoading: Promise<BgpMain | undefined> | undefined;
  const loadBgp = (): void => {
    if (bgpLoading || stopping) return;
    log('speaker: a BGPPeer selects this node (or a ServiceBGPStatus of it exists): loading BGP');
    const lifted = startOptimizing();
    if (lifted) log(`speaker: V8 ${lifted} for BGP (the image starts the speaker with --no-sparkplug --no-opt for layer 2)`);
    bgpLoading = import('./bgp-main.ts').then(
      ({ startBgpMain }) => {
        if (stopping) return undefined;
        bgpMain = startBgpMain({
          node: self,
          namespace: ns,
          client,
          logger,
          registry,
          events: recorder,
          bgpStatuses,
          bgpPeers: configInformers.bgpPeers!,
          ...(podOwner ? { owner: podOwner } : {}),
          update: (ok) => sm.update(ok),
          metrics: sm,
          services,
        });
        speaker.changed();
        return bgpMain;
      },
      (e: unknown) => {
        logger.error(`speaker: BGP not loaded: ${e instanceof Error ? e.message : String(e)}`);
        return undefined;
      },
    );
  };
  cleanups.push(async () => {
    const m = await bgpLoading;
    await m?.close();
  });
  const ownBgpStatus = (): boolean => bgpStatuses.list().some((o) => o.metadata?.labels?.[SERVICE_STATUS_LABELS.node] === self);
  bgpStatuses.on({ add: () => synced && !bgpLoading && ownBgpStatus() && loadBgp() });
  const syncBgp = (world: BgpWorld): void => {
    if (bgpMain) return bgpMain.sync(world);
    if (bgpWanted(world.config, world.nodes.find((n) => n.name === self)) || ownBgpStatus()) loadBgp();
  };
  const decide = (): L2Decision[] | undefined => {
    if (!synced) return undefined;
    rebuildConfig();
    if (!config) return undefined;
    const world: BgpWorld = {
      config,
      nodes: nodes.list().flatMap((n) => nodeView(n as never, { ignoreExcludeLb: f.ignoreExcludeLb }) ?? []),
      services: services.list().flatMap((s) => cachedServiceView(s as ServiceLike, f.lbClass ? { lbClass: f.lbClass } : {}) ?? []),
      endpoints: endpointViews(slices.list() as never),
    };
    syncBgp(world);
    return planLayer2({ ...world, liveSpeakers: liveness.alive() });
  };
  const speaker = new Speaker({
    node: self,
    decide,
    announcementsFor,
    announcer,
    liveness,
    links: () => links,
    status: statusPort,
    events: recorder,
    serviceRef: (key) => {
      const s = services.getByKey(key);
      const [namespace, name] = key.split('/') as [string, string];
      return {
        kind: 'Service',
        apiVersion: 'v1',
        namespace,
        name,
        ...(s?.metadata?.uid ? { uid: s.metadata.uid } : {}),
        ...(s?.metadata?.resourceVersion ? { resourceVersion: s.metadata.resourceVersion } : {}),
      };
    },
    metrics: sm,
    log: (fields, message) => logger.info(fields, message),
    warn: (fields, message) => logger.warn(fields, message),
    debounceMs: f.debounceMs,
  });

  const onChange = { add: () => speaker.changed(), update: () => speaker.changed(), delete: () => speaker.changed() };
  const onConfig = {
    add: () => ((configDirty = true), speaker.changed()),
    update: () => ((configDirty = true), speaker.changed()),
    delete: () => ((configDirty = true), speaker.changed()),
  };
  nodes.on(onConfig);
  namespaces.on(onConfig);
  for (const i of Object.values(configInformers)) i.on(onConfig);
  peerSecrets.on(onConfig);
  services.on(onChange);
  slices.on(onChange);
  statuses.on({
    add: () => speaker.reconcileStatus(),
    update: () => speaker.reconcileStatus(),
    delete: (o) => speaker.statusDeleted(o.metadata?.name ?? ''),
  });
  // Heartbeats start once the caches are synced (the peers come from the Nodes), and restart when the key changes.
  secrets.on({ add: () => synced && startHeartbeats(), update: () => synced && startHeartbeats() });

  const all = [nodes, services, slices, namespaces, secrets, peerSecrets, statuses, bgpStatuses, ...Object.values(configInformers)];
  const listStarted = Date.now();
  for (const i of all) i.start();
  await Promise.race([Promise.all(all.map((i) => i.synced)), new Promise((r) => aborter.signal.addEventListener('abort', r, { once: true }))]);
  if (stopping) return exited;
  synced = true;
  // The first build compiles the JSON Schemas (seconds on a busy machine): before the heartbeats start, so that stall
  // never starves them.
  rebuildConfig();

  // SIGTERM order (speaker.stop): leave → announcer.close → liveness.close; then the events still queued.
  let releaseLease: (() => Promise<unknown>) | undefined;
  cleanups.push(async () => {
    await speaker.stop();
    await releaseLease?.();
    await Promise.race([recorder.flush(), new Promise((r) => setTimeout(r, 2000))]);
  });
  if (f.memberlistBind && !memberlistKey(secrets.list()[0] as never)) {
    // MetalLB's controller creates the Secret when missing (--ml-secret-name); berth's first speaker does: 128 random
    // bytes, create-only (a concurrent speaker's AlreadyExists is fine: the informer brings its key).
    const r = await client.create<KubeObject>(Resources.secrets, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: f.memberlistSecretName, namespace: ns, labels: { 'app.kubernetes.io/name': 'metallb', 'app.kubernetes.io/component': 'speaker' } },
      type: 'Opaque',
      data: { secretkey: randomBytes(128).toString('base64') },
    });
    if (r.ok) log(`speaker: created Secret ${ns}/${f.memberlistSecretName} (the heartbeat key)`);
    else if (r.error.kind !== 'AlreadyExists') {
      logger.warn(
        `speaker: Secret ${ns}/${f.memberlistSecretName} (key secretkey) not found and not created (${r.error.message}): heartbeats off until it exists; every Node counts as a live speaker`,
      );
      liveness.turnOff();
    }
  }
  if (leases) {
    leases.start();
    // After speaker.stop() (leave, then announcer.close): our Lease is deleted so Lease-only peers drop us at once.
    releaseLease = () => Promise.race([leases.stop({ release: true }), new Promise((r) => setTimeout(r, 2000))]);
  }
  startHeartbeats();
  // Pending (the Secret's key not read yet) announces nothing: bounded, so an unusable Secret never silences the node.
  const pendingBound = setTimeout(() => {
    if (!liveness.pending()) return;
    logger.warn(`speaker: no usable key in Secret ${ns}/${f.memberlistSecretName} after 10 s: heartbeats off until it has one; every Node counts as a live speaker`);
    liveness.turnOff();
  }, 10_000);
  pendingBound.unref();
  cleanups.push(() => clearTimeout(pendingBound));
  // MetalLB rescans interfaces every 10 s (§5.2): the announcer picks up new links on the next set().
  // Only a change of the links recomputes the plan (a recompute over every Service each 10 s was most of an idle
  // speaker's garbage, and so of its RSS: bench/speaker-rss.ts).
  const rescan = setInterval(() => {
    const before = `${links.arp.join(',')} ${links.ndp.join(',')}`;
    rescanLinks();
    if (`${links.arp.join(',')} ${links.ndp.join(',')}` !== before) speaker.changed();
  }, 10_000);
  cleanups.push(() => clearInterval(rescan));

  speaker.sync();
  notReady = config ? undefined : 'no valid configuration loaded yet';
  if (!config) {
    const waitConfig = setInterval(() => {
      if (config) {
        notReady = undefined;
        clearInterval(waitConfig);
      }
    }, 500);
    cleanups.push(() => clearInterval(waitConfig));
  }
  log(
    `speaker: ready node=${self} namespace=${ns} services=${services.size} nodes=${nodes.size} announcing=${speaker.announcing().size}` +
      ` links=${dry ? 'dry-run' : `arp:${links.arp.join(',') || '-'} ndp:${links.ndp.join(',') || '-'}`} liveness=${f.memberlistBind ? `${f.memberlistBind}:${f.memberlistPort}` : 'off'}` +
      ` metrics=${probes ? probes.port : 'off'}` +
      ` layer2-answer-priority=${f.layer2AnswerPriority || 'off'} synced in ${Date.now() - listStarted} ms`,
  );
  return exited;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runSpeaker(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(`speaker: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      process.exit(1);
    },
  );
}
