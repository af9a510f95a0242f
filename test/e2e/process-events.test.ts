// Issue 7 §5, events through the lab with the real kubectl: Services left pending by a full pool are reprocessed on
// every configuration change, and each one still has ONE AllocationFailed Event whose count grows (client-go's
// EventCorrelator: repeats bump count on the existing Event; writes are coalesced and spam-filtered), instead of a new
// Event object per reconcile — even though the message names other pools' free counts, which change with each edit
// (before: one Event object per distinct count). A Service on a deprecated metallb.universe.tf key gets one deprecatedAnnotation Event.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { controllerLab, eventually, NS, type ControllerLab } from './controller-harness.ts';

const APP = 'events-app';
let S: ControllerLab | undefined;

interface KubeEvent {
  reason: string;
  type: string;
  message: string;
  count?: number;
  involvedObject: { kind: string; name: string };
}

const pool = (last: number) => `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: default, namespace: ${NS}}
spec:
  addresses: [192.168.1.220-192.168.1.${last}]
`;

const svc = (name: string, annotations: Record<string, string>) => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${APP}
  annotations:
${Object.entries(annotations)
  .map(([k, v]) => `    ${k}: "${v}"`)
  .join('\n')}
spec:
  type: LoadBalancer
  ports: [{port: 80}]
`;

async function events(): Promise<KubeEvent[]> {
  return (JSON.parse(await S!.kubectl(['get', 'events', '-n', APP, '-o', 'json'])) as { items: KubeEvent[] }).items;
}

before(async () => {
  S = await controllerLab();
});

after(async () => {
  await S?.stop();
});

test('pending Services reprocessed many times: one AllocationFailed Event each, count aggregated', async (c) => {
  if (!S) return c.skip('kubectl not found');
  await S.kubectl(
    ['apply', '-f', '-'],
    `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${APP}}\n---\napiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: tiny, namespace: ${NS}}\nspec:\n  addresses: [192.168.9.10/32]\n  autoAssign: false\n`,
  );
  await S.startController('events-0');
  const names = ['t0', 't1', 't2', 't3'];
  await S.kubectl(['apply', '-f', '-'], names.map((n) => svc(n, { 'metallb.io/address-pool': 'tiny' })).join('---\n'));
  await S.kubectl(['apply', '-f', '-'], svc('legacy', { 'metallb.universe.tf/address-pool': 'default' }));
  const pending = await eventually(async () => {
    const ips = await S!.serviceIPs();
    const held = names.filter((n) => (ips.get(`${APP}/${n}`) ?? []).length > 0);
    const failed = new Set((await events()).filter((e) => e.reason === 'AllocationFailed').map((e) => e.involvedObject.name));
    const waiting = names.filter((n) => !held.includes(n));
    return held.length === 1 && waiting.every((n) => failed.has(n)) && (ips.get(`${APP}/legacy`) ?? []).length === 1 ? waiting : undefined;
  }, 'one Service on the tiny pool, three pending with AllocationFailed, legacy with an IP');

  // Every configuration change reprocesses every Service: the pending ones fail again, with the same cause.
  for (let i = 0; i < 12; i++) await S.kubectl(['apply', '-f', '-'], pool(i % 2 === 0 ? 249 : 250));
  await eventually(async () => {
    const counts = (await events()).filter((e) => e.reason === 'AllocationFailed').map((e) => e.count ?? 1);
    return counts.length > 0 && counts.every((n) => n >= 3) ? true : undefined;
  }, 'the repeats to be counted on the existing Events').catch(async (e: Error) => {
    const seen = (await events()).map((x) => `${x.involvedObject.name} ${x.reason} x${x.count ?? 1}: ${x.message}`);
    throw new Error(`${e.message}; events:\n${seen.join('\n')}`);
  });

  const all = await events();
  for (const n of pending) {
    const mine = all.filter((e) => e.involvedObject.name === n && e.reason === 'AllocationFailed');
    assert.equal(mine.length, 1, `${n}: one AllocationFailed Event object, not one per reconcile: ${JSON.stringify(mine)}`);
    assert.equal(mine[0]!.type, 'Warning');
    assert.ok((mine[0]!.count ?? 1) >= 3, `${n}: count ${mine[0]!.count}`);
  }
  const deprecated = all.filter((e) => e.involvedObject.name === 'legacy' && e.reason === 'deprecatedAnnotation');
  assert.equal(deprecated.length, 1, JSON.stringify(deprecated));
  assert.equal(deprecated[0]!.count ?? 1, 1);
  assert.match(deprecated[0]!.message, /metallb\.universe\.tf\/address-pool/);
});
