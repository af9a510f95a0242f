import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { acquireLabLock, LAB_LOCK_FILE, processStartTime } from './lock.ts';

function tmp(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'berth-lock-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('a second acquire on the same folder is refused with the holder pid; release frees it', (t) => {
  const d = tmp(t);
  const a = acquireLabLock(d);
  assert.ok(a.ok);
  assert.equal(a.tookOver, undefined);
  assert.match(readFileSync(join(d, LAB_LOCK_FILE), 'utf8'), new RegExp(`^${process.pid} `));
  const b = acquireLabLock(d);
  assert.deepEqual(b, { ok: false, pid: process.pid });
  a.lock.release();
  assert.equal(existsSync(join(d, LAB_LOCK_FILE)), false);
  const c = acquireLabLock(d);
  assert.ok(c.ok);
  c.lock.release();
});

test('the lock of a dead process is taken over, saying so', async (t) => {
  const d = tmp(t);
  const child = spawn(process.execPath, ['-e', '']);
  const pid = child.pid!;
  await new Promise((r) => child.once('exit', r));
  writeFileSync(join(d, LAB_LOCK_FILE), `${pid} 12345\n`);
  const r = acquireLabLock(d);
  assert.ok(r.ok);
  assert.match(r.tookOver ?? '', new RegExp(`stale lock .*pid ${pid} is not running`));
  r.lock.release();
});

test('a live pid whose start time differs (pid reused by another process) is stale', (t) => {
  const d = tmp(t);
  const start = processStartTime(process.pid);
  if (start === undefined) return t.skip('no /proc/<pid>/stat here');
  writeFileSync(join(d, LAB_LOCK_FILE), `${process.pid} ${Number(start) + 1}\n`);
  const r = acquireLabLock(d);
  assert.ok(r.ok);
  assert.match(r.tookOver ?? '', /now another process, not a berth lab/);
  r.lock.release();
});

test('garbage content is stale; release leaves a lock that is no longer ours', (t) => {
  const d = tmp(t);
  writeFileSync(join(d, LAB_LOCK_FILE), 'hello\n');
  const r = acquireLabLock(d);
  assert.ok(r.ok);
  assert.match(r.tookOver ?? '', /content "hello" is not "<pid> <start time>"/);
  writeFileSync(join(d, LAB_LOCK_FILE), '1 1\n');
  r.lock.release();
  assert.equal(readFileSync(join(d, LAB_LOCK_FILE), 'utf8'), '1 1\n');
});
