// Public surface of src/api: CRD types, kind constants, defaults, conversion, annotations and claims.
export * from './object.ts';
export * from './group.ts';
export * from './ip-address-pool.ts';
export * from './l2-advertisement.ts';
export * from './bgp-advertisement.ts';
export * from './bgp-peer.ts';
export * from './bgp-peer-v1beta1.ts';
export * from './community.ts';
export * from './bfd-profile.ts';
export * from './configuration-state.ts';
export * from './ip-address-claim.ts';
export * from './kinds.ts';
export * from './claim.ts';
export * from './annotations.ts';
