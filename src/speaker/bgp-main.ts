// The BGP half of the speaker process (issue 9), split from main.ts so that a speaker no BGPPeer selects never loads
// it (issue 8: speaker RSS). main.ts imports this module dynamically — its own chunk in the bundle (image/bundle.ts),
// with the session, FSM, wire, BFD, plan and status code it reaches — the first time the configuration has a BGPPeer
// selecting this node, or the cache holds a ServiceBGPStatus of this node (left by an earlier run: it is cleaned up).
// Once loaded it stays: a plan without sessions closes them and deletes this node's ServiceBGPStatus objects.
//
// What it wires (moved as is from main.ts): sessions and routes of this node's plan (BgpPlanner → BgpSpeaker.sync sends
// only the changes), BFD for peers with a bfdProfile (UDP 3784 bound on the first one), this node's ServiceBGPStatus
// objects (written on change) and the session Events on the BGPPeer (bgp-status.ts), the metallb_bgp_* and
// metallb_bfd_* metrics, metallb_speaker_announced{protocol="bgp"} and nodeAssigned (bgp-announced.ts). passwordSecret
// values are read when the Config changes.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { OwnerReference } from '../api/object.ts';
import type { Config } from '../config/types.ts';
import type { KubeClient, KubeObject } from '../kube/client.ts';
import type { EventSink } from '../kube/events.ts';
import type { Informer } from '../kube/informer.ts';
import { Resources } from '../kube/resources.ts';
import { bfdMetrics } from './bfd/metrics.ts';
import { BfdServer } from './bfd/udp.ts';
import { BgpPlanner, type BgpPlan, type BgpWorld } from './bgp-plan.ts';
import { BgpSpeaker, bgpMetrics } from './bgp-speaker.ts';
import { BgpStatusWriter, kubeBgpStatusPort, sessionEvents } from './bgp-status.ts';
import { BgpAnnouncements } from './bgp-announced.ts';
import type { SpeakerMetricsPort } from './speaker.ts';

/** What the BGP half needs from the speaker process. */
export interface BgpMainOptions {
  /** This node's name. */
  node: string;
  /** The speaker's namespace (BGPPeers, Secrets, ServiceBGPStatus). */
  namespace: string;
  client: KubeClient;
  logger: Logger;
  /** The speaker's /metrics registry: metallb_bgp_* and metallb_bfd_* are added to it. */
  registry: Registry;
  /** The speaker's event recorder (session Events on the BGPPeer). */
  events: EventSink;
  /** The ServiceBGPStatus informer (its handlers are registered here). */
  bgpStatuses: Informer;
  /** The BGPPeer informer (a session Event names a BGPPeer still cached). */
  bgpPeers: Informer;
  /** Owner of the ServiceBGPStatus objects (this speaker's Pod), if known. */
  owner?: OwnerReference[];
  /** One API write done (metallb_k8s_client_updates_total / update_errors_total). */
  update: (ok: boolean) => void;
  /** metallb_speaker_announced (protocol bgp): the speaker's metrics (src/metrics/speaker-metrics.ts). */
  metrics?: Pick<SpeakerMetricsPort, 'announced' | 'announcedFrom'>;
  /** The Service informer: nodeAssigned Events name the cached Service's uid. */
  services?: Informer;
}

/** The running BGP half: `sync` after every plan, `close` on SIGTERM. */
export interface BgpMain {
  /** Plans this node's BGP from `world` and applies it (in order: a plan is never applied after a later one). */
  sync(world: BgpWorld): void;
  /** Closes the sessions (Cease), BFD (AdminDown) and the status writer. Never throws. */
  close(): Promise<void>;
}

/** Starts the BGP half of the speaker (see the file header). Opens no socket until a plan has sessions. */
export function startBgpMain(o: BgpMainOptions): BgpMain {
  const { node: self, namespace: ns, client, logger } = o;
  const bfdServer = new BfdServer({ log: logger });
  bfdMetrics(o.registry, bfdServer);
  const bgp = new BgpSpeaker({ node: self, log: logger, bfd: bfdServer });
  bgpMetrics(o.registry, bgp);
  const bgpStatus = new BgpStatusWriter({
    node: self,
    port: kubeBgpStatusPort({
      client,
      namespace: ns,
      node: self,
      cache: () => o.bgpStatuses.list(),
      ...(o.owner ? { owner: o.owner } : {}),
      warn: (m) => logger.warn(m),
    }),
    update: o.update,
    warn: (fields, m) => logger.warn(fields, m),
  });
  const unsubscribe = o.bgpStatuses.on({
    add: () => bgpStatus.reconcile(),
    update: () => bgpStatus.reconcile(),
    delete: (s) => bgpStatus.deleted(s.metadata?.name ?? ''),
  });
  sessionEvents({
    speaker: bgp,
    events: o.events,
    node: self,
    peerRef: (name) => {
      // A BGPPeer deleted meanwhile (its session closed as de-configured) gets no Event.
      const p = o.bgpPeers.getByKey(`${ns}/${name}`);
      return p ? { kind: 'BGPPeer', apiVersion: 'metallb.io/v1beta2', namespace: ns, name, ...(p.metadata?.uid ? { uid: p.metadata.uid } : {}) } : undefined;
    },
  });
  let chain: Promise<unknown> = Promise.resolve();
  /** Syncs queued on `chain` and not done: with none and the passwords read, a plan is applied at once. */
  let queued = 0;
  let passwords: { config: Config; value: Promise<Map<string, string>>; read?: Map<string, string> } | undefined;
  const readPasswords = async (c: Config): Promise<Map<string, string>> => {
    const out = new Map<string, string>();
    for (const p of c.peers) {
      const ref = p.passwordSecret;
      if (!ref?.name) continue;
      const r = await client.get<KubeObject & { data?: Record<string, string> }>(Resources.secrets, ref.name, ref.namespace ?? ns);
      const v = r.ok ? r.value.data?.password : undefined;
      if (v === undefined) logger.warn(`speaker: BGPPeer ${p.name}: Secret ${ref.namespace ?? ns}/${ref.name} key password not readable${r.ok ? '' : `: ${r.error.message}`}`);
      else out.set(p.name, Buffer.from(v, 'base64').toString('utf8'));
    }
    return out;
  };
  // Incremental: only Services whose view or endpoints changed are replanned (bgp-plan.ts BgpPlanner).
  const planner = new BgpPlanner();
  const announcements = new BgpAnnouncements({
    node: self,
    ...(o.metrics ? { metrics: o.metrics } : {}),
    events: o.events,
    serviceRef: (key) => {
      const s = o.services?.getByKey(key);
      const i = key.indexOf('/');
      const uid = s?.metadata?.uid;
      const rv = s?.metadata?.resourceVersion;
      return { kind: 'Service', apiVersion: 'v1', namespace: key.slice(0, i), name: key.slice(i + 1), ...(uid ? { uid } : {}), ...(rv ? { resourceVersion: rv } : {}) };
    },
    log: (fields, m) => logger.info(fields, m),
    // The per-IP lines of a large change, only when debug is on (else they are not even built).
    ...(logger.isLevelEnabled('debug') ? { debug: (fields: Record<string, unknown>, m: string) => logger.debug(fields, m) } : {}),
  });
  // The signals after the event's other work (the UPDATEs reach the sockets first), once per burst: the latest plan.
  let signalDecisions: BgpPlan['decisions'] | undefined;
  let signalTimer: NodeJS.Immediate | undefined;
  const signal = (decisions: BgpPlan['decisions']): void => {
    signalDecisions = decisions;
    signalTimer ??= setImmediate(() => {
      signalTimer = undefined;
      const d = signalDecisions;
      signalDecisions = undefined;
      if (d) announcements.update(d);
    });
  };
  return {
    sync(world) {
      const plan = planner.plan(world, self);
      if (passwords?.config !== world.config) {
        const p: NonNullable<typeof passwords> = { config: world.config, value: readPasswords(world.config).catch(() => new Map()) };
        // No passwordSecret to read: known now (the UPDATEs need not wait for a turn of the event loop).
        if (!world.config.peers.some((x) => x.passwordSecret?.name)) p.read = new Map();
        else void p.value.then((m) => (p.read = m));
        passwords = p;
      }
      const { config: c, value, read } = passwords;
      // UPDATEs first (BgpSpeaker.sync hands them to the sockets before it returns), the status writes after them.
      if (queued === 0 && read) void bgp.sync(plan, { bfdProfiles: c.bfdProfiles, passwords: read });
      else {
        queued++;
        chain = chain
          .then(() => value)
          .then((pw) => bgp.sync(plan, { bfdProfiles: c.bfdProfiles, passwords: pw }))
          .finally(() => queued--);
      }
      bgpStatus.set(plan.statuses);
      signal(plan.decisions);
    },
    async close() {
      unsubscribe();
      if (signalTimer) clearImmediate(signalTimer);
      await bgp.close('speaker shutting down', { gracefulRestart: true }).catch((e: unknown) => logger.warn(`speaker: closing BGP sessions: ${String(e)}`));
      await bfdServer.close({ adminDown: true }).catch((e: unknown) => logger.warn(`speaker: closing BFD: ${String(e)}`));
      bgpStatus.stop();
    },
  };
}
