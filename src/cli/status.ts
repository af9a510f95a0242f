// `berth status`: a live cluster (or the lab) at a glance. Pools with used/total per family (from the claims, which
// are the truth: a shared IP counts once, as metallb_allocator_addresses_in_use_total does), then every LoadBalancer
// Service with its IPs, pool, who announces them (the speakers' ServiceL2Status / ServiceBGPStatus objects) and, for a
// Service without an IP, why: the allocator is asked the same question the webhook and controller ask, over the same
// pools and claims, so the reason is the one they would give (LB_EXHAUSTED, LB_POOL_NOT_ALLOWED, ...). For a Service
// with an IP that nobody announces, why (announce-reasons.ts: the speakers' own plans over the live Nodes,
// EndpointSlices and advertisements; speakerNotRunning when a node should announce it and reports nothing). A reported
// announcer is checked before it is listed (announce-reasons.ts checkAnnouncers: speaker Lease, IPConflict /
// announceFailed Events not followed by the node's IPConflictCleared / announceResumed / nodeAssigned, the BGPPeer's
// session Events): the ones that do not announce are marked with the reason.
// A SIGKILLed speaker's Lease stays fresh for 40 s; its live peers publish on their own Leases that their heartbeats
// no longer hear it (berth.io/silent-peers, src/speaker/liveness/silent-peers.ts), so it is marked speaker down within
// about a second (checkSpeakersAlive); without a peer view, a Lease that missed two renewals is marked speaker lease
// stale with its age.
// When the ServiceL2Status/ServiceBGPStatus CRDs are not installed (their list answers 404), nobody can report an
// announcement: that is said once, naming the CRD and how to install it, and ANNOUNCED-BY reads `?` instead of a
// speakerNotRunning that would blame the speakers (a withdraw reason the plans give, e.g. noEndpoints, still shows).
import { assignedIPs, ingressIPs, isLoadBalancer, isOurClass, serviceKey, serviceRequestFrom } from '../config/service.ts';
import { claimsByHolder } from '../claims/holders.ts';
import { serviceView } from '../speaker/world.ts';
import { leaseStaleness, speakerSilence, type PublishedLease } from '../speaker/liveness/silent-peers.ts';
import { SPEAKER_LEASE_PREFIX } from '../speaker/liveness/lease.ts';
import { checkAnnouncers, currentL2Faults, UNCONFIRMED_MARK, whyNotAnnounced, type AnnounceEvent, type NotAnnounced, type Unconfirmed } from './announce-reasons.ts';
import { allocatorFromClaims, liveConfig, readLive, type LiveSnapshot } from './live.ts';
import type { CliIO } from './io.ts';
import { parseFlags } from './flags.ts';
import { chooseKubeconfig, explainLiveError, labNotice } from './kubeconfig.ts';
import { toJson } from './plan.ts';
import { table } from './table.ts';

export const STATUS_USAGE = `usage: berth status [[NAMESPACE/]NAME] [--kubeconfig FILE] [--context NAME] [--namespace NS] [--lb-class CLASS] [--output text|json] [--progress]
  NAME (a Service, in every namespace unless NAMESPACE/ is given): that Service alone, one line per fact in plain words.
  pools with used/total per family, every LoadBalancer Service with its IPs, pool and announcing node(s) or BGP peers,
  why each Service without an IP has none, and why nobody announces one that has an IP (ANNOUNCED-BY -: MetalLB's
  withdraw reason, or speakerNotRunning). A node or peer the status objects report but that does not announce is marked:
  (speaker down) expired speaker Lease or its peers' heartbeats no longer hear it, (speaker lease stale) a Lease that
  missed two renewals and no peer view, (IP conflict) / (announce failed) the speaker's Warning Events with no later IPConflictCleared / announceResumed /
  nodeAssigned from that node (a fixed fault is not shown; an IP conflict's REASON names the IP and the foreign host's MAC), (session down) /
  (not established) no BGPSessionUp as the last session Event on the BGPPeer. ANNOUNCED-BY ?: the ServiceL2Status /
  ServiceBGPStatus CRD is not installed (said once, with how to install it), so no announcement can be known. --progress prints a line per resource listed (default: when stderr is a terminal).
  kubeconfig, first found: --kubeconfig, $KUBECONFIG, ~/.kube/config, in-cluster, the lab's .lab/dev/kubeconfig
  (current directory, then this checkout; what \`npm start\` prints).`;

export interface StatusPool {
  pool: string;
  autoAssign: boolean;
  ipv4InUse: number;
  ipv4Total: bigint;
  ipv6InUse: number;
  ipv6Total: bigint;
}

export interface StatusService {
  namespace: string;
  name: string;
  /** status.loadBalancer.ingress (what kubectl shows), else the IPs claimed for it (status not written yet). */
  ips: string[];
  pool?: string;
  announcedBy: { layer2: string[]; bgp: Array<{ node: string; peers: string[] }> };
  /** Why a Service has no IP: the code and message the webhook/controller would give now. */
  pending?: { code: string; message: string };
  /** Why a Service with an IP is announced by nobody (MetalLB's withdraw reason, or speakerNotRunning). */
  notAnnounced?: NotAnnounced;
  /**
   * True when nobody is known to announce the Service because a status CRD it would be reported in is not installed
   * (StatusReport.missingStatusCrds): `?` in ANNOUNCED-BY, and no notAnnounced reason.
   */
  announcedByUnknown?: boolean;
  /**
   * Announcers the status objects report that do not really announce (speakerDown, IPConflict, announceFailed,
   * sessionDown, sessionNotEstablished: announce-reasons.ts checkAnnouncers); they are not in `announcedBy`.
   */
  unconfirmed?: Unconfirmed[];
  /**
   * Foreign hosts claiming the Service's IPs: the speakers' Warning `IPConflict` Events that no later Event of the
   * same node ended (ipConflictsOf). Their plain-words text (conflictText) is the IPConflict reason shown.
   */
  conflicts?: IPConflictView[];
}

/**
 * One IP conflict as a speaker reported it (src/speaker/speaker.ts ipConflictMessage; docs/layer2.md "IP conflicts"):
 * a host that is not a berth speaker answers ARP/NDP for the IP. Fields the message does not give are absent.
 */
export interface IPConflictView {
  /** The node whose speaker saw the claim (the Event's reporting instance). */
  node: string;
  ip?: string;
  /** The foreign host's MAC address. */
  mac?: string;
  /** The node's interface the claim was seen on. */
  interface?: string;
  /**
   * true: the claim came while the IP was announced; it stays announced there and is defended (RFC 5227 §2.4 (b)), so
   * both hosts answer. false: seen while probing; the node does not announce the IP.
   */
  announced: boolean;
  /** Seconds since the Event's last occurrence, when it has a time. */
  agoS?: number;
  /** The Event's message as the speaker wrote it. */
  message: string;
}

/** The speaker's IPConflict message (src/speaker/speaker.ts ipConflictMessage): IP, MAC, interface, node. */
const CONFLICT_MESSAGE = /\bIP "([^"]+)" is claimed by MAC ([0-9A-Fa-f:]+) on interface (\S+) \(seen from node "([^"]+)"\)/;

/**
 * The current IP conflicts of Service `namespace/name` from the nodes `nodes` (all nodes when undefined): its
 * `IPConflict` Events (announce-reasons.ts AnnounceEvent) that no later IPConflictCleared / nodeAssigned of the same
 * node (and IP) ended (currentL2Faults), newest first. Pure; an Event whose message is not the speaker's keeps only node,
 * message and time.
 */
export function ipConflictsOf(key: string, events: readonly AnnounceEvent[], nowMs: number, nodes?: readonly string[]): IPConflictView[] {
  const i = key.indexOf('/');
  const [ns, name] = i < 0 ? ['default', key] : [key.slice(0, i), key.slice(i + 1)];
  const mine = events.filter((e) => e.kind === 'Service' && e.namespace === ns && e.name === name && e.node !== undefined && (!nodes || nodes.includes(e.node)));
  const out: IPConflictView[] = [];
  for (const node of [...new Set(mine.map((e) => e.node!))].sort()) {
    for (const e of currentL2Faults(mine.filter((x) => x.node === node))) {
      if (e.reason !== 'IPConflict') continue;
      const m = CONFLICT_MESSAGE.exec(e.message);
      out.push({
        node,
        ...(m ? { ip: m[1]!, mac: m[2]!.toLowerCase(), interface: m[3]! } : {}),
        announced: /still announced there/.test(e.message),
        ...(e.lastMs !== undefined ? { agoS: Math.max(0, Math.round((nowMs - e.lastMs) / 1000)) } : {}),
        message: e.message,
      });
    }
  }
  return out;
}

/**
 * An IP conflict in plain words, naming the IP, the foreign MAC, who saw it and what to do, e.g. `198.51.100.205 is
 * already used by another host, MAC 02:00:00:51:00:08 (not a berth speaker; reported 12 s ago by the speaker of node n1 on
 * eth0), so n1 does not announce it: …`. Falls back to the speaker's own message when it could not be read.
 */
export function conflictText(c: IPConflictView): string {
  const ago = c.agoS === undefined ? '' : ` ${c.agoS} s ago`;
  if (c.ip === undefined || c.mac === undefined) return `IP conflict reported${ago} by the speaker of node ${c.node}: ${c.message}`;
  const seen = `(not a berth speaker; reported${ago} by the speaker of node ${c.node}${c.interface ? ` on ${c.interface}` : ''})`;
  const fix = 'remove the address from that host (or the pool range from its DHCP server)';
  return c.announced
    ? `${c.ip} is also answered by another host, MAC ${c.mac} ${seen}: ${c.node} still announces and defends it, but clients may reach either host; ${fix}`
    : `${c.ip} is already used by another host, MAC ${c.mac} ${seen}, so ${c.node} does not announce it: ${fix}; the speaker checks again every 5 s and announces it once that host has been silent for 15 s`;
}

export interface StatusReport {
  /** Problems of the live configuration (the controller keeps its last good one meanwhile). */
  problems: string[];
  pools: StatusPool[];
  services: StatusService[];
  /**
   * The status CRDs the API server does not serve (404 on their list): the speakers cannot report announcements of
   * that kind. Absent when both are installed.
   */
  missingStatusCrds?: MissingCrd[];
}

/** A status kind whose CRD is not installed: the kind and the CRD's name (`servicel2statuses.metallb.io`). */
export interface MissingCrd {
  kind: string;
  crd: string;
}

/** The status kinds `berth status` reads (live.ts) and their CRDs (gitops/base/crds, MetalLB's config/crd). */
const STATUS_CRDS: Readonly<Record<string, string>> = {
  ServiceL2Status: 'servicel2statuses.metallb.io',
  ServiceBGPStatus: 'servicebgpstatuses.metallb.io',
};

/**
 * The one notice about missing status CRDs: which, what it means for ANNOUNCED-BY, and how to install them (berth's
 * gitops/base/crds, part of gitops/base). Undefined when none is missing.
 */
export function missingCrdsNotice(missing: readonly MissingCrd[] | undefined): string | undefined {
  if (!missing || missing.length === 0) return undefined;
  const kinds = missing.map((m) => m.kind).join(' and ');
  const crds = missing.map((m) => m.crd).join(', ');
  const one = missing.length === 1;
  return (
    `the ${kinds} CRD${one ? '' : 's'} (${crds}) ${one ? 'is' : 'are'} not installed: the speakers cannot report which nodes announce ` +
    `a Service${one ? ` by ${missing[0]!.kind === 'ServiceBGPStatus' ? 'BGP' : 'layer 2'}` : ''}, so ANNOUNCED-BY shows ? where it depends on ${one ? 'it' : 'them'}. ` +
    `Install ${one ? 'it' : 'them'} with berth's CRDs: kubectl apply -k gitops/base/crds (included in kubectl apply -k gitops/base)`
  );
}

export async function runStatus(argv: readonly string[], io: CliIO): Promise<number> {
  const f = parseFlags(argv, {
    kubeconfig: 'string',
    context: 'string',
    namespace: 'string',
    'lb-class': 'string',
    output: 'string',
    o: 'string',
    progress: 'boolean',
  });
  if (!f.ok) return io.usage(`${f.message}\n${STATUS_USAGE}`);
  if (f.args.length > 1) return io.usage(`berth status takes at most one Service, [NAMESPACE/]NAME (got "${f.args.join(' ')}")\n${STATUS_USAGE}`);
  const wanted = f.args[0];
  if (wanted !== undefined && !SERVICE_ARG.test(wanted))
    return io.usage(`berth status: "${wanted}" is not a Service name: [NAMESPACE/]NAME, lowercase letters, digits and '-' (DNS labels)\n${STATUS_USAGE}`);
  const output = f.values.output ?? f.values.o ?? 'text';
  if (output !== 'text' && output !== 'json') return io.usage(`--output must be text or json, not "${output}"`);
  const progress = f.values.progress === 'true' || (f.values.progress === undefined && process.stderr.isTTY === true);
  const kc = chooseKubeconfig(f.values.kubeconfig);
  const notice = labNotice(kc);
  if (notice) io.err(`berth status: ${notice}`);
  const read = await readLive({
    kubeconfig: kc.path,
    context: f.values.context,
    namespace: f.values.namespace ?? 'metallb-system',
    announce: true,
    ...(progress ? { progress: (l: string) => io.err(`berth status: ${l}`) } : {}),
  });
  if (!read.ok) {
    io.err(`berth status: ${explainLiveError(read.message, kc)}`);
    return 1;
  }
  const report = statusOf(read.snapshot, { lbClass: f.values['lb-class'] });
  if (wanted !== undefined) {
    const rows = selectServices(report, wanted);
    if (rows.length === 0) {
      const known = report.services.map((r) => `${r.namespace}/${r.name}`);
      io.err(
        `berth status: no LoadBalancer Service ${wanted.includes('/') ? `"${wanted}"` : `named "${wanted}" in any namespace`}` +
          `${f.values['lb-class'] ? ` with loadBalancerClass "${f.values['lb-class']}"` : ''} (${known.length > 0 ? `there are: ${known.slice(0, 10).join(', ')}${known.length > 10 ? ', …' : ''}` : 'there is none'})`,
      );
      return 1;
    }
    if (output === 'json') {
      io.out(toJson({ ...report, services: rows }));
      return 0;
    }
    for (const p of report.problems) io.err(`berth status: configuration problem: ${p}`);
    const notice = missingCrdsNotice(report.missingStatusCrds);
    if (notice) io.err(`berth status: ${notice}`);
    rows.forEach((row, i) => {
      if (i > 0) io.out('');
      for (const line of serviceDetail(row)) io.out(line);
    });
    return 0;
  }
  if (output === 'json') {
    io.out(toJson(report));
    return 0;
  }
  printStatus(report, io);
  return 0;
}

/** `[NAMESPACE/]NAME`: DNS labels (Kubernetes' rule for namespace and Service names). */
const SERVICE_ARG = /^(?:[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\/)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The report's Services named `arg`: `namespace/name` exactly, or `name` in every namespace. Pure. */
export function selectServices(report: Pick<StatusReport, 'services'>, arg: string): StatusService[] {
  const i = arg.indexOf('/');
  return report.services.filter((r) => (i < 0 ? r.name === arg : r.namespace === arg.slice(0, i) && r.name === arg.slice(i + 1)));
}

/**
 * One Service as lines of plain words (`berth status NAME`): its IPs and pool, who announces it, then each fault on
 * its own line: why it has no IP, each IP conflict (conflictText: the IP and the foreign MAC), each other reported
 * announcer that does not announce, why nobody announces it.
 */
export function serviceDetail(row: StatusService): string[] {
  const lines = [`Service ${row.namespace}/${row.name}`];
  const field = (k: string, v: string): void => void lines.push(`  ${k}:${' '.repeat(Math.max(1, 14 - k.length))}${v}`);
  field('EXTERNAL-IP', row.ips.length > 0 ? row.ips.join(', ') : '<pending>');
  field('pool', row.pool ?? '-');
  const announced = row.announcedBy.layer2.length > 0 || row.announcedBy.bgp.length > 0;
  field('announced by', row.announcedByUnknown ? '? (a status CRD is not installed: see above)' : announced ? announcedText(row.announcedBy) : 'nobody');
  if (row.pending) field('no IP', `${row.pending.code}: ${row.pending.message}`);
  for (const c of row.conflicts ?? []) field('IP conflict', conflictText(c));
  const conflictNodes = new Set((row.conflicts ?? []).map((c) => c.node));
  for (const u of row.unconfirmed ?? []) {
    if (u.reason === 'IPConflict' && conflictNodes.has(u.node)) continue;
    field(UNCONFIRMED_MARK[u.reason] ?? LIVENESS_MARK[u.reason] ?? u.reason, u.message);
  }
  // The reason nobody announces it, unless the lines above already are that reason.
  if (row.notAnnounced && !row.unconfirmed && !(row.notAnnounced.reason === 'IPConflict' && row.conflicts))
    field('not announced', `${row.notAnnounced.reason}: ${row.notAnnounced.message}`);
  return lines;
}

/** The text output of a report: problems and the missing-CRD notice on stderr, then the pool and Service tables. */
export function printStatus(report: StatusReport, io: Pick<CliIO, 'out' | 'err'>): void {
  for (const p of report.problems) io.err(`berth status: configuration problem: ${p}`);
  const notice = missingCrdsNotice(report.missingStatusCrds);
  if (notice) io.err(`berth status: ${notice}`);
  io.out(
    table(
      ['POOL', 'AUTO-ASSIGN', 'IPV4 IN USE', 'IPV6 IN USE'],
      report.pools.map((p) => [p.pool, String(p.autoAssign), `${p.ipv4InUse}/${p.ipv4Total}`, `${p.ipv6InUse}/${p.ipv6Total}`]),
    ),
  );
  io.out('');
  io.out(
    table(
      ['NAMESPACE', 'NAME', 'EXTERNAL-IP', 'POOL', 'ANNOUNCED-BY', 'REASON'],
      report.services.map((s) => [
        s.namespace,
        s.name,
        s.ips.length > 0 ? s.ips.join(',') : '<pending>',
        s.pool ?? '-',
        s.announcedByUnknown ? '?' : announcedText(s.announcedBy, s.unconfirmed ?? []),
        s.pending
          ? `${s.pending.code}: ${s.pending.message}`
          : s.notAnnounced
            ? `${s.notAnnounced.reason}: ${s.notAnnounced.message}`
            : (s.unconfirmed ?? []).map((u) => `${u.reason}: ${u.message}`).join('; '),
      ]),
    ),
  );
}

/**
 * `layer2: n1,n3 (IP conflict); bgp: n1 → router-bgp,router-bad (not established); bgp: n2 (speaker down) → router-bgp`:
 * the real announcers, then the reported ones that are not, each marked with why (UNCONFIRMED_MARK).
 */
export function announcedText(a: StatusService['announcedBy'], unconfirmed: readonly Unconfirmed[] = []): string {
  const parts: string[] = [];
  const mark = (u: Unconfirmed): string => `(${UNCONFIRMED_MARK[u.reason] ?? LIVENESS_MARK[u.reason] ?? u.reason})`;
  const l2 = [...a.layer2, ...unconfirmed.filter((u) => u.mode === 'layer2').map((u) => `${u.node} ${mark(u)}`)];
  if (l2.length > 0) parts.push(`layer2: ${l2.join(',')}`);
  const nodes = [...new Set([...a.bgp.map((b) => b.node), ...unconfirmed.filter((u) => u.mode === 'bgp').map((u) => u.node)])].sort();
  for (const node of nodes) {
    const down = unconfirmed.find((u) => u.mode === 'bgp' && u.node === node && u.peer === undefined);
    if (down) {
      parts.push(`bgp: ${node} ${mark(down)}`);
      continue;
    }
    const peers = [
      ...(a.bgp.find((b) => b.node === node)?.peers ?? []),
      ...unconfirmed.filter((u) => u.mode === 'bgp' && u.node === node && u.peer !== undefined).map((u) => `${u.peer} ${mark(u)}`),
    ];
    parts.push(`bgp: ${node} → ${peers.join(',') || '-'}`);
  }
  return parts.length > 0 ? parts.join('; ') : '-';
}

/** Marks of the reasons checkSpeakersAlive adds. */
const LIVENESS_MARK: Readonly<Record<string, string>> = { speakerLeaseStale: 'speaker lease stale' };

/**
 * The speakers' own liveness rules applied to the announcers checkAnnouncers kept (it marks a node only once its Lease
 * expired, up to 40 s after a SIGKILL). A node is moved to `unconfirmed`:
 * - `speakerDown` when live peers (fresh Lease) publish that their heartbeats no longer hear it, since after its last
 *   Lease renewal (src/speaker/liveness/silent-peers.ts speakerSilence): what the speakers themselves act on, within
 *   about a second of the death plus one publication (≤ 1 s);
 * - else `speakerLeaseStale` when its Lease missed two renewals and has not expired yet (no peer view published: a
 *   single speaker, or heartbeats off), with the Lease's age.
 * Pure; `leases` absent (not readable): unchanged.
 */
export function checkSpeakersAlive<T extends { l2Nodes: string[]; bgp: Array<{ node: string; peers: string[] }>; unconfirmed: Unconfirmed[] }>(
  checked: T,
  leases: readonly PublishedLease[] | undefined,
  nowMs: number,
): T {
  if (!leases || leases.length === 0) return checked;
  const verdicts = new Map<string, Unconfirmed | undefined>();
  const verdict = (node: string): Omit<Unconfirmed, 'mode'> | undefined => {
    if (!verdicts.has(node)) verdicts.set(node, livenessVerdict(node, leases, nowMs));
    return verdicts.get(node);
  };
  const unconfirmed = [...checked.unconfirmed];
  const l2Nodes = checked.l2Nodes.filter((node) => {
    const v = verdict(node);
    if (v) unconfirmed.push({ ...v, mode: 'layer2' });
    return !v;
  });
  const bgp = checked.bgp.filter((b) => {
    const v = verdict(b.node);
    if (v) unconfirmed.push({ ...v, mode: 'bgp' });
    return !v;
  });
  return { ...checked, l2Nodes, bgp, unconfirmed };
}

function livenessVerdict(node: string, leases: readonly PublishedLease[], nowMs: number): Unconfirmed | undefined {
  const own = leases.find((l) => l.node === node);
  if (!own || own.renewMs === undefined) return undefined;
  const lease = `${SPEAKER_LEASE_PREFIX}${node}`;
  const renewedS = Math.max(0, Math.round((nowMs - own.renewMs) / 1000));
  const expiresS = Math.max(0, Math.round((own.renewMs + own.durationSeconds * 1000 - nowMs) / 1000));
  const silent = speakerSilence(node, leases, nowMs);
  if (silent) {
    const sinceS = Math.max(0, Math.round((nowMs - silent.sinceMs) / 1000));
    return {
      mode: 'layer2',
      node,
      reason: 'speakerDown',
      message:
        `the speaker of node "${node}" is down: its peer${silent.by.length > 1 ? 's' : ''} ${silent.by.join(', ')} hear${silent.by.length > 1 ? '' : 's'} no heartbeat from it since ${sinceS} s ago ` +
        `(its Lease ${lease} was last renewed ${renewedS} s ago and expires in ${expiresS} s); its status objects stay until its Pod is deleted`,
    };
  }
  const stale = leaseStaleness(own, nowMs);
  if (stale) {
    return {
      mode: 'layer2',
      node,
      reason: 'speakerLeaseStale',
      message:
        `the speaker of node "${node}" may be down: its Lease ${lease} was last renewed ${stale.ageS} s ago (renewed every ${stale.renewEveryS} s, expires in ${stale.expiresInS} s) ` +
        `and no peer publishes its heartbeat view; a speaker cut off from the API server only keeps announcing`,
    };
  }
  return undefined;
}

/**
 * The report of a snapshot (pure). Pools come from the live configuration; when it is invalid the pools are those of
 * the pool objects that still build on their own, and the problems are listed.
 */
export function statusOf(s: LiveSnapshot, opts: { lbClass?: string | undefined; nowMs?: number } = {}): StatusReport {
  const built = liveConfig(s);
  const problems = built.problems.map((p) => `${p.object ? `${p.object} ` : ''}${p.path ? `${p.path}: ` : ''}${p.message}`);
  const pools = built.config?.pools ?? [];
  const alloc = allocatorFromClaims(s, pools);
  const statsByPool = new Map(alloc.stats().map((st) => [st.pool, st]));
  const claimed = claimsByHolder(s.claims);
  const services: StatusService[] = [];
  const unannounced: Array<{ row: StatusService; view: NonNullable<ReturnType<typeof serviceView>> }> = [];
  for (const svc of s.services) {
    if (!isLoadBalancer(svc) || !isOurClass(svc, opts.lbClass)) continue;
    const key = serviceKey(svc);
    const shown = ingressIPs(svc);
    const ips = shown.length > 0 ? shown : (claimed.get(key)?.ips ?? assignedIPs(svc));
    const held = alloc.ipsOf(key);
    const reported = s.announcers.get(key);
    const nowMs = opts.nowMs ?? Date.now();
    const checked = reported
      ? checkSpeakersAlive(
          checkAnnouncers(key, reported, { speakerLeases: s.speakerLeases, events: s.announceEvents, namespace: s.namespace, nowMs }),
          s.speakerLeases,
          nowMs,
        )
      : undefined;
    const row: StatusService = {
      namespace: svc.metadata?.namespace || 'default',
      name: svc.metadata?.name ?? '',
      ips: [...ips],
      announcedBy: { layer2: checked?.l2Nodes ?? [], bgp: checked?.bgp ?? [] },
    };
    if (checked && checked.unconfirmed.length > 0) row.unconfirmed = checked.unconfirmed;
    // An IP conflict in plain words (IP, foreign MAC, who saw it, what to do) rather than the Event's text.
    const conflictNodes = (row.unconfirmed ?? []).filter((u) => u.reason === 'IPConflict').map((u) => u.node);
    if (conflictNodes.length > 0 && s.announceEvents) {
      const conflicts = ipConflictsOf(key, s.announceEvents, nowMs, conflictNodes);
      if (conflicts.length > 0) {
        row.conflicts = conflicts;
        row.unconfirmed = row.unconfirmed!.map((u) => {
          if (u.reason !== 'IPConflict') return u;
          const mine = conflicts.filter((c) => c.node === u.node);
          return mine.length > 0 ? { ...u, message: mine.map(conflictText).join('; ') } : u;
        });
      }
    }
    const pool = held?.pool ?? svc.metadata?.annotations?.['metallb.io/ip-allocated-from-pool'] ?? svc.metadata?.annotations?.['metallb.universe.tf/ip-allocated-from-pool'];
    if (pool !== undefined) row.pool = pool;
    if (ips.length === 0) row.pending = whyPending(s, key, alloc, svc);
    else if (row.unconfirmed && row.announcedBy.layer2.length === 0 && row.announcedBy.bgp.length === 0) {
      // Reported, but nobody really announces it: the reasons of those reported.
      row.notAnnounced = { reason: row.unconfirmed[0]!.reason, message: row.unconfirmed.map((u) => u.message).join('; ') };
    } else if (row.announcedBy.layer2.length === 0 && row.announcedBy.bgp.length === 0) {
      const view = serviceView(svc, opts.lbClass !== undefined ? { lbClass: opts.lbClass } : {});
      if (view) unannounced.push({ row, view });
      else {
        row.notAnnounced = {
          reason: 'noIPAllocated',
          message: `status.loadBalancer.ingress is empty (IP claimed, not yet published): the speakers announce only the IPs there (is the controller running? kubectl logs -n ${s.namespace} deployment/metallb-controller)`,
        };
      }
    }
    services.push(row);
  }
  if (built.config && s.nodeViews && s.endpoints && unannounced.length > 0) {
    const why = whyNotAnnounced(
      unannounced.map((u) => u.view),
      {
        config: built.config,
        nodes: s.nodeViews,
        endpoints: s.endpoints,
        speakerLeases: s.speakerLeases,
        anyAnnouncer: s.announcers.size > 0,
        namespace: s.namespace,
        nowMs: opts.nowMs ?? Date.now(),
      },
    );
    for (const u of unannounced) {
      const w = why.get(u.view.key);
      if (w) u.row.notAnnounced = w;
    }
  }
  // A status CRD not installed: no announcement of its kind can be reported, so "nobody reports it" proves nothing.
  // Only where the advertisements make that kind matter (any, when the configuration does not build).
  const missing = (s.missingKinds ?? []).flatMap((kind) => (STATUS_CRDS[kind] ? [{ kind, crd: STATUS_CRDS[kind] }] : []));
  const cfg = built.config;
  const blind = missing.some((m) =>
    !cfg ? true : m.kind === 'ServiceL2Status' ? cfg.l2Advertisements.length > 0 : cfg.bgpAdvertisements.length > 0,
  );
  if (blind) {
    for (const row of services) {
      if (row.ips.length === 0 || row.unconfirmed || row.announcedBy.layer2.length > 0 || row.announcedBy.bgp.length > 0) continue;
      // A withdraw reason of the speakers' plans (noEndpoints, noMatchingAdvertisement, ...) holds whoever reports.
      if (row.notAnnounced && row.notAnnounced.reason !== 'speakerNotRunning') continue;
      delete row.notAnnounced;
      row.announcedByUnknown = true;
    }
  }
  // Nobody reports announcing a Service whose IP a foreign host claims (its ServiceL2Status not written or not
  // readable): the conflict, not a missing speaker, is why. Only from nodes whose speaker is not known to be down.
  if (s.announceEvents) {
    const nowMs = opts.nowMs ?? Date.now();
    const down = new Set((s.speakerLeases ?? []).filter((l) => l.renewMs !== undefined && nowMs - l.renewMs > l.durationSeconds * 1000).map((l) => l.node));
    for (const row of services) {
      if (row.ips.length === 0 || row.unconfirmed || row.announcedBy.layer2.length > 0 || row.announcedBy.bgp.length > 0) continue;
      if (row.notAnnounced && row.notAnnounced.reason !== 'speakerNotRunning') continue;
      const conflicts = ipConflictsOf(`${row.namespace}/${row.name}`, s.announceEvents, nowMs).filter((c) => !down.has(c.node) && !c.announced);
      if (conflicts.length === 0) continue;
      row.conflicts = conflicts;
      row.notAnnounced = { reason: 'IPConflict', message: conflicts.map(conflictText).join('; ') };
      delete row.announcedByUnknown;
    }
  }
  services.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  return {
    ...(missing.length > 0 ? { missingStatusCrds: missing } : {}),
    problems,
    pools: pools.map((p) => {
      const st = statsByPool.get(p.name);
      return {
        pool: p.name,
        autoAssign: p.autoAssign,
        ipv4InUse: st?.ipv4InUse ?? 0,
        ipv4Total: st?.ipv4Total ?? 0n,
        ipv6InUse: st?.ipv6InUse ?? 0,
        ipv6Total: st?.ipv6Total ?? 0n,
      };
    }),
    services,
  };
}

/** The decision the allocator would take now for a Service without an IP; released again (nothing is written). */
function whyPending(
  _s: LiveSnapshot,
  key: string,
  alloc: ReturnType<typeof allocatorFromClaims>,
  svc: Parameters<typeof serviceRequestFrom>[0],
): { code: string; message: string } {
  const r = serviceRequestFrom(svc);
  if (!r.ok) return { code: r.code, message: r.message };
  const a = alloc.allocate(key, r.req);
  if (!a.ok) return { code: a.code, message: a.message };
  alloc.release(key);
  return {
    code: 'LB_IP_FREE',
    message: `pool "${a.pool}" has ${a.ips.join(', ')} free for it now: the controller assigns it on its next pass (is the controller running? kubectl logs -n metallb-system deployment/metallb-controller)`,
  };
}
