// Bringing a Service's visible state in line with the IPs it holds: status.loadBalancer.ingress (v4 first, as
// allocated) and the annotations `metallb.io/ip-allocated-from-pool` and `berth.io/assigned-ips`. Compares first and
// writes only what differs (MetalLB controller/main.go: "service converged, no change").
import { Annotations, BerthAnnotations, deprecatedKeys } from '../api/annotations.ts';
import { ingressIPs, type ServiceLike } from '../config/service.ts';
import { canonicalIp } from '../shared/ip.ts';
import type { ReconcileDeps, WriteResult } from './deps.ts';

/** Go's %q of a []string, as MetalLB's `Assigned IP %q` prints it: `["1.2.3.4" "2001:db8::1"]`. */
export function goQuoteList(items: readonly string[]): string {
  return `[${items.map((s) => JSON.stringify(s)).join(' ')}]`;
}

/** Annotation changes that make the Service say it holds `ips` from `pool` (nothing held: both keys removed). */
export function annotationChanges(
  svc: ServiceLike,
  ips: readonly string[],
  pool: string | undefined,
): Record<string, string | null> {
  const cur = svc.metadata?.annotations ?? {};
  const want: Record<string, string | null> =
    ips.length > 0 && pool !== undefined
      ? { [Annotations.ipAllocatedFromPool]: pool, [BerthAnnotations.assignedIPs]: ips.join(',') }
      : { [Annotations.ipAllocatedFromPool]: null, [BerthAnnotations.assignedIPs]: null };
  const changes: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(want)) {
    const has = Object.prototype.hasOwnProperty.call(cur, k);
    if (v === null ? has : cur[k] !== v) changes[k] = v;
  }
  return changes;
}

export function sameIngress(svc: ServiceLike, ips: readonly string[]): boolean {
  const cur = ingressIPs(svc).map((ip) => canonicalIp(ip) ?? ip);
  return cur.length === ips.length && cur.every((ip, i) => ip === ips[i]);
}

export type ConvergeResult = { readonly ok: true; readonly changed: boolean } | { readonly ok: false; readonly write: WriteResult };

/**
 * Writes status then annotations where they differ. Status first: it is what users and Argo CD wait for.
 * Emits IPAllocated when the ingress changes to a non-empty list, and deprecatedAnnotation warnings when a write
 * happens on a Service still using `metallb.universe.tf/` keys (MetalLB SetBalancer: only when something changes).
 * `allocatedMessage`: the IPAllocated text instead of `Assigned IP [...]` (a PreferDualStack Service gaining its second
 * family says `Assigned additional IP "<ip>"`, MetalLB's one event for that change).
 */
export async function converge(
  d: Pick<ReconcileDeps, 'writer' | 'recorder'>,
  svc: ServiceLike,
  ips: readonly string[],
  pool: string | undefined,
  allocatedMessage?: string,
): Promise<ConvergeResult> {
  const ns = svc.metadata?.namespace || 'default';
  const name = svc.metadata?.name ?? '';
  const statusChanged = !sameIngress(svc, ips);
  const changes = annotationChanges(svc, ips, pool);
  const annChanged = Object.keys(changes).length > 0;
  if (!statusChanged && !annChanged) return { ok: true, changed: false };
  for (const k of deprecatedKeys(svc.metadata?.annotations)) {
    d.recorder.record(svc, 'Warning', 'deprecatedAnnotation', `Service uses deprecated annotation ${k}`);
  }
  // Each write is conditional on the version it was computed from: a newer version (a newer admission's decision) is
  // never overwritten; the Conflict requeues the Service and its newer version is reconciled instead.
  let rv = svc.metadata?.resourceVersion || undefined;
  if (statusChanged) {
    const w = await d.writer.writeIngress(ns, name, ips, rv);
    if (!w.ok) return { ok: false, write: w };
    rv = rv !== undefined ? w.resourceVersion : undefined;
    if (ips.length > 0) {
      d.recorder.record(svc, 'Normal', 'IPAllocated', allocatedMessage ?? `Assigned IP ${goQuoteList(ips)}`);
    }
  }
  if (annChanged) {
    const w = await d.writer.writeAnnotations(ns, name, changes, rv);
    if (!w.ok) return { ok: false, write: w };
  }
  return { ok: true, changed: true };
}
