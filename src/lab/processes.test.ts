// spawnNode's exit reporting: a signal is named (`killed by SIGKILL`), not shown as a bare code 128.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { describeExit, spawnNode } from './processes.ts';

function script(t: { after(fn: () => void): void }, body: string): string {
  const d = mkdtempSync(join(tmpdir(), 'berth-proc-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const f = join(d, 'child.mjs');
  writeFileSync(f, body);
  return f;
}

test('a child killed by SIGKILL is described as killed by SIGKILL, exit code 128 + 9', async (t) => {
  const p = spawnNode(script(t, "process.stdout.write('up\\n'); setInterval(() => {}, 1000);\n"), [], { tsx: false });
  t.after(() => void p.stop('SIGKILL'));
  await p.waitFor(/up/, 20_000);
  assert.equal(describeExit(p), 'still running');
  process.kill(p.pid, 'SIGKILL');
  await p.done;
  assert.equal(p.exitSignal, 'SIGKILL');
  assert.equal(p.exitCode, 137);
  assert.equal(describeExit(p), 'killed by SIGKILL');
});

test('a child that exits by itself is described by its code', async (t) => {
  const p = spawnNode(script(t, 'process.exit(3);\n'), [], { tsx: false });
  assert.equal(await p.done, 3);
  assert.equal(p.exitSignal, null);
  assert.equal(describeExit(p), 'exited with 3');
});

test("stdin 'pipe': the child reads EOF when the parent's end closes", async (t) => {
  const p = spawnNode(script(t, "process.stdin.on('end', () => { process.stdout.write('eof\\n'); process.exit(0); }); process.stdin.resume(); process.stdout.write('up\\n');\n"), [], {
    tsx: false,
    stdin: 'pipe',
  });
  t.after(() => void p.stop('SIGKILL'));
  await p.waitFor(/up/, 20_000);
  assert.equal(p.exited, false, 'an open pipe is no EOF');
  // No handle to the pipe from outside: the parent's end closes when the parent dies; this test's process cannot
  // die, so it checks the other half: with the default ('ignore') stdin is /dev/null, at EOF at once.
  const q = spawnNode(script(t, "process.stdin.on('end', () => { process.stdout.write('eof\\n'); process.exit(0); }); process.stdin.resume();\n"), [], { tsx: false });
  await q.waitFor(/eof/, 20_000);
  assert.equal(await q.done, 0);
});
