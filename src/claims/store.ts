// The ClaimStore contract: where IPAddressClaims live (the API server in production, memory in unit tests).
// Create-only naming makes the store the arbiter of "who holds which IP" (KEP-1880: the first create wins);
// updates carry the read resourceVersion so concurrent holder edits cannot overwrite each other.
//
// Expected outcomes (AlreadyExists, Conflict, NotFound) are values. Transport or server failures (API server down,
// 5xx, RBAC) reject the promise: callers cannot do anything sensible with them but fail the request.
import type { IPAddressClaim } from '../api/claim.ts';

export type CreateResult =
  | { readonly ok: true; readonly claim: IPAddressClaim }
  | { readonly ok: false; readonly reason: 'AlreadyExists' };

export type UpdateResult =
  | { readonly ok: true; readonly claim: IPAddressClaim }
  | { readonly ok: false; readonly reason: 'Conflict' | 'NotFound' };

export type DeleteResult = { readonly ok: true } | { readonly ok: false; readonly reason: 'Conflict' | 'NotFound' };

export interface ClaimStore {
  /** Every claim (order unspecified). */
  list(): Promise<IPAddressClaim[]>;
  /** The claim for an IP (any textual form; looked up by `claimName(ip)`), or undefined. */
  get(ip: string): Promise<IPAddressClaim | undefined>;
  /**
   * Creates the claim named `claimName(claim.spec.ip)`. The returned claim carries the server-set uid,
   * resourceVersion and creationTimestamp. `dryRun`: same answer, nothing written.
   */
  create(claim: IPAddressClaim, opts?: { readonly dryRun?: boolean }): Promise<CreateResult>;
  /** Replaces the claim; `claim.metadata.resourceVersion` is required (a missing one is a bug: throws). */
  update(claim: IPAddressClaim): Promise<UpdateResult>;
  /** Deletes the claim for an IP; with `resourceVersion`, only if it still has that version (else Conflict). */
  delete(ip: string, opts?: { readonly resourceVersion?: string }): Promise<DeleteResult>;
}

export type ClaimEvent = {
  readonly type: 'added' | 'modified' | 'deleted';
  readonly claim: IPAddressClaim;
  /** `modified`: the version the cache held before this one, from a cache that reports it (`reportsPrevious`). */
  readonly previous?: IPAddressClaim;
};

/**
 * A read-only, event-fed view of the claims (an informer cache in production, the memory store in tests).
 * Reads are synchronous and may lag the store: use it to feed the allocator, never to decide ownership.
 */
export interface ClaimCache {
  list(): IPAddressClaim[];
  get(ip: string): IPAddressClaim | undefined;
  /** Calls `fn` for every later change; returns the unsubscribe function. */
  subscribe(fn: (e: ClaimEvent) => void): () => void;
  /**
   * Every `modified` event carries `previous` (an informer's update gets the old object): a reader that indexes the
   * claims need not keep what it indexed each one under (ClaimIndex).
   */
  readonly reportsPrevious?: boolean;
  /** How many claims it holds (O(1)), when it can say. */
  readonly size?: number;
}
