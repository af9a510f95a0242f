// Interop fixtures: real OPEN / UPDATE / KEEPALIVE / NOTIFICATION bytes captured from BIRD 2, FRR 8 and GoBGP 3
// (test/fixtures/bgp/capture.ts), decoded and re-encoded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decode, encode, type BgpMessage } from './message.ts';
import { fqdnOf } from './capabilities.ts';
import { type OpenMessage, openAsn } from './open.ts';
import { type UpdateMessage, endOfRibFamily } from './update.ts';
import { findAttribute, formatCommunityValue, formatLargeCommunity } from './attributes/index.ts';
import { notificationText } from './notification.ts';

const DIR = fileURLToPath(new URL('../../../../test/fixtures/bgp/', import.meta.url));
interface Fixture {
  daemon: string;
  version: string;
  messages: { session: string; hex: string }[];
}
const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));
const fixtures = new Map<
  string,
  { f: Fixture; decoded: { session: string; m: BgpMessage; bytes: Buffer }[] }
>();
for (const file of files) {
  const f = JSON.parse(readFileSync(DIR + file, 'utf8')) as Fixture;
  // The capture's speaker advertised the 4-octet AS capability, and so did every daemon.
  const decoded = f.messages.map((x) => {
    const bytes = Buffer.from(x.hex, 'hex');
    const r = decode(bytes, { fourOctetAs: true });
    assert.equal(r.offset, bytes.length);
    return { session: x.session, m: r.value, bytes };
  });
  fixtures.set(f.daemon, { f, decoded });
}

test('the fixture directory holds the three daemons captures (a glob that matches nothing must fail)', () => {
  assert.deepEqual([...fixtures.keys()].sort(), ['bird', 'frr', 'gobgp']);
  for (const { f } of fixtures.values())
    assert.ok(f.messages.length >= 5, `${f.daemon}: ${f.messages.length} messages`);
});

test('every captured message decodes without RFC 7606 errors and re-encodes to the same bytes, except option-laden attributes', () => {
  for (const [daemon, { decoded }] of fixtures) {
    for (const { m, bytes } of decoded) {
      if (m.type === 'update')
        assert.equal(m.errors, undefined, `${daemon}: ${m.errors?.map((e) => e.message).join('; ')}`);
      // Daemons may set Extended Length on short attributes or order capabilities in several parameters;
      // compare decoded values after a round trip through our encoder.
      const again = decode(encode(m, { fourOctetAs: true }), { fourOctetAs: true }).value;
      assert.deepEqual(again, m, `${daemon} ${m.type} (${bytes.length} bytes)`);
    }
  }
});

function opens(daemon: string): OpenMessage[] {
  return fixtures.get(daemon)!.decoded.flatMap((d) => (d.m.type === 'open' ? [d.m] : []));
}
function updates(daemon: string): UpdateMessage[] {
  return fixtures
    .get(daemon)!
    .decoded.flatMap((d) => (d.session === 'established' && d.m.type === 'update' ? [d.m] : []));
}

test('every daemon OPEN: version 4, AS 64501, hold 9, router ID 198.51.100.1, MP IPv4+IPv6 and 4-octet AS', () => {
  for (const daemon of fixtures.keys()) {
    const [o] = opens(daemon);
    assert.ok(o, daemon);
    assert.equal(openAsn(o), 64501);
    assert.equal(o.holdTime, 9);
    assert.equal(o.bgpIdentifier, '198.51.100.1');
    const kinds = o.capabilities.map((c) => (c.type === 'multiprotocol' ? `mp${c.afi}/${c.safi}` : c.type));
    for (const k of ['mp1/1', 'mp2/1', 'four-octet-as', 'route-refresh', 'graceful-restart'])
      assert.ok(kinds.includes(k), `${daemon} lacks ${k}: ${kinds}`);
  }
});

test('FRR OPEN: enhanced route refresh, graceful restart with R and N bits, FQDN, ADD-PATH and LLGR kept raw', () => {
  const [o] = opens('frr');
  const gr = o!.capabilities.find((c) => c.type === 'graceful-restart');
  assert.deepEqual(gr, {
    type: 'graceful-restart',
    restartState: true,
    notification: true,
    restartTime: 120,
    families: [],
  });
  assert.ok(o!.capabilities.some((c) => c.type === 'enhanced-route-refresh'));
  const fqdn = o!.capabilities.map(fqdnOf).find((x) => x);
  assert.equal(fqdn?.hostname, 'bt-router');
  const raw = o!.capabilities.flatMap((c) => (c.type === 'unknown' ? [c.code] : []));
  for (const code of [69, 71, 73, 128]) assert.ok(raw.includes(code), `raw capability ${code} in ${raw}`);
});

test('GoBGP OPEN: FQDN capability and graceful restart per family', () => {
  const [o] = opens('gobgp');
  assert.ok(o!.capabilities.map(fqdnOf).some((x) => x !== undefined && x.hostname.length > 0));
  const gr = o!.capabilities.find((c) => c.type === 'graceful-restart');
  assert.equal(gr?.type === 'graceful-restart' && gr.families.length, 2);
});

test('every daemon sends End-of-RIB for IPv4 and IPv6 unicast', () => {
  for (const daemon of fixtures.keys()) {
    const eor = updates(daemon).flatMap((u) => {
      const f = endOfRibFamily(u);
      return f ? [`${f.afi}/${f.safi}`] : [];
    });
    assert.deepEqual(eor.sort(), ['1/1', '2/1'], daemon);
  }
});

test('every daemon sends 203.0.113.0/24 via 198.51.100.1 and 2001:db8:ff::/48 with AS_PATH 64501 and community 64501:100', () => {
  for (const daemon of fixtures.keys()) {
    const us = updates(daemon).filter((u) => endOfRibFamily(u) === undefined);
    const v4 = us.find((u) => u.nlri.some((p) => p.prefix === '203.0.113.0' && p.length === 24));
    assert.ok(v4, `${daemon}: IPv4 route`);
    assert.equal(findAttribute(v4.attributes, 'NEXT_HOP')?.nextHop, '198.51.100.1');
    assert.deepEqual(findAttribute(v4.attributes, 'AS_PATH')?.segments, [
      { type: 'AS_SEQUENCE', asns: [64501] },
    ]);
    assert.ok(
      findAttribute(v4.attributes, 'COMMUNITIES')
        ?.communities.map(formatCommunityValue)
        .includes('64501:100'),
    );
    const v6 = us.find((u) =>
      findAttribute(u.attributes, 'MP_REACH_NLRI')?.nlri.some(
        (p) => p.prefix === '2001:db8:ff::' && p.length === 48,
      ),
    );
    assert.ok(v6, `${daemon}: IPv6 route`);
  }
});

test('BIRD: MED, NO_EXPORT, large and route-target communities; IPv6 next hop with link-local (32 bytes)', () => {
  const us = updates('bird');
  const v4 = us.find((u) => u.nlri.length > 0)!;
  assert.deepEqual(v4.nlri.map((p) => `${p.prefix}/${p.length}`).sort(), [
    '198.51.100.128/25',
    '203.0.113.0/24',
  ]);
  assert.equal(findAttribute(v4.attributes, 'MULTI_EXIT_DISC')?.med, 50);
  assert.deepEqual(findAttribute(v4.attributes, 'COMMUNITIES')?.communities.map(formatCommunityValue), [
    '64501:100',
    'no-export',
  ]);
  assert.deepEqual(findAttribute(v4.attributes, 'LARGE_COMMUNITY')?.communities.map(formatLargeCommunity), [
    '64501:1:2',
  ]);
  assert.deepEqual(findAttribute(v4.attributes, 'EXTENDED_COMMUNITIES')?.communities, [
    { kind: 'route-target', asn: 64501, localAdministrator: 7 },
  ]);
  const mp = us.map((u) => findAttribute(u.attributes, 'MP_REACH_NLRI')).find((a) => a && a.nlri.length > 0)!;
  assert.equal(mp.nextHop, '2001:db8:77::1');
  assert.match(mp.linkLocalNextHop ?? '', /^fe80::/);
});

test('FRR: link bandwidth 1000 Mbit/s arrives as the transitive link-bandwidth community, 125e6 bytes/s', () => {
  const v4 = updates('frr').find((u) => u.nlri.length > 0)!;
  assert.deepEqual(findAttribute(v4.attributes, 'EXTENDED_COMMUNITIES')?.communities, [
    { kind: 'link-bandwidth', asn: 64501, bandwidth: 125_000_000, transitive: true },
  ]);
  const mp = updates('frr')
    .map((u) => findAttribute(u.attributes, 'MP_REACH_NLRI'))
    .find((a) => a && a.nlri.length > 0)!;
  assert.equal(mp.nextHop, '::ffff:c633:6401', 'IPv4-mapped next hop over an IPv4 session (recipes §4.2)');
});

test('BIRD and FRR answer a wrong AS with OPEN Message Error / Bad Peer AS', () => {
  for (const daemon of ['bird', 'frr']) {
    const n = fixtures
      .get(daemon)!
      .decoded.find((d) => d.session === 'bad-peer-as' && d.m.type === 'notification');
    assert.ok(n && n.m.type === 'notification', daemon);
    assert.match(notificationText(n.m), /^OpenMessageError\/BadPeerAs \(data (00 00 )?fc 57\)$/);
  }
});
