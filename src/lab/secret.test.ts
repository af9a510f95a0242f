// The lab stores Secrets as kube-apiserver does: stringData folded into data (base64), stringData dropped.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type Kube } from '../kube/connect.ts';
import { Resources } from '../kube/resources.ts';
import { foldSecretStringData } from './secret.ts';
import { startTestLab, type TestLab } from './testing.ts';

describe('lab Secrets: stringData is write-only', () => {
  let t: TestLab;
  let kube: Kube;
  before(async () => {
    t = await startTestLab();
    const c = await connect({ kubeconfig: t.lab.kubeconfigPath, component: 'test' });
    if (!c.ok) throw new Error(c.message);
    kube = c.kube;
  });
  after(async () => {
    kube?.close();
    await t?.stop();
  });

  it('create and update fold stringData into data (stringData wins), and reads never show stringData', async () => {
    const { client } = kube;
    const created = await client.create(Resources.secrets, {
      metadata: { name: 'memberlist', namespace: 'default' },
      data: { keep: Buffer.from('old').toString('base64'), secretkey: Buffer.from('x').toString('base64') },
      stringData: { secretkey: 's3cret-value-0123' },
    } as never);
    assert.ok(created.ok, created.ok ? '' : created.error.message);
    const got = await client.get<{ data?: Record<string, string>; stringData?: unknown; metadata: { resourceVersion: string } }>(Resources.secrets, 'memberlist', 'default');
    assert.ok(got.ok);
    assert.equal(got.value.stringData, undefined);
    assert.equal(Buffer.from(got.value.data!['secretkey']!, 'base64').toString(), 's3cret-value-0123');
    assert.equal(Buffer.from(got.value.data!['keep']!, 'base64').toString(), 'old');

    const updated = await client.replace(Resources.secrets, {
      metadata: { name: 'memberlist', namespace: 'default' },
      data: got.value.data,
      stringData: { other: 'two' },
    } as never);
    assert.ok(updated.ok, updated.ok ? '' : updated.error.message);
    const again = await client.get<{ data?: Record<string, string>; stringData?: unknown }>(Resources.secrets, 'memberlist', 'default');
    assert.ok(again.ok);
    assert.equal(again.value.stringData, undefined);
    assert.deepEqual(Object.keys(again.value.data!).sort(), ['keep', 'other', 'secretkey']);
  });

  it('foldSecretStringData leaves a Secret without stringData alone', () => {
    const o = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'a' }, data: { k: 'dg==' } };
    foldSecretStringData(o as never);
    assert.deepEqual(o.data, { k: 'dg==' });
  });
});
