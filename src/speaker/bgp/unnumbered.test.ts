// BGP unnumbered helpers without root: the router's link-local from /proc/net/ipv6_route text, and the Router
// Advertisement frame (bytes and ICMPv6 checksum, checked with the NDP codec's checksum over the received bytes).
import { test } from 'node:test';
import { pino } from 'pino';
import { BgpSession } from './session.ts';
import assert from 'node:assert/strict';
import { icmpv6Checksum } from '../layer2/ndp.ts';
import { parseIpv6Routes, routerAdvertisementFrame, routerLinkLocal } from './unnumbered.ts';

// Real lines (kernel 6.x, a node namespace after FRR's RAs): the RA default route (flags 0x00450003 = RTF_UP |
// RTF_GATEWAY | RTF_DEFAULT | RTF_ADDRCONF | RTF_EXPIRES), the on-link fe80::/64, a static gateway on another link.
const ROUTES = `
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     bt1b
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe80000000000000180213fffe8619a2 00000400 00000001 00000000 00450003     bt1b
20010db8000000000000000000000000 20 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth9
garbage
`;

test('parseIpv6Routes: fields of each well-formed line; malformed lines are skipped', () => {
  const r = parseIpv6Routes(ROUTES);
  assert.equal(r.length, 3);
  assert.deepEqual(r[1], {
    destination: '::',
    prefixLength: 0,
    nextHop: 'fe80::1802:13ff:fe86:19a2',
    flags: 0x00450003,
    device: 'bt1b',
  });
  assert.equal(r[2]!.prefixLength, 32);
});

test('routerLinkLocal: the RA-learned gateway of the interface, with its zone; none on other interfaces', () => {
  assert.equal(routerLinkLocal('bt1b', ROUTES), 'fe80::1802:13ff:fe86:19a2%bt1b');
  assert.equal(
    routerLinkLocal('eth9', ROUTES),
    undefined,
    'a static route (no RTF_ADDRCONF/RTF_DEFAULT) is no RA',
  );
  assert.equal(routerLinkLocal('eth0', ''), undefined);
});

test('routerAdvertisementFrame: all-nodes, hop limit 255, Router Lifetime 0, SLLA option, valid checksum', () => {
  const mac = Buffer.from([0x02, 0, 0, 0x51, 0, 0x11]);
  const f = routerAdvertisementFrame(mac, 'fe80::1');
  assert.equal(f.length, 14 + 40 + 24);
  assert.deepEqual([...f.subarray(0, 6)], [0x33, 0x33, 0, 0, 0, 1]);
  assert.deepEqual(f.subarray(6, 12), mac);
  assert.equal(f.readUInt16BE(12), 0x86dd);
  const ip = f.subarray(14, 54);
  assert.equal(ip[0]! >> 4, 6);
  assert.equal(ip.readUInt16BE(4), 24, 'payload length');
  assert.equal(ip[6], 58);
  assert.equal(ip[7], 255, 'hop limit (RFC 4861 §6.1.2)');
  const icmp = f.subarray(54);
  assert.equal(icmp[0], 134, 'Router Advertisement');
  assert.equal(icmp.readUInt16BE(6), 0, 'Router Lifetime 0: not a default router');
  assert.deepEqual([...icmp.subarray(16, 18)], [1, 1], 'Source Link-Layer Address option, 8 bytes');
  assert.deepEqual(icmp.subarray(18, 24), mac);
  assert.equal(icmpv6Checksum(ip.subarray(8, 24), ip.subarray(24, 40), icmp), 0, 'checksum sums to 0');
  assert.throws(() => routerAdvertisementFrame(Buffer.alloc(5), 'fe80::1'), /MAC of 5 bytes/);
  assert.throws(() => routerAdvertisementFrame(mac, 'fe80::1%eth0'), /not an IPv6 address/);
});

test('BgpSession with interface: Router Advertisements that cannot start (addon missing, no CAP_NET_RAW) are retried at each connect attempt', async (t) => {
  let calls = 0;
  let running = 0;
  const session = new BgpSession({
    peerAddress: '',
    interface: 'bt-test0',
    localAsn: 64500,
    peerAsn: 64501,
    backoffMs: 10,
    maxBackoffMs: 10,
    log: pino({ level: 'silent' }),
    findRouter: () => undefined,
    announceRouter: () => {
      calls++;
      if (calls < 3) throw new Error('EPERM: the packet socket cannot be opened');
      running++;
      return { close: () => running-- };
    },
  });
  t.after(() => session.stop());
  session.start();
  for (let i = 0; i < 500 && running === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(running, 1, `the announcer runs after ${calls} attempts`);
  assert.equal(calls, 3, 'no further starts once it runs');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(calls, 3, 'connect attempts do not start a second announcer');
  await session.stop();
  assert.equal(running, 0, 'stopped with the session');
});
