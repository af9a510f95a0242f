// The controller's view of the configuration (MetalLB's PoolReconciler, internal/k8s/controllers/pool_controller.go):
// pools, communities and namespaces (for namespaceSelectors) go through the same buildConfig as the webhook and the
// CLI. A valid change replaces the allocator's pools (held IPs re-mapped, orphans reported) and asks for a
// reprocess-all; an invalid one keeps the last valid config and marks it stale (spec §4.6). Peers and advertisements
// are the speaker's business, as in MetalLB, so a bad BGPPeer never stops IP allocation.
import type { AllocatorApi, Orphan, PoolSpec } from '../allocator/types.ts';
import type { KubeObject } from '../api/object.ts';
import type { BuildResult, ClusterResources, LabelledName } from '../config/types.ts';
import type { Problem } from '../shared/codes.ts';

export type BuildConfig = (input: ClusterResources, opts: { namespace: string }) => BuildResult;

export interface ConfigSources {
  pools: KubeObject[];
  communities: KubeObject[];
  namespaces: LabelledName[];
}

export type ConfigOutcome =
  | { readonly kind: 'applied'; readonly orphaned: Orphan[]; readonly first: boolean }
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'invalid'; readonly problems: Problem[]; readonly summary: string };

export class ConfigLoader {
  readonly #allocator: AllocatorApi;
  readonly #build: BuildConfig;
  readonly #namespace: string;
  #applied: string | undefined;
  #pools: PoolSpec[] = [];
  /** Valid configuration seen at least once. */
  loaded = false;
  /** The latest configuration was invalid (running on the last valid one). */
  stale = false;
  /** Problems of the latest configuration ('' when valid). */
  summary = '';

  constructor(allocator: AllocatorApi, build: BuildConfig, namespace: string) {
    this.#allocator = allocator;
    this.#build = build;
    this.#namespace = namespace;
  }

  get pools(): readonly PoolSpec[] {
    return this.#pools;
  }

  load(src: ConfigSources): ConfigOutcome {
    const res = this.#build(
      {
        pools: src.pools,
        communities: src.communities,
        namespaces: src.namespaces,
        l2Advertisements: [],
        bgpAdvertisements: [],
        bgpPeers: [],
        bfdProfiles: [],
      },
      { namespace: this.#namespace },
    );
    if (!res.config) {
      this.stale = true;
      this.summary = res.problems.map((p) => `${p.object ? `${p.object}: ` : ''}${p.message}`).join('; ');
      return { kind: 'invalid', problems: res.problems, summary: this.summary };
    }
    this.stale = false;
    this.summary = '';
    const pools = res.config.pools;
    const text = JSON.stringify(pools);
    if (text === this.#applied) return { kind: 'unchanged' };
    const first = !this.loaded;
    const { orphaned } = this.#allocator.setPools(pools);
    this.#applied = text;
    this.#pools = pools;
    this.loaded = true;
    return { kind: 'applied', orphaned, first };
  }
}
