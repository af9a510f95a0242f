// The controller's seams: everything reconcile needs from the outside world, as small interfaces. main.ts implements
// them over src/kube; unit tests use recording fakes (MetalLB's controller_test.go testK8S does the same).
import type { AllocatorApi } from '../allocator/types.ts';
import type { IPAddressClaim } from '../api/claim.ts';
import type { RequestLookup } from '../claims/allocator-sync.ts';
import type { ClaimStore } from '../claims/store.ts';
import type { ServiceLike, ServiceRequestOptions } from '../config/service.ts';

export type WriteResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'NotFound' | 'Conflict' | 'Error'; readonly message: string };

/** Writes to Services. `ips` empty clears `status.loadBalancer.ingress`; a null annotation value removes the key. */
export interface ServiceWriter {
  writeIngress(namespace: string, name: string, ips: readonly string[]): Promise<WriteResult>;
  writeAnnotations(namespace: string, name: string, changes: Readonly<Record<string, string | null>>): Promise<WriteResult>;
}

export type EventKind = 'Normal' | 'Warning';

/** Events about a Service (MetalLB's reasons and messages, metallb-compat.md §8.1). */
export interface Recorder {
  record(svc: ServiceLike, type: EventKind, reason: string, message: string): void;
}

/** The claims as the controller reads them (an index over the claim informer). */
export interface ClaimView {
  heldBy(key: string): IPAddressClaim[];
  get(ip: string): IPAddressClaim | undefined;
}

export interface ReconcileDeps {
  readonly allocator: AllocatorApi;
  readonly store: ClaimStore;
  readonly claims: ClaimView;
  readonly writer: ServiceWriter;
  readonly recorder: Recorder;
  /** `--lb-class`: undefined = Services without a class. */
  readonly lbClass?: string;
  readonly requestOptions?: ServiceRequestOptions;
  /** Service facts for holders known only from claims (labels for serviceSelectors). */
  readonly lookup?: RequestLookup;
  readonly maxClaimAttempts?: number;
  /**
   * PreferDualStack Services left with one family after a failed attempt to add the other (§3.1 step 12):
   * key → what was last reported (`ip|message`). A resync that changes nothing emits no new AdditionalAssignFailed
   * (MetalLB re-emits on every pass); the controller requeues these keys when capacity appears. Reconcile keeps it.
   */
  readonly additionalFailures?: Map<string, string>;
}

/**
 * What a reconcile answers (MetalLB's SyncState, internal/k8s/controllers/values.go, plus `pending`):
 * - success: converged;
 * - pending: no IP could be allocated (AllocationFailed) — retried when capacity appears, not on a timer;
 * - error: transient (API write failed, claim races) — retried with backoff;
 * - errorNoRetry: the Service itself is wrong (bad requested IP...) — waits for the Service to change.
 * `freed`: IPs were released, so pending Services may now fit.
 */
export type SyncResult =
  | { readonly state: 'success'; readonly freed?: boolean }
  | { readonly state: 'pending'; readonly message: string; readonly freed?: boolean }
  | { readonly state: 'error'; readonly message: string; readonly freed?: boolean }
  | { readonly state: 'errorNoRetry'; readonly message: string; readonly freed?: boolean };
