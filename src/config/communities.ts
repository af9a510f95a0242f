// Community objects → alias map (MetalLB internal/config/config.go `communitiesFromCrs`).
import type { CommunitySpec } from '../api/community.ts';
import type { KubeObject } from '../api/object.ts';
import { parseCommunity } from './community.ts';
import type { Reporter } from './problem.ts';

/** Alias → canonical value, across every Community object (aliases are global: a second definition is an error). */
export function parseCommunityAliases(
  objs: ReadonlyArray<{ obj: KubeObject; r: Reporter }>,
): Map<string, string> {
  const aliases = new Map<string, string>();
  for (const { obj, r } of objs) {
    const spec = (obj.spec ?? {}) as CommunitySpec;
    (spec.communities ?? []).forEach((c, i) => {
      const name = c.name ?? '';
      const value = c.value ?? '';
      if (name === '') {
        r.add(
          'LB_BAD_COMMUNITY',
          `spec.communities[${i}].name`,
          `parsing community "": missing community alias name`,
        );
        return;
      }
      const parsed = parseCommunity(value);
      if (!parsed.ok) {
        r.add(
          'LB_BAD_COMMUNITY',
          `spec.communities[${i}].value`,
          `parsing community ${JSON.stringify(name)}: ${parsed.message}`,
        );
        return;
      }
      if (aliases.has(name)) {
        r.add(
          'LB_DUPLICATE_COMMUNITY',
          `spec.communities[${i}].name`,
          `duplicate definition of community ${JSON.stringify(name)}`,
        );
        return;
      }
      aliases.set(name, parsed.text);
    });
  }
  return aliases;
}
