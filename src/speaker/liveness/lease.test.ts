// Against the lab API server (a real HTTPS API, as the speaker uses in a cluster), stopped and restarted on the same
// port to play an API-server outage.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { connect, type Kube } from '../../kube/connect.ts';
import type { Lease } from '../../kube/leader-election.ts';
import { Resources } from '../../kube/resources.ts';
import { startLab, type Lab } from '../../lab/server.ts';
import { SpeakerLeases, speakerLeaseName, SPEAKER_LEASE_LABELS } from './lease.ts';
import { parseSilentPeers, SILENT_PEERS_ANNOTATION } from './silent-peers.ts';

const log = pino({ level: 'silent' });

async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A speaker's connection (component berth-speaker) to `lab`, closed after `t`, with the namespace metallb-system created. */
async function speakerKube(t: TestContext, lab: Lab): Promise<Kube> {
  const c = await connect({ kubeconfig: lab.kubeconfigPath, component: 'berth-speaker' });
  assert.ok(c.ok);
  const kube = c.kube;
  t.after(() => kube.close());
  await kube.client.create(Resources.namespaces, { metadata: { name: 'metallb-system' } });
  return kube;
}

test('lease names: metallb-speaker-<node>, too long refused with the length', () => {
  assert.equal(speakerLeaseName('lab-node-1'), 'metallb-speaker-lab-node-1');
  assert.throws(() => speakerLeaseName('x'.repeat(250)), /gives lease name of 266 characters; at most 253/);
});

test('two speakers renew their Leases, see each other, survive an API-server outage, release on stop', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-lease-'));
  let lab: Lab | undefined = await startLab({ dir, persist: true, nodes: 0 });
  const port = lab.port;
  t.after(async () => {
    await lab?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const kube = await speakerKube(t, lab);

  const seen = { a: new Map<string, number[]>(), b: new Map<string, number[]>() };
  const gone: string[] = [];
  const make = (node: 'a' | 'b') =>
    new SpeakerLeases({
      client: kube.client,
      namespace: 'metallb-system',
      node: `node-${node}`,
      renewIntervalMs: 200,
      backoff: { initialMs: 50, maxMs: 200 },
      watchBackoff: { initialMs: 50, maxMs: 500 },
      log,
      onLease: (n, at) => seen[node].set(n, [...(seen[node].get(n) ?? []), at ?? -1]),
      onLeaseGone: (n) => gone.push(`${node}:${n}`),
    });
  const a = make('a');
  const b = make('b');
  t.after(() => Promise.all([a.stop(), b.stop()]));
  a.start();
  b.start();
  await Promise.all([a.synced, b.synced]);
  await until(
    'each sees the other renew twice',
    () => (seen.a.get('node-b')?.length ?? 0) >= 2 && (seen.b.get('node-a')?.length ?? 0) >= 2,
  );
  assert.ok(!seen.a.has('node-a'), 'own Lease is not reported');
  const renews = seen.a.get('node-b')!;
  assert.ok(
    renews.every((x, i) => i === 0 || x >= renews[i - 1]!),
    'renewTime never goes back',
  );

  const got = await kube.client.get<Lease & { metadata: { labels?: Record<string, string> } }>(
    Resources.leases,
    'metallb-speaker-node-a',
    'metallb-system',
  );
  assert.ok(got.ok);
  assert.equal(got.value.spec?.holderIdentity, 'node-a');
  assert.equal(got.value.spec?.leaseDurationSeconds, 40);
  assert.deepEqual(got.value.metadata.labels, SPEAKER_LEASE_LABELS);

  // API server away: renewals fail and are counted, nothing throws, the last state is kept
  await lab.stop();
  lab = undefined;
  const failuresBefore = a.stats().renewFailures;
  await until('renewals failing', () => a.stats().renewFailures >= failuresBefore + 2);
  assert.ok(a.leases().has('node-b'), 'peer Lease still known while the API server is away');

  // back: renewals resume, peers see fresh renewTimes
  lab = await startLab({ dir, persist: true, nodes: 0, port });
  const renewalsBack = a.stats().renewals;
  const seenBack = seen.b.get('node-a')!.length;
  await until(
    'renewals resumed',
    () => a.stats().renewals >= renewalsBack + 2 && seen.b.get('node-a')!.length > seenBack,
  );

  // release on stop: the Lease is deleted and the peer hears it
  await a.stop({ release: true });
  await until('b saw a release', () => gone.includes('b:node-a'));
  const after = await kube.client.get(Resources.leases, 'metallb-speaker-node-a', 'metallb-system');
  assert.equal(after.ok ? 'found' : after.error.kind, 'NotFound');
  assert.ok(b.stats().renewals >= 4);
});

test('the heartbeat view is published on the Lease (berth.io/silent-peers): on publish() within the spacing, kept first "since", removed when empty', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-lease-silent-'));
  const lab = await startLab({ dir, nodes: 0 });
  t.after(async () => {
    await lab.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const kube = await speakerKube(t, lab);
  let silent: string[] = [];
  // A renewal interval far longer than the test: only publish() can write the annotation after the first renewal.
  const a = new SpeakerLeases({ client: kube.client, namespace: 'metallb-system', node: 'node-a', renewIntervalMs: 600_000, publishSpacingMs: 50, log, silentPeers: () => silent });
  t.after(() => a.stop());
  a.start();
  const annotation = async (): Promise<string | undefined> => {
    const got = await kube.client.get<Lease & { metadata: { annotations?: Record<string, string> } }>(Resources.leases, 'metallb-speaker-node-a', 'metallb-system');
    return got.ok ? (got.value.metadata.annotations?.[SILENT_PEERS_ANNOTATION] ?? '') : undefined;
  };
  let last: string | undefined;
  const waitFor = async (what: string, cond: (v: string) => boolean): Promise<string> => {
    const end = Date.now() + 15_000;
    for (;;) {
      last = await annotation();
      if (last !== undefined && cond(last)) return last;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; annotation: ${JSON.stringify(last)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await waitFor('the Lease created, no annotation', (v) => v === '');
  silent = ['node-b', 'node-a']; // our own name is never published
  const before = Date.now();
  a.publish();
  const v1 = parseSilentPeers(await waitFor('node-b published', (v) => v.includes('node-b')));
  assert.deepEqual([...v1.keys()], ['node-b']);
  assert.ok(v1.get('node-b')! >= before - 1000 && v1.get('node-b')! <= Date.now(), 'since: when it was first seen silent');
  silent = ['node-b', 'node-c'];
  a.publish();
  a.publish(); // coalesced
  const v2 = parseSilentPeers(await waitFor('node-c published', (v) => v.includes('node-c')));
  assert.equal(v2.get('node-b'), v1.get('node-b'), 'node-b keeps its first since');
  silent = [];
  a.publish();
  await waitFor('the annotation removed', (v) => v === '');
});
