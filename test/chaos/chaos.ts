// The chaos run (issue 12): a cluster of the lab + 3 webhooks + 2 controllers (cluster.ts), seeded churn (churn.ts),
// seeded SIGKILLs of webhooks and controllers and API-server outages (SIGKILL of the lab, 5-10 s down, restart on the
// same dir and port); then churn stops, the run waits until the cluster is ready again, past the repair window, and
// until no Service or claim was written for the quiet time (at most --settle-max: a write loop never gets there; a
// busy machine only gets there later, and the time to settle is printed), and the invariants (invariants.ts) are
// checked on what the API server holds. `npm run chaos -- --seconds N --seed S` (run.ts) prints PASS/FAIL per
// invariant with the offending objects.
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IPAddressClaim } from '../../src/api/claim.ts';
import type { KubeClient, KubeObject } from '../../src/kube/client.ts';
import type { WatchHandle } from '../../src/kube/transport.ts';
import { Resources, type Resource } from '../../src/kube/resources.ts';
import { canonicalIp } from '../../src/shared/ip.ts';
import { ChaosCluster, CHAOS_POOLS, sleep, type MemberKind } from './cluster.ts';
import { Churn, NAMESPACES } from './churn.ts';
import {
  checkAllowedPools,
  checkClaimsMatch,
  checkIpsOrReason,
  checkNoDoubleIp,
  checkNoMoves,
  checkNoSelfDeaths,
  checkSettled,
  changesBetween,
  isConsistent,
  settleState,
  isOurs,
  type ClaimView,
  type EventView,
  type InvariantResult,
  type Observation,
  type SvcView,
  type WriteEvent,
} from './invariants.ts';
import { Rng } from './rng.ts';

export interface ChaosOptions {
  /** Seconds of churn (kills and outages happen within them). */
  seconds: number;
  seed: number;
  /** Working dir (lab state, logs); default a new temp dir, removed when every invariant passes unless `keep`. */
  dir?: string;
  keep?: boolean;
  /** Mean seconds between kills (default 5). */
  killEvery?: number;
  /** API-server outages (default 1 per started minute of churn, at least 1; 0 = none). */
  outages?: number;
  /** Seconds to wait after churn before checking: past the claim grace, a failover and a repair pass (default 15). */
  settleSeconds?: number;
  /** Seconds during which no Service or claim may change (invariant g, default 4). */
  quietSeconds?: number;
  /**
   * Seconds after the cluster is ready again within which writes must stop (invariant g fails past it; default 120).
   * The run checks as soon as `quietSeconds` pass without a write (after `settleSeconds`), and prints the time to settle.
   */
  settleMaxSeconds?: number;
  /** Concurrent churn loops (default 3). */
  workers?: number;
  /** Controller --claim-grace in ms (default 4000). */
  claimGraceMs?: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  ok: boolean;
  results: InvariantResult[];
  /** The run's lines (setup, kills, churn outcomes), for the notes. */
  summary: string[];
  dir: string;
  kept: boolean;
}

interface PlannedKill {
  atMs: number;
  kind: MemberKind;
  /** Lab: outage length; others: time until restart. */
  downMs: number;
  pick: number;
  /** Lab: a replica killed during the outage and started again before the API server is back (issue 12 defect 3). */
  during?: { kind: 'webhook' | 'controller'; pick: number };
}

/** The seeded kill schedule: one of each kind first (in a seeded order), then weighted; outages capped. */
export function planKills(seed: number, seconds: number, killEvery: number, outages: number): PlannedKill[] {
  const rng = Rng.stream(seed, 'kills');
  const out: PlannedKill[] = [];
  const first: MemberKind[] = ['webhook', 'controller', ...(outages > 0 ? (['lab'] as const) : [])];
  for (let i = first.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [first[i], first[j]] = [first[j]!, first[i]!];
  }
  let labs = 0;
  // The first round (one kill of each kind) is spaced to fit a short run, an outage of up to 10 s included.
  const firstGap = Math.min(killEvery * 1000, (seconds * 1000 - 2000 - (outages > 0 ? 10_000 : 0)) / (first.length + 0.5));
  const gap = (): number => Math.round((out.length < first.length ? firstGap : killEvery * 1000) * (0.6 + 0.6 * rng.next()));
  let at = gap();
  while (at < seconds * 1000 - 2000) {
    let kind: MemberKind = out.length < first.length ? first[out.length]! : rng.weighted({ webhook: 45, controller: 40, lab: 15 });
    if (kind === 'lab' && labs >= outages) kind = rng.chance(0.5) ? 'webhook' : 'controller';
    if (kind === 'lab') labs++;
    const downMs = kind === 'lab' ? rng.between(5000, 10_000) : rng.between(1000, 3000);
    const during = kind === 'lab' ? { kind: rng.chance(0.6) ? ('webhook' as const) : ('controller' as const), pick: rng.int(1000) } : undefined;
    out.push({ atMs: at, kind, downMs, pick: rng.int(1000), ...(during ? { during } : {}) });
    at += (kind === 'lab' ? downMs : 0) + gap();
  }
  return out;
}

interface RawSvc {
  metadata: { namespace: string; name: string; uid: string; resourceVersion: string; annotations?: Record<string, string> };
  spec?: { type?: string; loadBalancerClass?: string; ipFamilies?: string[]; ipFamilyPolicy?: string; ports?: Array<{ protocol?: string; port: number }> };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string }> } };
}

function svcView(s: RawSvc): SvcView {
  return {
    namespace: s.metadata.namespace,
    name: s.metadata.name,
    uid: s.metadata.uid,
    type: s.spec?.type ?? 'ClusterIP',
    ...(s.spec?.loadBalancerClass ? { loadBalancerClass: s.spec.loadBalancerClass } : {}),
    ipFamilies: s.spec?.ipFamilies ?? [],
    ...(s.spec?.ipFamilyPolicy ? { ipFamilyPolicy: s.spec.ipFamilyPolicy } : {}),
    annotations: s.metadata.annotations ?? {},
    ports: (s.spec?.ports ?? []).map((p) => ({ protocol: p.protocol ?? 'TCP', port: p.port })),
    ips: (s.status?.loadBalancer?.ingress ?? []).map((i) => canonicalIp(i.ip ?? '') ?? i.ip ?? ''),
    resourceVersion: s.metadata.resourceVersion,
  };
}

async function list<T>(client: KubeClient, r: Resource, namespace?: string): Promise<{ items: T[]; rv: string }> {
  for (let i = 0; ; i++) {
    const res = await client.list<T>(r, namespace ? { namespace } : {});
    if (res.ok) return { items: res.value.items, rv: res.value.metadata.resourceVersion ?? '0' };
    if (i >= 20) throw new Error(`listing ${r.plural}: ${res.error.message}`);
    await sleep(500);
  }
}

async function services(client: KubeClient): Promise<{ views: SvcView[]; rv: string }> {
  const views: SvcView[] = [];
  let rv = '0';
  for (const ns of NAMESPACES) {
    const l = await list<RawSvc>(client, Resources.services, ns);
    views.push(...l.items.map(svcView));
    rv = l.rv;
  }
  return { views, rv };
}

function observation(at: number, label: string, views: SvcView[]): Observation {
  const lb = views.filter(isOurs);
  return {
    at,
    label,
    services: new Map(lb.map((s) => [s.uid, { key: `${s.namespace}/${s.name}`, ips: s.ips, consistent: isConsistent(s, lb, CHAOS_POOLS) }])),
  };
}

/** One audit line of a Service or claim write: what decides IPs (holders, keys, ports, requested and held IPs). */
function auditLine(type: string, o: KubeObject): string {
  const md = o.metadata ?? {};
  const base = `${type} ${o.kind} ${md.namespace ? `${md.namespace}/` : ''}${md.name} rv ${md.resourceVersion} uid ${(md.uid ?? '').slice(0, 8)}`;
  if (o.kind === 'IPAddressClaim') {
    const spec = (o as unknown as IPAddressClaim).spec;
    const holders = (spec?.holders ?? []).map((h) => `${h.namespace}/${h.name}@${(h.uid ?? '').slice(0, 8)}[${h.ports.map((p) => `${p.protocol}/${p.port}`).join(',')}]${h.admittedOn ? ` admittedOn ${h.admittedOn}` : ''}`);
    return `${base} key "${spec?.sharingKey ?? ''}" holders ${holders.join(' ') || '-'}`;
  }
  const v = svcView(o as unknown as RawSvc);
  const ann = Object.entries(v.annotations)
    .filter(([k]) => k.startsWith('metallb.') || k.startsWith('berth.'))
    .map(([k, x]) => `${k.replace(/^.*\//, '')}=${x}`);
  return `${base} ${v.type} ips ${v.ips.join(',') || '-'} ports ${v.ports.map((p) => `${p.protocol}/${p.port}`).join(',')} ${ann.join(' ')}`;
}

/**
 * Records every write to Services (churn namespaces) and claims from start() on, with the run's clock: watches from
 * the lists' resourceVersion, resumed from the last seen version when the server ends one (re-listed if that fails;
 * writes during an outage's gap are then missed). `audit` gets one line per write (the run's writes.log).
 */
class WriteRecorder {
  readonly events: WriteEvent[] = [];
  readonly #client: KubeClient;
  readonly #now: () => number;
  readonly #audit: (line: string) => void;
  readonly #handles = new Set<WatchHandle>();
  #stopped = false;

  constructor(client: KubeClient, now: () => number, audit: (line: string) => void = () => undefined) {
    this.#client = client;
    this.#now = now;
    this.#audit = audit;
  }

  async start(): Promise<void> {
    const targets: Array<[Resource, string | undefined]> = [[Resources.ipAddressClaims, undefined], ...NAMESPACES.map((n) => [Resources.services, n] as [Resource, string])];
    for (const [r, ns] of targets) this.#watch(r, ns, (await list<KubeObject>(this.#client, r, ns)).rv);
  }

  #watch(r: Resource, ns: string | undefined, rv: string): void {
    if (this.#stopped) return;
    let last = rv;
    const h = this.#client.watch(r, { resourceVersion: rv, ...(ns ? { namespace: ns } : {}), allowWatchBookmarks: true }, (e) => {
      const o = e.object as KubeObject;
      if (o?.metadata?.resourceVersion) last = o.metadata.resourceVersion;
      if (e.type !== 'ADDED' && e.type !== 'MODIFIED' && e.type !== 'DELETED') return;
      const at = this.#now();
      this.events.push({ at, key: `${r.kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name}`, what: `${e.type} rv ${o.metadata?.resourceVersion}` });
      this.#audit(`${new Date().toISOString()} +${at} ms ${auditLine(e.type, { ...o, kind: r.kind })}`);
    });
    this.#handles.add(h);
    void h.done.then(async (end) => {
      this.#handles.delete(h);
      if (this.#stopped) return;
      await sleep(200);
      // A watch that ended in an error (e.g. 410 Gone) starts again from a fresh list.
      const from = end.kind === 'closed' ? last : await list<KubeObject>(this.#client, r, ns).then((l) => l.rv, () => last);
      if (end.kind !== 'closed') this.#audit(`${new Date().toISOString()} +${this.#now()} ms watch of ${r.plural}${ns ? ` in ${ns}` : ''} ended (${end.error.message}); resumed from rv ${from}`);
      this.#watch(r, ns, from);
    });
  }

  stop(): void {
    this.#stopped = true;
    for (const h of this.#handles) h.abort();
    this.#handles.clear();
  }
}

/** Runs the whole chaos scenario and checks the invariants. Never throws for an invariant; throws if set-up fails. */
export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const log = o.log ?? ((l: string) => void process.stdout.write(`${l}\n`));
  const summary: string[] = [];
  const say = (l: string): void => {
    summary.push(l);
    log(l);
  };
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'berth-chaos-'));
  const killEvery = o.killEvery ?? 5;
  const outages = o.outages ?? Math.max(1, Math.ceil(o.seconds / 60));
  const settleMs = (o.settleSeconds ?? 15) * 1000;
  const quietMs = (o.quietSeconds ?? 4) * 1000;
  const settleMaxMs = (o.settleMaxSeconds ?? 120) * 1000;
  const claimGraceMs = o.claimGraceMs ?? 4000;
  const plan = planKills(o.seed, o.seconds, killEvery, outages);
  say(`chaos: seed ${o.seed}, ${o.seconds} s churn, ${plan.length} kills planned (${plan.map((k) => k.kind).join(', ')}), dir ${dir}`);

  const setupAt = performance.now();
  const cluster = new ChaosCluster({ dir, log: (l) => say(`  ${l}`), claimGraceMs });
  let results: InvariantResult[] = [];
  let churn: Churn | undefined;
  let recorder: WriteRecorder | undefined;
  let settledAfterMs: number | undefined;
  let closeOpLog = (): void => undefined;
  try {
    await cluster.start();
    say(`setup: lab, ${cluster.names('webhook').length} webhooks, ${cluster.names('controller').length} controllers ready in ${((performance.now() - setupAt) / 1000).toFixed(1)} s`);
    const client = cluster.client;
    const t0 = performance.now();
    const now = (): number => Math.round(performance.now() - t0);
    const opLog = createWriteStream(join(dir, 'churn.log'), { flags: 'a' });
    closeOpLog = () => opLog.end();
    churn = new Churn({ client, rng: Rng.stream(o.seed, 'churn'), t0, kubeconfig: cluster.kubeconfig, opLog: (l) => void opLog.write(`${l}\n`) });
    const observations: Observation[] = [];
    const writesLog = createWriteStream(join(dir, 'writes.log'), { flags: 'a' });
    const closeChurnLog = closeOpLog;
    closeOpLog = () => {
      closeChurnLog();
      writesLog.end();
    };
    recorder = new WriteRecorder(client, now, (l) => void writesLog.write(`${l}\n`));
    await recorder.start();
    const churning = churn.run(o.workers ?? 3);

    // A lab that takes longer than planned to come back shifts the rest of the schedule (no burst of late kills).
    let shift = 0;
    for (const [i, k] of plan.entries()) {
      const wait = k.atMs + shift - now();
      if (wait > 0) await sleep(wait);
      const candidates = k.kind === 'lab' ? ['lab'] : cluster.names(k.kind).filter((n) => cluster.isUp(n));
      if (candidates.length === 0) continue;
      const name = candidates[k.pick % candidates.length]!;
      const label = `kill ${i + 1} (${name}, ${new Date().toISOString()})`;
      const before = await services(client).catch(() => undefined);
      if (before) observations.push(observation(now(), `before ${label}`, before.views));
      await cluster.kill(name);
      say(`+${(now() / 1000).toFixed(1)} s: SIGKILL ${name}; ${k.kind === 'lab' ? 'API server down' : 'restart'} in ${(k.downMs / 1000).toFixed(1)} s`);
      const restart = async (): Promise<void> => {
        await sleep(k.downMs);
        await cluster.restart(name);
        say(`+${(now() / 1000).toFixed(1)} s: ${name} restarted`);
      };
      // An outage blocks the schedule (one at a time); a replica comes back while the schedule goes on.
      if (k.kind === 'lab') {
        const killedAt = now();
        if (k.during) {
          const names = cluster.names(k.during.kind);
          const victim = names[k.during.pick % names.length]!;
          await sleep(Math.round(k.downMs * 0.3));
          await cluster.kill(victim);
          await sleep(Math.round(k.downMs * 0.2));
          await cluster.restart(victim);
          say(`+${(now() / 1000).toFixed(1)} s: SIGKILL ${victim} and started it again while the API server is down`);
          await sleep(k.downMs - Math.round(k.downMs * 0.3) - Math.round(k.downMs * 0.2));
          await cluster.restart(name);
          say(`+${(now() / 1000).toFixed(1)} s: ${name} restarted`);
        } else await restart();
        shift += Math.max(0, now() - killedAt - k.downMs);
      } else void restart();
    }
    const left = o.seconds * 1000 - now();
    if (left > 0) await sleep(left);
    churn.stop();
    await churning;
    const stoppedAt = now();
    say(`+${(now() / 1000).toFixed(1)} s: churn stopped after ${churn.stats.ops} operations`);
    for (const [k, n] of [...churn.stats.outcomes].sort((x, y) => y[1] - x[1])) {
      const sample = churn.stats.samples.get(k);
      say(`  ${k}: ${n}${sample && !k.endsWith(' ok') ? `  e.g. ${sample.replace(/\s+/g, ' ').slice(0, 160)}` : ''}`);
    }

    for (const n of [...cluster.names('webhook'), ...cluster.names('controller')]) if (!cluster.isUp(n)) await cluster.restart(n);
    const readyFrom = now();
    const missing = await cluster.waitReady(60_000);
    const readyAt = now();
    if (missing) say(`  warning: 60 s after churn: ${missing}`);
    else say(`+${(now() / 1000).toFixed(1)} s: every webhook ready and a controller leading (${((now() - readyFrom) / 1000).toFixed(1)} s)`);
    await sleep(settleMs);
    say(`+${(now() / 1000).toFixed(1)} s: waited ${settleMs / 1000} s past readiness (claim grace ${claimGraceMs / 1000} s); waiting for ${quietMs / 1000} s without a write (at most ${settleMaxMs / 1000} s)`);
    let verdict = settleState(recorder.events, stoppedAt, now(), quietMs);
    while (!verdict.settled && now() - readyAt < settleMaxMs) {
      await sleep(250);
      verdict = settleState(recorder.events, stoppedAt, now(), quietMs);
    }
    const checkedAt = now();
    const changes = changesBetween(recorder.events, checkedAt - quietMs, checkedAt + 1);
    recorder.stop();
    settledAfterMs = verdict.settled ? verdict.settledAfterMs : undefined;
    say(
      verdict.settled
        ? `+${(checkedAt / 1000).toFixed(1)} s: settled: last write ${(verdict.settledAfterMs / 1000).toFixed(1)} s after churn stopped (${recorder.events.filter((e) => e.at > stoppedAt).length} writes after churn)`
        : `+${(checkedAt / 1000).toFixed(1)} s: NOT settled ${settleMaxMs / 1000} s after readiness (${recorder.events.filter((e) => e.at > stoppedAt).length} writes after churn)`,
    );

    const final = await services(client);
    const claims = (await list<IPAddressClaim>(client, Resources.ipAddressClaims)).items;
    const events: EventView[] = [];
    for (const ns of NAMESPACES) {
      for (const e of (await list<RawEvent>(client, Resources.events, ns)).items) {
        events.push({
          ...(e.involvedObject?.uid ? { involvedUid: e.involvedObject.uid } : {}),
          involvedKey: `${e.involvedObject?.namespace ?? ns}/${e.involvedObject?.name ?? ''}`,
          type: e.type ?? '',
          reason: e.reason ?? '',
          message: e.message ?? '',
        });
      }
    }
    observations.push(observation(now(), 'the end', final.views));
    const claimViews: ClaimView[] = claims.map((c) => ({
      name: c.metadata.name,
      ip: c.spec?.ip ?? '',
      pool: c.spec?.pool ?? '',
      holders: (c.spec?.holders ?? []).map((h) => ({ namespace: h.namespace, name: h.name, ...(h.uid ? { uid: h.uid } : {}) })),
      resourceVersion: c.metadata.resourceVersion ?? '',
    }));
    const lb = final.views.filter((s) => s.type === 'LoadBalancer');
    say(
      `end: ${final.views.length} Services (${lb.length} LoadBalancer, ${lb.filter((s) => s.ips.length > 0).length} with IPs), ` +
        `${claims.length} claims, ${events.filter((e) => e.type === 'Warning').length} Warning events, ${cluster.exits.length} process exits`,
    );
    results = [
      checkNoDoubleIp(final.views),
      checkIpsOrReason(final.views, events),
      checkClaimsMatch(final.views, claimViews),
      checkNoMoves(observations, churn.touches, 3000),
      checkNoSelfDeaths(cluster.exits),
      checkAllowedPools(final.views, CHAOS_POOLS),
      checkSettled(changes, quietMs),
    ];
    const kills = new Map<string, number>();
    for (const l of summary) {
      const m = /SIGKILL (\w+?)(?:-\d+)?[;\s]/.exec(l);
      if (m) kills.set(m[1]!, (kills.get(m[1]!) ?? 0) + 1);
    }
    const outcome = (k: string): number => churn!.stats.outcomes.get(k) ?? 0;
    say(
      `numbers: seed ${o.seed}; kills ${[...kills].map(([k, n]) => `${k} ${n}`).join(', ')} (lab kills = API-server outages); ` +
        `Services churned: ${outcome('create ok') + outcome('create(kubectl) ok')} created, ` +
        `${[...churn.stats.outcomes].filter(([k]) => /^update\S* ok$/.test(k)).reduce((n, [, v]) => n + v, 0)} updated, ` +
        `${outcome('delete ok') + outcome('delete(kubectl) ok')} deleted, ` +
        `${churn.stats.ops} operations; ${claims.length} claims at the end; ${cluster.exits.length} process exits; ` +
        `time to settle ${settledAfterMs === undefined ? 'not settled' : `${(settledAfterMs / 1000).toFixed(1)} s after churn stopped`} ` +
        `(cluster ready again ${((readyAt - stoppedAt) / 1000).toFixed(1)} s after; ${recorder.events.filter((e) => e.at > stoppedAt).length} Service/claim writes after churn)`,
    );
  } finally {
    recorder?.stop();
    churn?.stop();
    closeOpLog();
    await cluster.stop();
  }
  for (const r of results) {
    say(`${r.ok ? 'PASS' : 'FAIL'} ${r.id}) ${r.title}${r.ok ? '' : ` (${r.offenders.length})`}`);
    for (const line of r.offenders.slice(0, 15)) say(`    ${line}`);
    if (r.offenders.length > 15) say(`    … and ${r.offenders.length - 15} more`);
  }
  const ok = results.length > 0 && results.every((r) => r.ok);
  const kept = !ok || o.keep === true || o.dir !== undefined;
  if (!kept) rmSync(dir, { recursive: true, force: true });
  say(`chaos: ${ok ? 'PASS' : `FAIL (${results.filter((r) => !r.ok).map((r) => r.id).join(', ')})`}${kept ? `; logs and lab state in ${dir}` : ''}`);
  return { ok, results, summary, dir, kept };
}

interface RawEvent {
  involvedObject?: { namespace?: string; name?: string; uid?: string };
  type?: string;
  reason?: string;
  message?: string;
}
