// A requested IP held by a deleted Service while the controller (and its repair loop) is down: released at admission
// when the holder's uid is known and the API server has no such Service; otherwise the denial says the holder is
// deleted and who releases it. Before this, both were denied as "held by default/a, which does not allow sharing".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mutateService } from './mutate-service.ts';
import { ipAddressPool, memoryWorld, reviewFor, service, type MemoryWorld } from './testing.ts';
import type { AdmissionRequest } from './review.ts';
import type { ServiceDeps } from './service-deps.ts';
import type { ServiceIdentity } from './ghost-holders.ts';

const NS = 'metallb-system';
const IP = '198.51.100.201';

function world(clockSkewMs = 0): MemoryWorld {
  return memoryWorld({ objects: [ipAddressPool(NS, 'default', ['198.51.100.200-198.51.100.210'])], store: { now: () => new Date(Date.now() - clockSkewMs) } });
}

const request = (svc: ReturnType<typeof service>): AdmissionRequest => (reviewFor(svc) as { request: AdmissionRequest }).request;

/** `default/a` takes IP; with `uid`, the controller bound its entry (as it does once the Service is stored). */
async function holdA(w: MemoryWorld, uid?: string, annotations?: Record<string, string>): Promise<void> {
  const r = await mutateService(w.deps.service, request(service('default', 'a', { ip: IP, ...(annotations ? { annotations } : {}) })));
  assert.equal(r.allowed, true, JSON.stringify(r));
  if (uid) {
    const c = (await w.store.get(IP))!;
    const u = await w.store.update({ ...c, spec: { ...c.spec, holders: c.spec.holders.map((h) => (h.name === 'a' ? { ...h, uid } : h)) } });
    assert.ok(u.ok);
  }
}

const withIdentity = (w: MemoryWorld, serviceIdentity: ServiceIdentity): ServiceDeps => ({ ...w.deps.service, serviceIdentity });
const holders = async (w: MemoryWorld) => (await w.store.get(IP))?.spec.holders.map((h) => `${h.namespace}/${h.name}`) ?? [];

test('a deleted holder whose uid is known is released at admission, and the new Service gets the IP', async () => {
  const w = world();
  try {
    await holdA(w, 'uid-a');
    const asked: string[] = [];
    const deps = withIdentity(w, async (ns, name) => {
      asked.push(`${ns}/${name}`);
      return undefined; // `kubectl delete svc a`: the API server has no default/a
    });
    const r = await mutateService(deps, request(service('default', 'b', { ip: IP })));
    assert.equal(r.allowed, true, r.status?.message);
    assert.deepEqual(asked, ['default/a']);
    assert.deepEqual(r.warnings, [`${IP} was held by default/a (uid uid-a), which no longer exists; its claim entry was released at admission`]);
    assert.deepEqual(await holders(w), ['default/b']);
    assert.deepEqual(w.allocator.ipsOf('default/b')?.ips, [IP]);
    assert.equal(w.allocator.ipsOf('default/a'), undefined);
  } finally {
    w.stop();
  }
});

test('a holder re-created under the same name (another uid) is released too; the live Service of that uid is not', async () => {
  const w = world();
  try {
    await holdA(w, 'uid-a');
    const live = withIdentity(w, async () => ({ uid: 'uid-a' }));
    const kept = await mutateService(live, request(service('default', 'b', { ip: IP })));
    assert.equal(kept.allowed, false);
    assert.equal(kept.status?.message, `${IP} is held by default/a, which does not allow sharing (no allow-shared-ip)`);
    assert.deepEqual(await holders(w), ['default/a']);

    const recreated = withIdentity(w, async () => ({ uid: 'uid-a2' }));
    const r = await mutateService(recreated, request(service('default', 'b', { ip: IP })));
    assert.equal(r.allowed, true, r.status?.message);
    assert.deepEqual(await holders(w), ['default/b']);
  } finally {
    w.stop();
  }
});

test('without a uid the entry is not released: past the grace the denial says the holder is deleted and who releases it', async () => {
  const old = world(120_000); // the claim was written 2 minutes ago
  try {
    await holdA(old);
    const r = await mutateService(withIdentity(old, async () => undefined), request(service('default', 'b', { ip: IP })));
    assert.equal(r.allowed, false);
    assert.equal(
      r.status?.message,
      `${IP} is held by default/a (deleted; its claim is released by the controller's repair, at most 60 s after the controller runs), which does not allow sharing (no allow-shared-ip)`,
    );
    assert.deepEqual(await holders(old), ['default/a']);
  } finally {
    old.stop();
  }
  // A claim younger than the grace may be an admission still in flight (the Service not stored yet): said as it is.
  const young = world();
  try {
    await holdA(young);
    const r = await mutateService(withIdentity(young, async () => undefined), request(service('default', 'b', { ip: IP })));
    assert.equal(r.status?.message, `${IP} is held by default/a, which does not allow sharing (no allow-shared-ip)`);
  } finally {
    young.stop();
  }
});

test('only the deleted holder’s entry goes: a live sharer stays and is still named; a failing read releases nothing', async () => {
  const w = world();
  try {
    const shared = { 'metallb.io/allow-shared-ip': 'k' };
    await holdA(w, 'uid-a', shared);
    const c = await mutateService(w.deps.service, request(service('default', 'c', { ip: IP, annotations: shared, ports: [{ port: 443 }] })));
    assert.equal(c.allowed, true, c.status?.message);
    assert.deepEqual(await holders(w), ['default/a', 'default/c']);

    const failing = withIdentity(w, async () => {
      throw new Error('connection refused');
    });
    const r0 = await mutateService(failing, request(service('default', 'b', { ip: IP })));
    assert.equal(r0.allowed, false);
    assert.deepEqual(await holders(w), ['default/a', 'default/c']);

    const deps = withIdentity(w, async (_ns, name) => (name === 'c' ? {} : undefined));
    const r = await mutateService(deps, request(service('default', 'b', { ip: IP })));
    assert.equal(r.allowed, false);
    assert.match(r.status?.message ?? '', /is held by default\/c \(allow-shared-ip "k"\); set the same key to share it/);
    assert.doesNotMatch(r.status?.message ?? '', /default\/a/);
    assert.deepEqual(await holders(w), ['default/c']);
  } finally {
    w.stop();
  }
});

test('dry run and a webhook without the live read answer as the claims say and release nothing', async () => {
  const w = world();
  try {
    await holdA(w, 'uid-a');
    const dry = await mutateService(withIdentity(w, async () => undefined), { ...request(service('default', 'b', { ip: IP })), dryRun: true });
    assert.equal(dry.allowed, false);
    const plain = await mutateService(w.deps.service, request(service('default', 'b', { ip: IP })));
    assert.equal(plain.status?.message, `${IP} is held by default/a, which does not allow sharing (no allow-shared-ip)`);
    assert.deepEqual(await holders(w), ['default/a']);
  } finally {
    w.stop();
  }
});
