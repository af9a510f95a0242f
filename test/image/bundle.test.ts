// The bundle (image/bundle.ts) split at each dynamic import, and the speaker's start from it (image/entry.ts), as the
// image ships them: the speaker's static closure holds neither @kubernetes/client-node nor the other commands (issue
// 8: speaker RSS); a rebuild removes the chunks of an earlier build; `version`, `speaker --help` and a speaker
// process run from the bundle with plain node (no tsx); the DaemonSet's NODE_OPTIONS is accepted by node. No root.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { bundle, bundleFiles, REPO, type BundleResult } from '../../image/bundle.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'berth-bundle-test-'));
const outfile = join(dir, 'dist/berth.mjs');
const STALE = join(dir, 'dist/berth.chunk-ZZZZZZZZ.mjs');
let built: BundleResult;

before(async () => {
  mkdirSync(join(dir, 'dist'));
  writeFileSync(outfile, '// an earlier build\n');
  writeFileSync(STALE, '// a chunk of an earlier build\n');
  built = await bundle({ outfile });
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Output files reached from `start` (metafile keys) through static imports only: what loading it reads. */
function staticClosure(start: string): Set<string> {
  const outs = built.metafile.outputs;
  const seen = new Set<string>();
  const todo = [start];
  while (todo.length > 0) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    for (const i of outs[f]?.imports ?? []) if (i.kind === 'import-statement' && outs[i.path]) todo.push(i.path);
  }
  return seen;
}

test('the bundle is the entry plus chunks beside it; a rebuild removes the chunks it no longer has', () => {
  assert.equal(built.files[0], outfile);
  assert.ok(built.files.length > 3, `chunks: ${built.files.join(' ')}`);
  for (const f of built.files.slice(1)) assert.match(relative(join(dir, 'dist'), f), /^berth\.[\w-]+-[A-Z0-9]{8}\.mjs$/);
  assert.ok(!built.files.includes(STALE), 'the stale chunk is gone');
  assert.deepEqual(bundleFiles(outfile), built.files);
  assert.throws(() => bundleFiles(join(dir, 'dist/nothing.mjs')), /nothing\.mjs does not exist/);
});

test("the speaker's static closure has no client-node, CLI commands, lab, controller or webhook code", () => {
  const outs = built.metafile.outputs;
  const key = (entry: string): string => {
    const k = Object.keys(outs).find((f) => outs[f]!.entryPoint === entry);
    assert.ok(k, `no output for ${entry}`);
    return k;
  };
  const files = new Set([...staticClosure(key('image/entry.ts')), ...staticClosure(key('src/speaker/main.ts'))]);
  const inputs = [...files].flatMap((f) => Object.keys(outs[f]!.inputs));
  assert.ok(inputs.includes('src/speaker/main.ts'));
  const forbidden = inputs.filter((i) => /node_modules\/@kubernetes\/client-node\/|^src\/(cli|lab|controller|webhook)\//.test(i));
  assert.deepEqual(forbidden, []);
  // client-node is still in the bundle, in a chunk of its own, for exec-plugin kubeconfigs.
  assert.ok(Object.values(outs).some((o) => Object.keys(o.inputs).some((i) => i.includes('@kubernetes/client-node/'))));
});

test('plain node runs the bundle: version and speaker --help', async () => {
  const v = await run(process.execPath, [outfile, 'version']);
  assert.equal(v.stdout.trim(), 'berth 0.1.0');
  const h = await run(process.execPath, [outfile, 'speaker', '--help']);
  assert.match(h.stdout, /^usage: berth speaker --node-name NODE/);
});

test('a speaker from the bundle without an API server: /readyz says why, SIGTERM exits 0', async () => {
  const child = spawn(
    process.execPath,
    [outfile, 'speaker', '--node-name', 'n1', '--kubeconfig', join(dir, 'no-kubeconfig'), '--metrics-port', 'auto', '--metrics-host', '127.0.0.1', '--dry-run-link'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no serving line within 60 s:\n${out}`)), 60_000);
      const check = (): void => {
        const m = /serving \/metrics \/healthz \/readyz on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(Number(m[1]));
        }
      };
      child.stdout.on('data', check);
      child.stderr.on('data', check);
      void exited.then((c) => reject(new Error(`exited ${c}:\n${out}`)));
    });
    const r = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(r.status, 503);
    assert.match(await r.text(), /not ready: loading the kubeconfig/);
    assert.match(out, /no-kubeconfig does not exist; retrying/);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, out);
  } finally {
    child.kill('SIGKILL');
  }
});

test("the speaker DaemonSet's NODE_OPTIONS is accepted by node (it refuses some V8 flags there)", async () => {
  const ds = parseYaml(readFileSync(join(REPO, 'gitops/base/speaker/daemonset.yaml'), 'utf8')) as {
    spec: { template: { spec: { containers: Array<{ name: string; env?: Array<{ name: string; value?: string }> }> } } };
  };
  const speaker = ds.spec.template.spec.containers.find((c) => c.name === 'speaker');
  const value = speaker?.env?.find((e) => e.name === 'NODE_OPTIONS')?.value;
  assert.ok(value, 'the speaker container sets NODE_OPTIONS');
  // Node exits 9 ("… is not allowed in NODE_OPTIONS") otherwise: execFile rejects.
  const r = await run(process.execPath, ['-e', 'console.log("ok")'], { env: { ...process.env, NODE_OPTIONS: value } });
  assert.equal(r.stdout.trim(), 'ok');
});
