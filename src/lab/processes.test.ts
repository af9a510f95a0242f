// spawnNode's exit reporting: a signal is named (`killed by SIGKILL`), not shown as a bare code 128.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { alive, waitGone as gone } from '../../test/helpers/lab-process.ts';
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

/**
 * A parent (spawned here) that spawns a child with spawnNode (`exitWithParent` as given) and prints the child's pid;
 * the child prints `child up`, and with `stubborn` ignores SIGTERM.
 */
function parentAndChild(t: { after(fn: () => void): void }, o: { exitWithParent: boolean; stubborn?: boolean }): string {
  const child = script(
    t,
    `${o.stubborn ? "process.on('SIGTERM', () => process.stdout.write('ignoring SIGTERM\\\\n'));" : ''} process.stdout.write('child up\\n'); setInterval(() => {}, 1000);\n`,
  );
  return script(
    t,
    `const { spawnNode } = await import(${JSON.stringify(new URL('./processes.ts', import.meta.url).href)});
const c = spawnNode(${JSON.stringify(child)}, [], { tsx: false, exitWithParent: ${o.exitWithParent} });
await c.waitFor(/child up/, 20000);
process.stdout.write('child pid ' + c.pid + '\\n');
setInterval(() => {}, 1000);
`,
  );
}

test('exitWithParent (default): a child exits when its parent is SIGKILLed', async (t) => {
  const parent = spawnNode(parentAndChild(t, { exitWithParent: true }), []);
  t.after(() => void parent.stop('SIGKILL'));
  const childPid = Number((await parent.waitFor(/child pid (\d+)/, 30_000))[1]);
  t.after(() => {
    if (alive(childPid)) process.kill(childPid, 'SIGKILL');
  });
  assert.ok(alive(childPid));
  process.kill(parent.pid, 'SIGKILL');
  await parent.done;
  assert.ok(await gone(childPid, 20_000), `child ${childPid} still runs after its parent was SIGKILLed`);
});

test('exitWithParent: a child that ignores SIGTERM is made to exit anyway', async (t) => {
  const parent = spawnNode(parentAndChild(t, { exitWithParent: true, stubborn: true }), []);
  t.after(() => void parent.stop('SIGKILL'));
  const childPid = Number((await parent.waitFor(/child pid (\d+)/, 30_000))[1]);
  t.after(() => {
    if (alive(childPid)) process.kill(childPid, 'SIGKILL');
  });
  process.kill(parent.pid, 'SIGKILL');
  await parent.done;
  assert.ok(await gone(childPid, 30_000), `child ${childPid} (ignores SIGTERM) still runs after its parent was SIGKILLed`);
});

test('exitWithParent: false leaves the child running after its parent dies', async (t) => {
  const parent = spawnNode(parentAndChild(t, { exitWithParent: false }), []);
  t.after(() => void parent.stop('SIGKILL'));
  const childPid = Number((await parent.waitFor(/child pid (\d+)/, 30_000))[1]);
  t.after(() => {
    if (alive(childPid)) process.kill(childPid, 'SIGKILL');
  });
  process.kill(parent.pid, 'SIGKILL');
  await parent.done;
  await new Promise((r) => setTimeout(r, 1500));
  assert.ok(alive(childPid), 'the opt-out child was stopped');
});

test('exitWithParent: the watch neither keeps a child alive nor leaks into its environment', async (t) => {
  const p = spawnNode(script(t, "process.stdout.write(JSON.stringify({ fd: process.env.BERTH_PARENT_FD ?? null }) + '\\n');\n"), [], { tsx: false });
  assert.equal(await p.done, 0, p.output());
  assert.match(p.output(), /\{"fd":null\}/);
});
