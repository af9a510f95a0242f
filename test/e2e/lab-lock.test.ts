// `berth lab` twice on one --dir: the second is refused (exit 1, names the first's pid) and the first's kubeconfig
// is untouched; a child killed by a signal is reported by its signal; after a SIGKILL of the lab, the next start
// takes the stale lock over and says so; Ctrl-C removes the lock. Real processes: `berth lab` (src/cli/main.ts).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { LAB_LOCK_FILE } from '../../src/lab/lock.ts';
import { spawnNode, type NodeProcess } from '../../src/lab/processes.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

function berth(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', import.meta.resolve('tsx'), MAIN, ...args], { timeout: 60_000 }, (e, out, err) =>
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out: String(out), err: String(err) }),
    );
  });
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

test('one lab per --dir: refused while it runs, stale lock taken over after SIGKILL, child signals named', { timeout: 240_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-lablock-'));
  const started: NodeProcess[] = [];
  const childPids: number[] = [];
  t.after(async () => {
    for (const p of started) await p.stop('SIGKILL');
    for (const pid of childPids) killQuietly(pid);
    rmSync(dir, { recursive: true, force: true });
  });
  const lab = (): NodeProcess => {
    const p = spawnNode(MAIN, ['lab', '--dir', dir, '--no-webhook']);
    started.push(p);
    return p;
  };

  const first = lab();
  await first.waitFor(/berth lab: ready/, 120_000);
  const controllerPid = Number(/berth lab: controller pid (\d+)/.exec(first.output())?.[1]);
  childPids.push(controllerPid);
  const kubeconfig = readFileSync(join(dir, 'kubeconfig'), 'utf8');
  assert.match(readFileSync(join(dir, LAB_LOCK_FILE), 'utf8'), new RegExp(`^${first.pid} `));

  const second = await berth(['lab', '--dir', dir, '--no-webhook']);
  assert.equal(second.code, 1, second.out + second.err);
  assert.equal(second.err.trim(), `berth lab: a lab already runs in ${dir} (pid ${first.pid}); stop it or use --dir`);
  assert.equal(readFileSync(join(dir, 'kubeconfig'), 'utf8'), kubeconfig, "the running lab's kubeconfig is untouched");

  process.kill(controllerPid, 'SIGKILL');
  const m = await first.waitFor(/berth lab: controller \(pid (\d+)\) (.*); see (\S+)/, 30_000);
  assert.equal(Number(m[1]), controllerPid);
  assert.equal(m[2], 'killed by SIGKILL');

  process.kill(first.pid, 'SIGKILL');
  await first.done;
  assert.ok(existsSync(join(dir, LAB_LOCK_FILE)), 'a SIGKILLed lab leaves its lock behind');

  const third = lab();
  await third.waitFor(/berth lab: ready/, 120_000);
  assert.match(third.output(), new RegExp(`berth lab: took over the stale lock ${join(dir, LAB_LOCK_FILE).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(pid ${first.pid} is not running\\)`));
  const thirdController = Number(/berth lab: controller pid (\d+)/.exec(third.output())?.[1]);
  childPids.push(thirdController);
  assert.equal(await third.stop('SIGINT', 20_000), 0, third.output());
  assert.equal(existsSync(join(dir, LAB_LOCK_FILE)), false, 'Ctrl-C removes the lock');
});
