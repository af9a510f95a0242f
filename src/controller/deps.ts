// The controller's seams: everything reconcile needs from the outside world, as small interfaces. main.ts implements
// them over src/kube; unit tests use recording fakes (MetalLB's controller_test.go testK8S does the same).
import type { AllocatorApi } from '../allocator/types.ts';
import type { IPAddressClaim } from '../api/claim.ts';
import type { RequestLookup } from '../claims/allocator-sync.ts';
import type { ClaimStore } from '../claims/store.ts';
import type { ServiceLike, ServiceRequestOptions } from '../config/service.ts';

export type WriteResult =
  | { readonly ok: true; readonly resourceVersion?: string }
  | { readonly ok: false; readonly reason: 'NotFound' | 'Conflict' | 'Error'; readonly message: string };

/**
 * Writes to Services. `ips` empty clears `status.loadBalancer.ingress`; a null annotation value removes the key.
 * `resourceVersion`: the version the write was computed from; the API server refuses it (Conflict) when the Service
 * changed since — a reconcile of an older version must never overwrite a newer admission's decision. A successful
 * write answers the Service's new resourceVersion.
 */
export interface ServiceWriter {
  writeIngress(namespace: string, name: string, ips: readonly string[], resourceVersion?: string): Promise<WriteResult>;
  writeAnnotations(
    namespace: string,
    name: string,
    changes: Readonly<Record<string, string | null>>,
    resourceVersion?: string,
  ): Promise<WriteResult>;
  /**
   * The stored Service's identity, read from the API server (not a cache): undefined when it does not exist.
   * Rejects on transport failures. Asked before releasing a claim the cached version does not name.
   */
  current?(namespace: string, name: string): Promise<{ readonly uid?: string; readonly resourceVersion?: string } | undefined>;
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
 * - errorNoRetry: the Service itself is wrong (bad requested IP...) — waits for the Service to change;
 * - retry: the cached Service is older than the stored one; nothing was released on its say-so.
 * `freed`: IPs were released, so pending Services may now fit.
 */
export type SyncResult =
  | { readonly state: 'success'; readonly freed?: boolean }
  | { readonly state: 'pending'; readonly message: string; readonly freed?: boolean }
  | { readonly state: 'error'; readonly message: string; readonly freed?: boolean }
  /** Not an error: the cache lags the stored Service; look again after `afterMs` (its watch event usually comes first). */
  | { readonly state: 'retry'; readonly message: string; readonly afterMs: number; readonly freed?: boolean }
  | { readonly state: 'errorNoRetry'; readonly message: string; readonly freed?: boolean };
