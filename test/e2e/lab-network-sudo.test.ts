// `sudo npx berth lab --network` hands back what it wrote (fresh-user pass, issue 8: `.lab/network` stayed owned by
// root). The lab runs as root with SUDO_UID/SUDO_GID of user nobody (65534), as sudo(8) sets them; once it is ready
// its --dir and the checkout's `.lab/network` (where runs are recorded for stale cleanup, src/lab/network/topology.ts)
// with this run's `<prefix>.json` belong to that user, and `.lab/network` still does after a SIGTERM stop.
// Real processes: `berth lab --network --nodes 1` (src/cli/main.ts), ip netns. Root only (skips with the reason).
// The owners of `.lab` and `.lab/network` found before the run are put back afterwards, also on failure.
import assert from 'node:assert/strict';
import { existsSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_STATE_DIR } from '../../src/lab/network/network.ts';
import { networkSupport } from '../../src/lab/network/topology.ts';
import { spawnNode, type NodeProcess } from '../../src/lab/processes.ts';
import { BERTH_MAIN, killQuietly, removeLabNetwork } from '../helpers/lab-process.ts';

const NOBODY = 65534;

test('berth lab --network under sudo: .lab/network and the run record are given to SUDO_UID, at ready and after the stop', { timeout: 300_000 }, async (t) => {
  const support = await networkSupport();
  if (!support.ok) return t.skip(support.reason);
  const dotLab = dirname(DEFAULT_STATE_DIR);
  mkdirSync(DEFAULT_STATE_DIR, { recursive: true });
  const owners = [dotLab, DEFAULT_STATE_DIR].map((p) => ({ p, uid: lstatSync(p).uid, gid: lstatSync(p).gid }));
  const dir = mkdtempSync(join(tmpdir(), 'berth-labsudo-'));
  const state: { lab?: NodeProcess; prefix?: string; kids: number[] } = { kids: [] };
  t.after(async () => {
    await state.lab?.stop('SIGKILL');
    for (const pid of state.kids) killQuietly(pid);
    if (state.prefix) await removeLabNetwork(state.prefix);
    for (const o of owners) if (existsSync(o.p)) lchownSync(o.p, o.uid, o.gid);
    rmSync(dir, { recursive: true, force: true });
  });
  // Start from a root-owned record folder, as a first `sudo` run leaves it.
  lchownSync(DEFAULT_STATE_DIR, 0, 0);

  const env = { ...process.env, SUDO_UID: String(NOBODY), SUDO_GID: String(NOBODY) };
  const lab = spawnNode(BERTH_MAIN, ['lab', '--network', '--nodes', '1', '--no-webhook', '--dir', dir], { env });
  state.lab = lab;
  await lab.waitFor(/berth lab: ready/, 180_000);
  const out = lab.output();
  state.prefix = /network (berth[0-9a-z]+),/.exec(out)?.[1];
  assert.ok(state.prefix, out);
  state.kids.push(Number(/berth lab: controller pid (\d+)/.exec(out)?.[1]));
  const speaker = /speaker pid (\d+)/.exec(out);
  if (speaker) state.kids.push(Number(speaker[1]));

  const record = join(DEFAULT_STATE_DIR, `${state.prefix}.json`);
  assert.ok(existsSync(record), `the run is recorded in ${record}`);
  for (const p of [dir, join(dir, 'kubeconfig'), DEFAULT_STATE_DIR, record]) assert.equal(lstatSync(p).uid, NOBODY, `${p} belongs to SUDO_UID once the lab is ready`);
  assert.match(out, /given to uid 65534 \(sudo\)/);
  assert.match(out, /\(and \.lab\/network\) given to uid/, 'the ready line names the folder it gave back');

  // A later plain run (and the user's `rm -rf .lab`) can use the folder: it still belongs to the user after the stop.
  assert.equal(await lab.stop('SIGTERM', 60_000), 0, lab.output().slice(-2000));
  assert.ok(!existsSync(record), 'the stop removes the run record');
  assert.equal(lstatSync(DEFAULT_STATE_DIR).uid, NOBODY, `${DEFAULT_STATE_DIR} belongs to SUDO_UID after the stop`);
  assert.equal(lstatSync(dir).uid, NOBODY);
});
