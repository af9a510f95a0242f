// Pod IPs of the lab (with or without --network) never fall inside a pool the lab applies (dev pool `default` from
// examples/dev, pool lab-l2 of the network lab), a pool of examples/ or gitops/, a pool written in a YAML block of
// README.md or docs/, the network lab's segment, or a lab Node's InternalIP. Uses ipaddr.js for prefix membership.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import ipaddr from 'ipaddr.js';
import { parseAllDocuments } from 'yaml';
import { parseAddressEntry } from '../../config/addresses.ts';
import { formatIp } from '../../shared/ip.ts';
import { LAB_L2_RANGES } from '../network/network.ts';
import { MAX_LAB_NODES, nodeAddresses, SEGMENT } from '../network/topology.ts';
import { DEFAULT_POD_IPV4_BLOCKS, NETWORK_POD_IPV4_BLOCKS, POD_IP_CAPACITY, PodIpPool, podIpPair, slotOf } from './pod-ips.ts';

const root = join(import.meta.dirname, '..', '..', '..');

/** Every file under `dir` (relative to the repository) whose name ends with one of `exts`. */
function files(dir: string, exts: readonly string[]): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const rel = join(dir, name);
    if (statSync(join(root, rel)).isDirectory()) out.push(...files(rel, exts));
    else if (exts.some((e) => name.endsWith(e))) out.push(rel);
  }
  return out;
}

/** `spec.addresses` of every IPAddressPool in the YAML text, each as `file: pool entry`. */
function poolEntries(text: string, where: string): Array<{ where: string; entry: string }> {
  const out: Array<{ where: string; entry: string }> = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) continue;
    const o = doc.toJS() as { kind?: unknown; metadata?: { name?: string }; spec?: { addresses?: unknown } } | null;
    if (o?.kind !== 'IPAddressPool' || !Array.isArray(o.spec?.addresses)) continue;
    for (const e of o.spec.addresses) if (typeof e === 'string') out.push({ where: `${where}: pool ${o.metadata?.name ?? '?'}`, entry: e });
  }
  return out;
}

/** Every address range the Pod IPs must stay out of, named. */
function forbidden(): Array<{ what: string; range: [ipaddr.IPv4 | ipaddr.IPv6, number] }> {
  const entries = [
    ...LAB_L2_RANGES.map((entry) => ({ where: 'network lab: pool lab-l2', entry })),
    ...[...files('examples', ['.yaml', '.yml']), ...files('gitops', ['.yaml', '.yml'])].flatMap((f) => poolEntries(readFileSync(join(root, f), 'utf8'), f)),
    ...['README.md', ...files('docs', ['.md'])].flatMap((f) =>
      [...readFileSync(join(root, f), 'utf8').matchAll(/```ya?ml\n([\s\S]*?)```/g)].flatMap((m) => poolEntries(m[1]!, f)),
    ),
  ];
  const out = entries.flatMap(({ where, entry }) => {
    const r = parseAddressEntry(entry);
    assert.ok(r.ok, `${where}: ${entry} does not parse`);
    return r.cidrs.map((c) => ({ what: `${where} (${entry})`, range: ipaddr.parseCIDR(`${formatIp(c.family, c.first)}/${c.prefix}`) }));
  });
  out.push({ what: 'network lab segment', range: ipaddr.parseCIDR(`${SEGMENT.ipv4Prefix}0/${SEGMENT.ipv4Length}`) });
  out.push({ what: 'network lab segment', range: ipaddr.parseCIDR(`${SEGMENT.ipv6Prefix}/${SEGMENT.ipv6Length}`) });
  for (let i = 1; i <= 9; i++) out.push({ what: `lab Node lab-node-${i}`, range: ipaddr.parseCIDR(`192.0.2.${100 + i}/32`) });
  for (let i = 1; i <= MAX_LAB_NODES; i++) {
    const n = nodeAddresses(i);
    out.push({ what: `network lab node ${n.name}`, range: ipaddr.parseCIDR(`${n.ipv4}/32`) });
  }
  return out;
}

test('no lab Pod IP falls inside a pool the lab applies or the repository documents, a segment or a Node address', () => {
  const ranges = forbidden();
  // The dev pool the lab applies, lab-l2 and a documented one are among them: the scan reads what it should.
  for (const what of ['examples/dev/ipaddresspool.yaml: pool default', 'network lab: pool lab-l2', 'gitops/prod/ipaddresspool.yaml: pool default'])
    assert.ok(ranges.some((r) => r.what.startsWith(what)), `${what} was not found`);
  for (const blocks of [DEFAULT_POD_IPV4_BLOCKS, NETWORK_POD_IPV4_BLOCKS]) {
    const pool = new PodIpPool(blocks);
    const seen: string[] = [];
    for (let pair = pool.allocate(); pair; pair = pool.allocate()) seen.push(...pair);
    assert.equal(seen.length, 2 * pool.capacity);
    for (const ip of seen) {
      const a = ipaddr.parse(ip);
      assert.ok(ip.startsWith('203.0.113.') || ip.startsWith('2001:db8:'), `${ip}: documentation ranges only`);
      for (const r of ranges) {
        if (a.kind() !== r.range[0].kind()) continue;
        assert.equal(a.match(r.range), false, `Pod IP ${ip} is inside ${r.what}`);
      }
    }
  }
});

test('Pod IPs: 203.0.113.1-254 with 2001:db8:1::1-fe, with or without --network', () => {
  assert.deepEqual(DEFAULT_POD_IPV4_BLOCKS, ['203.0.113']);
  assert.deepEqual(NETWORK_POD_IPV4_BLOCKS, DEFAULT_POD_IPV4_BLOCKS);
  assert.equal(POD_IP_CAPACITY, 254);
  assert.deepEqual(podIpPair(0), ['203.0.113.1', '2001:db8:1::1']);
  assert.deepEqual(podIpPair(253), ['203.0.113.254', '2001:db8:1::fe']);
  assert.equal(new PodIpPool().describe(), '203.0.113.1-254');
  // A Pod restored (--persist) with an address of the former plan (198.51.100.x) is not this pool's.
  assert.equal(slotOf('198.51.100.1'), undefined);
  assert.equal(slotOf('203.0.113.254'), 253);
  assert.equal(slotOf('2001:db8:1::ff'), undefined, 'slot 254 does not exist with one block');
});

test('bad blocks and slots are refused with the value and the rule', () => {
  assert.throws(() => new PodIpPool([]), /at least one \/24 block/);
  assert.throws(() => new PodIpPool(['203.0.113.0/24']), /pod IPv4 block "203\.0\.113\.0\/24" is not the first three octets of a \/24/);
  assert.throws(() => podIpPair(254), /pod IP slot 254 is outside 0\.\.253/);
});
