// Story (MetalLB allocator_test.go style): IP sharing, spec §2.3. Each row builds on the previous one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Allocator } from './allocator.ts';
import { pool, runStory, svc, tcp, udp, type Row } from './testing.ts';

const K = 'my-shared-ip';
const pools = [pool('default', ['192.168.1.230-192.168.1.233'])];

const rows: Row[] = [
  { desc: 'pools', op: 'setPools', pools },
  { desc: 'web-http takes the lowest IP', op: 'allocate', key: 'shop/web-http', svc: svc('shop/web-http', { sharingKey: K }), want: ['192.168.1.230'] },
  {
    desc: 'web-https, same key, other port: lands on the shared IP (opportunistic sharing)',
    op: 'allocate', key: 'shop/web-https', svc: svc('shop/web-https', { sharingKey: K, ports: [tcp(443)] }), want: ['192.168.1.230'],
  },
  {
    desc: 'same key but port TCP/80 already used on .230: next unused IP',
    op: 'allocate', key: 'shop/web-alt', svc: svc('shop/web-alt', { sharingKey: K }), want: ['192.168.1.231'],
  },
  { desc: 'no key: never lands on a shared IP', op: 'allocate', key: 'shop/db', svc: svc('shop/db', { ports: [tcp(5432)] }), want: ['192.168.1.232'] },
  {
    desc: 'no key, requesting a shared IP',
    op: 'allocate', key: 'default/other', svc: svc('default/other', { requestedIPs: ['192.168.1.230'], ports: [tcp(8080)] }),
    err: 'LB_SHARING_KEY_MISMATCH',
    msg: '192.168.1.230 is held by shop/web-http, shop/web-https (allow-shared-ip "my-shared-ip"); set the same key to share it',
  },
  {
    desc: 'a different key, requesting a shared IP',
    op: 'allocate', key: 'default/other2', svc: svc('default/other2', { sharingKey: 'other', requestedIPs: ['192.168.1.230'], ports: [tcp(8080)] }),
    err: 'LB_SHARING_KEY_MISMATCH',
    msg:
      '192.168.1.230 is held by shop/web-http, shop/web-https (allow-shared-ip "my-shared-ip"); set the same key to share it ' +
      '(this Service has allow-shared-ip "other")',
  },
  {
    desc: 'the key matches but the holder has none',
    op: 'allocate', key: 'default/x', svc: svc('default/x', { sharingKey: K, requestedIPs: ['192.168.1.232'] }),
    err: 'LB_IP_IN_USE', msg: '192.168.1.232 is held by shop/db, which does not allow sharing (no allow-shared-ip)',
  },
  {
    desc: 'same key, same TCP port on the requested IP',
    op: 'allocate', key: 'shop/web-dup', svc: svc('shop/web-dup', { sharingKey: K, requestedIPs: ['192.168.1.230'] }),
    err: 'LB_PORT_CONFLICT', msg: 'port TCP/80 is already in use on 192.168.1.230 by shop/web-http',
  },
  {
    desc: 'UDP/80 coexists with TCP/80',
    op: 'allocate', key: 'shop/udp', svc: svc('shop/udp', { sharingKey: K, ports: [udp(80)], requestedIPs: ['192.168.1.230'] }),
    want: ['192.168.1.230'],
  },
  {
    desc: 'same key, Local with a selector vs Cluster holders: backend keys differ',
    op: 'allocate', key: 'shop/local', svc: svc('shop/local', { sharingKey: K, backendKey: 'app=web', ports: [tcp(9000)], requestedIPs: ['192.168.1.230'] }),
    err: 'LB_SHARING_KEY_MISMATCH',
    msg: /^192\.168\.1\.230 is held by shop\/udp, shop\/web-http, shop\/web-https with the same allow-shared-ip "my-shared-ip" but a different backend: externalTrafficPolicy\/selector differ \(held: externalTrafficPolicy Cluster; this Service: externalTrafficPolicy Local, selector app=web\)/,
  },
  {
    desc: 'Local service with key "loc": last unused IP',
    op: 'allocate', key: 'shop/local2', svc: svc('shop/local2', { sharingKey: 'loc', backendKey: 'app=web' }), want: ['192.168.1.233'],
  },
  {
    desc: 'Local, same key, same selector: shares',
    op: 'allocate', key: 'shop/local3', svc: svc('shop/local3', { sharingKey: 'loc', backendKey: 'app=web', ports: [tcp(443)] }), want: ['192.168.1.233'],
  },
  {
    desc: 'Local, same key, other selector: cannot share, nothing else free',
    op: 'allocate', key: 'shop/local4', svc: svc('shop/local4', { sharingKey: 'loc', backendKey: 'app=other', ports: [tcp(8443)] }),
    err: 'LB_POOL_EXHAUSTED', msg: /^no available IPs: pool "default" 4\/4 in use\. To fix: add addresses to /,
  },
  {
    desc: 'the sole holder of an IP may change its key in place',
    op: 'allocate', key: 'shop/db', svc: svc('shop/db', { sharingKey: 'dbkey', ports: [tcp(5432)] }), want: ['192.168.1.232'],
  },
  {
    desc: 'and the new key is then shareable',
    op: 'allocate', key: 'shop/db2', svc: svc('shop/db2', { sharingKey: 'dbkey', ports: [tcp(3306)] }), want: ['192.168.1.232'],
  },
  {
    desc: 'a holder of an IP shared with others cannot change its key (no other IP: it keeps the old one)',
    op: 'allocate', key: 'shop/db', svc: svc('shop/db', { sharingKey: 'changed', ports: [tcp(5432)] }),
    err: 'LB_POOL_EXHAUSTED', msg: /^no available IPs: pool "default" 4\/4 in use\. To fix: add addresses to /,
  },
  { desc: 'web-http leaves; .230 stays with the others', op: 'release', key: 'shop/web-http' },
  {
    desc: 'TCP/80 on .230 is free again: a new sharer takes it',
    op: 'allocate', key: 'shop/web-new', svc: svc('shop/web-new', { sharingKey: K }), want: ['192.168.1.230'],
  },
  { desc: 'release web-https', op: 'release', key: 'shop/web-https' },
  { desc: 'release udp', op: 'release', key: 'shop/udp' },
  { desc: 'release web-new', op: 'release', key: 'shop/web-new' },
  { desc: 'no stickiness: the freed IP is the lowest again', op: 'allocate', key: 'shop/plain', want: ['192.168.1.230'] },
];

describe('allocator story: sharing (§2.3)', () => {
  it('follows MetalLB rules row by row', () => {
    const a = new Allocator();
    runStory(a, rows);
    assert.deepEqual(a.ipsOf('shop/db'), { ips: ['192.168.1.232'], pool: 'default' });
    assert.equal(a.holdersOf('192.168.1.232').find((h) => h.key === 'shop/db')?.sharingKey, 'dbkey');
    assert.deepEqual(
      a.holdersOf('192.168.1.233').map((h) => [h.key, h.sharingKey, h.backendKey, h.ports]),
      [
        ['shop/local2', 'loc', 'app=web', [tcp(80)]],
        ['shop/local3', 'loc', 'app=web', [tcp(443)]],
      ],
    );
    assert.deepEqual(a.stats(), [
      { pool: 'default', ipv4Total: 4n, ipv6Total: 0n, ipv4InUse: 4, ipv6InUse: 0, services: 6 },
    ]);
  });

  it('a service without ports can share with anyone holding the same key', () => {
    const a = new Allocator();
    runStory(a, [
      { desc: 'pools', op: 'setPools', pools },
      { desc: 'a', op: 'allocate', key: 'n/a', svc: svc('n/a', { sharingKey: 'k', ports: [] }), want: ['192.168.1.230'] },
      { desc: 'b', op: 'allocate', key: 'n/b', svc: svc('n/b', { sharingKey: 'k', ports: [] }), want: ['192.168.1.230'] },
      { desc: 'c with a port', op: 'allocate', key: 'n/c', svc: svc('n/c', { sharingKey: 'k' }), want: ['192.168.1.230'] },
    ]);
  });
});
