// The chaos suite's checks on hand-made cluster states: each invariant passes on a good state and fails, naming the
// offending objects, on a bad one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkAllowedPools,
  checkClaimsMatch,
  checkIpsOrReason,
  checkNoDoubleIp,
  checkNoMoves,
  checkNoSelfDeaths,
  checkSettled,
  changesBetween,
  settleState,
  isConsistent,
  type ClaimView,
  type Observation,
  type PoolView,
  type SvcView,
} from './invariants.ts';
import { Rng } from './rng.ts';

function svc(name: string, ips: string[], o: Partial<SvcView> = {}): SvcView {
  return {
    namespace: 'ns',
    name,
    uid: `uid-${name}`,
    type: 'LoadBalancer',
    ipFamilies: ['IPv4'],
    annotations: {},
    ports: [{ protocol: 'TCP', port: 80 }],
    ips,
    resourceVersion: '1',
    ...o,
  };
}

const shared = (k: string, port: number): Partial<SvcView> => ({
  annotations: { 'metallb.io/allow-shared-ip': k },
  ports: [{ protocol: 'TCP', port }],
});

test('a) one IP in two Services: allowed only with one sharing key and disjoint ports', () => {
  assert.equal(checkNoDoubleIp([svc('x', ['192.0.2.1'], shared('k', 80)), svc('y', ['192.0.2.1'], shared('k', 443))]).ok, true);
  const clash = checkNoDoubleIp([svc('x', ['192.0.2.1'], shared('k', 80)), svc('y', ['192.0.2.1'], shared('k', 80))]);
  assert.equal(clash.ok, false);
  assert.match(clash.offenders[0]!, /IP 192\.0\.2\.1 in ns\/x .* and ns\/y .*ports TCP\/80 in both/);
  assert.match(checkNoDoubleIp([svc('x', ['192.0.2.1']), svc('y', ['192.0.2.1'], shared('k', 443))]).offenders[0]!, /not both sharing/);
  assert.match(checkNoDoubleIp([svc('x', ['192.0.2.1'], shared('j', 80)), svc('y', ['192.0.2.1'], shared('k', 443))]).offenders[0]!, /different sharing keys/);
  // a ClusterIP Service's stale status is c)'s business, not a double allocation
  assert.equal(checkNoDoubleIp([svc('x', ['192.0.2.1']), svc('y', ['192.0.2.1'], { type: 'ClusterIP' })]).ok, true);
});

test('b) a Service without IPs needs a Warning event about its uid; RequireDualStack needs both families', () => {
  const pending = svc('p', []);
  assert.match(checkIpsOrReason([pending], []).offenders[0]!, /ns\/p \(uid uid-p.*no IP, no IPv4 IP and no Warning event/);
  const ev = { involvedUid: 'uid-p', involvedKey: 'ns/p', type: 'Warning', reason: 'AllocationFailed', message: 'pool exhausted' };
  assert.equal(checkIpsOrReason([pending], [ev]).ok, true);
  // an event about an earlier Service of the same name is no reason for this one
  const old = checkIpsOrReason([pending], [{ ...ev, involvedUid: 'uid-old' }]);
  assert.match(old.offenders[0]!, /events of the name: Warning AllocationFailed \(uid uid-old\)/);
  const half = svc('d', ['192.0.2.1'], { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] });
  assert.match(checkIpsOrReason([half], []).offenders[0]!, /no IPv6 IP/);
  assert.equal(checkIpsOrReason([svc('ok', ['192.0.2.1']), svc('c', [], { type: 'ClusterIP' })], []).ok, true);
});

test('c) claims equal the IPs in use, with holders matching by uid', () => {
  const claim = (ip: string, holders: ClaimView['holders']): ClaimView => ({ name: `c-${ip}`, ip, pool: 'p', holders, resourceVersion: '1' });
  const x = svc('x', ['192.0.2.1']);
  assert.equal(checkClaimsMatch([x], [claim('192.0.2.1', [{ namespace: 'ns', name: 'x', uid: 'uid-x' }])]).ok, true);
  const r = checkClaimsMatch(
    [x, svc('y', ['192.0.2.2']), svc('z', ['192.0.2.9'], { type: 'ClusterIP' })],
    [
      claim('192.0.2.1', [{ namespace: 'ns', name: 'x', uid: 'uid-old-x' }]),
      claim('192.0.2.3', [{ namespace: 'ns', name: 'gone' }]),
    ],
  );
  assert.equal(r.ok, false);
  const want = [
    /^ns\/z \(uid uid-z\) is ClusterIP but still shows 192\.0\.2\.9 in status$/,
    /^claim c-192\.0\.2\.1 \(192\.0\.2\.1\) holders \[ns\/x@uid-old-x\] but Services showing it are \[ns\/x@uid-x\]$/,
    /^claim c-192\.0\.2\.3 \(192\.0\.2\.3, pool p\) held by \[ns\/gone@\(no uid\)\] but no Service shows 192\.0\.2\.3$/,
    /^192\.0\.2\.2 shown by ns\/y@uid-y has no claim$/,
  ];
  assert.equal(r.offenders.length, want.length, r.offenders.join('\n'));
  want.forEach((re, i) => assert.match(r.offenders[i]!, re));
});

test('d) a settled Service whose IP changes across a kill is named; written ones are not', () => {
  const obs = (at: number, label: string, ips: Record<string, string>): Observation => ({
    at,
    label,
    services: new Map(Object.entries(ips).map(([n, ip]) => [`uid-${n}`, { key: `ns/${n}`, ips: ip ? [ip] : [] }])),
  });
  const observations = [obs(10_000, 'before kill 1', { a: '192.0.2.1', b: '192.0.2.2', c: '192.0.2.3' }), obs(20_000, 'end', { a: '192.0.2.7', b: '192.0.2.8', c: '192.0.2.3' })];
  const touches = new Map([['ns/b', [15_000]]]);
  const r = checkNoMoves(observations, touches, 2000);
  assert.equal(r.offenders.length, 1);
  assert.match(r.offenders[0]!, /^ns\/a \(uid uid-a\) had 192\.0\.2\.1 at before kill 1 .* 192\.0\.2\.7 at end/);
  // written just before the observation: not settled, so not held to it
  assert.equal(checkNoMoves(observations, new Map([['ns/a', [9_500]], ['ns/b', [15_000]]]), 2000).ok, true);
  // an IP added (a PreferDualStack Service's second family) is no move
  const gained = [obs(10_000, 'before kill 1', { a: '192.0.2.1' }), obs(20_000, 'end', { a: '192.0.2.1' })];
  gained[1]!.services.get('uid-a')!.ips.push('2001:db8:100::10');
  assert.equal(checkNoMoves(gained, new Map(), 2000).ok, true);
  // its status did not answer its request then (the controller had not caught up): not settled either
  observations[0]!.services.get('uid-a')!.consistent = false;
  assert.equal(checkNoMoves(observations, touches, 2000).ok, true);
});

test('a Service is consistent when its status answers its request', () => {
  const pools: PoolView[] = [{ name: 'auto', addresses: ['192.0.2.0/26'], autoAssign: true }, { name: 'manual', addresses: ['198.51.100.0/28'], autoAssign: false }];
  const a = svc('a', ['192.0.2.1']);
  assert.equal(isConsistent(a, [a], pools), true);
  const asked = svc('r', ['192.0.2.1'], { annotations: { 'metallb.io/loadBalancerIPs': '198.51.100.14' } });
  assert.equal(isConsistent(asked, [asked], pools), false);
  const dual = svc('d', ['192.0.2.2'], { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] });
  assert.equal(isConsistent(dual, [dual], pools), false);
  const b = svc('b', ['192.0.2.1']);
  assert.equal(isConsistent(a, [a, b], pools), false);
  // an admission decided other IPs than the status shows yet
  const moving = svc('m', ['192.0.2.8'], { annotations: { 'berth.io/assigned-ips': '192.0.2.27' } });
  assert.equal(isConsistent(moving, [moving], pools), false);
  const same = svc('s', ['192.0.2.8'], { annotations: { 'berth.io/assigned-ips': '192.0.2.8' } });
  assert.equal(isConsistent(same, [same], pools), true);
});

test('e) only exits the suite caused are allowed', () => {
  const r = checkNoSelfDeaths([
    { name: 'webhook-0', pid: 1, code: 137, killedBySuite: true, tail: '' },
    { name: 'webhook-1', pid: 2, code: 1, killedBySuite: false, tail: 'certificate bootstrap failed: ECONNREFUSED\n' },
  ]);
  assert.equal(r.offenders.length, 1);
  assert.match(r.offenders[0]!, /webhook-1 \(pid 2\) exited with 1 on its own;[\s\S]*ECONNREFUSED/);
});

test('f) IPs come from the allowed pool, the requested IPs and the Service families', () => {
  const pools: PoolView[] = [
    { name: 'auto', addresses: ['192.0.2.0/26', '2001:db8:100::/120'], autoAssign: true },
    { name: 'manual', addresses: ['198.51.100.0-198.51.100.15'], autoAssign: false },
  ];
  const good = [
    svc('a', ['192.0.2.5']),
    svc('m', ['198.51.100.3'], { annotations: { 'metallb.io/address-pool': 'manual' } }),
    svc('r', ['198.51.100.9'], { annotations: { 'metallb.io/loadBalancerIPs': '198.51.100.9' } }),
  ];
  assert.equal(checkAllowedPools(good, pools).ok, true);
  const bad = checkAllowedPools(
    [
      svc('x', ['198.51.100.3']),
      svc('y', ['192.0.2.5'], { annotations: { 'metallb.io/address-pool': 'manual' } }),
      svc('z', ['192.0.2.6'], { annotations: { 'metallb.io/loadBalancerIPs': '192.0.2.7' } }),
      svc('v', ['2001:db8:100::1']),
      svc('o', ['203.0.113.1']),
    ],
    pools,
  );
  assert.deepEqual(
    bad.offenders.map((o) => o.split(': ')[1]),
    [
      'not in an autoAssign pool (it is in "manual")',
      'not in pool "manual" (it is in "auto")',
      'not among the requested 192.0.2.7',
      'IPv6 but ipFamilies is IPv4',
      'not in an autoAssign pool (in no pool)',
    ],
  );
});

test('g) objects that keep changing after churn are named with their count', () => {
  assert.equal(checkSettled(new Map(), 3000).ok, true);
  const r = checkSettled(new Map([['IPAddressClaim v4-192-0-2-1', { count: 12, last: 'rv 99' }]]), 3000);
  assert.deepEqual(r.offenders, ['IPAddressClaim v4-192-0-2-1 changed 12 times in 3000 ms after churn stopped (last: rv 99)']);
});

test('the seeded generator replays, and streams are independent', () => {
  const seq = (r: Rng) => Array.from({ length: 5 }, () => r.int(1000));
  assert.deepEqual(seq(new Rng(7)), seq(new Rng(7)));
  assert.notDeepEqual(seq(new Rng(7)), seq(new Rng(8)));
  assert.deepEqual(seq(Rng.stream(7, 'kills')), seq(Rng.stream(7, 'kills')));
  assert.notDeepEqual(seq(Rng.stream(7, 'kills')), seq(Rng.stream(7, 'churn')));
  assert.throws(() => new Rng(1.5), /seed 1\.5 is not an integer/);
});

test('g) settle: writes are counted per object inside the window; settled once none came for the quiet time', () => {
  const ev = [
    { at: 1000, key: 'IPAddressClaim a', what: 'ADDED rv 1' },
    { at: 5000, key: 'IPAddressClaim a', what: 'DELETED rv 2' },
    { at: 5500, key: 'Service ns/x', what: 'MODIFIED rv 3' },
  ];
  assert.deepEqual(
    [...changesBetween(ev, 4000, 6000)],
    [
      ['IPAddressClaim a', { count: 1, last: 'DELETED rv 2' }],
      ['Service ns/x', { count: 1, last: 'MODIFIED rv 3' }],
    ],
  );
  assert.equal(changesBetween(ev, 0, 10_000).get('IPAddressClaim a')?.count, 2);
  // Churn stopped at 500: at 8000 the last write (5500) is 2.5 s old, not yet quiet for 4 s; at 9500 it is.
  assert.deepEqual(settleState(ev, 500, 8000, 4000), { settled: false, settledAfterMs: 5000 });
  assert.deepEqual(settleState(ev, 500, 9500, 4000), { settled: true, settledAfterMs: 5000 });
  // Writes after `now` do not count yet; no write at all is settled at once.
  assert.deepEqual(settleState(ev, 500, 4600, 3000), { settled: true, settledAfterMs: 500 });
  assert.deepEqual(settleState([], 500, 4600, 3000), { settled: true, settledAfterMs: 0 });
});
