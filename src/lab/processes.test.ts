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

// Fresh-user finding (h12): under load `berth lab --network` stopped with "process 2312 did not print
// /forwarder: listening/ within 30000 ms:" and an empty tail: no node, no role, no log file, nothing to do about it.
test('waitFor: a process that never prints the line is named (role, pid, log file), with the load and the hint', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-proc-log-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const logFile = join(dir, 'forwarder-n2.log');
  const p = spawnNode(script(t, 'setInterval(() => {}, 1000);\n'), [], { tsx: false, role: 'forwarder of node n2', logFile });
  t.after(() => void p.stop('SIGKILL'));
  const e = await p.waitFor(/forwarder: listening/, 300, { hint: 'raise it with X=SECONDS' }).then(
    () => assert.fail('the line was never printed'),
    (err: unknown) => err as Error,
  );
  assert.match(e.message, new RegExp(`^forwarder of node n2 \\(pid ${p.pid}, log ${logFile.replace(/[.]/g, '\\.')}\\) did not print /forwarder: listening/ within \\d+ ms`));
  assert.match(e.message, /\(still running; load average \d+\.\d on \d+ CPU\(s\)\): raise it with X=SECONDS\n\(it printed nothing\)$/);
  assert.equal(p.exited, false, 'waitFor does not stop the process');
});

test('waitFor whileProgress: a process whose output keeps growing gets more time; a silent idle one does not', async (t) => {
  // Prints a dot every 50 ms and the line after 40 dots: later than the timeout, sooner than maxMs.
  const busy = spawnNode(
    script(t, "let n = 0; const i = setInterval(() => { process.stdout.write('.'); if (++n === 40) { process.stdout.write('\\nready\\n'); clearInterval(i); setInterval(() => {}, 1000); } }, 50);\n"),
    [],
    { tsx: false },
  );
  t.after(() => void busy.stop('SIGKILL'));
  const m = await busy.waitFor(/ready/, 400, { whileProgress: true, maxMs: 120_000 });
  assert.equal(m[0], 'ready');
  // Without whileProgress the same wait gives up: the line is not there after 400 ms... unless it already is.
  const idle = spawnNode(script(t, "process.stdout.write('started\\n'); setInterval(() => {}, 1000);\n"), [], { tsx: false, role: 'idle child' });
  t.after(() => void idle.stop('SIGKILL'));
  await idle.waitFor(/started/, 20_000);
  const e = await idle.waitFor(/never/, 300, { whileProgress: true, maxMs: 120_000 }).then(
    () => assert.fail('the line was never printed'),
    (err: unknown) => err as Error,
  );
  assert.match(e.message, /^idle child \(pid \d+\) did not print \/never\/ within \d+ ms \(still running, no output and no CPU time in the last 300 ms;/);
  assert.match(e.message, /; its last output:\nstarted\n$/);
});

test('waitFor whileProgress: a process that keeps printing is given up on after maxMs, and says so', async (t) => {
  const p = spawnNode(script(t, "setInterval(() => process.stdout.write('tick\\n'), 20);\n"), [], { tsx: false, role: 'chatty child' });
  t.after(() => void p.stop('SIGKILL'));
  await p.waitFor(/tick/, 20_000);
  const e = await p.waitFor(/never/, 200, { whileProgress: true, maxMs: 600 }).then(
    () => assert.fail('the line was never printed'),
    (err: unknown) => err as Error,
  );
  assert.match(e.message, /still running, still making progress, the most it is given \(600 ms\)/);
});

test('a process that exits before its line is named with how it ended', async (t) => {
  const p = spawnNode(script(t, "process.stdout.write('boom\\n'); process.exit(4);\n"), [], { tsx: false, role: 'speaker of node n1' });
  const e = await p.waitFor(/speaker: ready/, 20_000).then(
    () => assert.fail('the line was never printed'),
    (err: unknown) => err as Error,
  );
  assert.match(e.message, /^speaker of node n1 \(pid \d+\) exited with 4 before printing \/speaker: ready\/; its last output:\nboom\n$/);
});
