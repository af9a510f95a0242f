// `berth lab` and its stop signals (fresh-user problems 1 and 7): a Ctrl-C while the lab starts stops what it had
// started (with --network: deletes its namespaces) and says "stopped"; the duplicate Ctrl-C a wrapper relays (npm,
// tsx) does not kill the lab before it printed "stopped" and removed its lock. Real processes: `berth lab`
// (src/cli/main.ts), `ip netns` for --network (skipped without root/netns, with the reason).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LAB_LOCK_FILE } from '../../src/lab/lock.ts';
import { DEFAULT_STATE_DIR } from '../../src/lab/network/network.ts';
import { namespacesOf, networkSupport } from '../../src/lab/network/topology.ts';
import { spawnNode, type NodeProcess } from '../../src/lab/processes.ts';
import { BERTH_MAIN, removeLabNetwork, spawnLab, waitGone } from '../helpers/lab-process.ts';

const count = (text: string, re: RegExp): number => text.split('\n').filter((l) => re.test(l)).length;

test('Ctrl-C while the lab starts: the webhook already started is stopped, "stopped" is printed, the lock removed', { timeout: 180_000 }, async (t) => {
  const { lab, dir, kids } = spawnLab(t, 'berth-labsig-', []);
  // The webhook runs, the controller is starting: the lab is half up.
  const m = await lab.waitFor(/berth lab: webhook pid (\d+)/, 150_000);
  const webhookPid = Number(m[1]);
  kids.push(webhookPid);
  process.kill(lab.pid, 'SIGINT');
  const code = await lab.done;
  const out = lab.output();
  assert.equal(lab.exitSignal, null, `the lab was killed by ${lab.exitSignal} instead of stopping:\n${out}`);
  assert.equal(code, 0, out);
  assert.equal(count(out, /^berth lab: SIGINT, stopping$/), 1, out);
  assert.match(out, /^berth lab: stopped/m);
  assert.doesNotMatch(out, /berth lab: ready/);
  assert.ok(await waitGone(webhookPid), `webhook pid ${webhookPid} still runs after the lab stopped`);
  assert.equal(existsSync(join(dir, LAB_LOCK_FILE)), false, 'the lock is removed');
});

test('the duplicate SIGINT a wrapper relays does not cut the stop short: "stopped" once, exit 0, lock removed', { timeout: 180_000 }, async (t) => {
  const { lab, dir, kids } = spawnLab(t, 'berth-labsig2-', []);
  await lab.waitFor(/berth lab: ready/, 150_000);
  const out0 = lab.output();
  kids.push(Number(/berth lab: controller pid (\d+)/.exec(out0)?.[1]), Number(/berth lab: webhook pid (\d+)/.exec(out0)?.[1]));
  assert.ok(existsSync(join(dir, LAB_LOCK_FILE)));
  process.kill(lab.pid, 'SIGINT');
  await lab.waitFor(/berth lab: SIGINT, stopping/, 30_000);
  // What npm (or tsx's relay) sends a moment later: the same Ctrl-C again, then a SIGTERM for good measure.
  await new Promise((r) => setTimeout(r, 100));
  if (!lab.exited) process.kill(lab.pid, 'SIGINT');
  await new Promise((r) => setTimeout(r, 100));
  if (!lab.exited) process.kill(lab.pid, 'SIGTERM');
  const code = await lab.done;
  const out = lab.output();
  // A duplicate that lands after "stopped", while Node is already tearing the process down (its signal handlers
  // gone), ends it by that signal: harmless, the stop is done (the count, lock and children checks below still hold).
  // Before "stopped" it must never win.
  const stoppedFirst = count(out, /^berth lab: stopped$/) === 1;
  assert.ok(lab.exitSignal === null || stoppedFirst, `the lab was killed by ${lab.exitSignal} before it stopped:\n${out.slice(-2000)}`);
  if (lab.exitSignal === null) assert.equal(code, 0, out.slice(-2000));
  assert.equal(count(out, /^berth lab: (SIGINT|SIGTERM), stopping$/), 1, out.slice(-2000));
  assert.equal(count(out, /^berth lab: stopped$/), 1, out.slice(-2000));
  assert.equal(existsSync(join(dir, LAB_LOCK_FILE)), false, 'the lock is removed on a normal stop');
  for (const pid of kids) assert.ok(await waitGone(pid), `child pid ${pid} still runs`);
});

test('Ctrl-C right after the network segment is built: its namespaces are deleted, "stopped" is printed', { timeout: 240_000 }, async (t) => {
  const support = await networkSupport();
  if (!support.ok) return t.skip(support.reason);
  const dir = mkdtempSync(join(tmpdir(), 'berth-labsig3-'));
  const run_: { lab?: NodeProcess; prefix?: string } = {};
  t.after(async () => {
    await run_.lab?.stop('SIGKILL');
    const prefix = run_.prefix;
    if (prefix) await removeLabNetwork(prefix);
    rmSync(dir, { recursive: true, force: true });
  });
  const lab = spawnNode(BERTH_MAIN, ['lab', '--network', '--nodes', '1', '--no-webhook', '--dir', dir]);
  run_.lab = lab;
  // The fresh user's moment: right after this line, while the speakers start.
  const m = await lab.waitFor(/berth lab: network: segment (berth[0-9a-z]+) /, 180_000);
  const prefix = m[1]!;
  run_.prefix = prefix;
  assert.ok((await namespacesOf(prefix)).length >= 3, 'switch, client and node namespaces exist');
  process.kill(lab.pid, 'SIGINT');
  const code = await lab.done;
  const out = lab.output();
  assert.equal(lab.exitSignal, null, `the lab was killed by ${lab.exitSignal} instead of stopping:\n${out}`);
  assert.equal(code, 0, out);
  assert.match(out, /^berth lab: SIGINT, stopping$/m);
  assert.match(out, /^berth lab: stopped/m);
  assert.deepEqual(await namespacesOf(prefix), [], 'namespaces left after a Ctrl-C during startup');
  assert.equal(existsSync(join(DEFAULT_STATE_DIR, `${prefix}.json`)), false, 'run record removed');
  assert.equal(existsSync(join(dir, LAB_LOCK_FILE)), false, 'the lock is removed');
});
