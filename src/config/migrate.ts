// `berth migrate`: MetalLB's legacy (< v0.13) configuration file — the `config` key of the ConfigMap `config` — to
// the metallb.io objects MetalLB's own converter writes (github.com/metallb/metallb configmaptocrs/main.go, types.go):
// - address-pools[i]           → IPAddressPool <name> (addresses; auto-assign → autoAssign when set; avoid-buggy-ips →
//                                avoidBuggyIPs when true);
//   protocol layer2             → L2Advertisement l2advertisement<N> selecting the pool;
//   protocol bgp                → one BGPAdvertisement bgpadvertisement<N> per bgp-advertisements entry (aggregation-length,
//                                aggregation-length-v6, localpref, communities), or one selecting the pool when none;
// - peers[i]                    → BGPPeer peer<i+1> (metallb.io/v1beta2; hold-time defaults to 90s, durations in Go's
//                                format, keepalive-time only when set);
// - bgp-communities             → one Community `communities` (aliases sorted by name);
// - bfd-profiles[i]             → BFDProfile <name> (echoMode and passiveMode always written).
// Names that are not Kubernetes names are converted as configmaptocrs does (first 63 characters, lower case, `_` → `-`,
// from the first letter on), and so are the references to them (advertisements' pools, peers' bfd-profile).
// Objects come in configmaptocrs' order: BGPPeers, IPAddressPools, BGPAdvertisements, L2Advertisements, BFDProfiles,
// Community. Unlike configmaptocrs, anything MetalLB v0.12 itself rejected (internal/config/config.go: unknown fields
// under yaml.UnmarshalStrict, a missing or unknown protocol, bgp-advertisements on a layer2 pool, missing ASNs...) is a
// problem naming the field, not objects that silently announce nothing; and the result goes through the same validation
// as `berth validate` (src/config/build.ts), so what it prints is what berth accepts.
import { Document } from 'yaml';
import type { KubeObject } from '../api/object.ts';
import type { Problem } from '../shared/codes.ts';
import { validateObjects } from './build.ts';
import { formatGoDuration, NS_PER_S, parseGoDuration } from './duration.ts';

/** The first line of `berth migrate`'s output (configmaptocrs writes a similar comment). */
export const MIGRATE_HEADER = "# Converted from MetalLB's legacy ConfigMap by `berth migrate` (the objects of MetalLB's configmaptocrs).";

export interface MigrateOptions {
  /** Namespace of the generated objects (configmaptocrs: the ConfigMap's namespace, else metallb-system). */
  readonly namespace: string;
  /** `Kind/name` the problems are reported against (default `ConfigMap/config`). */
  readonly object?: string;
}

/** A name configmaptocrs (and so `berth migrate`) changed to make it a Kubernetes object name. */
export interface Rename {
  readonly kind: 'IPAddressPool' | 'BFDProfile';
  readonly from: string;
  readonly to: string;
}

export interface MigrateResult {
  /** The metallb.io objects, in configmaptocrs' order; empty when there are problems. */
  readonly objects: KubeObject[];
  /** LB_MIGRATE_UNCONVERTIBLE (path: the legacy field, e.g. `address-pools[1].protocol`) and the converted objects'
   * validation problems (path `address-pools[0]`, message naming the object and its field). */
  readonly problems: Problem[];
  /** Validation warnings of the converted objects. */
  readonly warnings: string[];
  readonly renames: Rename[];
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const K8S_NAME_OK = /^[a-z][-a-z0-9]{0,61}[a-z0-9]{1}$/; // configmaptocrs' "no conversion needed" test

type Obj = Record<string, unknown>;
/** go-yaml v2's (YAML 1.1) boolean words besides true/false, which YAML 1.2 (the yaml library here) reads as strings. */
const YAML11_BOOL = /^(y|Y|yes|Yes|YES|on|On|ON|n|N|no|No|NO|off|Off|OFF)$/;

/** Accumulates problems while reading the legacy file; every read names its path. */
class Reader {
  readonly problems: Problem[] = [];
  constructor(private readonly object: string) {}

  fail(path: string, message: string): void {
    this.problems.push({ code: 'LB_MIGRATE_UNCONVERTIBLE', path, object: this.object, message: `${path}: ${message}` });
  }

  /** A mapping whose keys are all among `allowed` (MetalLB parsed with yaml.UnmarshalStrict). */
  map(v: unknown, path: string, allowed: readonly string[]): Obj | undefined {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      this.fail(path, `must be a mapping, not ${show(v)}`);
      return undefined;
    }
    for (const k of Object.keys(v)) {
      if (!allowed.includes(k)) this.fail(join(path, k), `unknown field "${k}" (MetalLB's legacy format has ${allowed.join(', ')})`);
    }
    return v as Obj;
  }

  list(o: Obj, key: string, path: string): unknown[] {
    const v = o[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.fail(join(path, key), `must be a list, not ${show(v)}`);
      return [];
    }
    return v;
  }

  str(o: Obj, key: string, path: string): string | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') {
      this.fail(join(path, key), `must be a string, not ${show(v)}`);
      return undefined;
    }
    return v;
  }

  /** true/false, or a YAML 1.1 boolean word (`yes`, `off`...) that MetalLB's go-yaml v2 read as one. */
  bool(o: Obj, key: string, path: string): boolean | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string' && YAML11_BOOL.test(v)) return /^(y|yes|on)$/i.test(v);
    if (typeof v !== 'boolean') {
      this.fail(join(path, key), `must be true or false, not ${show(v)}`);
      return undefined;
    }
    return v;
  }

  /** An integer in [min, max] (Go's uint32 / int32 / uint16 fields). */
  int(o: Obj, key: string, path: string, min: number, max: number): number | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(join(path, key), `must be an integer from ${min} to ${max}, not ${show(v)}`);
      return undefined;
    }
    return v;
  }

  strings(o: Obj, key: string, path: string): string[] {
    const out: string[] = [];
    this.list(o, key, path).forEach((v, i) => {
      if (typeof v === 'string') out.push(v);
      else this.fail(`${join(path, key)}[${i}]`, `must be a string, not ${show(v)}`);
    });
    return out;
  }
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function show(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return JSON.stringify(v);
}

/**
 * configmaptocrs' formatToK8S: the first 63 characters, lower-cased, `_` → `-`, from the first letter on. Returns
 * undefined when the result is still not a DNS-1123 label (no letter at all, or characters such as `.` or a trailing
 * `-` that configmaptocrs kept and the API server would refuse).
 */
export function k8sName(name: string): string | undefined {
  if (K8S_NAME_OK.test(name)) return name;
  const lower = name.slice(0, 63).toLowerCase().replaceAll('_', '-');
  const first = lower.search(/[a-z]/);
  if (first < 0) return undefined;
  const out = lower.slice(first);
  return DNS_LABEL.test(out) ? out : undefined;
}

/**
 * Converts MetalLB's legacy configuration file (the parsed `data.config` of the ConfigMap `config`) to metallb.io
 * objects, as MetalLB's configmaptocrs does (see the file comment). Pure; never throws: anything it cannot convert is a
 * LB_MIGRATE_UNCONVERTIBLE problem whose path and message name the legacy field (`address-pools[1].protocol: unknown
 * protocol "l2": MetalLB's legacy format has layer2 and bgp`), and the converted objects are validated as `berth
 * validate` does (their problems are reported against the legacy entry they come from).
 */
export function migrateLegacyConfig(data: unknown, opts: MigrateOptions): MigrateResult {
  const r = new Reader(opts.object ?? 'ConfigMap/config');
  const ns = opts.namespace;
  const renames: Rename[] = [];
  const meta = (name: string) => ({ name, namespace: ns });
  const top = r.map(data, '', ['peers', 'bgp-communities', 'address-pools', 'bfd-profiles']);
  if (!top) return { objects: [], problems: r.problems, warnings: [], renames };
  /** Where each generated object comes from, to report its validation problems against the legacy field. */
  const origin = new Map<string, string>();
  const rename = (kind: Rename['kind'], name: string, path: string): string | undefined => {
    const to = k8sName(name);
    if (to === undefined) {
      r.fail(path, `${kind} name "${name}" cannot be made a Kubernetes object name (lower-case letters, digits and "-", starting with a letter, at most 63 characters)`);
      return undefined;
    }
    if (to !== name && !renames.some((x) => x.kind === kind && x.from === name)) renames.push({ kind, from: name, to });
    return to;
  };

  // bfd-profiles
  const bfdProfiles: KubeObject[] = [];
  const bfdNames = new Map<string, string>();
  r.list(top, 'bfd-profiles', '').forEach((raw, i) => {
    const path = `bfd-profiles[${i}]`;
    const b = r.map(raw, path, [
      'name', 'receive-interval', 'transmit-interval', 'detect-multiplier', 'echo-interval', 'echo-mode', 'passive-mode', 'minimum-ttl',
    ]);
    if (!b) return;
    const name = r.str(b, 'name', path);
    if (!name) return r.fail(join(path, 'name'), 'missing bfd profile name');
    const k8s = rename('BFDProfile', name, join(path, 'name'));
    if (!k8s) return;
    if (bfdNames.has(k8s)) return r.fail(join(path, 'name'), `found duplicate bfd profile name ${k8s} (also ${bfdNames.get(k8s)})`);
    bfdNames.set(k8s, path);
    const spec: Obj = {};
    const u32 = (key: string, field: string) => {
      const v = r.int(b, key, path, 0, 4294967295);
      if (v !== undefined) spec[field] = v;
    };
    u32('detect-multiplier', 'detectMultiplier');
    u32('echo-interval', 'echoInterval');
    spec.echoMode = r.bool(b, 'echo-mode', path) ?? false;
    u32('minimum-ttl', 'minimumTtl');
    spec.passiveMode = r.bool(b, 'passive-mode', path) ?? false;
    u32('receive-interval', 'receiveInterval');
    u32('transmit-interval', 'transmitInterval');
    origin.set(`BFDProfile/${k8s}`, path);
    bfdProfiles.push({ apiVersion: 'metallb.io/v1beta1', kind: 'BFDProfile', metadata: meta(k8s), spec });
  });

  // peers
  const peers: KubeObject[] = [];
  r.list(top, 'peers', '').forEach((raw, i) => {
    const path = `peers[${i}]`;
    const p = r.map(raw, path, [
      'my-asn', 'peer-asn', 'peer-address', 'source-address', 'peer-port', 'hold-time', 'keepalive-time', 'router-id',
      'node-selectors', 'password', 'bfd-profile', 'ebgp-multihop',
    ]);
    if (!p) return;
    const spec: Obj = {};
    const myASN = r.int(p, 'my-asn', path, 0, 4294967295);
    const peerASN = r.int(p, 'peer-asn', path, 0, 4294967295);
    const address = r.str(p, 'peer-address', path);
    if (myASN === 0 || p['my-asn'] == null) r.fail(join(path, 'my-asn'), 'missing local ASN');
    if (peerASN === 0 || p['peer-asn'] == null) r.fail(join(path, 'peer-asn'), 'missing peer ASN');
    if (!address && p['peer-address'] == null) r.fail(join(path, 'peer-address'), 'missing peer address');
    const bfd = r.str(p, 'bfd-profile', path);
    if (bfd) {
      const k8s = rename('BFDProfile', bfd, join(path, 'bfd-profile'));
      if (k8s) spec.bfdProfile = k8s;
    }
    if (r.bool(p, 'ebgp-multihop', path)) spec.ebgpMultiHop = true;
    const hold = r.str(p, 'hold-time', path);
    const holdNs = seconds(r, hold ?? '', join(path, 'hold-time'), 90n * NS_PER_S);
    if (holdNs !== undefined) {
      if (holdNs !== 0n && holdNs < 3n * NS_PER_S) r.fail(join(path, 'hold-time'), `invalid hold time "${hold}": must be 0 or >=3s`);
      spec.holdTime = formatGoDuration(holdNs);
    }
    const ka = r.str(p, 'keepalive-time', path);
    if (ka !== undefined && ka !== '') {
      const kaNs = seconds(r, ka, join(path, 'keepalive-time'), 0n);
      if (kaNs !== undefined) spec.keepaliveTime = formatGoDuration(kaNs);
    }
    if (myASN) spec.myASN = myASN;
    const selectors = r.list(p, 'node-selectors', path).flatMap((s, j) => nodeSelector(r, s, `${join(path, 'node-selectors')}[${j}]`));
    if (selectors.length > 0) spec.nodeSelectors = selectors;
    const password = r.str(p, 'password', path);
    if (password) spec.password = password;
    if (peerASN) spec.peerASN = peerASN;
    if (address) spec.peerAddress = address;
    const port = r.int(p, 'peer-port', path, 0, 65535);
    if (port) spec.peerPort = port;
    const routerID = r.str(p, 'router-id', path);
    if (routerID) spec.routerID = routerID;
    const src = r.str(p, 'source-address', path);
    if (src) spec.sourceAddress = src;
    const name = `peer${i + 1}`;
    origin.set(`BGPPeer/${name}`, path);
    peers.push({ apiVersion: 'metallb.io/v1beta2', kind: 'BGPPeer', metadata: meta(name), spec });
  });

  // address-pools
  const pools: KubeObject[] = [];
  const bgpAdvs: KubeObject[] = [];
  const l2Advs: KubeObject[] = [];
  const poolNames = new Map<string, string>();
  r.list(top, 'address-pools', '').forEach((raw, i) => {
    const path = `address-pools[${i}]`;
    const p = r.map(raw, path, ['protocol', 'name', 'addresses', 'auto-assign', 'avoid-buggy-ips', 'bgp-advertisements']);
    if (!p) return;
    const name = r.str(p, 'name', path);
    if (!name) return r.fail(join(path, 'name'), 'missing pool name');
    const k8s = rename('IPAddressPool', name, join(path, 'name'));
    if (!k8s) return;
    if (poolNames.has(k8s)) return r.fail(join(path, 'name'), `duplicate definition of pool "${k8s}" (also ${poolNames.get(k8s)})`);
    poolNames.set(k8s, path);
    const protocol = r.str(p, 'protocol', path);
    if (protocol === undefined) {
      if (p.protocol === undefined) r.fail(join(path, 'protocol'), 'address pool is missing the protocol field');
    } else if (protocol !== 'layer2' && protocol !== 'bgp') {
      r.fail(join(path, 'protocol'), `unknown protocol "${protocol}": MetalLB's legacy format has layer2 and bgp`);
    }
    const addresses = r.strings(p, 'addresses', path);
    if (addresses.length === 0 && !Array.isArray(p.addresses)) r.fail(join(path, 'addresses'), 'pool has no prefixes defined');
    const spec: Obj = { addresses };
    const autoAssign = r.bool(p, 'auto-assign', path);
    if (autoAssign !== undefined) spec.autoAssign = autoAssign;
    if (r.bool(p, 'avoid-buggy-ips', path)) spec.avoidBuggyIPs = true;
    origin.set(`IPAddressPool/${k8s}`, path);
    pools.push({ apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: meta(k8s), spec });
    const advs = r.list(p, 'bgp-advertisements', path);
    if (protocol === 'layer2') {
      if (advs.length > 0) {
        r.fail(join(path, 'bgp-advertisements'), 'cannot have bgp-advertisements configuration element in a layer2 address pool');
      }
      const advName = `l2advertisement${l2Advs.length + 1}`;
      origin.set(`L2Advertisement/${advName}`, path);
      l2Advs.push({ apiVersion: 'metallb.io/v1beta1', kind: 'L2Advertisement', metadata: meta(advName), spec: { ipAddressPools: [k8s] } });
      return;
    }
    if (protocol !== 'bgp') return;
    const bgpAdv = (spec: Obj, from: string) => {
      const advName = `bgpadvertisement${bgpAdvs.length + 1}`;
      origin.set(`BGPAdvertisement/${advName}`, from);
      bgpAdvs.push({ apiVersion: 'metallb.io/v1beta1', kind: 'BGPAdvertisement', metadata: meta(advName), spec });
    };
    advs.forEach((rawAdv, j) => {
      const ap = `${join(path, 'bgp-advertisements')}[${j}]`;
      const a = r.map(rawAdv, ap, ['aggregation-length', 'aggregation-length-v6', 'localpref', 'communities']);
      if (!a) return;
      const s: Obj = {};
      const agg = r.int(a, 'aggregation-length', ap, -2147483648, 2147483647);
      if (agg !== undefined) s.aggregationLength = agg;
      const agg6 = r.int(a, 'aggregation-length-v6', ap, -2147483648, 2147483647);
      if (agg6 !== undefined) s.aggregationLengthV6 = agg6;
      const communities = r.strings(a, 'communities', ap);
      if (communities.length > 0) s.communities = communities;
      s.ipAddressPools = [k8s];
      const localPref = r.int(a, 'localpref', ap, 0, 4294967295);
      if (localPref) s.localPref = localPref;
      bgpAdv(s, ap);
    });
    if (advs.length === 0) bgpAdv({ ipAddressPools: [k8s] }, path);
  });

  // bgp-communities
  const communities: KubeObject[] = [];
  const rawCommunities = top['bgp-communities'];
  if (rawCommunities !== undefined && rawCommunities !== null) {
    const c = r.map(rawCommunities, 'bgp-communities', Object.keys(rawCommunities as Obj));
    const aliases: Array<{ name: string; value: string }> = [];
    for (const name of Object.keys(c ?? {}).sort()) {
      const v = r.str(c!, name, 'bgp-communities');
      if (v !== undefined) aliases.push({ name, value: v });
    }
    if (aliases.length > 0) {
      origin.set('Community/communities', 'bgp-communities');
      communities.push({ apiVersion: 'metallb.io/v1beta1', kind: 'Community', metadata: meta('communities'), spec: { communities: aliases } });
    }
  }

  if (r.problems.length > 0) return { objects: [], problems: r.problems, warnings: [], renames };
  const objects = [...peers, ...pools, ...bgpAdvs, ...l2Advs, ...bfdProfiles, ...communities];
  // The converted objects must be what berth accepts (configmaptocrs checks them with config.For the same way).
  const checked = validateObjects(objects, { namespace: ns });
  const problems = checked.problems.map((p): Problem => {
    const from = (p.object !== undefined && origin.get(p.object)) || '';
    const field = legacyField(p.path);
    const path = from !== '' && field !== undefined && from !== 'bgp-communities' ? join(from, field) : from;
    const where = [p.object, p.path].filter((x) => x !== undefined && x !== '').join(' ');
    return { ...p, path, object: opts.object ?? 'ConfigMap/config', message: `${path === '' ? '' : `${path}: `}converted to ${where}: ${p.message}` };
  });
  return { objects: problems.length > 0 ? [] : objects, problems, warnings: [...checked.warnings], renames };
}

/** The CR spec fields migrate writes → the legacy keys they come from (per kind, but no two kinds disagree). */
const LEGACY_FIELDS: Record<string, string> = {
  addresses: 'addresses',
  autoAssign: 'auto-assign',
  avoidBuggyIPs: 'avoid-buggy-ips',
  aggregationLength: 'aggregation-length',
  aggregationLengthV6: 'aggregation-length-v6',
  localPref: 'localpref',
  communities: 'communities',
  myASN: 'my-asn',
  peerASN: 'peer-asn',
  peerAddress: 'peer-address',
  sourceAddress: 'source-address',
  peerPort: 'peer-port',
  holdTime: 'hold-time',
  keepaliveTime: 'keepalive-time',
  routerID: 'router-id',
  nodeSelectors: 'node-selectors',
  password: 'password',
  bfdProfile: 'bfd-profile',
  ebgpMultiHop: 'ebgp-multihop',
  receiveInterval: 'receive-interval',
  transmitInterval: 'transmit-interval',
  detectMultiplier: 'detect-multiplier',
  echoInterval: 'echo-interval',
  echoMode: 'echo-mode',
  passiveMode: 'passive-mode',
  minimumTtl: 'minimum-ttl',
};

/** `spec.addresses[1]` → `addresses[1]`, `spec.holdTime` → `hold-time`; undefined for other paths. */
function legacyField(path: string): string | undefined {
  const m = /^spec\.([A-Za-z0-9]+)((?:\[\d+\])?)/.exec(path);
  const key = m ? LEGACY_FIELDS[m[1]!] : undefined;
  return key === undefined ? undefined : `${key}${m![2] ?? ''}`;
}

/** A Go duration rounded down to whole seconds (configmaptocrs' parseHoldTime / parseKeepaliveTime); '' → `dflt`. */
function seconds(r: Reader, text: string, path: string, dflt: bigint): bigint | undefined {
  if (text === '') return dflt;
  const d = parseGoDuration(text);
  if (!d.ok) {
    r.fail(path, `invalid duration "${text}": ${d.message}`);
    return undefined;
  }
  return (d.ns / NS_PER_S) * NS_PER_S;
}

/** A legacy node selector (`match-labels`, `match-expressions`) → a metav1.LabelSelector. */
function nodeSelector(r: Reader, raw: unknown, path: string): Obj[] {
  const s = r.map(raw, path, ['match-labels', 'match-expressions']);
  if (!s) return [];
  const out: Obj = {};
  const exprs = r.list(s, 'match-expressions', path).flatMap((e, k) => {
    const ep = `${join(path, 'match-expressions')}[${k}]`;
    const m = r.map(e, ep, ['key', 'operator', 'values']);
    if (!m) return [];
    const req: Obj = { key: r.str(m, 'key', ep) ?? '', operator: r.str(m, 'operator', ep) ?? '' };
    const values = r.strings(m, 'values', ep);
    if (values.length > 0) req.values = values;
    return [req];
  });
  if (exprs.length > 0) out.matchExpressions = exprs;
  const labels = s['match-labels'];
  if (labels !== undefined && labels !== null) {
    const l = r.map(labels, join(path, 'match-labels'), Object.keys(labels as Obj));
    if (l) {
      const ml: Record<string, string> = {};
      for (const k of Object.keys(l)) {
        const v = r.str(l, k, join(path, 'match-labels'));
        if (v !== undefined) ml[k] = v;
      }
      if (Object.keys(ml).length > 0) out.matchLabels = ml;
    }
  }
  return [out];
}

/**
 * The objects as one multi-document YAML stream (MIGRATE_HEADER first, `---` between objects, spec keys sorted as
 * configmaptocrs prints them). Strings that YAML 1.1 readers (kubectl, sigs.k8s.io/yaml) would take for numbers,
 * such as the community `64512:1`, are quoted.
 */
export function migratedYaml(objects: readonly KubeObject[]): string {
  const docs = objects.map((o) => {
    const doc = new Document(sortSpec(o), { version: '1.1' });
    return doc.toString({ lineWidth: 0, indentSeq: false });
  });
  return `${MIGRATE_HEADER}\n${docs.join('---\n')}`;
}

function sortSpec(o: KubeObject): KubeObject {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Obj)[k])]));
  };
  return { apiVersion: o.apiVersion, kind: o.kind, metadata: o.metadata, spec: sort(o.spec) };
}
