// `npm start` (the README's command) and Ctrl-C on a busy machine (fresh-user pass, issue 8): the terminal sends
// SIGINT to the whole process group (npm, sh, the lab). The lab must get to print "stopped" and remove its lock,
// whatever runs between npm and it. The tsx CLI wrapper did not allow that: it relays the signal and, when its child
// has not acknowledged it within 2 × 30 ms (node_modules/tsx/dist/cli.mjs relaySignalToChild), SIGKILLs it: a lab
// stalled that long (load 6-7 was enough) died without stopping, leaving its lock and (with --network) its network
// namespaces. The stall is made certain here: the lab is SIGSTOPped while the group gets SIGINT, and resumed 300 ms
// later. Real processes: npm, the package.json script, `berth lab`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LAB_LOCK_FILE } from '../../src/lab/lock.ts';
import { alive, killQuietly, waitGone } from '../helpers/lab-process.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('npm start, then Ctrl-C while the lab is stalled: the lab stops itself ("stopped", lock removed), it is not SIGKILLed', { timeout: 240_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-npmstart-'));
  const npm = spawn('npm', ['start', '--silent', '--', '--dir', dir], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  npm.stdout.on('data', (b: Buffer) => (out += b.toString()));
  npm.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => npm.on('exit', (code, signal) => resolve({ code, signal })));
  const kids: number[] = [];
  t.after(async () => {
    try {
      process.kill(-npm.pid!, 'SIGKILL');
    } catch {
      // gone
    }
    for (const pid of kids) killQuietly(pid);
    rmSync(dir, { recursive: true, force: true });
  });

  for (let i = 0; i < 1500 && !/berth lab: ready/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(out, /berth lab: ready/, `the lab did not start:\n${out}`);
  kids.push(...[...out.matchAll(/berth lab: (?:controller|webhook) pid (\d+)/g)].map((m) => Number(m[1])));
  const labPid = Number(readFileSync(join(dir, LAB_LOCK_FILE), 'utf8').trim().split(/\s+/)[0]);
  assert.ok(Number.isInteger(labPid) && alive(labPid), `lab pid from ${LAB_LOCK_FILE}: ${labPid}`);
  kids.push(labPid);

  process.kill(labPid, 'SIGSTOP');
  process.kill(-npm.pid!, 'SIGINT'); // Ctrl-C: the whole foreground process group
  await new Promise((r) => setTimeout(r, 300));
  try {
    process.kill(labPid, 'SIGCONT');
  } catch {
    // already SIGKILLed by a wrapper: the assertions below say so
  }
  const end = await Promise.race([exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 60_000))]);
  assert.ok(end, `npm start still runs 60 s after SIGINT:\n${out}`);
  assert.ok(await waitGone(labPid), `lab pid ${labPid} still runs`);
  assert.match(out, /^berth lab: stopped/m, `the lab was killed instead of stopping:\n${out}`);
  assert.equal(existsSync(join(dir, LAB_LOCK_FILE)), false, `the lock ${LAB_LOCK_FILE} is left behind`);
});
