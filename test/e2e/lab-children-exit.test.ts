// `berth lab` SIGKILLed: every process it started (controller, webhook; with --network the speakers and forwarders
// inside the node namespaces too) exits on its own within a few seconds instead of running on reparented
// (src/lab/exit-with-parent.mjs, preloaded by spawnNode). Real processes: `berth lab` (src/cli/main.ts), `ip netns`
// for --network (skipped without root/netns). The lab's descendants are read from /proc (Linux) before the kill; the
// test polls until they are gone (generous timeout, no wall-clock assertion) and SIGKILLs any leftover itself.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { namespacesOf, networkSupport, run } from '../../src/lab/network/topology.ts';
import { spawnNode, type NodeProcess } from '../../src/lab/processes.ts';
import { alive, BERTH_MAIN, killQuietly, removeLabNetwork } from '../helpers/lab-process.ts';

/** Every process below `root` (children, grandchildren…) with its command line, from /proc/<pid>/stat's ppid. */
function descendants(root: number): Map<number, string> {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // Field 4 of stat is the ppid; the command name (field 2) may hold spaces, so read after its last ')'.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const out = new Map<number, string>();
  const walk = (pid: number): void => {
    for (const [c, p] of parent) {
      if (p !== pid || out.has(c)) continue;
      let cmd = '?';
      try {
        cmd = readFileSync(`/proc/${c}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      } catch {
        // exited meanwhile
      }
      out.set(c, cmd);
      walk(c);
    }
  };
  walk(root);
  return out;
}

/** SIGKILLs the lab and polls until every pid of `kids` is gone (up to 30 s); returns those still running. */
async function killLabAndWait(lab: NodeProcess, kids: Map<number, string>): Promise<string[]> {
  process.kill(lab.pid, 'SIGKILL');
  await lab.done;
  for (let i = 0; i < 300 && [...kids.keys()].some(alive); i++) await new Promise((r) => setTimeout(r, 100));
  return [...kids].filter(([pid]) => alive(pid)).map(([pid, cmd]) => `pid ${pid}: ${cmd.slice(0, 200)}`);
}

test('SIGKILL of berth lab: its controller and webhook exit too', { timeout: 180_000 }, async (t) => {
  if (process.platform !== 'linux') return t.skip('reads /proc (Linux) to find the lab processes');
  const dir = mkdtempSync(join(tmpdir(), 'berth-labexit-'));
  const started: NodeProcess[] = [];
  const kids = new Map<number, string>();
  t.after(async () => {
    for (const p of started) await p.stop('SIGKILL');
    for (const pid of kids.keys()) killQuietly(pid);
    rmSync(dir, { recursive: true, force: true });
  });
  const lab = spawnNode(BERTH_MAIN, ['lab', '--dir', dir]);
  started.push(lab);
  await lab.waitFor(/berth lab: ready/, 150_000);
  const out = lab.output();
  const controllerPid = Number(/berth lab: controller pid (\d+)/.exec(out)?.[1]);
  const webhookPid = Number(/berth lab: webhook pid (\d+)/.exec(out)?.[1]);
  for (const [pid, cmd] of descendants(lab.pid)) kids.set(pid, cmd);
  assert.ok(kids.has(controllerPid) && kids.has(webhookPid), `controller ${controllerPid} and webhook ${webhookPid} among the lab's children:\n${[...kids.values()].join('\n')}`);
  assert.deepEqual(await killLabAndWait(lab, kids), [], 'processes of the lab still running after its SIGKILL');
  assert.ok(!/exit-with-parent: still running/.test(readFileSync(join(dir, 'controller.log'), 'utf8')), 'the controller stopped on its SIGTERM');
});

test('SIGKILL of berth lab --network: speakers and forwarders inside the node namespaces exit too', { timeout: 300_000 }, async (t) => {
  const support = await networkSupport();
  if (!support.ok) return t.skip(support.reason);
  const dir = mkdtempSync(join(tmpdir(), 'berth-labnetexit-'));
  // Set once the lab runs (the cleanup reads them).
  const run_: { lab?: NodeProcess; prefix?: string } = {};
  const kids = new Map<number, string>();
  t.after(async () => {
    await run_.lab?.stop('SIGKILL');
    for (const pid of kids.keys()) killQuietly(pid);
    const prefix = run_.prefix;
    if (prefix) await removeLabNetwork(prefix);
    rmSync(dir, { recursive: true, force: true });
  });
  const lab = spawnNode(BERTH_MAIN, ['lab', '--network', '--nodes', '2', '--dir', dir]);
  run_.lab = lab;
  await lab.waitFor(/berth lab: ready/, 240_000);
  const out = lab.output();
  const prefix = /network (berth[0-9a-z]+),/.exec(out)?.[1];
  run_.prefix = prefix;
  assert.ok(prefix, out);
  for (const [pid, cmd] of descendants(lab.pid)) kids.set(pid, cmd);
  const speakers = [...kids].filter(([, cmd]) => / speaker --node-name /.test(cmd));
  const forwarders = [...kids].filter(([, cmd]) => /forwarder-main/.test(cmd));
  assert.equal(speakers.length, 2, `two speakers among the lab's children:\n${[...kids.values()].join('\n')}`);
  assert.equal(forwarders.length, 2, 'two forwarders');
  // Everything in the node namespaces is the lab's (the test made them through it).
  const inNamespaces = async (): Promise<number[]> => {
    const pids: number[] = [];
    for (const ns of await namespacesOf(prefix)) pids.push(...(await run('ip', ['netns', 'pids', ns])).stdout.split(/\s+/).filter(Boolean).map(Number));
    return pids;
  };
  assert.ok((await inNamespaces()).length >= 4);
  assert.deepEqual(await killLabAndWait(lab, kids), [], 'processes of the lab still running after its SIGKILL');
  assert.deepEqual(await inNamespaces(), [], 'processes left inside the node namespaces');
});
