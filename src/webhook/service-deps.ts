// What the Service webhooks are given (injected by main.ts, or by tests and benches).
import type { AllocatorApi, Family } from '../allocator/types.ts';
import type { RequestLookup } from '../claims/allocator-sync.ts';
import type { ClaimCache, ClaimStore } from '../claims/store.ts';
import type { AdmissionPolicy } from './policy.ts';
import type { ServiceIdentity } from './ghost-holders.ts';

export interface ServiceDeps {
  /** In-memory allocator fed by the claim and pool informers; it proposes, the claims decide. */
  readonly allocator: AllocatorApi;
  readonly store: ClaimStore;
  /** Informer view of the claims: a fast first look for ownership checks (the store is asked when it disagrees). */
  readonly claims?: ClaimCache;
  /** `--lb-class`: with none, only Services without a loadBalancerClass are ours (MetalLB's rule). */
  readonly lbClass?: string | undefined;
  readonly policy: AdmissionPolicy;
  readonly clusterFamilies?: readonly Family[] | undefined;
  readonly lookup?: RequestLookup;
  readonly maxAttempts?: number;
  /**
   * A consistent read of a Service's identity from the API server (undefined: no such Service), asked only when a
   * requested IP is denied as held by another Service: entries of Services known deleted are released at admission
   * (ghost-holders.ts). Absent: such denials are answered as the claims say.
   */
  readonly serviceIdentity?: ServiceIdentity;
  /**
   * Serialises claim steps in this process. The allocator is synchronous but a claim step awaits the store between
   * proposing and recording, so two concurrent requests for the same Service must not interleave.
   */
  readonly keyLock: KeyLock;
}

/** Runs tasks one at a time per key (here: per Service), different keys concurrently. */
export class KeyLock {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    const next = prev.then(task, task);
    const tail = next.catch(() => undefined);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return next;
  }
}
