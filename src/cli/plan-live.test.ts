// `berth plan --live` (planLive) against a live snapshot: the fresh-user case of h12 — live pools default, lab-l2 and
// tiny, an input whose pool overlaps the live pool `default` it does not name. The webhook refuses that pool while
// `default` exists (kubectl apply, with or without --prune, applies before it deletes), so the plan says so (naming
// both pools) instead of planning orphans; `merge` (kubectl apply semantics) keeps the live pools the input lacks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../api/object.ts';
import { parseFile } from './inputs.ts';
import type { LiveSnapshot } from './live.ts';
import { planLive } from './plan-live.ts';

const NS = 'metallb-system';
const pool = (name: string, ...addresses: string[]) =>
  ({ apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name, namespace: NS }, spec: { addresses } }) as unknown as KubeObject;
const poolYaml = (name: string, range: string) =>
  `apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: ${name}\n  namespace: ${NS}\nspec:\n  addresses:\n    - ${range}\n`;

function service(name: string, ip: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'shop' },
    spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] },
    status: { loadBalancer: { ingress: [{ ip }] } },
  } as unknown as KubeObject;
}
function claim(ip: string, poolName: string, svc: string): KubeObject {
  return {
    apiVersion: 'berth.io/v1alpha1',
    kind: 'IPAddressClaim',
    metadata: { name: `v4-${ip.replaceAll('.', '-')}` },
    spec: { ip, pool: poolName, sharingKey: '', backendKey: '', holders: [{ namespace: 'shop', name: svc, ports: [{ protocol: 'TCP', port: 80 }] }] },
  } as unknown as KubeObject;
}

/** Live: pools default (web), lab-l2 (api) and tiny (no Service). */
function snapshot(): LiveSnapshot {
  return {
    namespace: NS,
    config: {
      pools: [pool('default', '192.0.2.0/28'), pool('lab-l2', '198.51.100.200-198.51.100.220'), pool('tiny', '203.0.113.0/30')],
      l2Advertisements: [],
      bgpAdvertisements: [],
      bgpPeers: [],
      communities: [],
      bfdProfiles: [],
    },
    namespaces: [{ name: 'shop', labels: { 'kubernetes.io/metadata.name': 'shop' } }],
    nodes: [],
    services: [service('web', '192.0.2.1'), service('api', '198.51.100.200')] as LiveSnapshot['services'],
    claims: [claim('192.0.2.1', 'default', 'web'), claim('198.51.100.200', 'lab-l2', 'api')] as unknown as LiveSnapshot['claims'],
    announcers: new Map(),
  };
}

const docs = (text: string) => parseFile('pools.yaml', text).docs;

test('plan --live: an input pool overlapping a live pool it does not name is refused as the webhook would, naming both', () => {
  for (const mode of ['replace', 'merge'] as const) {
    const r = planLive(docs(poolYaml('production', '203.0.113.64/28') + '---\n' + poolYaml('development', '192.0.2.0/30')), snapshot(), { mode });
    assert.equal(r.liveConflict, true, mode);
    assert.deepEqual(r.rows, []);
    assert.equal(r.problems.length, 1, r.problems.join('\n'));
    assert.match(
      r.problems[0]!,
      /^pools\.yaml:17 IPAddressPool\/development: .*CIDR "192\.0\.2\.0\/30" in pool "development" overlaps with already defined CIDR "192\.0\.2\.0\/28" \(IPAddressPool "default", spec\.addresses\[0\]\)/,
    );
    assert.deepEqual(r.unlistedPools, ['default', 'lab-l2', 'tiny']);
    assert.equal(r.mode, mode);
  }
});

test('plan --live: replace counts the live pools the input lacks as deleted (orphans); merge keeps them', () => {
  const input = docs(poolYaml('production', '203.0.113.64/28'));
  const replace = planLive(input, snapshot());
  assert.equal(replace.mode, 'replace');
  assert.equal(replace.liveConflict, false);
  assert.deepEqual(
    replace.rows.map((r) => `${r.name} ${r.change}`),
    ['api orphaned', 'web orphaned'],
  );
  assert.equal(replace.orphaned, 2);
  const merge = planLive(input, snapshot(), { mode: 'merge' });
  assert.deepEqual(
    merge.rows.map((r) => `${r.name} ${r.change} ${r.pool} ${r.next.join(',')}`),
    ['api keeps lab-l2 198.51.100.200', 'web keeps default 192.0.2.1'],
  );
  assert.equal(merge.orphaned, 0);
});

test('plan --live: a live pool redefined under its own name is replaced, not an overlap; shrinking it orphans in both modes', () => {
  const grown = planLive(docs(poolYaml('default', '192.0.2.0/27')), snapshot(), { mode: 'merge' });
  assert.equal(grown.liveConflict, false, grown.problems.join('\n'));
  assert.deepEqual(grown.unlistedPools, ['lab-l2', 'tiny']);
  assert.deepEqual(grown.rows.map((r) => `${r.name} ${r.change}`), ['api keeps', 'web keeps']);
  for (const mode of ['replace', 'merge'] as const) {
    const shrunk = planLive(docs(poolYaml('default', '192.0.2.8/29')), snapshot(), { mode });
    assert.equal(shrunk.rows.find((r) => r.name === 'web')?.change, 'orphaned', mode);
  }
});
