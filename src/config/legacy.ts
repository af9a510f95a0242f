// MetalLB's pre-v0.13 configuration: a v1 ConfigMap (named `config` by the manifests and by MicroK8s' metallb addon)
// whose data key `config` holds YAML with `address-pools:`, `peers:`, `bgp-communities:` or `bfd-profiles:`.
// MetalLB stopped reading it in v0.13 (configmaptocrs/ converts it to CRs); berth never reads it (`berth migrate`,
// src/config/migrate.ts, converts it). Recognising it lets
// `berth validate` and the controller say so instead of staying silent (issue 7 §6).
import { parse as parseYaml } from 'yaml';
import type { KubeObject } from '../api/object.ts';
import type { Problem } from '../shared/codes.ts';

/** The top-level keys of MetalLB's legacy configuration file (internal/config configFile, before v0.13). */
const LEGACY_KEYS = ['address-pools', 'peers', 'bgp-communities', 'bfd-profiles'] as const;

export interface LegacyConfig {
  /** `namespace/name` of the ConfigMap (namespace `''` when the manifest has none). */
  readonly ref: string;
  /** Names of its address pools, in order (unnamed pools as `?`). */
  readonly pools: readonly string[];
  /** How many BGP peers it lists. */
  readonly peers: number;
}

/**
 * The parsed `data.config` of a legacy MetalLB ConfigMap (the configuration file as a plain object), or undefined
 * when the object is not one (see readLegacyConfigMap). Pure; never throws. `berth migrate` converts what it returns.
 */
export function legacyConfigData(obj: KubeObject): Record<string, unknown> | undefined {
  if (obj.apiVersion !== 'v1' || obj.kind !== 'ConfigMap') return undefined;
  const data = obj.data;
  if (data === null || typeof data !== 'object') return undefined;
  const text = (data as Record<string, unknown>).config;
  if (typeof text !== 'string') return undefined;
  let parsed: unknown;
  try {
    parsed = parseYaml(text, { maxAliasCount: 100 });
  } catch {
    return undefined;
  }
  return isLegacyData(parsed) ? parsed : undefined;
}

/** Whether a parsed value looks like the legacy configuration file: a mapping with one of its top-level keys. */
export function isLegacyData(parsed: unknown): parsed is Record<string, unknown> {
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return false;
  return LEGACY_KEYS.some((k) => k in parsed);
}

/**
 * The legacy configuration a ConfigMap holds, or undefined when the object is not such a ConfigMap (another kind, no
 * string `data.config`, YAML that does not parse or has none of the legacy keys). Pure; never throws.
 */
export function readLegacyConfigMap(obj: KubeObject): LegacyConfig | undefined {
  const doc = legacyConfigData(obj);
  if (!doc) return undefined;
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
  const pools = list(doc['address-pools']).map((p) => {
    const name = p !== null && typeof p === 'object' ? (p as Record<string, unknown>).name : undefined;
    return typeof name === 'string' && name !== '' ? name : '?';
  });
  return { ref: `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`, pools, peers: list(doc.peers).length };
}

/**
 * `ConfigMap metallb-system/config holds MetalLB's legacy configuration (address-pools: default) in data.config;
 * berth does not read it (...)`: what it holds, that it is not read, and the way out. For `berth validate` and the
 * controller's Warning event.
 */
export function legacyConfigMessage(legacy: LegacyConfig): string {
  const what: string[] = [];
  if (legacy.pools.length > 0) what.push(`address-pools: ${legacy.pools.join(', ')}`);
  if (legacy.peers > 0) what.push(`${legacy.peers} BGP peer(s)`);
  const held = what.length > 0 ? ` (${what.join('; ')})` : '';
  return (
    `ConfigMap ${legacy.ref.startsWith('/') ? legacy.ref.slice(1) : legacy.ref} holds MetalLB's legacy configuration${held} ` +
    `in data.config; berth does not read it (nor does MetalLB since v0.13): convert it to IPAddressPool and ` +
    `L2Advertisement/BGPAdvertisement objects with \`berth migrate <file>\` (docs/migrating.md)`
  );
}

/** One LB_LEGACY_CONFIGMAP problem per legacy ConfigMap among the objects (object `ConfigMap/<name>`, path `data.config`). */
export function legacyConfigProblems(objs: readonly KubeObject[]): Problem[] {
  const out: Problem[] = [];
  for (const o of objs) {
    const legacy = readLegacyConfigMap(o);
    if (!legacy) continue;
    out.push({
      code: 'LB_LEGACY_CONFIGMAP',
      path: 'data.config',
      object: `ConfigMap/${o.metadata?.name ?? ''}`,
      message: legacyConfigMessage(legacy),
    });
  }
  return out;
}
