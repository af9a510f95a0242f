// metallb.io/v1beta1 Community: named aliases for BGP community values (MetalLB api/v1beta1/community_types.go; §1.5).
import { METALLB_GROUP } from './group.ts';
import { kindInfo, type KubeObject } from './object.ts';

export const COMMUNITY = kindInfo(METALLB_GROUP, 'v1beta1', 'Community', 'communities', 'Namespaced');

export interface CommunityAlias {
  /** Alias name, unique across every Community object. */
  name?: string;
  /** `A:B` or `large:X:Y:Z`. */
  value?: string;
}

export interface CommunitySpec {
  communities?: CommunityAlias[];
}

export interface Community extends KubeObject<CommunitySpec, Record<string, never>> {
  spec?: CommunitySpec;
}

export function withCommunityDefaults(spec: CommunitySpec | undefined): Required<CommunitySpec> {
  return { communities: spec?.communities ?? [] };
}
