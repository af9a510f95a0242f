// MetalLB < 0.13 read its configuration from the ConfigMap `config` in its namespace (data.config: address-pools,
// peers, bgp-communities). MetalLB ≥ 0.13 and berth read only the metallb.io objects, so such a ConfigMap is ignored;
// berth says so instead of staying silent: a Warning Event on the ConfigMap (reason LegacyConfigIgnored) and one log
// line, once per resourceVersion, naming the command that converts it. Source: MetalLB's 0.13 release notes
// ("configuration via CRs"), docs/compatibility.md.
import type { KubeObject } from './client.ts';
import type { Kube } from './connect.ts';
import type { EventSink } from './events.ts';
import type { Informer } from './informer.ts';
import { Resources } from './resources.ts';

/** The ConfigMap name MetalLB < 0.13 read (its `--config` flag's default). */
export const LEGACY_CONFIGMAP = 'config';
export const LEGACY_REASON = 'LegacyConfigIgnored';

/** The Event / log text for the ConfigMap `namespace/config`. */
export function legacyConfigMessage(namespace: string): string {
  return (
    `ConfigMap ${namespace}/${LEGACY_CONFIGMAP} is MetalLB's legacy (< 0.13) configuration and is not read: ` +
    'berth, like MetalLB ≥ 0.13, reads only metallb.io objects (IPAddressPool, L2Advertisement, BGPAdvertisement, BGPPeer). ' +
    `Convert it with \`berth migrate\` (\`kubectl get configmap -n ${namespace} ${LEGACY_CONFIGMAP} -o yaml | berth migrate -\`) ` +
    'and apply the objects it prints (docs/migrating.md)'
  );
}

export interface LegacyConfigOptions {
  /** berth's namespace. */
  readonly namespace: string;
  readonly events: EventSink;
  /** One call per new resourceVersion: (fields, message). */
  readonly warn: (fields: Record<string, unknown>, message: string) => void;
  /** Informer diagnostics (list/watch failures). */
  readonly log?: (line: string) => void;
}

/**
 * Watches the ConfigMap `config` in berth's namespace (field selector `metadata.name=config`) and warns once per
 * resourceVersion it is seen at (created, edited). Returns the started informer (stop it on shutdown).
 */
export function watchLegacyConfigMap(kube: Pick<Kube, 'informer'>, o: LegacyConfigOptions): Informer<KubeObject> {
  const inf = kube.informer<KubeObject>(Resources.configMaps, {
    namespace: o.namespace,
    fieldSelector: `metadata.name=${LEGACY_CONFIGMAP}`,
    // Only identity is needed: do not keep the (possibly large) data in memory.
    transform: (cm) => {
      const m = cm.metadata ?? {};
      return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion } };
    },
    ...(o.log ? { log: o.log } : {}),
  });
  const seen = new Set<string>();
  const check = (cm: KubeObject): void => {
    const m = cm.metadata ?? {};
    if (m.name !== LEGACY_CONFIGMAP) return;
    const id = `${m.uid ?? ''}/${m.resourceVersion ?? ''}`;
    if (seen.has(id)) return;
    seen.add(id);
    const message = legacyConfigMessage(o.namespace);
    o.events.event(
      {
        kind: 'ConfigMap',
        apiVersion: 'v1',
        namespace: o.namespace,
        name: LEGACY_CONFIGMAP,
        ...(m.uid ? { uid: m.uid } : {}),
        ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}),
      },
      'Warning',
      LEGACY_REASON,
      message,
    );
    o.warn({ configMap: `${o.namespace}/${LEGACY_CONFIGMAP}`, resourceVersion: m.resourceVersion, reason: LEGACY_REASON }, message);
  };
  inf.on({ add: check, update: (cm) => check(cm) });
  inf.start();
  return inf;
}
