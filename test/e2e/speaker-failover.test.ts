// Two `berth speaker` processes with heartbeats on loopback (n1 on 127.0.0.1, n2 on 127.0.0.2, one UDP port, the key
// from the `memberlist` Secret, which the first of them creates) and `--dry-run-link` (no socket on any interface): exactly one announces a Service
// with a ready endpoint (ETP=Cluster, MetalLB's election) and holds its ServiceL2Status; SIGKILL of the owner moves the
// announcement, the ServiceL2Status and a berth_l2_failover_seconds observation to the other; restarted, the first one
// does not take the IP back unless it sorts first (then it does, once); SIGTERM hands over through `leaving` (the
// survivor records the leaver as gone for its 'leaving' heartbeat, not silence, and takes the IP in that step).
// The network half (real ARP in namespaces, timing) is H6's harness and bench:failover.
import assert from 'node:assert/strict';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import type { NodeProcess } from '../../src/lab/processes.ts';
import { findKubectl, startTestLab, type TestLab } from '../../src/lab/testing.ts';
import { freeUdpPort } from '../helpers/net.ts';
import { until as pollUntil } from '../helpers/poll.ts';
import { spawnSpeaker, speakerReady } from '../helpers/speaker-process.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NS = 'metallb-system';
const IP = '198.51.100.20';
const skip = findKubectl() ? undefined : 'kubectl not found (scripts/fetch-kubectl.sh installs one)';
let lab: TestLab | undefined;
let udpPort = 0;
const speakers = new Map<string, { p: NodeProcess; metrics: number }>();

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(`http://127.0.0.1:${port}${path}`, { timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
}

async function kubectl(args: string[], input?: string): Promise<string> {
  const r = await lab!.kubectl(args, input !== undefined ? { input } : {});
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** `until` from test/helpers/poll.ts, polling every 100 ms, with the speakers' last output on a timeout. */
function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  return pollUntil(what, fn, timeoutMs, 100, () =>
    [...speakers].map(([n, s]) => `--- ${n}\n${s.p.output().slice(-2000)}`).join('\n'),
  );
}

function value(text: string, series: string): number | undefined {
  for (const line of text.split('\n'))
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  return undefined;
}

const announced = (node: string) =>
  `metallb_speaker_announced{service="shop/web",protocol="layer2",node="${node}",ip="${IP}"}`;

async function start(node: string, address: string): Promise<void> {
  const p = spawnSpeaker({
    node,
    kubeconfig: lab!.lab.kubeconfigPath,
    args: ['--memberlist-bind', address, '--memberlist-port', String(udpPort)],
  });
  const entry = { p, metrics: 0 };
  speakers.set(node, entry); // registered at once: after() kills it whatever happens next
  entry.metrics = await speakerReady(p);
  await p.waitFor(/heartbeats on /, 10_000);
}

/** Which running speaker announces the IP now (exactly one, else undefined). */
async function owner(): Promise<string | undefined> {
  const owners: string[] = [];
  for (const [node, s] of speakers) {
    if (s.p.exited || s.metrics === 0) continue;
    if (value(await get(s.metrics, '/metrics'), announced(node)) === 1) owners.push(node);
  }
  return owners.length === 1 ? owners[0] : undefined;
}

async function statusNode(): Promise<string | undefined> {
  const items = (
    JSON.parse(await kubectl(['get', 'servicel2statuses', '-n', NS, '-o', 'json'])) as {
      items: Array<{ status?: { node?: string } }>;
    }
  ).items;
  return items.length === 1 ? items[0]!.status?.node : undefined;
}

before(async () => {
  if (skip) return;
  udpPort = await freeUdpPort();
  lab = await startTestLab({ nodes: 0 });
  await kubectl(['apply', '-k', `${ROOT}/gitops/base/crds`]);
  await kubectl(
    ['apply', '-f', '-'],
    `apiVersion: v1
kind: Namespace
metadata: {name: ${NS}}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}

---
apiVersion: v1
kind: Node
metadata: {name: n1}
status: {addresses: [{type: InternalIP, address: 127.0.0.1}]}
---
apiVersion: v1
kind: Node
metadata: {name: n2}
status: {addresses: [{type: InternalIP, address: 127.0.0.2}]}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: doc, namespace: ${NS}}
spec: {addresses: [198.51.100.16/28]}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: l2, namespace: ${NS}}
spec: {ipAddressPools: [doc]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [{addresses: [203.0.113.5], nodeName: n1, conditions: {ready: true}}, {addresses: [203.0.113.6], nodeName: n2, conditions: {ready: true}}]
ports: [{name: http, port: 8080, protocol: TCP}]
`,
  );
  await kubectl([
    'patch',
    'svc',
    'web',
    '-n',
    'shop',
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: IP }] } } }),
  ]);
});

after(async () => {
  for (const s of speakers.values()) await s.p.stop('SIGKILL');
  await lab?.stop();
});

// Started at once, the two speakers used to both announce for a while (each one's fixed start grace ended before it
// had heard the other), so the owner the test saw was not the survivor's owner and the kill moved nothing in the
// survivor's view. Start-up rule 8 (docs/layer2.md, Liveness) settles it.
test(
  'two speakers with heartbeats: one owner; SIGKILL moves the IP, its ServiceL2Status and a failover observation',
  async (c) => {
    if (skip) return c.skip(skip);
    // No memberlist Secret: the first speaker creates it, the other reads its key.
    await Promise.all([start('n1', '127.0.0.1'), start('n2', '127.0.0.2')]);
    const created = [...speakers.values()].filter((s) =>
      /created Secret metallb-system\/memberlist/.test(s.p.output()),
    );
    assert.equal(created.length, 1, 'exactly one speaker created the Secret');
    // "Both up": each has heard the other (before that, a peer killed unheard is alive by its fresh Lease for 40 s).
    for (const s of speakers.values()) {
      await until('both speakers to hear each other', async () =>
        ((value(await get(s.metrics, '/metrics'), 'berth_speaker_heartbeats_accepted_total') ?? 0) > 0 ? true : undefined),
      );
    }
    const first = await until('exactly one owner', owner);
    // Never two owners from now on: sampled for a second before the kill.
    for (let i = 0; i < 10; i++) {
      assert.equal(await owner(), first, 'the owner is stable once both speakers run');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(
      await until('the owner’s ServiceL2Status', async () =>
        (await statusNode()) === first ? first : undefined,
      ),
      first,
    );
    const other = first === 'n1' ? 'n2' : 'n1';
    // Changes before the kill (a speaker started seconds after the other is "dead" to it until its first heartbeat).
    const changesBefore = value(
      await get(speakers.get(other)!.metrics, '/metrics'),
      'berth_l2_owner_changes_total',
    )!;
    await speakers.get(first)!.p.stop('SIGKILL');
    assert.equal(await until('the survivor to take over', owner), other);
    const survivor = speakers.get(other)!;
    const text = await until('the failover observation', async () => {
      const t = await get(survivor.metrics, '/metrics');
      return value(t, 'berth_l2_failover_seconds_count') === 1 ? t : undefined;
    });
    const seconds = value(text, 'berth_l2_failover_seconds_sum')!;
    assert.ok(
      (value(text, 'berth_speaker_heartbeats_accepted_total') ?? 0) > 0,
      'the liveness metrics are served too',
    );
    c.diagnostic(
      `failover after SIGKILL (dead peer detected → first gratuitous packet): ${(seconds * 1000).toFixed(1)} ms`,
    );
    assert.equal(
      value(text, 'berth_l2_owner_changes_total')! - changesBefore,
      1,
      `owner changes seen by ${other}:\n${survivor.p.output().slice(-6000)}`,
    );
    assert.equal(
      await until('the ServiceL2Status to follow', async () =>
        (await statusNode()) === other ? other : undefined,
      ),
      other,
    );
  },
);

test('SIGTERM: the owner leaves, the other takes over; the leaver exits 0', async (c) => {
  if (skip) return c.skip(skip);
  const dead = [...speakers].find(([, s]) => s.p.exited)?.[0];
  assert.ok(dead, 'the first test killed one speaker');
  await start(dead, dead === 'n1' ? '127.0.0.1' : '127.0.0.2');
  // The restarted one takes the IP back only if it sorts first (MetalLB's election is stateless): wait until stable.
  const owner1 = await until('one owner after the restart', async () => {
    const o1 = await owner();
    await new Promise((r) => setTimeout(r, 1000));
    return o1 !== undefined && (await owner()) === o1 ? o1 : undefined;
  });
  const other = owner1 === 'n1' ? 'n2' : 'n1';
  const survivor = speakers.get(other)!;
  const at = survivor.p.output().length;
  assert.equal(await speakers.get(owner1)!.p.stop('SIGTERM'), 0);
  assert.match(speakers.get(owner1)!.p.output(), /speaker: SIGTERM, stopping[\s\S]*speaker: stopped/);
  assert.equal(await until('the other to take over', owner), other);
  // The silence window (300 ms) would move the IP too: the survivor must have dropped the leaver because of its
  // 'leaving' heartbeats (detector rule 3), and taken the IP in that same step. src/speaker/liveness/udp.ts logs each
  // removal with the rule's reason after the listeners ran, so the takeover's announce line comes before it.
  const lines = (): Array<{ i: number; o: { peers?: string[]; reason?: string; decision?: string; ip?: string } }> =>
    survivor.p
      .output()
      .slice(at)
      .split('\n')
      .flatMap((l, i) => {
        try {
          return [{ i, o: JSON.parse(l) as { peers?: string[]; reason?: string; decision?: string; ip?: string } }];
        } catch {
          return [];
        }
      });
  const removal = await until(`${other} to record ${owner1} as gone`, async () =>
    lines().find((l) => l.o.peers?.includes(owner1) && (l.o.reason === 'leaving' || l.o.reason === 'silence')),
  );
  assert.equal(removal.o.reason, 'leaving', `${other} dropped ${owner1} for ${removal.o.reason}, not its 'leaving' heartbeat`);
  const announce = lines().find((l) => l.o.decision === 'announce' && l.o.ip === IP);
  assert.ok(announce, `${other} logged its announce of ${IP}`);
  assert.ok(announce.i < removal.i, `${other} took ${IP} when it heard 'leaving' (announce line before the removal line)`);
  assert.equal(
    await until('the ServiceL2Status to follow', async () =>
      (await statusNode()) === other ? other : undefined,
    ),
    other,
  );
});
