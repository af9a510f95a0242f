// BFDProfile objects → BFDProfileConfig (MetalLB internal/config/config.go `bfdProfileFromCR`), with MetalLB's
// range messages. berth's native BGP implements BFD, so MetalLB's native-mode rejection of profiles does not apply.
import { BFD_PROFILE_RANGES, withBFDProfileDefaults, type BFDProfileSpec } from '../api/bfd-profile.ts';
import type { KubeObject } from '../api/object.ts';
import type { Reporter } from './problem.ts';
import type { BFDProfileConfig } from './types.ts';

export function parseBfdProfile(obj: KubeObject, r: Reporter): BFDProfileConfig | undefined {
  const name = obj.metadata?.name ?? '';
  const raw = (obj.spec ?? {}) as BFDProfileSpec;
  const before = r.count();
  for (const [field, [min, max]] of Object.entries(BFD_PROFILE_RANGES)) {
    const v = raw[field as keyof typeof BFD_PROFILE_RANGES];
    if (v === undefined || typeof v !== 'number') continue;
    if (v < min || v > max) {
      r.add(
        'LB_BFD_INVALID',
        `spec.${field}`,
        `parsing bfd profile ${name}: invalid ${field} value: invalid value ${v}, must be in ${min}-${max} range`,
      );
    }
  }
  if (r.count() !== before) return undefined;
  return { name, ...withBFDProfileDefaults(raw) };
}
