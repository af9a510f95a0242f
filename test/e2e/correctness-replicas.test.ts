// Issue 12 defect 5, end to end (lab + 3 webhook processes + controller process + real kubectl): updates that keep
// the IP request never move an IP, whichever webhook replica answers. Each replica sits behind its own EndpointSlice of
// berth-webhook-service; before each round the test makes exactly one replica ready, so rounds go to replicas 0, 1, 2,
// 0, … whether or not the lab spreads calls over endpoints by itself.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, poolYaml, serviceYaml, startStack, type Stack } from './correctness-harness.ts';

const NAMES = ['r0', 'r1', 'r2', 'r3', 'r4'];
const ROUNDS = 20;

describe('updates that keep the IP request never move an IP, whichever webhook replica answers', { timeout: 150_000 }, () => {
  let S: Stack | undefined;
  before(async () => {
    S = await startStack({
      webhooks: 3,
      config: [poolYaml('default', ['192.0.2.0/27']), poolYaml('reserved', ['198.51.100.32/29'], { autoAssign: false })].join('---\n'),
    });
  });
  after(async () => {
    await S?.stop();
  });

  it(`${ROUNDS} rounds of label/annotation updates over 3 replicas: assigned IPs, status and claims never change`, async (t) => {
    if (!S) return t.skip('kubectl not found');
    await S.routeTo(0);
    // Every kind of IP request: automatic, from a named pool, a requested IP, and a pair sharing one IP.
    const shared = { 'metallb.io/allow-shared-ip': 'pair' };
    await S.ok(
      ['apply', '-f', '-'],
      [
        serviceYaml('r0', { port: 80 }),
        serviceYaml('r1', { port: 81, annotations: { 'metallb.io/address-pool': 'reserved' } }),
        serviceYaml('r2', { port: 82, annotations: { 'metallb.io/loadBalancerIPs': '192.0.2.20' } }),
        serviceYaml('r3', { port: 83, annotations: shared }),
        serviceYaml('r4', { port: 84, annotations: shared }),
      ].join('---\n'),
    );
    const ipsOf = async (): Promise<Map<string, { assigned: string; status: string; uid: string }>> => {
      const list = JSON.parse(await S!.ok(['get', 'svc', '-n', 'shop', '-o', 'json'])) as {
        items: Array<{ metadata: { name: string; uid: string; annotations?: Record<string, string> }; status?: { loadBalancer?: { ingress?: Array<{ ip?: string }> } } }>;
      };
      return new Map(
        list.items.map((s) => [
          s.metadata.name,
          {
            assigned: s.metadata.annotations?.['berth.io/assigned-ips'] ?? '',
            status: (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').join(','),
            uid: s.metadata.uid,
          },
        ]),
      );
    };
    const initial = await eventually(async () => {
      const m = await ipsOf();
      return NAMES.every((n) => m.get(n)?.status && m.get(n)?.status === m.get(n)?.assigned) ? m : undefined;
    }, 'every Service to get an IP');
    assert.equal(initial.get('r3')!.status, initial.get('r4')!.status, 'r3 and r4 share an IP');
    assert.equal(new Set(NAMES.map((n) => initial.get(n)!.status)).size, NAMES.length - 1, 'distinct IPs otherwise');

    const moves: string[] = [];
    const denials: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const replica = round % 3;
      await S.routeTo(replica);
      const r = round % 2 === 0
        ? await S.run(['label', 'svc', '-n', 'shop', ...NAMES, `round=r${round}`, '--overwrite'])
        : await S.run(['annotate', 'svc', '-n', 'shop', ...NAMES, `note=round-${round}`, '--overwrite']);
      if (r.code !== 0) denials.push(`round ${round} (replica ${replica}): ${r.stderr.trim()}`);
      const now = await ipsOf();
      for (const n of NAMES) {
        const a = initial.get(n)!;
        const b = now.get(n);
        if (b?.assigned !== a.assigned || (b.status !== '' && b.status !== a.status)) {
          moves.push(`round ${round} (replica ${replica}): ${n} ${a.assigned} -> assigned ${b?.assigned ?? '?'}, status ${b?.status ?? '?'}`);
        }
      }
    }
    assert.deepEqual(denials, [], 'every update is admitted');
    assert.deepEqual(moves, [], 'no IP moved');
    // At the end: status, annotations and claims still agree with the start.
    await S.routeToAll();
    const end = await eventually(async () => {
      const m = await ipsOf();
      return NAMES.every((n) => m.get(n)?.status === initial.get(n)!.status) ? m : undefined;
    }, 'status to settle', 10_000);
    const claims = await S.claims();
    for (const n of NAMES) {
      const held = claims.filter((c) => c.spec.holders.some((h) => h.namespace === 'shop' && h.name === n));
      assert.deepEqual(held.map((c) => c.spec.ip), [initial.get(n)!.status], `${n} holds exactly its claim`);
      const mine = held[0]!.spec.holders.filter((h) => h.name === n);
      assert.deepEqual(mine.map((h) => h.uid), [end.get(n)!.uid], `${n}'s claim entry is bound to its uid`);
    }
  });
});
