// berth status and a SIGKILLed speaker: its announcements are marked as soon as its live peers publish that their
// heartbeats no longer hear it (berth.io/silent-peers on their Leases), instead of after its own Lease expires (40 s);
// with no peer view, once its Lease missed two renewals (speaker lease stale, with the age).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeSilentPeers, leaseStaleness, parseSilentPeers, speakerSilence, type PublishedLease } from '../speaker/liveness/silent-peers.ts';
import type { Unconfirmed } from './announce-reasons.ts';
import { announcedText, checkSpeakersAlive } from './status.ts';

const NOW = Date.parse('2026-12-01T09:00:00Z');
const ago = (s: number): number => NOW - s * 1000;

const fresh = (node: string, silent?: Record<string, number>): PublishedLease => ({
  node,
  renewMs: ago(2),
  durationSeconds: 40,
  ...(silent ? { silentPeers: new Map(Object.entries(silent)) } : {}),
});

const reported = (): { l2Nodes: string[]; bgp: Array<{ node: string; peers: string[] }>; unconfirmed: Unconfirmed[] } => ({
  l2Nodes: ['n1'],
  bgp: [{ node: 'n1', peers: ['router'] }],
  unconfirmed: [],
});

test('silent-peers annotation: encoded sorted with RFC 3339 times, null when empty; malformed values read as nothing', () => {
  const v = encodeSilentPeers(new Map([['n3', Date.parse('2026-12-01T09:00:01.250Z')], ['n1', Date.parse('2026-12-01T09:00:00Z')]]));
  assert.equal(v, '{"n1":"2026-12-01T09:00:00.000Z","n3":"2026-12-01T09:00:01.250Z"}');
  assert.deepEqual([...parseSilentPeers(v)], [['n1', Date.parse('2026-12-01T09:00:00Z')], ['n3', Date.parse('2026-12-01T09:00:01.250Z')]]);
  assert.equal(encodeSilentPeers(new Map()), null);
  for (const bad of [undefined, 42, '', 'not json', '[1,2]', 'null', '{"n1":12}', '{"n1":"yesterday"}', '{"":"2026-12-01T09:00:00Z"}'])
    assert.equal(parseSilentPeers(bad).size, 0, `parseSilentPeers(${JSON.stringify(bad)})`);
  // A good entry survives a bad neighbour.
  assert.deepEqual([...parseSilentPeers('{"n1":"2026-12-01T09:00:00Z","n2":false}').keys()], ['n1']);
});

test('SIGKILLed speaker, Lease still fresh: a live peer hearing no heartbeat from it since after its last renewal marks it down', () => {
  const leases = [{ ...fresh('n1'), renewMs: ago(5) }, fresh('n2', { n1: ago(3) }), fresh('n3', { n1: ago(2) })];
  assert.deepEqual(speakerSilence('n1', leases, NOW), { by: ['n2', 'n3'], sinceMs: ago(3) });
  const r = checkSpeakersAlive(reported(), leases, NOW);
  assert.deepEqual(r.l2Nodes, []);
  assert.deepEqual(r.bgp, []);
  assert.deepEqual(r.unconfirmed.map((u) => [u.mode, u.node, u.reason]), [['layer2', 'n1', 'speakerDown'], ['bgp', 'n1', 'speakerDown']]);
  assert.equal(
    r.unconfirmed[0]!.message,
    'the speaker of node "n1" is down: its peers n2, n3 hear no heartbeat from it since 3 s ago (its Lease metallb-speaker-n1 was last renewed 5 s ago and expires in 35 s); its status objects stay until its Pod is deleted',
  );
  assert.equal(announcedText({ layer2: r.l2Nodes, bgp: r.bgp }, r.unconfirmed), 'layer2: n1 (speaker down); bgp: n1 (speaker down)');
});

test('not marked: the node renewed its Lease after the peer went silent on it, the reporting peer is itself dead, nobody reports it', () => {
  // Renewed 1 s ago, silent since 3 s ago: it came back (or is alive and cut off from that peer only).
  const back = [{ ...fresh('n1'), renewMs: ago(1) }, fresh('n2', { n1: ago(3) })];
  assert.equal(speakerSilence('n1', back, NOW), undefined);
  assert.deepEqual(checkSpeakersAlive(reported(), back, NOW), reported());
  // The only reporter's Lease expired: its view is not trusted.
  const deadReporter = [{ ...fresh('n1'), renewMs: ago(5) }, { ...fresh('n2', { n1: ago(3) }), renewMs: ago(60) }];
  assert.deepEqual(checkSpeakersAlive(reported(), deadReporter, NOW), reported());
  // Nobody reports n1 silent; its Lease renewed 5 s ago: alive.
  assert.deepEqual(checkSpeakersAlive(reported(), [{ ...fresh('n1'), renewMs: ago(5) }, fresh('n2', { n3: ago(1) })], NOW), reported());
  // Leases not readable: unchanged.
  assert.deepEqual(checkSpeakersAlive(reported(), undefined, NOW), reported());
});

test('no peer view: a Lease that missed two renewals (over 20 s of 40 s) is marked speaker lease stale with its age', () => {
  const l = { node: 'n1', renewMs: ago(25), durationSeconds: 40 };
  assert.deepEqual(leaseStaleness(l, NOW), { ageS: 25, renewEveryS: 10, expiresInS: 15 });
  assert.equal(leaseStaleness({ ...l, renewMs: ago(19) }, NOW), undefined);
  assert.equal(leaseStaleness({ ...l, renewMs: ago(41) }, NOW), undefined, 'expired: checkAnnouncers says speakerDown');
  const r = checkSpeakersAlive({ ...reported(), bgp: [] }, [l], NOW);
  assert.deepEqual(r.l2Nodes, []);
  assert.equal(r.unconfirmed[0]?.reason, 'speakerLeaseStale');
  assert.equal(
    r.unconfirmed[0]?.message,
    'the speaker of node "n1" may be down: its Lease metallb-speaker-n1 was last renewed 25 s ago (renewed every 10 s, expires in 15 s) and no peer publishes its heartbeat view; a speaker cut off from the API server only keeps announcing',
  );
  assert.equal(announcedText({ layer2: [], bgp: [] }, r.unconfirmed), 'layer2: n1 (speaker lease stale)');
});
