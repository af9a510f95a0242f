// `berth lab`'s flags that are refused before anything starts (--speaker), and the name of the lab's speaker bundle.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { DEFAULT_LAB_SPEAKER_MODE, LAB_USAGE, runLab } from './lab.ts';
import { labBundleFile } from '../lab/network/lab-bundle.ts';

/** runLab(argv) with process.stdout/stderr captured: exit code and what it wrote. */
async function lab(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const w = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };
  process.stdout.write = ((s: string | Uint8Array) => ((out += String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => ((err += String(s)), true)) as typeof process.stderr.write;
  try {
    const code = await runLab(argv);
    return { code, out, err };
  } finally {
    process.stdout.write = w.out;
    process.stderr.write = w.err;
  }
}

test('--speaker: a mode other than tsx or bundle is refused naming the value and the allowed ones (exit 2, usage)', async () => {
  const r = await lab(['--network', '--speaker', 'image']);
  assert.equal(r.code, 2);
  assert.match(r.err, /^berth lab: --speaker "image": must be one of tsx, bundle\n/);
  assert.ok(r.err.includes(LAB_USAGE), r.err);
  const empty = await lab(['--network', '--speaker', '']);
  assert.equal(empty.code, 2);
  assert.match(empty.err, /--speaker "": must be one of tsx, bundle/);
});

test('--speaker without --network is refused: it is about the node namespaces', async () => {
  const r = await lab(['--speaker', 'bundle']);
  assert.equal(r.code, 2);
  assert.match(r.err, /^berth lab: --speaker "bundle" is for --network/);
});

test('--help lists --speaker with both modes and the default', async () => {
  const r = await lab(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.out, /\[--speaker tsx\|bundle\]/);
  assert.match(r.out, /--speaker MODE .*tsx \(default\)/s);
  assert.match(r.out, /bundle as the image runs it/);
  // The dev way stays the default: no build step, stack traces into the sources (docs in LAB_USAGE and the README).
  assert.equal(DEFAULT_LAB_SPEAKER_MODE, 'tsx');
});

test('labBundleFile: one bundle per lab folder, in dist/, the same for the same folder however it is written', () => {
  const a = labBundleFile('/tmp/lab-a');
  assert.match(a, /\/dist\/berth-lab-[0-9a-f]{8}\.mjs$/);
  assert.equal(labBundleFile('/tmp/lab-a/../lab-a'), a);
  assert.equal(labBundleFile(resolve('/tmp', 'lab-a')), a);
  assert.notEqual(labBundleFile('/tmp/lab-b'), a);
  assert.doesNotMatch(a, /dist\/berth\.mjs$/, 'never the image bundle');
});

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const asNobody = process.getuid?.() === 0 ? undefined : 'needs root (runs the CLI as uid 65534 with setpriv)';
test('a --dir the user cannot write (left by a sudo run): the lock error says which folder and how to give it back', { skip: asNobody }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-rootdir-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = await new Promise<{ code: number | null; stderr: string }>((done) =>
    execFile(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', MAIN, 'lab', '--dir', dir],
      { cwd: fileURLToPath(new URL('../../', import.meta.url)), env: { ...process.env, HOME: tmpdir() }, timeout: 60_000 },
      (e, _out, err) => done({ code: e ? ((e as { code?: number }).code ?? null) : 0, stderr: String(err) }),
    ),
  );
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /berth lab: lab lock .*lab\.pid: EACCES: .*; \S*berth-rootdir-\S+ is not writable by uid 65534 \(made by an earlier sudo run\?\): sudo chown -R "\$\(id -u\):\$\(id -g\)" \S+, or use another --dir/);
});
