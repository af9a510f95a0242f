// The API resources berth reads and writes, as plain descriptors, and the REST paths built from them.
// One table instead of per-kind API classes: the informer, the generic client and the lab all address a kind the same way.

export interface Resource {
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

function res(group: string, version: string, plural: string, kind: string, namespaced: boolean): Resource {
  return { group, version, plural, kind, namespaced };
}

export const Resources = {
  services: res('', 'v1', 'services', 'Service', true),
  namespaces: res('', 'v1', 'namespaces', 'Namespace', false),
  nodes: res('', 'v1', 'nodes', 'Node', false),
  events: res('', 'v1', 'events', 'Event', true),
  secrets: res('', 'v1', 'secrets', 'Secret', true),
  configMaps: res('', 'v1', 'configmaps', 'ConfigMap', true),
  endpointSlices: res('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice', true),
  leases: res('coordination.k8s.io', 'v1', 'leases', 'Lease', true),
  customResourceDefinitions: res('apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', false),
  mutatingWebhookConfigurations: res(
    'admissionregistration.k8s.io',
    'v1',
    'mutatingwebhookconfigurations',
    'MutatingWebhookConfiguration',
    false,
  ),
  validatingWebhookConfigurations: res(
    'admissionregistration.k8s.io',
    'v1',
    'validatingwebhookconfigurations',
    'ValidatingWebhookConfiguration',
    false,
  ),
  // metallb.io (MetalLB's CRDs, read in berth's namespace only)
  ipAddressPools: res('metallb.io', 'v1beta1', 'ipaddresspools', 'IPAddressPool', true),
  l2Advertisements: res('metallb.io', 'v1beta1', 'l2advertisements', 'L2Advertisement', true),
  bgpAdvertisements: res('metallb.io', 'v1beta1', 'bgpadvertisements', 'BGPAdvertisement', true),
  bgpPeers: res('metallb.io', 'v1beta2', 'bgppeers', 'BGPPeer', true),
  communities: res('metallb.io', 'v1beta1', 'communities', 'Community', true),
  bfdProfiles: res('metallb.io', 'v1beta1', 'bfdprofiles', 'BFDProfile', true),
  configurationStates: res('metallb.io', 'v1beta1', 'configurationstates', 'ConfigurationState', true),
  serviceL2Statuses: res('metallb.io', 'v1beta1', 'servicel2statuses', 'ServiceL2Status', true),
  serviceBGPStatuses: res('metallb.io', 'v1beta1', 'servicebgpstatuses', 'ServiceBGPStatus', true),
  // berth.io
  ipAddressClaims: res('berth.io', 'v1alpha1', 'ipaddressclaims', 'IPAddressClaim', false),
} as const;

export type ResourceName = keyof typeof Resources;

/** `v1` or `group/version`. */
export function apiVersionOf(r: Resource): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

/**
 * REST path of a collection (no name) or an object (name), optionally a subresource.
 * Namespaced kinds without a namespace give the all-namespaces collection path (list/watch only).
 */
export function resourcePath(r: Resource, opts: { namespace?: string; name?: string; subresource?: string } = {}): string {
  const base = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  const ns = r.namespaced && opts.namespace ? `/namespaces/${encodeURIComponent(opts.namespace)}` : '';
  let p = `${base}${ns}/${r.plural}`;
  if (opts.name !== undefined) {
    p += `/${encodeURIComponent(opts.name)}`;
    if (opts.subresource) p += `/${opts.subresource}`;
  }
  return p;
}
