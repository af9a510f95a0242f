// claimName: every IPv4 and IPv6 address gets a valid Kubernetes object name (DNS-1123 subdomain, checked with the
// lab API server's own rule), distinct addresses never share one, and names that were valid before stay the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { claimName, newClaim } from './claim.ts';
import { nameProblems } from '../lab/names.ts';
import { formatIp, parseIp } from '../shared/ip.ts';

/** The naming before the DNS-1123 fix: kept for every address it gave a valid name. */
function legacyName(ip: string): string {
  const p = parseIp(ip);
  if (!p) throw new Error(`not an IP: ${ip}`);
  const canon = formatIp(p.family, p.value);
  return p.family === 'IPv4' ? `v4-${canon.replaceAll('.', '-')}` : `v6-${canon.replaceAll(':', '-')}`;
}

const group = fc.oneof(
  { weight: 4, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.constant(1) },
  { weight: 1, arbitrary: fc.constant(0xffff) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
);
const octet = fc.oneof(fc.constant(0), fc.constant(255), fc.integer({ min: 0, max: 255 }));

/** IPv6 values biased to edge ones: zero runs anywhere, ::, ::1, x::, ::ffff:a.b.c.d, all-ones. */
const ipv6Value = fc.oneof(
  fc.array(group, { minLength: 8, maxLength: 8 }).map((gs) => gs.reduce((v, g) => (v << 16n) | BigInt(g), 0n)),
  fc.constantFrom(0n, 1n, (1n << 128n) - 1n, 0x20010db8002200000000000000000000n, 1n << 112n),
  fc.tuple(octet, octet, octet, octet).map(([a, b, c, d]) => (0xffffn << 32n) | BigInt((a << 24) + (b << 16) + (c << 8) + d)),
);
const ipv4Value = fc.oneof(
  fc.constantFrom(0n, 0xffffffffn, 0xc0000200n),
  fc.tuple(octet, octet, octet, octet).map(([a, b, c, d]) => BigInt(a) * 0x1000000n + BigInt((b << 16) + (c << 8) + d)),
);
const address = fc.oneof(
  ipv4Value.map((v) => formatIp('IPv4', v)),
  ipv6Value.map((v) => formatIp('IPv6', v)),
);

function assertValidName(ip: string): string {
  const name = claimName(ip);
  assert.deepEqual(nameProblems(name, 'dns1123-subdomain'), [], `claimName(${ip}) = ${name}`);
  return name;
}

test('the first address of an IPv6 CIDR gets a valid name (issue 12 defect 1)', () => {
  assert.equal(assertValidName('2001:db8:22::'), 'v6-2001-db8-22--0');
  assert.equal(assertValidName('::'), 'v6---0');
  assert.equal(assertValidName('fd00::'), 'v6-fd00--0');
  assert.equal(assertValidName('ffff:ffff:ffff:ffff:ffff:ffff::'), 'v6-ffff-ffff-ffff-ffff-ffff-ffff--0');
  // RFC 5952 section 4.2.2: one zero group is not compressed, so this name was valid and stays as it was
  assert.equal(assertValidName('ffff:ffff:ffff:ffff:ffff:ffff:ffff:0'), 'v6-ffff-ffff-ffff-ffff-ffff-ffff-ffff-0');
});

test('valid names are unchanged: IPv4, IPv6 with a zero run inside or in front, IPv4-mapped', () => {
  assert.equal(claimName('192.168.1.221'), 'v4-192-168-1-221');
  assert.equal(claimName('0.0.0.0'), 'v4-0-0-0-0');
  assert.equal(claimName('2001:db8::1'), 'v6-2001-db8--1');
  assert.equal(claimName('::1'), 'v6---1');
  assert.equal(claimName('::ffff:192.0.2.1'), 'v6---ffff-c000-201');
  assert.equal(claimName('2001:0DB8:0:0:0:0:0:1'), 'v6-2001-db8--1');
});

test('newClaim names the claim with claimName', () => {
  const c = newClaim({ ip: '2001:db8:22::', pool: 'p', sharingKey: '', backendKey: '', holders: [] });
  assert.equal(c.metadata.name, 'v6-2001-db8-22--0');
});

test('claimName throws naming the value on a non-IP', () => {
  assert.throws(() => claimName('2001:db8::/64'), /"2001:db8::\/64" is not an IP/);
  assert.throws(() => claimName('fe80::1%eth0'), /is not an IP/);
});

test('every zero-group pattern of IPv6 gives a valid, distinct name', () => {
  const seen = new Map<string, string>();
  for (let mask = 0; mask < 256; mask++) {
    for (const nz of [1n, 0xffffn]) {
      let v = 0n;
      for (let g = 0; g < 8; g++) v = (v << 16n) | ((mask >> (7 - g)) & 1 ? nz : 0n);
      const ip = formatIp('IPv6', v);
      const name = assertValidName(ip);
      const other = seen.get(name);
      assert.ok(other === undefined || other === ip, `${ip} and ${other} share the name ${name}`);
      seen.set(name, ip);
    }
  }
});

test('property: names are valid DNS-1123 subdomains, keep valid legacy names, and are the same for any spelling', () => {
  fc.assert(
    fc.property(address, (ip) => {
      const name = assertValidName(ip);
      const legacy = legacyName(ip);
      if (nameProblems(legacy, 'dns1123-subdomain').length === 0) assert.equal(name, legacy);
      const p = parseIp(ip)!;
      if (p.family === 'IPv6') {
        const full = Array.from({ length: 8 }, (_, i) => ((p.value >> BigInt((7 - i) * 16)) & 0xffffn).toString(16).toUpperCase());
        assert.equal(claimName(full.join(':')), name);
      }
    }),
    { numRuns: 3000 },
  );
});

test('property: distinct addresses never share a claim name', () => {
  fc.assert(
    fc.property(fc.uniqueArray(address, { minLength: 2, maxLength: 40, selector: (ip) => ip }), (ips) => {
      const byName = new Map<string, string>();
      for (const ip of ips) {
        const name = claimName(ip);
        const other = byName.get(name);
        assert.equal(other, undefined, `${ip} and ${other} share the name ${name}`);
        byName.set(name, ip);
      }
    }),
    { numRuns: 500 },
  );
});
