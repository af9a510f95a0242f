// POST /validate/<kind> for metallb.io CRs: the would-be configuration (the objects that exist now, with this one
// created, replaced or deleted) goes through src/config exactly as `berth validate` and the controller read it
// (MetalLB's webhooks do the same: ipAddressListWithUpdate + config.For). Only problems the change *introduces* are
// denials, so one bad object admitted while the webhook was down does not block every later edit.
// Pool edits and deletes that would leave held IPs outside every pool are denied, listing the Services (decision 4),
// unless the pool carries berth.io/allow-orphaning: "true".
import type { AllocatorApi, Orphan } from '../allocator/types.ts';
import { BerthAnnotations } from '../api/annotations.ts';
import type { KubeObject } from '../api/object.ts';
import { updateProblems, validateObjects } from '../config/index.ts';
import type { LabelledName } from '../config/types.ts';
import type { Problem } from '../shared/codes.ts';
import { allow, deny, errored, type AdmissionRequest, type AdmissionResponse } from './review.ts';

export interface ConfigWebhook {
  readonly kind: string;
  /** `/validate/<path>` */
  readonly path: string;
  /** MetalLB's path for the same webhook (config/webhook/manifests.yaml). */
  readonly metallbPath: string;
  /** MetalLB's webhook name: it is in the denial text users know (`admission webhook "<name>" denied ...`). */
  readonly name: string;
  readonly apiVersions: readonly string[];
  readonly plural: string;
  readonly operations: readonly string[];
}

const w = (kind: string, version: string, operations: readonly string[], plural: string, versions = [version]): ConfigWebhook => ({
  kind,
  path: kind.toLowerCase(),
  metallbPath: `/validate-metallb-io-${version}-${kind.toLowerCase()}`,
  name: `${kind.toLowerCase()}validationwebhook.metallb.io`,
  apiVersions: versions,
  plural,
  operations,
});

/** MetalLB's webhook inventory (metallb-compat.md §4.1), plus DELETE for pools (orphaning guard). */
export const CONFIG_WEBHOOKS: readonly ConfigWebhook[] = [
  w('IPAddressPool', 'v1beta1', ['CREATE', 'UPDATE', 'DELETE'], 'ipaddresspools'),
  w('L2Advertisement', 'v1beta1', ['CREATE', 'UPDATE'], 'l2advertisements'),
  w('BGPAdvertisement', 'v1beta1', ['CREATE', 'UPDATE'], 'bgpadvertisements'),
  w('BGPPeer', 'v1beta2', ['CREATE', 'UPDATE'], 'bgppeers', ['v1beta2', 'v1beta1']),
  w('Community', 'v1beta1', ['CREATE', 'UPDATE'], 'communities'),
  w('BFDProfile', 'v1beta1', ['CREATE', 'DELETE'], 'bfdprofiles'),
];

export interface ConfigDeps {
  /** berth's namespace: metallb.io objects elsewhere are refused on CREATE. */
  readonly namespace: string;
  /** The metallb.io objects that exist now in berth's namespace (all kinds; listed live, as MetalLB's webhooks do). */
  readonly listObjects: () => Promise<KubeObject[]>;
  /** Namespaces and their labels (pools' namespaceSelectors). */
  readonly namespaces: () => Promise<LabelledName[]>;
  /** Nodes and their labels, when known (advertisement / peer node selectors). */
  readonly nodes?: () => Promise<LabelledName[]>;
  /** Holds every claimed IP (fed by the claims informer): the pool-orphaning check asks it. */
  readonly allocator: AllocatorApi;
}

function isObj(v: unknown): v is KubeObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const sameObject = (a: KubeObject, kind: string, name: string) => a.kind === kind && a.metadata?.name === name;

function problemKey(p: Problem): string {
  return `${p.code}\u0000${p.object ?? ''}\u0000${p.message}`;
}

/** `3 IPs held by shop/web (192.168.1.221), ...` */
function describeOrphans(orphans: readonly Orphan[]): string {
  // A shared IP has several holders: count distinct IPs and Services separately.
  const n = new Set(orphans.flatMap((o) => o.ips)).size;
  const s = orphans.length;
  const shown = orphans.slice(0, 10).map((o) => `${o.key} (${o.ips.join(', ')})`);
  const more = orphans.length > 10 ? `, and ${orphans.length - 10} more` : '';
  return `${n} IP${n === 1 ? '' : 's'} held by ${s} Service${s === 1 ? '' : 's'}: ${shown.join(', ')}${more}`;
}

/**
 * The warnings a denial may carry. A refused change leaves the configuration as it was, so warnings computed from the
 * would-be configuration about other objects are false (a refused pool delete must not say "L2Advertisement l2 names
 * pool "default", which does not exist") or unrelated; only those about the object sent (`<Kind> <name>: ...`, e.g. a
 * BGPPeer's disableMP) stay, and none for a DELETE.
 */
function warningsOnDenial(warnings: readonly string[], kind: string, name: string, operation: string): string[] {
  if (operation === 'DELETE') return [];
  return warnings.filter((w) => w.startsWith(`${kind} ${name}: `));
}

export async function validateConfigObject(deps: ConfigDeps, kind: string, request: AdmissionRequest): Promise<AdmissionResponse> {
  const hook = CONFIG_WEBHOOKS.find((h) => h.kind === kind);
  if (!hook || request.kind.kind !== kind || request.kind.group !== 'metallb.io') {
    return errored(request.uid, 400, `the ${kind} webhook got a ${request.kind.group}/${request.kind.kind} request`);
  }
  if (!hook.operations.includes(request.operation)) return allow(request.uid);
  const obj = request.operation === 'DELETE' ? request.oldObject : request.object;
  const name = (isObj(obj) ? obj.metadata?.name : undefined) || request.name;
  if (request.operation !== 'DELETE' && !isObj(request.object)) {
    return errored(request.uid, 400, `request.object is not a ${kind}`);
  }
  // MetalLB checks the namespace on CREATE only (objects cannot move between namespaces).
  if (request.operation === 'CREATE') {
    const ns = (isObj(obj) ? obj.metadata?.namespace : undefined) || request.namespace;
    if (ns !== deps.namespace) {
      return deny(request.uid, `resource must be created in ${deps.namespace} namespace`, { code: 'LB_WRONG_NAMESPACE' });
    }
  }

  if (request.operation === 'UPDATE' && isObj(request.oldObject)) {
    const changed = updateProblems(request.oldObject, request.object as KubeObject);
    if (changed.length > 0) {
      return deny(request.uid, changed.map((p) => p.message).join('; '), { code: changed[0]!.code });
    }
  }

  const [existing, namespaces, nodes] = await Promise.all([
    deps.listObjects(),
    deps.namespaces(),
    deps.nodes ? deps.nodes() : Promise.resolve(undefined),
  ]);
  const others = existing.filter((o) => !sameObject(o, kind, name));
  const candidate = request.operation === 'DELETE' ? undefined : ({ ...(request.object as KubeObject), kind } as KubeObject);
  if (candidate) candidate.metadata = { ...candidate.metadata, name, namespace: deps.namespace };
  const after = candidate ? [...others, candidate] : others;

  // A BFDProfile delete is about references (MetalLB: "failed to delete BFDProfile <name>, used by BGPPeer <peer>"),
  // so references are checked there; elsewhere they may point at objects created later (resetTransientErrorsFields).
  const deferTransient = !(kind === 'BFDProfile' && request.operation === 'DELETE');
  const opts = { namespace: deps.namespace, namespaces, ...(nodes ? { nodes } : {}), deferTransient };
  const before = validateObjects(existing, opts);
  const next = validateObjects(after, opts);
  const known = new Set(before.problems.map(problemKey));
  const introduced = next.problems.filter((p) => !known.has(problemKey(p)));
  if (introduced.length > 0) {
    if (kind === 'BFDProfile' && request.operation === 'DELETE') {
      const users = existing
        .filter((o) => o.kind === 'BGPPeer' && (o.spec as { bfdProfile?: unknown } | undefined)?.bfdProfile === name)
        .map((o) => o.metadata.name);
      if (users.length > 0) {
        return deny(request.uid, `failed to delete BFDProfile ${name}, used by BGPPeer ${users.join(', ')}`, {
          code: 'LB_BFD_MISSING',
        });
      }
    }
    return deny(request.uid, introduced.map((p) => p.message).join('; '), {
      code: introduced[0]!.code,
      warnings: warningsOnDenial(next.warnings, kind, name, request.operation),
    });
  }

  if (kind === 'IPAddressPool' && next.config) {
    const { orphaned } = deps.allocator.planPools(next.config.pools);
    if (orphaned.length > 0) {
      const pool = (isObj(obj) ? obj : undefined) as KubeObject | undefined;
      const optOut = pool?.metadata?.annotations?.[BerthAnnotations.allowOrphaning] === 'true';
      const what =
        request.operation === 'DELETE' ? `deleting IPAddressPool "${name}"` : `this change to IPAddressPool "${name}"`;
      if (optOut) {
        return allow(request.uid, {
          warnings: [...next.warnings, `${what} orphans ${describeOrphans(orphaned)}; they will get new IPs`],
        });
      }
      return deny(
        request.uid,
        `${what} would orphan ${describeOrphans(orphaned)}; move those Services first, or annotate the pool with ` +
          `${BerthAnnotations.allowOrphaning}: "true" to let them be re-allocated`,
        { code: 'LB_ORPHANING_EDIT', warnings: warningsOnDenial(next.warnings, kind, name, request.operation) },
      );
    }
  }
  return allow(request.uid, { warnings: next.warnings });
}
