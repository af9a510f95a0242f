// The allocator's public surface: pure, no Kubernetes types, no I/O (see src/allocator/types.ts for the contract).
export { Allocator, type Allocation } from './allocator.ts';
export { metallbCounters, MAX_INT64, type MetalLBCounters } from './counters.ts';
export type * from './types.ts';
