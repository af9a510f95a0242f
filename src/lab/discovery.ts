// Legacy (non-aggregated) discovery documents: /api, /api/v1, /apis, /apis/<group>, /apis/<group>/<version>.
// kubectl 1.32 asks for aggregated discovery first and accepts these when the answer is plain application/json.
import type { Registry } from './registry.ts';
import type { ResourceType } from './types.ts';
import { hasScale } from './workloads/scale.ts';
import { EVICTION_DISCOVERY } from './workloads/eviction.ts';
import { LOG_DISCOVERY } from './workloads/pod-logs.ts';

export const VERSION_INFO = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-berth-lab',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2025-01-01T00:00:00Z',
  goVersion: 'go1.23.4',
  compiler: 'gc',
  platform: 'linux/amd64',
};

export function apiVersions(serverAddress: string): unknown {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function groupDoc(name: string, versions: string[], preferred: string): Record<string, unknown> {
  return {
    name,
    versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
    preferredVersion: { groupVersion: `${name}/${preferred}`, version: preferred },
  };
}

export function apiGroupList(reg: Registry): unknown {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: reg.groups().map((g) => groupDoc(g.name, g.versions, g.preferred)) };
}

export function apiGroup(reg: Registry, group: string): unknown | undefined {
  const g = reg.groups().find((x) => x.name === group);
  if (!g) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(g.name, g.versions, g.preferred) };
}

function resourceEntries(r: ResourceType): Array<Record<string, unknown>> {
  const main: Record<string, unknown> = {
    name: r.plural,
    singularName: r.singular,
    namespaced: r.namespaced,
    kind: r.kind,
    verbs: r.verbs,
  };
  if (r.shortNames.length) main['shortNames'] = r.shortNames;
  if (r.categories.length) main['categories'] = r.categories;
  const out = [main];
  if (r.statusSubresource) out.push({ name: `${r.plural}/status`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'patch', 'update'] });
  if (hasScale(r.storeKey)) out.push({ name: `${r.plural}/scale`, singularName: '', namespaced: r.namespaced, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] });
  if (r.storeKey === 'core/pods') out.push({ ...EVICTION_DISCOVERY, verbs: [...EVICTION_DISCOVERY.verbs] }, { ...LOG_DISCOVERY, verbs: [...LOG_DISCOVERY.verbs] });
  return out;
}

export function apiResourceList(reg: Registry, group: string, version: string): unknown | undefined {
  if (!reg.groupVersionServed(group, version)) return undefined;
  const resources = reg
    .resourcesIn(group, version)
    .sort((a, b) => (a.plural < b.plural ? -1 : a.plural > b.plural ? 1 : 0))
    .flatMap(resourceEntries);
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}
