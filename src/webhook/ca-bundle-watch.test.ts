import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../api/object.ts';
import { CaBundleKeeper, type WatchedConfig } from './ca-bundle-watch.ts';
import type { WebhookConfigIo, WebhookConfigRef } from './cert-bootstrap.ts';
import { createCa } from './tls.ts';

const refs: WebhookConfigRef[] = [
  { kind: 'MutatingWebhookConfiguration', name: 'berth-webhook-configuration' },
  { kind: 'ValidatingWebhookConfiguration', name: 'berth-webhook-configuration' },
];
const ca = (await createCa(new Date())).caPem;
const b64 = (pem: string) => Buffer.from(pem).toString('base64');

function config(ref: WebhookConfigRef, bundle: string, rv: number): KubeObject {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: ref.kind,
    metadata: { name: ref.name, resourceVersion: String(rv) },
    webhooks: [{ name: 'a.berth.io', clientConfig: { caBundle: bundle } }],
  } as unknown as KubeObject;
}

/** The API server's objects plus a watch cache that lags until `sync()`; counts the live calls. */
function world(opts: { failWrites?: number } = {}) {
  let rv = 1;
  const server = new Map<string, KubeObject>(refs.map((r) => [r.kind, config(r, '', rv++)]));
  const cache = new Map<string, KubeObject | undefined>();
  let synced = false;
  let failWrites = opts.failWrites ?? 0;
  const calls = { get: 0, replace: 0 };
  const io: WebhookConfigIo = {
    async get(ref) {
      calls.get++;
      const o = server.get(ref.kind);
      return o && structuredClone(o);
    },
    async replace(ref, obj) {
      calls.replace++;
      if (failWrites > 0) {
        failWrites--;
        throw new Error('connect ECONNREFUSED 127.0.0.1:6443');
      }
      const cur = server.get(ref.kind);
      if (!cur) return 'notfound';
      if (cur.metadata?.resourceVersion !== obj.metadata?.resourceVersion) return 'conflict';
      server.set(ref.kind, { ...obj, metadata: { ...obj.metadata, resourceVersion: String(rv++) } } as KubeObject);
      return 'ok';
    },
  };
  const watched = (ref: WebhookConfigRef): WatchedConfig => ({ synced, object: cache.get(ref.kind) });
  return {
    io,
    watched,
    calls,
    server,
    /** The watch delivers what the server holds. */
    sync() {
      synced = true;
      for (const r of refs) cache.set(r.kind, server.get(r.kind) && structuredClone(server.get(r.kind)));
    },
    /** Someone (Argo CD) writes the configuration with an empty caBundle. */
    overwrite(kind: string) {
      server.set(kind, config(refs.find((r) => r.kind === kind)!, '', rv++));
    },
    bundleOf(kind: string): string | undefined {
      return (server.get(kind) as unknown as { webhooks: Array<{ clientConfig: { caBundle: string } }> }).webhooks[0]!.clientConfig.caBundle;
    },
  };
}

test('caBundle keeper: waits for the watch, writes a missing CA once, then makes no API call while nothing changes', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const w = world();
  let problems: readonly string[] = ['unchecked'];
  const written: string[] = [];
  const keeper = new CaBundleKeeper({ refs, watched: w.watched, io: w.io, caPem: () => ca, inject: true, onResult: (p) => (problems = p), log: (l) => written.push(l) });
  await keeper.kick();
  assert.deepEqual(problems, refs.map((r) => `waiting for the watch of ${r.kind} ${r.name}`));
  assert.deepEqual(w.calls, { get: 0, replace: 0 });

  w.sync();
  await keeper.kick();
  assert.deepEqual(problems, []);
  assert.equal(w.bundleOf('MutatingWebhookConfiguration'), b64(ca));
  assert.equal(w.bundleOf('ValidatingWebhookConfiguration'), b64(ca));
  assert.match(written.join('\n'), /caBundle written into MutatingWebhookConfiguration\/berth-webhook-configuration, ValidatingWebhookConfiguration\/berth-webhook-configuration/);
  assert.equal(w.calls.replace, 2);
  const after = { ...w.calls };

  // The watch delivers our own writes; a check on them (and ten idle minutes) costs no request.
  w.sync();
  await keeper.kick();
  t.mock.timers.tick(10 * 60_000);
  await keeper.kick();
  assert.deepEqual(w.calls, after);
  assert.equal(keeper.retryPending, false);
  assert.deepEqual(problems, []);
});

test('caBundle keeper: an overwrite with an empty caBundle (GitOps sync) seen by the watch is restored at once', async () => {
  const w = world();
  w.sync();
  const keeper = new CaBundleKeeper({ refs, watched: w.watched, io: w.io, caPem: () => ca, inject: true, onResult: () => undefined });
  await keeper.kick();
  w.sync();
  const before = w.calls.replace;
  w.overwrite('ValidatingWebhookConfiguration');
  w.sync();
  await keeper.kick();
  assert.equal(w.bundleOf('ValidatingWebhookConfiguration'), b64(ca));
  assert.equal(w.calls.replace, before + 1, 'only the overwritten configuration is written');
  assert.equal(keeper.stats.writes, 3);
});

test('caBundle keeper: a failed write is retried with capped doubling backoff, and no timer is left once it succeeds', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const w = world({ failWrites: 3 });
  w.sync();
  let problems: readonly string[] = [];
  const warns: string[] = [];
  const keeper = new CaBundleKeeper({
    refs,
    watched: w.watched,
    io: w.io,
    caPem: () => ca,
    inject: true,
    onResult: (p) => (problems = p),
    warn: (l) => warns.push(l),
    backoff: { initialMs: 500, maxMs: 1_000 },
  });
  await keeper.kick();
  assert.match(problems.join('\n'), /cannot write the caBundle: connect ECONNREFUSED/);
  assert.equal(keeper.retryPending, true);
  assert.match(warns[0]!, /retrying in 500 ms/);
  const settle = async (ms: number) => {
    t.mock.timers.tick(ms);
    for (let i = 0; i < 20; i++) await Promise.resolve();
  };
  await settle(499);
  assert.equal(w.calls.replace, 1, 'no retry before the delay');
  await settle(1);
  assert.equal(w.calls.replace, 2);
  assert.match(warns[1]!, /retrying in 1000 ms/);
  await settle(1_000);
  assert.match(warns[2]!, /retrying in 1000 ms/, 'the delay is capped');
  await settle(1_000);
  assert.deepEqual(problems, []);
  assert.equal(keeper.retryPending, false);
  assert.equal(w.bundleOf('MutatingWebhookConfiguration'), b64(ca));
  const calls = { ...w.calls };
  await settle(60_000);
  assert.deepEqual(w.calls, calls);
});

test('caBundle keeper: a watch that cannot list says why in the readiness reason', async () => {
  const w = world();
  let problems: readonly string[] = [];
  const watched = (): WatchedConfig => ({ synced: false, object: undefined, lastError: 'list: Forbidden: cannot list resource "mutatingwebhookconfigurations"' });
  const keeper = new CaBundleKeeper({ refs, watched, io: w.io, caPem: () => ca, inject: true, onResult: (p) => (problems = p) });
  await keeper.kick();
  assert.match(problems[0]!, /^waiting for the watch of MutatingWebhookConfiguration berth-webhook-configuration \(list: Forbidden: cannot list/);
  assert.deepEqual(w.calls, { get: 0, replace: 0 });
});

test('caBundle keeper: with --cert-dir it reports a caBundle without the CA and never writes', async () => {
  const w = world();
  w.sync();
  let problems: readonly string[] = [];
  const keeper = new CaBundleKeeper({ refs, watched: w.watched, io: w.io, caPem: () => ca, inject: false, onResult: (p) => (problems = p) });
  await keeper.kick();
  assert.equal(problems.length, 2);
  assert.match(problems[0]!, /webhook a\.berth\.io of MutatingWebhookConfiguration berth-webhook-configuration does not have the serving CA in its caBundle/);
  assert.deepEqual(w.calls, { get: 0, replace: 0 });
});

test('caBundle keeper: a configuration that does not exist is reported, not created, and costs no request', async () => {
  const w = world();
  w.server.delete('MutatingWebhookConfiguration');
  w.sync();
  let problems: readonly string[] = [];
  const keeper = new CaBundleKeeper({ refs, watched: w.watched, io: w.io, caPem: () => ca, inject: true, onResult: (p) => (problems = p) });
  await keeper.kick();
  assert.ok(problems.includes('MutatingWebhookConfiguration berth-webhook-configuration does not exist'), problems.join('; '));
  assert.equal(w.calls.replace, 1, 'only the existing Validating one is written');
});

test('caBundle keeper: kicks during a check are coalesced into one follow-up check', async () => {
  const w = world();
  w.sync();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const slowIo: WebhookConfigIo = { get: async (ref) => (await gate, w.io.get(ref)), replace: (ref, o) => w.io.replace(ref, o) };
  const keeper = new CaBundleKeeper({ refs, watched: w.watched, io: slowIo, caPem: () => ca, inject: true, onResult: () => undefined });
  const first = keeper.kick();
  void keeper.kick();
  void keeper.kick();
  release();
  await first;
  assert.equal(keeper.stats.checks, 2);
});

test('caBundle keeper: a kick during a running check resolves only after the follow-up check, which uses the CA installed meanwhile (webhook readiness race)', async () => {
  const w = world();
  w.sync();
  const caPem: string | undefined = ca;
  const results: Array<readonly string[]> = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const slowIo: WebhookConfigIo = {
    get: (ref) => w.io.get(ref),
    async replace(ref, obj) {
      await gate; // the first write is still in flight when the second kick comes
      return w.io.replace(ref, obj);
    },
  };
  const keeper = new CaBundleKeeper({ refs, watched: w.watched, io: slowIo, caPem: () => caPem, inject: true, onResult: (p) => results.push(p) });
  const first = keeper.kick();
  let secondDone = false;
  const second = keeper.kick().then(() => (secondDone = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(secondDone, false, 'the second kick waits for the running check and its follow-up');
  release();
  await Promise.all([first, second]);
  assert.equal(secondDone, true);
  assert.ok(results.length >= 1);
  assert.deepEqual(results.at(-1), [], 'the last result is the follow-up check, with the caBundle written');
  assert.equal(w.bundleOf('MutatingWebhookConfiguration'), b64(ca));
});

test('caBundle keeper: --cert-dir without a CA settles with no problem (nothing to check against); bootstrap mode without a CA reports nothing yet', async () => {
  const w = world();
  w.sync();
  const seen: { certDir?: readonly string[]; bootstrap?: readonly string[] } = {};
  await new CaBundleKeeper({ refs, watched: w.watched, io: w.io, caPem: () => undefined, inject: false, onResult: (p) => (seen.certDir = p) }).kick();
  await new CaBundleKeeper({ refs, watched: w.watched, io: w.io, caPem: () => undefined, inject: true, onResult: (p) => (seen.bootstrap = p) }).kick();
  assert.deepEqual(seen.certDir, []);
  assert.equal(seen.bootstrap, undefined);
});
