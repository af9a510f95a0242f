// The speakers' heartbeat view, published for readers that cannot hear heartbeats (`berth status`).
//
// A speaker notices a dead peer within a second by its heartbeats (detector.ts), but the peer's Lease stays fresh for
// up to its leaseDurationSeconds (40 s) after a SIGKILL. So each speaker writes on its own Lease (lease.ts) an
// annotation naming the peers it heard and now hears no more, with since when (epoch ms, RFC 3339 in the object):
//
//   berth.io/silent-peers: {"n1":"2026-12-01T09:00:00.123Z"}
//
// It is rewritten when the heartbeat view changes (at most once a second) and with every renewal; removed when empty.
// API writes grow with peer deaths, never with the number of Services.
//
// The reading rules (speakerSilence, leaseStaleness) use only what the speakers themselves go by: a peer's Lease is
// fresh while renewTime + leaseDurationSeconds is ahead (lease.ts, kubelet's node Lease rule), heartbeats decide
// faster (detector.ts). A node is taken as down when a peer whose own Lease is fresh reports it silent since a time
// after the node's last renewal (a node that renewed since came back, or is alive and cut off from that peer only).

/** The annotation on a speaker's Lease holding its silent peers. */
export const SILENT_PEERS_ANNOTATION = 'berth.io/silent-peers';

/**
 * The annotation value for `silent` (node → since, epoch ms): JSON with RFC 3339 times, keys sorted; null when empty
 * (a merge patch with null removes the annotation).
 */
export function encodeSilentPeers(silent: ReadonlyMap<string, number>): string | null {
  if (silent.size === 0) return null;
  const o: Record<string, string> = {};
  for (const node of [...silent.keys()].sort()) o[node] = new Date(silent.get(node)!).toISOString();
  return JSON.stringify(o);
}

/**
 * Reads the annotation value: node → since (epoch ms). Anything malformed (not a string, not JSON, not an object, a
 * time that does not parse) is skipped, never thrown: an old or foreign writer cannot break a reader.
 */
export function parseSilentPeers(value: unknown): Map<string, number> {
  const out = new Map<string, number>();
  if (typeof value !== 'string' || value === '') return out;
  let o: unknown;
  try {
    o = JSON.parse(value);
  } catch {
    return out;
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return out;
  for (const [node, since] of Object.entries(o as Record<string, unknown>)) {
    const ms = typeof since === 'string' ? Date.parse(since) : NaN;
    if (node !== '' && Number.isFinite(ms)) out.set(node, ms);
  }
  return out;
}

/** A speaker Lease as a reader sees it: the node, its renewTime (epoch ms), duration (s), and its silent peers. */
export interface PublishedLease {
  node: string;
  renewMs?: number | undefined;
  durationSeconds: number;
  /** parseSilentPeers of its annotation (absent: none). */
  silentPeers?: ReadonlyMap<string, number> | undefined;
}

/** Whether `l` is fresh at `nowMs`: renewed, and renewTime + leaseDurationSeconds not passed. */
export function leaseFresh(l: PublishedLease, nowMs: number): boolean {
  return l.renewMs !== undefined && nowMs - l.renewMs <= l.durationSeconds * 1000;
}

/**
 * Whether the peers' heartbeats say `node`'s speaker is gone: the live peers (fresh Lease) that report it silent
 * since after its last renewal, and the earliest such time. Undefined when none does (or `node` has no Lease).
 */
export function speakerSilence(node: string, leases: readonly PublishedLease[], nowMs: number): { by: string[]; sinceMs: number } | undefined {
  const own = leases.find((l) => l.node === node);
  if (!own || own.renewMs === undefined) return undefined;
  const by: string[] = [];
  let sinceMs = Infinity;
  for (const l of leases) {
    if (l.node === node || !leaseFresh(l, nowMs)) continue;
    const since = l.silentPeers?.get(node);
    if (since === undefined || since < own.renewMs) continue;
    by.push(l.node);
    sinceMs = Math.min(sinceMs, since);
  }
  return by.length > 0 ? { by: by.sort(), sinceMs } : undefined;
}

/**
 * Whether `l` is stale but not expired: not renewed for more than two renewal periods (a speaker renews every
 * leaseDurationSeconds / 4: 10 s of 40 s), so two renewals were missed, while renewTime + duration is still ahead.
 * Ages in whole seconds. Undefined when fresh enough, never renewed, or already expired.
 */
export function leaseStaleness(l: PublishedLease, nowMs: number): { ageS: number; renewEveryS: number; expiresInS: number } | undefined {
  if (l.renewMs === undefined) return undefined;
  const ageMs = nowMs - l.renewMs;
  const renewEveryMs = (l.durationSeconds * 1000) / 4;
  if (ageMs <= 2 * renewEveryMs || ageMs > l.durationSeconds * 1000) return undefined;
  return { ageS: Math.round(ageMs / 1000), renewEveryS: Math.round(renewEveryMs / 1000), expiresInS: Math.max(0, Math.round((l.durationSeconds * 1000 - ageMs) / 1000)) };
}
