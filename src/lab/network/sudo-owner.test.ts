// A lab run under sudo gives what it wrote back to the invoking user (sudo-owner.ts).
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { giveToUser, sudoUser } from './sudo-owner.ts';

test('sudoUser: SUDO_UID/SUDO_GID of a root process only, both positive integers', () => {
  assert.deepEqual(sudoUser({ SUDO_UID: '1000', SUDO_GID: '1001' }, 0), { uid: 1000, gid: 1001 });
  assert.equal(sudoUser({ SUDO_UID: '1000', SUDO_GID: '1001' }, 1000), undefined, 'not root: nothing to give back');
  assert.equal(sudoUser({}, 0), undefined, 'root without sudo');
  assert.equal(sudoUser({ SUDO_UID: '0', SUDO_GID: '0' }, 0), undefined, 'root ran sudo');
  for (const bad of ['', '-1', '10a', '1e3', ' 1000', '99999999999']) assert.equal(sudoUser({ SUDO_UID: bad, SUDO_GID: '1000' }, 0), undefined, `SUDO_UID "${bad}"`);
  assert.equal(sudoUser({ SUDO_UID: '1000' }, 0), undefined, 'no SUDO_GID');
});

const root = process.getuid?.() === 0;
test('giveToUser: the folder, everything under it and its root-owned parents below the checkout; links themselves, not their targets', { skip: root ? false : 'needs root (chown)' }, (t) => {
  const top = mkdtempSync(join(tmpdir(), 'berth-sudo-'));
  t.after(() => rmSync(top, { recursive: true, force: true }));
  const outside = join(top, 'outside.txt');
  writeFileSync(outside, 'x');
  const dir = join(top, '.lab', 'dev');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  writeFileSync(join(dir, 'kubeconfig'), 'k', { mode: 0o600 });
  writeFileSync(join(dir, 'sub', 'speaker-n1.log'), 'l');
  symlinkSync(outside, join(dir, 'link'));
  const who = { uid: 65534, gid: 65534 };
  assert.deepEqual(giveToUser(dir, who, top), []);
  for (const p of [dir, join(dir, 'kubeconfig'), join(dir, 'sub'), join(dir, 'sub', 'speaker-n1.log'), join(dir, 'link'), join(top, '.lab')]) {
    const st = lstatSync(p);
    assert.deepEqual([st.uid, st.gid], [65534, 65534], p);
  }
  assert.equal(lstatSync(outside).uid, 0, 'the link target is not changed');
  assert.equal(lstatSync(top).uid, 0, 'the checkout itself is not changed');
  assert.match(giveToUser(join(top, 'missing'), who, top)[0] ?? '', /missing: .*ENOENT/);
});
