// Builders of metallb.io objects for the config tests (MetalLB-style inputs). Test support only.
import type { KubeObject } from '../api/object.ts';

export const NS = 'metallb-system';

const obj = (
  apiVersion: string,
  kind: string,
  name: string,
  spec: unknown,
  extra: Partial<KubeObject['metadata']> = {},
): KubeObject => ({
  apiVersion,
  kind,
  metadata: { name, namespace: NS, ...extra },
  ...(spec !== undefined ? { spec } : {}),
});

export const pool = (
  name: string,
  addresses: string[] | undefined,
  spec: Record<string, unknown> = {},
  meta = {},
): KubeObject =>
  obj(
    'metallb.io/v1beta1',
    'IPAddressPool',
    name,
    { ...(addresses !== undefined ? { addresses } : {}), ...spec },
    meta,
  );
export const l2 = (name: string, spec: Record<string, unknown> = {}): KubeObject =>
  obj('metallb.io/v1beta1', 'L2Advertisement', name, spec);
export const bgpAd = (name: string, spec: Record<string, unknown> = {}): KubeObject =>
  obj('metallb.io/v1beta1', 'BGPAdvertisement', name, spec);
export const peer = (name: string, spec: Record<string, unknown>): KubeObject =>
  obj('metallb.io/v1beta2', 'BGPPeer', name, spec);
export const peerV1beta1 = (name: string, spec: Record<string, unknown>): KubeObject =>
  obj('metallb.io/v1beta1', 'BGPPeer', name, spec);
export const community = (name: string, communities: Array<{ name: string; value: string }>): KubeObject =>
  obj('metallb.io/v1beta1', 'Community', name, { communities });
export const bfd = (name: string, spec: Record<string, unknown> = {}): KubeObject =>
  obj('metallb.io/v1beta1', 'BFDProfile', name, spec);
export const namespace = (name: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels },
});
export const node = (name: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, labels },
});

/** A standard eBGP peer (the seeds' router-bgp) with overrides. */
export const routerBgp = (spec: Record<string, unknown> = {}, name = 'router-bgp'): KubeObject =>
  peer(name, { myASN: 64500, peerASN: 64501, peerAddress: '192.168.1.1', ...spec });
