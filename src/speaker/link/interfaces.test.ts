import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_EXCLUDED_INTERFACES,
  layer2Links,
  listLinks,
  readLink,
  type LinkInfo,
} from './interfaces.ts';

function link(name: string, over: Partial<LinkInfo> = {}): LinkInfo {
  return {
    name,
    ifindex: 10,
    mac: '02:00:00:00:00:01',
    up: true,
    broadcast: true,
    noarp: false,
    loopback: false,
    enslaved: false,
    ipv4: ['192.0.2.10'],
    ipv6LinkLocal: 'fe80::1',
    ...over,
  };
}

test('layer2Links: a plain up Ethernet link answers ARP and NDP', () => {
  assert.deepEqual(layer2Links([link('eth0')]), { arp: ['eth0'], ndp: ['eth0'] });
});

test('layer2Links: MetalLB §5.2 skip rules (down, enslaved, NOARP) and per-protocol conditions', () => {
  const links = [
    link('eth0'),
    link('eth1', { up: false }),
    link('eth2', { enslaved: true }),
    link('eth3', { noarp: true }),
    link('eth4', { broadcast: false }), // point-to-point: NDP only
    link('eth5', { ipv6LinkLocal: undefined }), // no link-local: ARP only
    link('eth6', { ipv4: [] }), // ARP does not need an IPv4 address (MetalLB keys on the broadcast flag)
  ];
  assert.deepEqual(layer2Links(links), { arp: ['eth0', 'eth5', 'eth6'], ndp: ['eth0', 'eth4', 'eth6'] });
});

test('layer2Links: default exclusions are MetalLB exclude-l2-config.yaml', () => {
  const excluded = [
    'docker0',
    'cbr0',
    'dummy1',
    'virbr0',
    'lxcbr0',
    'veth1234',
    'lo',
    'cali9',
    'tunl0',
    'flannel.1',
    'kube-ipvs0',
    'cni0',
    'nodelocaldns',
    'lxc5',
  ];
  const kept = ['eth0', 'ens3', 'bond0', 'br0', 'lo0', 'eno1', 'enp1s0'];
  const r = layer2Links([...excluded, ...kept].map((n) => link(n)));
  assert.deepEqual(r.arp, kept);
  assert.deepEqual(r.ndp, kept);
  assert.equal(DEFAULT_EXCLUDED_INTERFACES.length, 14);
});

test('layer2Links: a custom exclusion list replaces the default', () => {
  const r = layer2Links([link('veth0'), link('eth0')], [/^eth0$/]);
  assert.deepEqual(r, { arp: ['veth0'], ndp: ['veth0'] });
});

test('readLink/listLinks: flags, master, MAC and canonical addresses from a sysfs-like tree', (t) => {
  const sys = mkdtempSync(join(tmpdir(), 'berth-sys-'));
  t.after(() => rmSync(sys, { recursive: true, force: true }));
  const mk = (name: string, ifindex: number, flags: string, mac: string, master?: string): void => {
    mkdirSync(join(sys, name));
    writeFileSync(join(sys, name, 'ifindex'), `${ifindex}\n`);
    writeFileSync(join(sys, name, 'flags'), `${flags}\n`);
    writeFileSync(join(sys, name, 'address'), `${mac}\n`);
    if (master) symlinkSync(join(sys, master), join(sys, name, 'master'));
  };
  mk('lo', 1, '0x9', '00:00:00:00:00:00');
  mk('eth0', 3, '0x1003', '02:AA:BB:CC:DD:EE');
  mk('br0', 4, '0x1003', '02:00:00:00:00:04');
  mk('port1', 2, '0x1083', '02:00:00:00:00:02', 'br0');
  mkdirSync(join(sys, 'gone')); // vanished while listing: no ifindex
  const addrs = {
    eth0: [
      {
        address: '192.0.2.5',
        netmask: '255.255.255.0',
        family: 'IPv4',
        mac: '',
        internal: false,
        cidr: null,
      },
      {
        address: '2001:db8::5',
        netmask: 'ffff::',
        family: 'IPv6',
        mac: '',
        internal: false,
        cidr: null,
        scopeid: 0,
      },
      {
        address: 'fe80:0:0:0::00aa',
        netmask: 'ffff::',
        family: 'IPv6',
        mac: '',
        internal: false,
        cidr: null,
        scopeid: 3,
      },
    ],
  } as unknown as Parameters<typeof readLink>[2];
  const links = listLinks(sys, addrs);
  assert.deepEqual(
    links.map((l) => l.name),
    ['lo', 'port1', 'eth0', 'br0'],
  );
  const eth0 = links.find((l) => l.name === 'eth0');
  assert.deepEqual(eth0, {
    name: 'eth0',
    ifindex: 3,
    mac: '02:aa:bb:cc:dd:ee',
    up: true,
    broadcast: true,
    noarp: false,
    loopback: false,
    enslaved: false,
    ipv4: ['192.0.2.5'],
    ipv6LinkLocal: 'fe80::aa',
  });
  const lo = links.find((l) => l.name === 'lo');
  assert.equal(lo?.loopback, true);
  assert.equal(lo?.broadcast, false);
  const port1 = links.find((l) => l.name === 'port1');
  assert.equal(port1?.enslaved, true);
  assert.equal(port1?.noarp, true);
  assert.deepEqual(layer2Links(links), { arp: ['eth0', 'br0'], ndp: ['eth0'] });
  assert.equal(readLink(sys, 'gone', addrs), undefined);
  assert.deepEqual(listLinks(join(sys, 'missing'), addrs), []);
});

test('listLinks on this machine: loopback is found and never a layer 2 link', () => {
  const links = listLinks();
  const lo = links.find((l) => l.loopback);
  if (!lo) return; // a sandbox without sysfs
  assert.ok(!layer2Links(links).arp.includes(lo.name));
  assert.ok(!layer2Links(links).ndp.includes(lo.name));
});
