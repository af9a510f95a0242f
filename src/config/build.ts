// CR lists → Config, or the problems that keep it from loading (MetalLB internal/config/config.go `For`).
// One validation path: the CLI (`berth validate`, `berth plan`), the webhook and the controller all call this.
import { BFD_PROFILE } from '../api/bfd-profile.ts';
import { BGP_ADVERTISEMENT } from '../api/bgp-advertisement.ts';
import { BGP_PEER } from '../api/bgp-peer.ts';
import { BGP_PEER_V1BETA1 } from '../api/bgp-peer-v1beta1.ts';
import { COMMUNITY } from '../api/community.ts';
import { METALLB_GROUP } from '../api/group.ts';
import { IP_ADDRESS_POOL } from '../api/ip-address-pool.ts';
import { L2_ADVERTISEMENT } from '../api/l2-advertisement.ts';
import { objectRef, splitApiVersion, type KubeObject } from '../api/object.ts';
import type { Problem } from '../shared/codes.ts';
import {
  checkBgpAdvertisementSet,
  parseBgpAdvertisement,
  type ParsedBgpAdvertisement,
} from './bgp-advertisements.ts';
import { parseBfdProfile } from './bfd-profiles.ts';
import { parseCommunityAliases } from './communities.ts';
import { parseL2Advertisement } from './l2-advertisements.ts';
import { checkDuplicatePeers, parsePeer } from './peers.ts';
import { checkOverlaps, parsePool, type ParsedPool } from './pools.ts';
import { dropNulls, formatPath, reporter, type PathSegment, type Reporter } from './problem.ts';
import { schemaProblems, type SchemaProblem } from './schema.ts';
import type {
  BFDProfileConfig,
  BuildOptions,
  BuildResult,
  ClusterResources,
  L2AdvertisementConfig,
  LabelledName,
  PeerConfig,
} from './types.ts';

/** Problems whose semantic twin (MetalLB's message at the same path) replaces the schema's generic wording. */
const SHADOWED_KEYWORDS = new Set(['required', 'minimum', 'maximum']);

interface Entry {
  obj: KubeObject;
  r: Reporter;
}

export function buildConfig(input: ClusterResources, opts: BuildOptions): BuildResult {
  const semantic: Problem[] = [];
  const schema: SchemaProblem[] = [];
  const warnings: string[] = [];
  const nodes = input.nodes;
  /** Per object, the fields removed for a type error (their semantic problems are not reported). */
  const removed = new Map<string, string[]>();

  /** Namespace check, schema check, name check; returns the objects fit for semantic parsing, in name order. */
  const admit = (objs: readonly KubeObject[], allNames?: Set<string>): Entry[] => {
    const out: Entry[] = [];
    for (const obj of sortByName(objs.map(dropNulls))) {
      const r = reporter(objectRef(obj), semantic);
      const ns = obj.metadata?.namespace;
      if (ns !== undefined && ns !== '' && ns !== opts.namespace) {
        r.add(
          'LB_WRONG_NAMESPACE',
          'metadata.namespace',
          `resource must be created in ${opts.namespace} namespace`,
        );
        continue;
      }
      allNames?.add(obj.metadata?.name ?? '');
      const sp = schemaProblems(obj);
      schema.push(...sp);
      if (sp.some((p) => p.keyword === 'kind')) continue;
      // A value of the wrong type would mislead the parser: it is removed (a list with a bad item as a whole) so the
      // semantic checks still run on the rest, and their problems at or under a removed field are dropped (the
      // schema's message says it all there).
      const typed = sp.filter((p) => p.keyword === 'type').map((p) => removeField(obj, p.path));
      if (typed.includes(undefined)) continue;
      if (typed.length > 0) removed.set(r.object, [...(removed.get(r.object) ?? []), ...(typed as string[])]);
      if ((obj.metadata?.name ?? '') === '' && obj.kind !== IP_ADDRESS_POOL.kind) {
        r.add('LB_SCHEMA', 'metadata.name', 'metadata.name: Required value');
        continue;
      }
      out.push({ obj, r });
    }
    return out;
  };

  // --- pools (MetalLB `poolsFor`, in name order as the API lists them) ---
  const allPoolNames = new Set<string>();
  const pools: ParsedPool[] = [];
  const poolNames = new Set<string>();
  for (const { obj, r } of admit(input.pools, allPoolNames)) {
    const name = obj.metadata?.name ?? '';
    const duplicate = name !== '' && poolNames.has(name);
    // A second definition still takes part in the overlap check (MetalLB checks CIDRs before names), so two
    // overlays validated together report their overlap as well.
    if (duplicate)
      r.add('LB_DUPLICATE_POOL', 'metadata.name', `duplicate definition of pool ${JSON.stringify(name)}`);
    poolNames.add(name);
    const p = parsePool(obj, input.namespaces, r);
    if (p) pools.push(duplicate ? { ...p, valid: false } : p);
  }
  const overlapping = checkOverlaps(pools);
  const goodPools = pools.filter((p) => p.valid && !overlapping.has(p.name));

  // --- communities, BFD profiles ---
  const aliases = parseCommunityAliases(admit(input.communities));
  const bfdNames = new Set<string>();
  const bfdSeen = new Set<string>();
  const bfdProfiles: BFDProfileConfig[] = [];
  for (const { obj, r } of admit(input.bfdProfiles, bfdNames)) {
    const name = obj.metadata?.name ?? '';
    if (bfdSeen.has(name)) {
      r.add('LB_BFD_DUPLICATE', 'metadata.name', `found duplicate bfd profile name ${name}`);
      continue;
    }
    bfdSeen.add(name);
    const b = parseBfdProfile(obj, r);
    if (b) bfdProfiles.push(b);
  }

  // --- peers ---
  const peers: PeerConfig[] = [];
  const peerReporters = new Map<string, Reporter>();
  const peerNames = new Set<string>();
  for (const { obj, r } of admit(input.bgpPeers)) {
    const name = obj.metadata?.name ?? '';
    if (peerNames.has(name)) {
      r.add('LB_PEER_DUPLICATE', 'metadata.name', `peer ${name} already exists`);
      continue;
    }
    peerNames.add(name);
    const p = parsePeer(obj, opts.namespace, nodes, r, warnings);
    if (!p) continue;
    peers.push(p);
    peerReporters.set(name, r);
    if (p.bfdProfile && !opts.deferTransient && !bfdNames.has(p.bfdProfile)) {
      r.add(
        'LB_BFD_MISSING',
        'spec.bfdProfile',
        `peer ${name} referencing non existing bfd profile ${p.bfdProfile}`,
      );
    }
  }

  checkDuplicatePeers(peers, peerReporters, nodes);

  // --- advertisements ---
  const l2: L2AdvertisementConfig[] = [];
  const l2Names = new Set<string>();
  for (const { obj, r } of admit(input.l2Advertisements)) {
    if (duplicateName(l2Names, obj, r)) continue;
    const a = parseL2Advertisement(obj, goodPools, allPoolNames, nodes, r, warnings);
    if (a) l2.push(a);
  }
  const bgpAds: ParsedBgpAdvertisement[] = [];
  const bgpNames = new Set<string>();
  const ctx = {
    pools: goodPools,
    allPoolNames,
    nodes,
    aliases,
    deferTransient: opts.deferTransient ?? false,
    warnings,
  };
  for (const { obj, r } of admit(input.bgpAdvertisements)) {
    if (duplicateName(bgpNames, obj, r)) continue;
    const a = parseBgpAdvertisement(obj, ctx, r);
    if (a) bgpAds.push(a);
  }
  checkBgpAdvertisementSet(bgpAds, nodes !== undefined);
  checkBfdEchoIpv6(bgpAds, peers, bfdProfiles, peerReporters);

  const underRemoved = (p: Problem): boolean =>
    (removed.get(p.object ?? '') ?? []).some(
      (f) => p.path === f || p.path.startsWith(`${f}.`) || p.path.startsWith(`${f}[`),
    );
  const kept = semantic.filter((p) => !underRemoved(p));
  const problems = [...kept, ...schema.filter((s) => !shadowed(s, kept)).map(stripKeyword)];
  if (problems.length > 0) return { problems, warnings };
  return {
    config: {
      pools: goodPools.map((p) => p.spec),
      l2Advertisements: l2,
      bgpAdvertisements: bgpAds.map((a) => a.config),
      peers,
      communities: Object.fromEntries([...aliases].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      bfdProfiles,
    },
    problems,
    warnings,
  };
}

/**
 * BFD echo mode cannot run for a peer that IPv6 prefixes are announced to (MetalLB `validateConfig`): for each
 * advertisement of a pool with an IPv6 CIDR, every peer it announces to must not use an echo-mode profile.
 */
function checkBfdEchoIpv6(
  ads: readonly ParsedBgpAdvertisement[],
  peers: readonly PeerConfig[],
  profiles: readonly BFDProfileConfig[],
  reporters: ReadonlyMap<string, Reporter>,
): void {
  const echo = new Set(profiles.filter((p) => p.echoMode).map((p) => p.name));
  const reported = new Set<string>();
  for (const ad of ads) {
    for (const pool of ad.selected) {
      if (!pool.hasV6) continue;
      for (const peer of peers) {
        if (ad.config.peers.length > 0 && !ad.config.peers.includes(peer.name)) continue;
        if (!peer.bfdProfile || !echo.has(peer.bfdProfile) || reported.has(peer.name)) continue;
        reported.add(peer.name);
        reporters
          .get(peer.name)
          ?.add(
            'LB_BFD_ECHO_IPV6',
            'spec.bfdProfile',
            `pool ${pool.name} has bgpadvertisement ${ad.config.name} which references peer ${peer.name} which has bfd echo enabled, which is not possible`,
          );
      }
    }
  }
}

function duplicateName(seen: Set<string>, obj: KubeObject, r: Reporter): boolean {
  const name = obj.metadata?.name ?? '';
  if (seen.has(name)) {
    r.add(
      'LB_DUPLICATE_ENTRY',
      'metadata.name',
      `duplicate definition of ${obj.kind} ${JSON.stringify(name)}`,
    );
    return true;
  }
  seen.add(name);
  return false;
}

/**
 * Deletes the field at `path` (a Problem path such as `spec.addresses[1]`) from `obj`, in place; a path through a list
 * deletes the whole list (removing one item would shift the others' indexes in later messages). Returns the deleted
 * field's path, or undefined when the path is the object itself or cannot be followed.
 */
function removeField(obj: KubeObject, path: string): string | undefined {
  const segs: PathSegment[] = [];
  for (const m of path.matchAll(/(?:^|\.)([A-Za-z_$][A-Za-z0-9_$-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g)) {
    segs.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : (JSON.parse(m[3]!) as string)));
  }
  const firstIndex = segs.findIndex((s) => typeof s === 'number');
  const keep = firstIndex === -1 ? segs : segs.slice(0, firstIndex);
  if (keep.length === 0) return undefined;
  let cur: unknown = obj;
  for (const s of keep.slice(0, -1)) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[s];
  }
  if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
  delete (cur as Record<string, unknown>)[keep[keep.length - 1] as string];
  return formatPath(keep);
}

function shadowed(s: SchemaProblem, semantic: readonly Problem[]): boolean {
  return SHADOWED_KEYWORDS.has(s.keyword) && semantic.some((p) => p.object === s.object && p.path === s.path);
}

function stripKeyword(s: SchemaProblem): Problem {
  return {
    code: s.code,
    path: s.path,
    message: s.message,
    ...(s.object !== undefined ? { object: s.object } : {}),
  };
}

function sortByName(objs: readonly KubeObject[]): KubeObject[] {
  return [...objs].sort((a, b) => {
    const x = a.metadata?.name ?? '';
    const y = b.metadata?.name ?? '';
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/** Options of validateObjects: BuildOptions plus namespaces/nodes known besides the Namespace/Node objects listed. */
export interface ValidateOptions extends BuildOptions {
  namespaces?: LabelledName[];
  nodes?: LabelledName[];
}

/**
 * Validates a mixed list of objects (any kinds, e.g. every document of a Git overlay): metallb.io configuration
 * kinds go to buildConfig; v1 Namespace and Node objects feed selector resolution; every other kind is ignored
 * (including metallb.io status kinds). A metallb.io kind or version berth does not serve is an LB_SCHEMA problem.
 */
export function validateObjects(objs: readonly KubeObject[], opts: ValidateOptions): BuildResult {
  const input: ClusterResources = {
    pools: [],
    l2Advertisements: [],
    bgpAdvertisements: [],
    bgpPeers: [],
    communities: [],
    bfdProfiles: [],
    namespaces: [...(opts.namespaces ?? [])],
    ...(opts.nodes ? { nodes: [...opts.nodes] } : {}),
  };
  const extra: Problem[] = [];
  for (const obj of objs) {
    if (typeof obj !== 'object' || obj === null) continue;
    const api = typeof obj.apiVersion === 'string' ? obj.apiVersion : '';
    const { group } = splitApiVersion(api);
    const name = obj.metadata?.name ?? '';
    if (api === 'v1' && obj.kind === 'Namespace' && name !== '') {
      if (!input.namespaces.some((n) => n.name === name))
        input.namespaces.push({ name, labels: { ...(obj.metadata?.labels ?? {}) } });
      continue;
    }
    if (api === 'v1' && obj.kind === 'Node' && name !== '') {
      input.nodes ??= [];
      if (!input.nodes.some((n) => n.name === name))
        input.nodes.push({ name, labels: { ...(obj.metadata?.labels ?? {}) } });
      continue;
    }
    if (group !== METALLB_GROUP) continue;
    const list = listFor(input, api, obj.kind);
    if (list) list.push(obj);
    else if (!STATUS_KINDS.has(obj.kind)) {
      const p = schemaProblems(obj)[0];
      if (p) extra.push(stripKeyword(p));
    }
  }
  const built = buildConfig(input, opts);
  if (extra.length === 0) return built;
  return { problems: [...built.problems, ...extra], warnings: built.warnings };
}

/** metallb.io kinds written by the load balancer itself, not configuration. */
const STATUS_KINDS = new Set(['ConfigurationState', 'ServiceL2Status', 'ServiceBGPStatus']);

function listFor(input: ClusterResources, apiVersion: string, kind: string): KubeObject[] | undefined {
  const is = (k: { apiVersion: string; kind: string }): boolean =>
    k.apiVersion === apiVersion && k.kind === kind;
  if (is(IP_ADDRESS_POOL)) return input.pools;
  if (is(L2_ADVERTISEMENT)) return input.l2Advertisements;
  if (is(BGP_ADVERTISEMENT)) return input.bgpAdvertisements;
  if (is(BGP_PEER) || is(BGP_PEER_V1BETA1)) return input.bgpPeers;
  if (is(COMMUNITY)) return input.communities;
  if (is(BFD_PROFILE)) return input.bfdProfiles;
  return undefined;
}
