// BGPPeer objects → PeerConfig (MetalLB internal/config/config.go `peerFromCR`, `parseTimers`), with MetalLB's
// messages. berth's BGP is native but implements what MetalLB's native mode refuses (IPv6, BFD, graceful restart,
// keepalive/connect timers, dual-stack families, dynamicASN, localASN); the FRR-only fields berth does not run are
// refused here: `vrf` (the session binds its socket to a device,
// bgp/session.ts `device`, but a VRF peering has not been proven against FRR: the lab kernel has no CONFIG_NET_VRF,
// test/integration/bgp-vrf.test.ts). `interface` (BGP unnumbered) runs natively (bgp/session.ts, proven against FRR
// in test/integration/bgp-unnumbered-frr.test.ts) without what it does not do: BFD, TCP MD5, sourceAddress, multihop.
import { withBGPPeerDefaults, type BGPPeerSpec } from '../api/bgp-peer.ts';
import {
  BGP_PEER_V1BETA1,
  convertBGPPeerSpecV1beta1,
  type BGPPeerSpecV1beta1,
} from '../api/bgp-peer-v1beta1.ts';
import type { KubeObject } from '../api/object.ts';
import { canonicalIp, parseIp } from '../shared/ip.ts';
import { formatGoDuration, NS_PER_MS, NS_PER_S, parseGoDuration } from './duration.ts';
import type { LabelSelector } from '../shared/labels.ts';
import type { Reporter } from './problem.ts';
import { checkSelectors, selectNames } from './selectors.ts';
import type { LabelledName, PeerConfig } from './types.ts';

/** The admission warning MetalLB returns for disableMP (webhookv1beta2/bgppeer_webhook.go). */
export const DISABLE_MP_WARNING =
  "disable mp is deprecated and has no effect since it's the default behavior now";

/** The v1beta2 spec of a peer object of either served version. */
export function peerSpecOf(obj: KubeObject): BGPPeerSpec {
  const spec = (obj.spec ?? {}) as BGPPeerSpec;
  return obj.apiVersion === BGP_PEER_V1BETA1.apiVersion
    ? convertBGPPeerSpecV1beta1(spec as unknown as BGPPeerSpecV1beta1)
    : spec;
}

export function parsePeer(
  obj: KubeObject,
  namespace: string,
  nodes: readonly LabelledName[] | undefined,
  r: Reporter,
  warnings: string[],
): PeerConfig | undefined {
  const name = obj.metadata?.name ?? '';
  const prefix = `parsing peer ${name}: `;
  const spec = withBGPPeerDefaults(peerSpecOf(obj));
  const before = r.count();
  const bad = (path: string, message: string): void => r.add('LB_PEER_INVALID', path, `${prefix}${message}`);

  // FRR-only in MetalLB (§4.4) and not implemented by berth's native BGP.
  const unsupported = (field: keyof BGPPeerSpec, set: boolean): void => {
    if (set)
      r.add(
        'LB_PEER_UNSUPPORTED',
        `spec.${field}`,
        `peer ${name}: ${field} is not supported by berth's native BGP (FRR-only in MetalLB)`,
      );
  };
  unsupported('vrf', (spec.vrf ?? '') !== '');
  if (spec.disableMP) warnings.push(`BGPPeer ${name}: ${DISABLE_MP_WARNING}`);

  if (!spec.myASN) bad('spec.myASN', 'missing local ASN');
  const peerASN = spec.peerASN ?? 0;
  const dynamic = spec.dynamicASN ?? '';
  if (peerASN === 0 && dynamic === '') bad('spec.peerASN', 'missing peer ASN and dynamicASN');
  if (peerASN !== 0 && dynamic !== '') bad('spec.dynamicASN', 'both peer ASN and dynamicASN specified');
  if (dynamic !== '' && dynamic !== 'internal' && dynamic !== 'external')
    bad('spec.dynamicASN', `invalid dynamicASN ${dynamic}`);
  if (spec.myASN && spec.myASN === peerASN && spec.ebgpMultiHop)
    bad('spec.ebgpMultiHop', 'invalid ebgp-multihop parameter set for an ibgp peer');
  // localASN: FRR's `neighbor <peer> local-as <ASN> no-prepend replace-as` (MetalLB v0.16). FRR refuses it for iBGP
  // and when equal to the router AS (bgpd BGP_ERR_LOCAL_AS_ALLOWED_ONLY_FOR_EBGP / _CANNOT_HAVE_LOCAL_AS_SAME_AS), so a
  // MetalLB FRR speaker silently drops such a neighbor; berth says so here.
  const localASN = spec.localASN ?? 0;
  if (localASN !== 0) {
    if (!Number.isInteger(localASN) || localASN < 1 || localASN > 0xffffffff)
      bad('spec.localASN', `invalid localASN ${localASN}: an integer 1-4294967295`);
    else if (localASN === spec.myASN)
      bad(
        'spec.localASN',
        `localASN ${localASN} is the same as myASN (FRR: cannot have local-as same as BGP AS number)`,
      );
    else if ((spec.myASN && peerASN === spec.myASN) || dynamic === 'internal')
      bad(
        'spec.localASN',
        `localASN ${localASN} is allowed only for eBGP peers, and this peer is iBGP (${dynamic === 'internal' ? 'dynamicASN internal' : `peerASN ${peerASN} = myASN`})`,
      );
  }

  const address = spec.peerAddress ?? '';
  const iface = spec.interface ?? '';
  if (address === '' && iface === '') bad('spec.peerAddress', 'peer has no Address or Interface specified');
  if (address !== '' && iface !== '') bad('spec.interface', 'peer has both Address and Interface specified');
  if (iface !== '') {
    if (iface.length > 15 || /[\s/%:]/.test(iface) || iface === '.' || iface === '..')
      bad(
        'spec.interface',
        `invalid interface ${JSON.stringify(iface)}: a Linux interface name (1-15 bytes, no "/", ":", "%", whitespace)`,
      );
    // What berth's unnumbered session does not do (yet): each would silently not apply.
    for (const [field, set, why] of [
      [
        'sourceAddress',
        (spec.sourceAddress ?? '') !== '',
        "the session runs from the interface's link-local",
      ],
      ['ebgpMultiHop', !!spec.ebgpMultiHop, 'an unnumbered peer is directly connected'],
    ] as const)
      if (set)
        bad(`spec.${field}`, `${field} is not supported with interface ${iface} (BGP unnumbered): ${why}`);
  }
  if (address !== '' && !parseIp(address))
    bad('spec.peerAddress', `invalid BGPPeer address ${JSON.stringify(address)}`);
  if (spec.routerID !== undefined && spec.routerID !== '') {
    const id = parseIp(spec.routerID);
    if (!id) bad('spec.routerID', `invalid router ID ${JSON.stringify(spec.routerID)}`);
    // The BGP identifier is 32 bits (RFC 6286): an IPv6 text cannot be sent in OPEN.
    else if (id.family !== 'IPv4')
      bad(
        'spec.routerID',
        `invalid router ID ${JSON.stringify(spec.routerID)}: the BGP identifier must be an IPv4 address (RFC 6286)`,
      );
  }
  if (spec.sourceAddress !== undefined && spec.sourceAddress !== '' && !parseIp(spec.sourceAddress)) {
    bad('spec.sourceAddress', `invalid source IP ${JSON.stringify(spec.sourceAddress)}`);
  }

  const timers = parseTimers(spec, bad);
  const connectTimeMs = parseConnectTime(spec.connectTime, bad);

  if ((spec.password ?? '') !== '' && spec.passwordSecret?.name) {
    bad(
      'spec.passwordSecret',
      `can not have both password and secret ref set in peer config "${namespace}"/"${name}"`,
    );
  }
  const nodeSels = checkSelectors(
    spec.nodeSelectors,
    'nodeSelectors',
    'spec.nodeSelectors',
    'node',
    r,
    prefix,
  );

  if (r.count() !== before) return undefined;
  return {
    name,
    myASN: spec.myASN,
    peerASN,
    ...(dynamic === 'internal' || dynamic === 'external' ? { dynamicASN: dynamic } : {}),
    ...(localASN !== 0 ? { localASN } : {}),
    ...(iface !== '' ? { interface: iface } : {}),
    peerAddress: canonicalIp(address) ?? address,
    ...(spec.sourceAddress ? { sourceAddress: canonicalIp(spec.sourceAddress) ?? spec.sourceAddress } : {}),
    peerPort: spec.peerPort,
    ...timers,
    ...(connectTimeMs !== undefined ? { connectTimeMs } : {}),
    ...(spec.routerID ? { routerID: canonicalIp(spec.routerID) ?? spec.routerID } : {}),
    nodeSelectors: nodeSels,
    ...(nodes ? { nodes: selectNames(nodeSels, nodes) } : {}),
    ...(spec.password ? { password: spec.password } : {}),
    ...(spec.passwordSecret?.name ? { passwordSecret: { ...spec.passwordSecret } } : {}),
    ...(spec.bfdProfile ? { bfdProfile: spec.bfdProfile } : {}),
    enableGracefulRestart: spec.enableGracefulRestart,
    ebgpMultiHop: spec.ebgpMultiHop,
    dualStackAddressFamily: spec.dualStackAddressFamily,
  };
}

type Bad = (path: string, message: string) => void;

/**
 * MetalLB `parseTimers`: only holdTime → keepalive = holdTime/3; only keepalive → holdTime = 3×keepalive; keepalive
 * must not exceed holdTime; holdTime, rounded down to whole seconds, must be 0 or ≥ 3 s (RFC 4271 §4.2).
 */
function parseTimers(spec: BGPPeerSpec, bad: Bad): { holdTimeMs?: number; keepaliveTimeMs?: number } {
  const ht =
    spec.holdTime !== undefined ? duration(spec.holdTime, 'spec.holdTime', 'holdTime', bad) : undefined;
  const ka =
    spec.keepaliveTime !== undefined
      ? duration(spec.keepaliveTime, 'spec.keepaliveTime', 'keepaliveTime', bad)
      : undefined;
  if (ht === null || ka === null) return {};
  if (ht === undefined && ka === undefined) return {};
  const hold = ht ?? ka! * 3n;
  const keep = ka ?? ht! / 3n;
  if (keep > hold) {
    bad(
      'spec.keepaliveTime',
      `invalid BGPPeer timers: invalid keepaliveTime "${formatGoDuration(keep)}", must be lower than holdTime "${formatGoDuration(hold)}"`,
    );
    return {};
  }
  const rounded = (hold / NS_PER_S) * NS_PER_S;
  if (rounded !== 0n && rounded < 3n * NS_PER_S) {
    bad(
      'spec.holdTime',
      `invalid BGPPeer timers: invalid hold time "${formatGoDuration(hold)}": must be 0 or >=3s`,
    );
    return {};
  }
  return { holdTimeMs: Number(rounded / NS_PER_MS), keepaliveTimeMs: Number(keep / NS_PER_MS) };
}

/** connectTime: the CRD's CEL rules (whole seconds, 1..65535 s). */
function parseConnectTime(text: string | undefined, bad: Bad): number | undefined {
  if (text === undefined) return undefined;
  const ns = duration(text, 'spec.connectTime', 'connectTime', bad);
  if (ns === null) return undefined;
  if (ns % NS_PER_S !== 0n) {
    bad('spec.connectTime', 'connect time should contain a whole number of seconds');
    return undefined;
  }
  const secs = ns / NS_PER_S;
  if (secs < 1n || secs > 65535n) {
    bad('spec.connectTime', 'connect time should be between 1 seconds to 65535');
    return undefined;
  }
  return Number(ns / NS_PER_MS);
}

/** A Go duration in ns, or null when it does not parse (reported). */
function duration(text: string, path: string, field: string, bad: Bad): bigint | null {
  const d = parseGoDuration(String(text));
  if (!d.ok) {
    bad(path, `invalid ${field} ${JSON.stringify(text)}: ${d.message}`);
    return null;
  }
  return d.ns;
}

/**
 * Duplicate BGPPeers (MetalLB internal/config/validation.go `DiscardNativeOnly`, `PeerIdentifier`, `peersShareNode`:
 * "peer <address> already exists, FRR mode doesn't support duplicate BGPPeers"). Two peers with the same
 * peerAddress (or interface, for BGP unnumbered), vrf and peerPort that can both apply to one node would open two
 * sessions from that node to one router, which the router takes as a connection collision (RFC 4271 §6.8) and
 * closes. Whether they share a node: with `nodes` known (non-empty), some Node both peers select; otherwise whether
 * their nodeSelectors could both match one Node at all (an empty list matches every node; `rack=a` and `rack=b`
 * never meet), where MetalLB conservatively assumes they do. Unlike MetalLB, peerPort is part of the identity
 * (berth's native BGP can run one session per port; docs/compatibility.md). Each duplicate is reported once, on the
 * later peer in name order, naming both peers, the address and the rule (LB_PEER_DUPLICATE at spec.peerAddress,
 * or spec.interface).
 */
export function checkDuplicatePeers(
  peers: readonly PeerConfig[],
  reporters: ReadonlyMap<string, Reporter>,
  nodes: readonly LabelledName[] | undefined,
): void {
  const byId = new Map<string, PeerConfig[]>();
  for (const p of peers) {
    const id = peerIdentifier(p);
    const earlier = byId.get(id) ?? [];
    for (const e of earlier) {
      const shared = sharedNode(e, p, nodes);
      if (shared === undefined) continue;
      const where = p.interface ? `interface ${p.interface}` : p.peerAddress;
      const vrf = p.vrf ? ` vrf ${p.vrf}` : '';
      reporters
        .get(p.name)
        ?.add(
          'LB_PEER_DUPLICATE',
          p.interface ? 'spec.interface' : 'spec.peerAddress',
          `peer ${where} already exists: BGPPeers ${e.name} and ${p.name} both peer with ${where}${vrf} port ${p.peerPort} ` +
            `and ${shared}; duplicate BGPPeers are not supported (one BGPPeer per router address, port and node, as ` +
            `MetalLB's FRR mode): give them nodeSelectors that select different nodes, or keep one`,
        );
      break;
    }
    byId.set(id, [...earlier, p]);
  }
}

/** MetalLB `PeerIdentifier` (address, or interface; with the vrf) plus the port. */
function peerIdentifier(p: PeerConfig): string {
  return JSON.stringify([p.interface ? `if:${p.interface}` : p.peerAddress, p.vrf ?? '', p.peerPort]);
}

/**
 * How two peers share a node, as message text (`both select node n1`), or undefined when they cannot. With known
 * Nodes: the first Node (by name) both select; else whether their selector lists can match one Node.
 */
function sharedNode(
  a: PeerConfig,
  b: PeerConfig,
  nodes: readonly LabelledName[] | undefined,
): string | undefined {
  if (nodes && nodes.length > 0) {
    const selected = (p: PeerConfig): string[] => p.nodes ?? selectNames(p.nodeSelectors, nodes);
    const inA = new Set(selected(a));
    const both = selected(b).filter((n) => inA.has(n));
    if (both.length === 0) return undefined;
    const more = both.length > 1 ? ` (and ${both.length - 1} more)` : '';
    return `both select node ${both[0]}${more}`;
  }
  const sa = a.nodeSelectors.length === 0 ? [{}] : a.nodeSelectors;
  const sb = b.nodeSelectors.length === 0 ? [{}] : b.nodeSelectors;
  const meet = sa.some((x) => sb.some((y) => satisfiable([x, y])));
  if (!meet) return undefined;
  if (a.nodeSelectors.length === 0 && b.nodeSelectors.length === 0) return 'both apply to every node';
  return 'their nodeSelectors can select the same node';
}

/**
 * Whether one label set can satisfy every selector given (their conjunction). Label values are free strings, so it
 * is unsatisfiable only when, for some key, the allowed values (matchLabels, In) have an empty intersection once
 * NotIn is removed, or the key must exist (matchLabels, In, Exists) and must not (DoesNotExist).
 */
export function satisfiable(sels: readonly LabelSelector[]): boolean {
  interface KeyRule {
    allowed?: Set<string>;
    excluded: Set<string>;
    exists: boolean;
    absent: boolean;
  }
  const rules = new Map<string, KeyRule>();
  const rule = (k: string): KeyRule => {
    let r = rules.get(k);
    if (!r) rules.set(k, (r = { excluded: new Set(), exists: false, absent: false }));
    return r;
  };
  const allow = (k: string, values: readonly string[]): void => {
    const r = rule(k);
    r.allowed = new Set(r.allowed ? values.filter((v) => r.allowed!.has(v)) : values);
  };
  for (const sel of sels) {
    for (const [k, v] of Object.entries(sel.matchLabels ?? {})) allow(k, [v]);
    for (const req of sel.matchExpressions ?? []) {
      if (req.operator === 'In') allow(req.key, req.values ?? []);
      else if (req.operator === 'NotIn') for (const v of req.values ?? []) rule(req.key).excluded.add(v);
      else if (req.operator === 'Exists') rule(req.key).exists = true;
      else if (req.operator === 'DoesNotExist') rule(req.key).absent = true;
    }
  }
  for (const r of rules.values()) {
    const mustExist = r.exists || r.allowed !== undefined;
    if (mustExist && r.absent) return false;
    if (r.allowed && ![...r.allowed].some((v) => !r.excluded.has(v))) return false;
  }
  return true;
}
