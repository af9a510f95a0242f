// The one catalogue of berth's problem codes (config validation, allocation, admission).
// Every code here is documented in docs/errors.md; src/shared/codes.test.ts checks the two agree.
// Add codes here (never rename one: users match on them in CI output).

export const Codes = {
  // --- configuration (src/config) ---
  LB_POOL_NO_NAME: 'pool has no name',
  LB_POOL_NO_ADDRESSES: 'pool has no addresses',
  LB_BAD_CIDR: 'an address entry is not a valid CIDR',
  LB_BAD_RANGE: 'an address range a-b is not valid',
  LB_POOL_OVERLAP: 'two CIDRs overlap (within or across pools)',
  LB_DUPLICATE_POOL: 'two pools have the same name',
  LB_DUPLICATE_ENTRY: 'a list holds the same entry twice',
  LB_BAD_INTERFACE: 'an L2Advertisement interfaces entry is not a valid Linux interface name',
  LB_BAD_SELECTOR: 'a label selector is invalid',
  LB_BAD_AGGREGATION: 'an aggregation length is invalid for the selected pools',
  LB_AGGREGATION_SELECTORS: 'serviceSelectors used with a non-default aggregation length',
  LB_LOCALPREF_CONFLICT: 'two advertisements set different localPref for the same update',
  LB_BAD_COMMUNITY: 'a community value or alias is invalid',
  LB_BAD_LINK_BANDWIDTH: 'the berth.io/bgp-link-bandwidth annotation of a BGPAdvertisement is invalid',
  LB_DUPLICATE_COMMUNITY: 'a community alias is defined twice',
  LB_DUPLICATE_ADVERTISEMENT: 'two BGP advertisements are identical',
  LB_PEER_INVALID: 'a BGPPeer field is invalid',
  LB_PEER_UNSUPPORTED: 'a BGPPeer uses an FRR-only field berth does not run (vrf)',
  LB_PEER_DUPLICATE: 'two BGPPeers are identical',
  LB_BFD_INVALID: 'a BFDProfile value is out of range',
  LB_BFD_DUPLICATE: 'two BFDProfiles have the same name',
  LB_BFD_MISSING: 'a BGPPeer references a BFDProfile that does not exist',
  LB_BFD_ECHO_IPV6: 'BFD echo mode on a peer that announces IPv6',
  LB_WRONG_NAMESPACE: 'a metallb.io object outside berth\'s namespace',
  LB_SCHEMA: 'an object does not match its CRD schema',
  LB_IMMUTABLE_FIELD: 'an update changes a field that is fixed at creation',
  LB_POOL_NOT_ADVERTISED: 'a pool is selected by no L2Advertisement or BGPAdvertisement (warning)',
  LB_LEGACY_CONFIGMAP: 'a pre-v0.13 MetalLB ConfigMap, which berth does not read',
  LB_NO_OBJECTS: 'an input file holds no Kubernetes object (Helm values?), which berth does not read',
  LB_MIGRATE_UNCONVERTIBLE: 'berth migrate cannot convert a field of a legacy MetalLB ConfigMap',
  // --- allocation (src/allocator) ---
  LB_IP_NOT_IN_POOL: 'a requested IP is in no pool',
  LB_IP_IN_USE: 'a requested IP is held by another Service that cannot share it',
  LB_PORT_CONFLICT: 'a port is already used on a shared IP',
  LB_SHARING_KEY_MISMATCH: 'sharing keys (or backend keys) differ',
  LB_POOL_EXHAUSTED: 'the pool(s) have no free IP',
  LB_UNKNOWN_POOL: 'the address-pool annotation names no pool',
  LB_POOL_NOT_ALLOWED: 'the pool does not allow this Service (namespace or selectors)',
  LB_FAMILY_MISMATCH: 'requested IP family does not match the Service',
  LB_POOL_MISMATCH: 'requested IPs and requested pool disagree',
  LB_BAD_REQUESTED_IP: 'a requested IP cannot be parsed, or too many / same family',
  LB_BOTH_IP_FIELDS: 'loadBalancerIP and the loadBalancerIPs annotation are both set',
  LB_BAD_SERVICE: 'a Service field is malformed: the API server would refuse the Service (berth plan)',
  LB_NO_POOLS: 'no pool is configured',
  // --- admission (src/webhook) ---
  LB_CLAIM_NOT_OWNED: 'the Service\'s IP claim is missing or held by another Service',
  LB_ORPHANING_EDIT: 'a pool change or delete would orphan IPs held by Services',
  LB_BAD_REVIEW: 'an AdmissionReview could not be decoded',
  LB_CLAIM_CONFLICT: 'claiming an IP kept failing because other writers took it',
} as const;

export type Code = keyof typeof Codes;

/** A validation problem: a value, never a throw. `path` is a JSON-path-like location, e.g. `spec.addresses[1]`. */
export interface Problem {
  readonly code: Code;
  readonly path: string;
  readonly message: string;
  /** kind/name of the object the problem is about, when known (e.g. `IPAddressPool/default`). */
  readonly object?: string;
}
