// The network lab's speakerMode `bundle` (src/lab/network/speaker-run.ts): each node namespace's speaker runs as the
// image runs it — `node <bundle> speaker …` under plain node (no tsx loader), with the DaemonSet's NODE_OPTIONS and no
// BERTH_SPEAKER_V8_FLAGS override (so image/entry.ts sets SPEAKER_V8_FLAGS) — inside its node's network namespace,
// and answers ARP for a Service IP on the segment. Read from /proc/<pid>/cmdline, /proc/<pid>/environ and
// /proc/<pid>/ns/net of the spawned process. The bundle is built for this test as dist/berth-t<pid>.mjs (its own
// chunks, deleted afterwards), so a bundle other runs use (dist/berth.mjs) is never touched. Root only: skips with the
// reason otherwise.
import assert from 'node:assert/strict';
import { readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { bundle, bundleFiles, REPO } from '../../image/bundle.ts';
import { daemonSetNodeOptions } from '../../src/lab/network/speaker-run.ts';
import { l2SkipReason, startL2Lab, until, type L2Lab } from './speaker-l2-harness.ts';

const skip = await l2SkipReason();
if (skip) process.stdout.write(`# skipping the network lab's bundle mode test: ${skip}\n`);

const BUNDLE_FILE = join(REPO, 'dist', `berth-t${process.pid}.mjs`);
const V4 = '198.51.100.200';
let l: L2Lab | undefined;

before(async () => {
  if (skip) return;
  await bundle({ outfile: BUNDLE_FILE });
  l = await startL2Lab({ nodes: 2, speakerMode: 'bundle', bundleFile: BUNDLE_FILE });
});

after(async () => {
  await l?.stop();
  if (!skip) {
    let files: string[] = [];
    try {
      files = bundleFiles(BUNDLE_FILE);
    } catch {
      // never built
    }
    for (const f of files) rmSync(f, { force: true });
  }
});

/** NUL-separated /proc/<pid>/<file> as a list. */
const procList = (pid: number, file: 'cmdline' | 'environ'): string[] => readFileSync(`/proc/${pid}/${file}`, 'utf8').split('\0').filter((s) => s !== '');

test('speakerMode bundle: every speaker is `node <bundle> speaker` with the DaemonSet NODE_OPTIONS, in its node namespace', { skip }, () => {
  const lab = l!;
  assert.equal(lab.net.speakerMode, 'bundle');
  const nodeOptions = daemonSetNodeOptions();
  assert.notEqual(nodeOptions, '');
  assert.equal(lab.net.speakers.size, 2);
  for (const [name, p] of lab.net.speakers) {
    const argv = procList(p.pid, 'cmdline');
    assert.equal(argv[0], process.execPath, `${name}: node itself (ip netns exec execs it in place): ${argv.join(' ')}`);
    const at = argv.indexOf(BUNDLE_FILE);
    assert.ok(at > 0, `${name}: runs the bundle: ${argv.join(' ')}`);
    assert.deepEqual(argv.slice(at + 1, at + 4), ['speaker', '--node-name', name]);
    assert.ok(!argv.some((a) => /tsx/.test(a)), `${name}: no tsx loader: ${argv.join(' ')}`);
    const env = new Map(procList(p.pid, 'environ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    assert.equal(env.get('NODE_OPTIONS'), nodeOptions, `${name}: NODE_OPTIONS as in the DaemonSet`);
    assert.equal(env.has('BERTH_SPEAKER_V8_FLAGS'), false, `${name}: image/entry.ts sets its own V8 flags`);
    assert.notEqual(readlinkSync(`/proc/${p.pid}/ns/net`), readlinkSync('/proc/self/ns/net'), `${name}: in its node namespace`);
  }
});

test('speakerMode bundle: the elected speaker answers ARP for a Service IP from the client namespace', { skip }, async () => {
  const lab = l!;
  await lab.createService('bundle-v4', [V4]);
  await lab.setEndpoints('bundle-v4', [{ node: 'n1', ready: true }, { node: 'n2', ready: true }]);
  await lab.waitForIngress('bundle-v4', V4);
  const owner = lab.order(V4)[0]!;
  const macs = await until(`one ARP answer for ${V4} from ${owner}`, async () => {
    const a = await lab.arping(V4, 1);
    return a.length === 1 && lab.nodeOf(a[0]!) === owner ? a : undefined;
  }, 60_000, 300);
  assert.deepEqual(macs, [lab.macs.get(owner)]);
});
