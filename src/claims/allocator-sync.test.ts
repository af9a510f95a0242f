import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Allocator } from '../allocator/allocator.ts';
import { newClaim, type ClaimHolder } from '../api/claim.ts';
import { loadClaims, PLACEHOLDER_SEP, syncIp } from './allocator-sync.ts';

function alloc(): Allocator {
  const a = new Allocator();
  a.setPools([{ name: 'p', addresses: ['10.0.0.0/24', 'fd00::/120'], autoAssign: true, avoidBuggyIPs: false }]);
  return a;
}
const h = (name: string, port = 80): ClaimHolder => ({ namespace: 'ns', name, ports: [{ protocol: 'TCP', port }] });
const c = (ip: string, holders: ClaimHolder[], sharingKey = '') => newClaim({ ip, pool: 'p', sharingKey, backendKey: '', holders });

test('loadClaims gives each holder all its IPs (dual stack from two claims, shared IPs to every holder)', () => {
  const a = alloc();
  const r = loadClaims(a, [c('fd00::5', [h('web')]), c('10.0.0.5', [h('web')]), c('10.0.0.9', [h('a', 80), h('b', 443)], 'k')]);
  assert.deepEqual(r.failed, []);
  assert.deepEqual(a.ipsOf('ns/web')?.ips, ['10.0.0.5', 'fd00::5']);
  assert.deepEqual(a.holdersOf('10.0.0.9').map((x) => x.key), ['ns/a', 'ns/b']);
});

test('syncIp follows a claim: holders added and removed, the IP freed when the claim is gone', () => {
  const a = alloc();
  syncIp(a, '10.0.0.9', c('10.0.0.9', [h('a', 80)], 'k'));
  assert.deepEqual(a.holdersOf('10.0.0.9').map((x) => x.key), ['ns/a']);
  syncIp(a, '10.0.0.9', c('10.0.0.9', [h('a', 80), h('b', 443)], 'k'));
  assert.deepEqual(a.holdersOf('10.0.0.9').map((x) => x.key), ['ns/a', 'ns/b']);
  syncIp(a, '10.0.0.9', c('10.0.0.9', [h('b', 443)], 'k'));
  assert.deepEqual(a.holdersOf('10.0.0.9').map((x) => x.key), ['ns/b']);
  assert.equal(a.ipsOf('ns/a'), undefined);
  syncIp(a, '10.0.0.9', undefined);
  assert.deepEqual(a.holdersOf('10.0.0.9'), []);
});

test('syncIp keeps the other family of a dual-stack holder when one claim goes', () => {
  const a = alloc();
  loadClaims(a, [c('10.0.0.5', [h('web')]), c('fd00::5', [h('web')])]);
  syncIp(a, 'fd00::5', undefined);
  assert.deepEqual(a.ipsOf('ns/web')?.ips, ['10.0.0.5']);
});

test('a Service that moved to another IP of the same family keeps the old claim held under a placeholder key', () => {
  const a = alloc();
  syncIp(a, '10.0.0.7', c('10.0.0.7', [h('web')]));
  syncIp(a, '10.0.0.8', c('10.0.0.8', [h('web')]));
  assert.deepEqual(a.ipsOf('ns/web')?.ips, ['10.0.0.7']);
  assert.deepEqual(a.holdersOf('10.0.0.8').map((x) => x.key), [`ns/web${PLACEHOLDER_SEP}10.0.0.8`]);
  // Once the old claim is released, the placeholder goes with it.
  syncIp(a, '10.0.0.8', undefined);
  assert.deepEqual(a.holdersOf('10.0.0.8'), []);
});

test('loadClaims records what the claims say whatever the lookup answers (no Service policy at load), never calling it', () => {
  // A pool that only namespace "allowed" may use: a claim of ns/web there is still the truth at load.
  const restricted = (): Allocator => {
    const a = new Allocator();
    a.setPools([
      { name: 'p', addresses: ['10.0.0.0/24'], autoAssign: true, avoidBuggyIPs: false, serviceAllocation: { priority: 0, namespaces: ['allowed'], namespaceConstrained: true, serviceSelectors: [] } },
    ]);
    return a;
  };
  const claims = [c('10.0.0.5', [h('web')]), c('10.0.0.9', [h('a', 80), h('b', 443)], 'k')];
  let looked = 0;
  const withLookup = restricted();
  const r = loadClaims(withLookup, claims, {
    lookup: (key) => {
      looked++;
      return { namespace: 'ns', name: key.split('/')[1]!, labels: {}, ports: [], sharingKey: '', backendKey: '', families: ['IPv4'], ipFamilyPolicy: 'SingleStack', requestedIPs: [] };
    },
  });
  const without = restricted();
  loadClaims(without, claims);
  assert.deepEqual(r.failed, []);
  assert.equal(looked, 0);
  assert.deepEqual(withLookup.allocations(), without.allocations());
  assert.deepEqual(withLookup.ipsOf('ns/web'), { ips: ['10.0.0.5'], pool: 'p' });
  assert.deepEqual(
    withLookup.holdersOf('10.0.0.9').map((x) => [x.key, x.sharingKey, x.ports]),
    [
      ['ns/a', 'k', [{ protocol: 'TCP', port: 80 }]],
      ['ns/b', 'k', [{ protocol: 'TCP', port: 443 }]],
    ],
  );
});
