// Issue 8, balanced mode (docs/layer2.md "Balanced mode") with real speakers on a real link: three node namespaces
// each running `berth speaker` (speaker-l2-harness.ts, src/lab/network), the lab's L2Advertisement `lab-l2` annotated
// `berth.io/l2-balance: "true"`, nine Services of one IP each (198.51.100.200-208, every node with a ready endpoint,
// so the three nodes are the candidates of every IP). Root only: skips with the reason otherwise.
//   - exactly one MAC answers the client's `arping -b` for each IP, the one `balancedOwners` names; every speaker
//     agrees (one ServiceL2Status per Service, from that node); 3 IPs per node, where MetalLB's hash alone would
//     give these IPs a spread of 2 or more (asserted, so the test shows the annotation took effect);
//   - SIGTERM of one node's speaker: its IPs move, each to the owner balancedOwners names without it, and no other
//     IP changes owner. The leaving node is one for which the doc's movement bound (load(r) + E before + E after)
//     allows only r's IPs to move for these nine IPs; the test computes it and fails if there is none.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyObject } from '../../src/kube/apply.ts';
import { Resources } from '../../src/kube/resources.ts';
import { labL2Objects, SPEAKER_NAMESPACE } from '../../src/lab/network/network.ts';
import { balancedOwners, metallbOrder, type Candidate } from '../../src/speaker/election.ts';
import { l2LabForFile, until, type L2Lab } from './speaker-l2-harness.ts';

const { skip, l2 } = await l2LabForFile('the layer-2 balanced-mode end-to-end test', { nodes: 3 });

const IPS = Array.from({ length: 9 }, (_, i) => `198.51.100.${200 + i}`);
const svcName = (ip: string): string => `bal-${ip.split('.')[3]!}`;
const candidates = (nodes: readonly string[]): Candidate[] => nodes.map((name) => ({ name, score: 0 }));

/** Count of IPs per node of an owner map (every node of `nodes` listed, 0 when it holds none). */
function perNode(owners: ReadonlyMap<string, string>, nodes: readonly string[]): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(nodes.map((n) => [n, 0]));
  for (const n of owners.values()) out[n] = (out[n] ?? 0) + 1;
  return out;
}

/** The node (MAC → name) answering `arping -b` for each IP, all IPs probed at once; '' when none, 'a,b' when several. */
async function answers(lab: L2Lab): Promise<Map<string, string>> {
  const r = await Promise.all(IPS.map(async (ip) => [ip, (await lab.arping(ip, 2)).map((m) => lab.nodeOf(m) ?? m).join(',')] as const));
  return new Map(r);
}

/** ServiceL2Status objects of the bal-* Services: Service name → the nodes that report announcing it. */
async function statuses(lab: L2Lab): Promise<Map<string, string[]>> {
  const r = await lab.client.list(Resources.serviceL2Statuses, { namespace: SPEAKER_NAMESPACE });
  if (!r.ok) throw new Error(`listing ServiceL2Status: ${r.error.message}`);
  const out = new Map<string, string[]>();
  for (const o of r.value.items) {
    const svc = o.metadata?.labels?.['metallb.io/service-name'] ?? '';
    const node = o.metadata?.labels?.['metallb.io/node'] ?? '';
    if (svc.startsWith('bal-')) out.set(svc, [...(out.get(svc) ?? []), node].sort());
  }
  return out;
}

/** Waits until the client sees exactly `want` (IP → node) for every IP; the message lists what it saw last. */
async function waitForAnswers(lab: L2Lab, want: ReadonlyMap<string, string>, what: string): Promise<void> {
  let last = new Map<string, string>();
  await until(
    what,
    async () => {
      last = await answers(lab);
      return IPS.every((ip) => last.get(ip) === want.get(ip)) ? true : undefined;
    },
    45_000,
    300,
  ).catch((e: Error) => {
    throw new Error(`${e.message}\nwanted ${JSON.stringify([...want])}\nlast   ${JSON.stringify([...last])}`);
  });
}

test('balanced mode: one answering node per IP, 3 per node, every speaker agrees; a leaving node moves only its IPs', { skip, timeout: 240_000 }, async () => {
  const lab = l2();
  const nodes = [...lab.macs.keys()].sort();
  assert.equal(nodes.length, 3);

  // Preconditions computed from the election code (not from the speakers): what the doc promises for these IPs.
  const plain = new Map(IPS.map((ip) => [ip, metallbOrder(ip, candidates(nodes))[0]!]));
  const plainCount = Object.values(perNode(plain, nodes));
  assert.ok(Math.max(...plainCount) - Math.min(...plainCount) >= 2, `MetalLB's hash already spreads these IPs evenly (${plainCount.join('/')}): pick IPs that show balancing`);
  const before = balancedOwners(IPS, candidates(nodes));
  assert.deepEqual(Object.values(perNode(before, nodes)), [3, 3, 3], 'balancedOwners: 3 per node');
  const leaving = nodes.find((r) => {
    const after = balancedOwners(IPS, candidates(nodes.filter((n) => n !== r)));
    return IPS.every((ip) => before.get(ip) === r || after.get(ip) === before.get(ip));
  });
  assert.ok(leaving, 'no node whose leaving moves only its own IPs for these nine IPs (excess too large)');
  const rest = nodes.filter((n) => n !== leaving);
  const after = balancedOwners(IPS, candidates(rest));

  const [ad] = labL2Objects().filter((o) => o.kind === 'L2Advertisement');
  const annotated = { ...ad!, metadata: { ...ad!.metadata, annotations: { 'berth.io/l2-balance': 'true' } } };
  const applied = await applyObject(lab.client, annotated);
  assert.ok(applied.ok, `annotating L2Advertisement lab-l2: ${applied.ok ? '' : applied.error.message}`);

  for (const ip of IPS) {
    await lab.createService(svcName(ip), [ip]);
    await lab.setEndpoints(svcName(ip), nodes.map((node) => ({ node, ready: true })));
  }
  for (const ip of IPS) await lab.waitForIngress(svcName(ip), ip);

  await waitForAnswers(lab, before, 'each IP answered by the node balancedOwners names, and by it alone');
  // Every speaker agrees: exactly one ServiceL2Status per Service, from the owner.
  await until(
    'one ServiceL2Status per Service, from its balanced owner',
    async () => {
      const st = await statuses(lab);
      return IPS.every((ip) => JSON.stringify(st.get(svcName(ip))) === JSON.stringify([before.get(ip)])) ? true : undefined;
    },
    30_000,
    300,
  ).catch(async (e: Error) => {
    throw new Error(`${e.message}\n${JSON.stringify([...(await statuses(lab))])}`);
  });
  const seen = await answers(lab);
  assert.deepEqual(perNode(seen, nodes), Object.fromEntries(nodes.map((n) => [n, 3])), `answers per node: ${JSON.stringify([...seen])}`);
  assert.notDeepEqual([...seen].sort(), [...plain].sort(), 'the answers are MetalLB plain election, not balanced');

  await lab.net.stopSpeaker(leaving, 'SIGTERM');
  await waitForAnswers(lab, after, `after ${leaving} left: its IPs at the owners balancedOwners names without it, the others where they were`);
  const moved = IPS.filter((ip) => after.get(ip) !== before.get(ip));
  assert.deepEqual(moved, IPS.filter((ip) => before.get(ip) === leaving), `only ${leaving}'s IPs moved`);
  const counts = Object.values(perNode(await answers(lab), rest)).sort();
  assert.deepEqual(counts, [4, 5], 'within one of the mean on the two nodes left');
  for (const n of rest) assert.equal(lab.net.speakers.get(n)?.exited, false, `speaker ${n} exited`);
});
