// What a user hit in the lab: with the controller down, `kubectl delete svc a`, then a new Service asking for a's IP
// was denied "… is held by shop/a, which does not allow sharing" — naming a Service that no longer exists, until the
// controller's repair ran. The real webhook process (src/webhook/main.ts) and the real kubectl against the lab API
// server: the webhook's consistent GET finds no shop/a, the claim entry (uid bound as the controller binds it) is
// released at admission and the new Service gets the IP, with a warning. No controller runs in this test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { TestLab } from '../../src/lab/testing.ts';
import type { WebhookProcess } from '../../src/lab/processes.ts';
import { kubectlOk, startWebhookLab } from '../helpers/webhook.ts';

const NS = 'metallb-system';
const IP = '198.51.100.201';
let t: TestLab | undefined;
let hook: WebhookProcess | undefined;
let skip: string | undefined;

const ok = kubectlOk(() => t!);

const svcYaml = (name: string, ip: string) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: shop}
spec:
  type: LoadBalancer
  loadBalancerIP: ${ip}
  selector: {app: ${name}}
  ports: [{port: 80, targetPort: 8080}]
`;

interface Claim {
  metadata: { name: string };
  spec: { ip: string; holders: Array<{ namespace: string; name: string; uid?: string }> };
}
const claimOf = async (ip: string): Promise<Claim | undefined> =>
  (JSON.parse(await ok(['get', 'ipaddressclaims.berth.io', '-o', 'json'])) as { items: Claim[] }).items.find((c) => c.spec.ip === ip);

before(async () => {
  ({ t, hook, skip } = await startWebhookLab(NS, {
    pool: { yaml: `apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: doc, namespace: ${NS}}\nspec: {addresses: [198.51.100.200-198.51.100.210]}\n` },
    readyTimeoutMs: 20_000,
  }));
});

after(async () => {
  await hook?.stop();
  await t?.stop();
});

test('controller down: a deleted Service’s IP is released at admission and given to the Service that asks for it', async (c) => {
  if (skip) return c.skip(skip);
  await ok(['apply', '-f', '-'], svcYaml('a', IP));
  const a = JSON.parse(await ok(['get', 'svc', 'a', '-n', 'shop', '-o', 'json'])) as { metadata: { uid: string } };
  const before = await claimOf(IP);
  assert.deepEqual(before?.spec.holders.map((h) => h.name), ['a']);
  // What the controller did before it was SIGKILLed: bind the entry to the stored Service's uid.
  await ok(['patch', 'ipaddressclaims.berth.io', before!.metadata.name, '--type=json', '-p', JSON.stringify([{ op: 'add', path: '/spec/holders/0/uid', value: a.metadata.uid }])]);

  // While a exists, b is denied naming it.
  const denied = await t!.kubectl(['apply', '-f', '-'], { input: svcYaml('b', IP) });
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, new RegExp(`${IP.replace(/\./g, '\\.')} is held by shop/a, which does not allow sharing`));

  await ok(['delete', 'svc', 'a', '-n', 'shop']);
  const r = await t!.kubectl(['apply', '-f', '-'], { input: svcYaml('b', IP) });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`Warning: ${IP.replace(/\./g, '\\.')} was held by shop/a \\(uid ${a.metadata.uid}\\), which no longer exists; its claim entry was released at admission`));
  const b = JSON.parse(await ok(['get', 'svc', 'b', '-n', 'shop', '-o', 'json'])) as { metadata: { annotations: Record<string, string> } };
  assert.equal(b.metadata.annotations['berth.io/assigned-ips'], IP);
  assert.deepEqual((await claimOf(IP))?.spec.holders.map((h) => h.name), ['b']);
});
