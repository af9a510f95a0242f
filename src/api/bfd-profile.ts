// metallb.io/v1beta1 BFDProfile (MetalLB api/v1beta1/bfdprofile_types.go; spec metallb-compat.md §1.6).
// Defaults are FRR's (MetalLB passes unset fields through to FRR); berth's native BFD uses the same values.
import { METALLB_GROUP } from './group.ts';
import { kindInfo, type KubeObject } from './object.ts';

export const BFD_PROFILE = kindInfo(METALLB_GROUP, 'v1beta1', 'BFDProfile', 'bfdprofiles', 'Namespaced');

export interface BFDProfileSpec {
  /** ms, 10-60000. */
  receiveInterval?: number;
  /** ms, 10-60000. */
  transmitInterval?: number;
  /** 2-255. */
  detectMultiplier?: number;
  /** ms, 10-60000. */
  echoInterval?: number;
  echoMode?: boolean;
  passiveMode?: boolean;
  /** 1-254, multi-hop sessions only. */
  minimumTtl?: number;
}

export interface BFDProfile extends KubeObject<BFDProfileSpec, Record<string, never>> {
  spec?: BFDProfileSpec;
}

/** Valid range of each numeric field (schema and parser agree; MetalLB `internal/config/config.go` bfd checks). */
export const BFD_PROFILE_RANGES = {
  receiveInterval: [10, 60000],
  transmitInterval: [10, 60000],
  detectMultiplier: [2, 255],
  echoInterval: [10, 60000],
  minimumTtl: [1, 254],
} as const;

/** FRR's defaults (bfdd): 300 ms intervals, multiplier 3, echo 50 ms, minimum TTL 254. */
export const BFD_PROFILE_DEFAULTS = {
  receiveInterval: 300,
  transmitInterval: 300,
  detectMultiplier: 3,
  echoInterval: 50,
  echoMode: false,
  passiveMode: false,
  minimumTtl: 254,
} as const;

export type BFDProfileSpecWithDefaults = Required<BFDProfileSpec>;

export function withBFDProfileDefaults(spec: BFDProfileSpec | undefined): BFDProfileSpecWithDefaults {
  return {
    receiveInterval: spec?.receiveInterval ?? BFD_PROFILE_DEFAULTS.receiveInterval,
    transmitInterval: spec?.transmitInterval ?? BFD_PROFILE_DEFAULTS.transmitInterval,
    detectMultiplier: spec?.detectMultiplier ?? BFD_PROFILE_DEFAULTS.detectMultiplier,
    echoInterval: spec?.echoInterval ?? BFD_PROFILE_DEFAULTS.echoInterval,
    echoMode: spec?.echoMode ?? BFD_PROFILE_DEFAULTS.echoMode,
    passiveMode: spec?.passiveMode ?? BFD_PROFILE_DEFAULTS.passiveMode,
    minimumTtl: spec?.minimumTtl ?? BFD_PROFILE_DEFAULTS.minimumTtl,
  };
}
