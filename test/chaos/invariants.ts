// The chaos suite's invariants (issue 12), as pure functions over what was read from the API server after the run.
// Each returns PASS/FAIL with the offending objects named, so a failure points at a real defect:
//   a) no IP in two Services unless they share a sharing key with disjoint ports (MetalLB's sharing rule,
//      allocator/sharing.ts; spec metallb-compat.md "IP sharing")
//   b) every LoadBalancer Service has IPs in status, or a clear reason (a Warning Event about it)
//   c) claims equal the IPs in use, and their holders are exactly those Services (by uid)
//   d) no settled Service changed IP across a kill (IPs seen before each kill vs every later observation)
//   e) no process died on its own (only the ones the suite killed)
//   f) no IP outside the Service's allowed pools (address-pool annotation, requested IPs, autoAssign; family)
//   g) API writes settle once churn stops (Services and claims stop changing)
import { familyOf, parseCidr, parseIp, canonicalIp, type IpRange } from '../../src/shared/ip.ts';

/** A Service as read from the API server (only what the checks need). */
export interface SvcView {
  namespace: string;
  name: string;
  uid: string;
  type: string;
  loadBalancerClass?: string;
  ipFamilies: string[];
  ipFamilyPolicy?: string;
  annotations: Record<string, string>;
  ports: Array<{ protocol: string; port: number }>;
  /** status.loadBalancer.ingress[].ip, canonical. */
  ips: string[];
  resourceVersion: string;
}

export interface ClaimView {
  name: string;
  ip: string;
  pool: string;
  holders: Array<{ namespace: string; name: string; uid?: string }>;
  resourceVersion: string;
}

export interface PoolView {
  name: string;
  /** CIDRs or `a-b` ranges, as in IPAddressPool spec.addresses. */
  addresses: string[];
  autoAssign: boolean;
}

export interface EventView {
  involvedUid?: string;
  involvedKey: string;
  type: string;
  reason: string;
  message: string;
}

/**
 * The Services seen at one moment (before a kill, or at the end), with when (ms since the run's start). `consistent`
 * is false when the Service's status does not answer its own request at that moment (IPs outside its pool or not the
 * requested ones, a family missing, an IP shared against the rules, or other IPs than the webhook decided in
 * berth.io/assigned-ips): the controller has not caught up with a write (e.g. one that went through while every
 * webhook was down, or one whose status lags under load), so the Service is not settled and may rightly move.
 */
export interface Observation {
  at: number;
  label: string;
  services: Map<string, { key: string; ips: string[]; consistent?: boolean }>;
}

/** Does `s`'s status answer its request (invariants a, b's families and f, for this Service alone)? */
export function isConsistent(s: SvcView, all: readonly SvcView[], pools: readonly PoolView[]): boolean {
  if (missingFamilies(s).length > 0) return false;
  // the webhook decided other IPs at admission than the status shows: the controller has not written them yet
  const assigned = (s.annotations[ASSIGNED_KEY] ?? '').split(',').filter((x) => x !== '').map((x) => canonicalIp(x) ?? x);
  if (assigned.length > 0 && [...assigned].sort().join(',') !== [...s.ips].sort().join(',')) return false;
  if (!checkAllowedPools([s], pools).ok) return false;
  const sharers = all.filter((x) => x.uid !== s.uid && x.ips.some((ip) => s.ips.includes(ip)));
  return checkNoDoubleIp([s, ...sharers]).ok;
}

export interface ProcessExit {
  name: string;
  pid: number;
  code: number | null;
  killedBySuite: boolean;
  tail: string;
}

export interface InvariantResult {
  id: string;
  title: string;
  ok: boolean;
  offenders: string[];
}

export const TITLES = {
  a: 'no IP in two Services unless they share a sharing key with disjoint ports',
  b: 'every LoadBalancer Service has IPs or a clear reason',
  c: 'claims equal the IPs in use and their holders match the Services (by uid)',
  d: 'no settled Service changed IP across a kill',
  e: 'no process died on its own',
  f: 'no IP outside the Service allowed pools',
  g: 'API writes settle once churn stops',
} as const;

const SHARE_KEYS = ['metallb.io/allow-shared-ip', 'metallb.universe.tf/allow-shared-ip'];
const POOL_KEYS = ['metallb.io/address-pool', 'metallb.universe.tf/address-pool'];
const LBIPS_KEYS = ['metallb.io/loadBalancerIPs', 'metallb.universe.tf/loadBalancerIPs'];
const ASSIGNED_KEY = 'berth.io/assigned-ips';

function annotation(s: SvcView, keys: string[]): string | undefined {
  for (const k of keys) if (Object.prototype.hasOwnProperty.call(s.annotations, k)) return s.annotations[k];
  return undefined;
}

/** A LoadBalancer Service berth handles (no loadBalancerClass: berth runs without --lb-class here). */
export function isOurs(s: SvcView): boolean {
  return s.type === 'LoadBalancer' && !s.loadBalancerClass;
}

const key = (s: { namespace: string; name: string }): string => `${s.namespace}/${s.name}`;
const ports = (s: SvcView): string => s.ports.map((p) => `${p.protocol}/${p.port}`).join(',') || 'no ports';

function result(id: keyof typeof TITLES, offenders: string[]): InvariantResult {
  return { id, title: TITLES[id], ok: offenders.length === 0, offenders };
}

/** a) Two Services on one IP must both carry the same non-empty sharing key and use disjoint protocol/port pairs. */
export function checkNoDoubleIp(services: readonly SvcView[]): InvariantResult {
  const byIp = new Map<string, SvcView[]>();
  for (const s of services.filter(isOurs)) for (const ip of s.ips) byIp.set(ip, [...(byIp.get(ip) ?? []), s]);
  const out: string[] = [];
  for (const [ip, svcs] of byIp) {
    for (let i = 0; i < svcs.length; i++) {
      for (let j = i + 1; j < svcs.length; j++) {
        const x = svcs[i]!;
        const y = svcs[j]!;
        const kx = annotation(x, SHARE_KEYS) ?? '';
        const ky = annotation(y, SHARE_KEYS) ?? '';
        const px = new Set(x.ports.map((p) => `${p.protocol}/${p.port}`));
        const clash = y.ports.map((p) => `${p.protocol}/${p.port}`).filter((p) => px.has(p));
        if (kx === '' || kx !== ky || clash.length > 0) {
          const why = kx === '' || ky === '' ? 'not both sharing' : kx !== ky ? 'different sharing keys' : `ports ${clash.join(',')} in both`;
          out.push(
            `IP ${ip} in ${key(x)} (uid ${x.uid}, key "${kx}", ${ports(x)}) and ${key(y)} (uid ${y.uid}, key "${ky}", ${ports(y)}): ${why}`,
          );
        }
      }
    }
  }
  return result('a', out);
}

/** The IP families a Service must get: RequireDualStack needs both, else at least one. */
function missingFamilies(s: SvcView): string[] {
  const have = new Set(s.ips.map((ip) => familyOf(ip)));
  if (s.ipFamilyPolicy === 'RequireDualStack') return ['IPv4', 'IPv6'].filter((f) => !have.has(f as 'IPv4'));
  return have.size === 0 ? [s.ipFamilies[0] ?? 'IPv4'] : [];
}

/** b) A LoadBalancer Service without (all its required) IPs has a Warning Event about it (matched by uid). */
export function checkIpsOrReason(services: readonly SvcView[], events: readonly EventView[]): InvariantResult {
  const warned = new Map<string, EventView>();
  for (const e of events) if (e.type === 'Warning' && e.involvedUid) warned.set(e.involvedUid, e);
  const out: string[] = [];
  for (const s of services.filter(isOurs)) {
    const missing = missingFamilies(s);
    if (missing.length === 0 || warned.has(s.uid)) continue;
    const evs = events.filter((e) => e.involvedKey === key(s));
    const hint = evs.length ? `; events of the name: ${evs.map((e) => `${e.type} ${e.reason}${e.involvedUid ? ` (uid ${e.involvedUid})` : ''}`).join(', ')}` : '';
    out.push(
      `${key(s)} (uid ${s.uid}, ${s.ipFamilyPolicy ?? 'SingleStack'} ${s.ipFamilies.join(',')}, annotations ${JSON.stringify(relevantAnnotations(s))}) ` +
        `has ${s.ips.length ? s.ips.join(',') : 'no IP'}, no ${missing.join('+')} IP and no Warning event${hint}`,
    );
  }
  return result('b', out);
}

function relevantAnnotations(s: SvcView): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.annotations)) if (k.startsWith('metallb.') || k.startsWith('berth.io/')) out[k] = v;
  return out;
}

/** c) One claim per IP in use; each claim's holders are exactly the Services showing its IP, uid included. */
export function checkClaimsMatch(services: readonly SvcView[], claims: readonly ClaimView[]): InvariantResult {
  const out: string[] = [];
  const users = new Map<string, SvcView[]>();
  for (const s of services) {
    if (!isOurs(s)) {
      if (s.ips.length > 0) out.push(`${key(s)} (uid ${s.uid}) is ${s.type} but still shows ${s.ips.join(',')} in status`);
      continue;
    }
    for (const ip of s.ips) users.set(ip, [...(users.get(ip) ?? []), s]);
  }
  const claimed = new Map<string, ClaimView>();
  for (const c of claims) {
    const ip = canonicalIp(c.ip) ?? c.ip;
    claimed.set(ip, c);
    const want = (users.get(ip) ?? []).map((s) => `${key(s)}@${s.uid}`).sort();
    const have = c.holders.map((h) => `${key(h)}@${h.uid ?? '(no uid)'}`).sort();
    if (want.length === 0) {
      out.push(`claim ${c.name} (${ip}, pool ${c.pool}) held by [${have.join(', ')}] but no Service shows ${ip}`);
    } else if (want.join(' ') !== have.join(' ')) {
      out.push(`claim ${c.name} (${ip}) holders [${have.join(', ')}] but Services showing it are [${want.join(', ')}]`);
    }
  }
  for (const [ip, svcs] of users) {
    if (!claimed.has(ip)) out.push(`${ip} shown by ${svcs.map((s) => `${key(s)}@${s.uid}`).join(', ')} has no claim`);
  }
  return result('c', out);
}

/**
 * d) For each observation taken before a kill, every Service (by uid) that had IPs answering its request and that
 * churn had not written since `settleMs` before it must still show each of those IPs in every later observation
 * where churn still had not written it (an IP gone is a move or a loss; a family added later, as PreferDualStack's
 * second IP can be, is not).
 * `touches` gives the times (ms since start) churn wrote each `namespace/name` (or may have: unknown outcomes count).
 */
export function checkNoMoves(observations: readonly Observation[], touches: ReadonlyMap<string, readonly number[]>, settleMs: number): InvariantResult {
  const out: string[] = [];
  const reported = new Set<string>();
  const sorted = [...observations].sort((x, y) => x.at - y.at);
  for (let i = 0; i < sorted.length; i++) {
    const before = sorted[i]!;
    for (const [uid, s] of before.services) {
      if (s.ips.length === 0 || s.consistent === false || reported.has(uid)) continue;
      const t = touches.get(s.key) ?? [];
      if (t.some((w) => w > before.at - settleMs && w <= before.at)) continue; // not settled yet
      for (let j = i + 1; j < sorted.length; j++) {
        const later = sorted[j]!;
        if (t.some((w) => w > before.at && w <= later.at)) break; // written since: no claim on its IPs any more
        const now = later.services.get(uid);
        if (!now) break; // deleted (by churn; a missing object is c's or b's business)
        // An IP gone is a move (or a loss); an IP added (PreferDualStack's second family arriving later) is not.
        if (s.ips.some((ip) => !now.ips.includes(ip))) {
          reported.add(uid);
          out.push(`${s.key} (uid ${uid}) had ${s.ips.join(',')} at ${before.label} (+${before.at} ms), ${now.ips.join(',') || 'no IP'} at ${later.label} (+${later.at} ms), not written by churn in between`);
          break;
        }
      }
    }
  }
  return result('d', out);
}

/** e) Every exit of a process the suite started was a kill of the suite's. */
export function checkNoSelfDeaths(exits: readonly ProcessExit[]): InvariantResult {
  return result(
    'e',
    exits.filter((x) => !x.killedBySuite).map((x) => `${x.name} (pid ${x.pid}) exited with ${x.code} on its own; last output:\n${indent(x.tail)}`),
  );
}

function indent(s: string): string {
  return s
    .trimEnd()
    .split('\n')
    .slice(-12)
    .map((l) => `      ${l}`)
    .join('\n');
}

/** A pool's address entries as ranges (CIDR or `a-b`); entries that parse as neither are skipped. */
export function poolRanges(p: PoolView): IpRange[] {
  const out: IpRange[] = [];
  for (const a of p.addresses) {
    const c = parseCidr(a);
    if (c) {
      out.push(c);
      continue;
    }
    const [lo, hi] = a.split('-').map((x) => parseIp(x.trim()));
    if (lo && hi && lo.family === hi.family) out.push({ family: lo.family, first: lo.value, last: hi.value });
  }
  return out;
}

function inPool(ip: string, p: PoolView): boolean {
  const v = parseIp(ip);
  return !!v && poolRanges(p).some((r) => r.family === v.family && r.first <= v.value && v.value <= r.last);
}

/**
 * f) Each IP lies in a pool the Service may use (the address-pool annotation's pool; else, with requested IPs, any
 * pool; else an autoAssign pool), is one of the requested IPs when there are some, and is of one of the Service's
 * ipFamilies.
 */
export function checkAllowedPools(services: readonly SvcView[], pools: readonly PoolView[]): InvariantResult {
  const out: string[] = [];
  for (const s of services.filter(isOurs)) {
    const want = annotation(s, POOL_KEYS);
    const reqText = annotation(s, LBIPS_KEYS);
    const requested = reqText ? reqText.split(',').map((x) => canonicalIp(x.trim()) ?? x.trim()) : [];
    const allowed = want !== undefined ? pools.filter((p) => p.name === want) : requested.length ? pools : pools.filter((p) => p.autoAssign);
    for (const ip of s.ips) {
      const problems: string[] = [];
      if (!allowed.some((p) => inPool(ip, p))) {
        const actual = pools.find((p) => inPool(ip, p));
        problems.push(`not in ${want !== undefined ? `pool "${want}"` : requested.length ? 'any pool' : 'an autoAssign pool'} (${actual ? `it is in "${actual.name}"` : 'in no pool'})`);
      }
      if (requested.length && !requested.includes(ip)) problems.push(`not among the requested ${requested.join(',')}`);
      const fam = familyOf(ip);
      if (fam && s.ipFamilies.length && !s.ipFamilies.includes(fam)) problems.push(`${fam} but ipFamilies is ${s.ipFamilies.join(',')}`);
      if (problems.length) out.push(`${key(s)} (uid ${s.uid}) has ${ip}: ${problems.join('; ')}`);
    }
  }
  return result('f', out);
}

/** g) `changes` counts the writes seen per object (`kind namespace/name`) during the quiet window after churn. */
export function checkSettled(changes: ReadonlyMap<string, { count: number; last: string }>, windowMs: number): InvariantResult {
  return result(
    'g',
    [...changes].filter(([, c]) => c.count > 0).map(([obj, c]) => `${obj} changed ${c.count} times in ${windowMs} ms after churn stopped (last: ${c.last})`),
  );
}

/** One write seen by the run's watches after churn stopped: when (ms of the run), the object, what happened. */
export interface WriteEvent {
  at: number;
  /** `kind namespace/name` (claims: `IPAddressClaim name`). */
  key: string;
  /** e.g. `DELETED rv 5127`. */
  what: string;
}

/** Writes per object with `from <= at < to`: how many and the last one (input of checkSettled). */
export function changesBetween(events: readonly WriteEvent[], from: number, to: number): Map<string, { count: number; last: string }> {
  const out = new Map<string, { count: number; last: string }>();
  for (const e of events) {
    if (e.at < from || e.at >= to) continue;
    const c = out.get(e.key) ?? { count: 0, last: '' };
    c.count++;
    c.last = e.what;
    out.set(e.key, c);
  }
  return out;
}

/**
 * The settle verdict at time `now` (ms of the run): settled when no write happened in the last `quietMs`. `since`
 * is when churn stopped; `settledAfterMs` is how long after it the last write came (0 when there was none).
 */
export function settleState(events: readonly WriteEvent[], since: number, now: number, quietMs: number): { settled: boolean; settledAfterMs: number } {
  const last = events.reduce((m, e) => (e.at <= now && e.at > m ? e.at : m), since);
  return { settled: now - last >= quietMs, settledAfterMs: last - since };
}
