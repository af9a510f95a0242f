// The speaker loads its BGP code (sessions, FSM, wire, BFD, plan, ServiceBGPStatus: src/speaker/bgp-main.ts and what
// it imports) only when a BGPPeer selects its node (issue 8: speaker RSS). Checked twice: in the bundle's metafile
// (none of those modules is in the speaker's static closure; they sit in chunks reached only by a dynamic import), and
// at run time: a speaker from the bundle, with a module `load` hook that records every file it loads, against the lab
// with 3 Services and a BGPPeer selecting another node, has loaded none of those chunks when ready; a BGPPeer
// selecting every node (peer 127.0.0.1 on a port where nothing listens) then makes it load them and export
// metallb_bgp_session_up. No root needed; skips without kubectl.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { bundle, REPO, type BundleResult } from '../../image/bundle.ts';
import { populateLab } from '../../bench/speaker-rss.ts';
import { startTestLab, type TestLab } from '../../src/lab/testing.ts';

const NS = 'metallb-system';
/** Source files that only the BGP half may load. */
const BGP_ONLY = /^src\/speaker\/(bgp-main|bgp-plan|bgp-speaker|bgp-status)\.ts$|^src\/speaker\/(bgp|bfd)\//;

const dir = mkdtempSync(join(tmpdir(), 'berth-lazy-bgp-test-'));
const outfile = join(dir, 'dist/berth.mjs');
const loadedLog = join(dir, 'loaded.txt');
let built: BundleResult;
let lab: TestLab | undefined;

before(async () => {
  built = await bundle({ outfile });
});
after(async () => {
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Output files (absolute paths) whose inputs include a BGP-only source. */
function bgpChunks(): Set<string> {
  const out = new Set<string>();
  for (const [f, o] of Object.entries(built.metafile.outputs)) if (Object.keys(o.inputs).some((i) => BGP_ONLY.test(i))) out.add(resolve(REPO, f));
  return out;
}

test("no BGP or BFD module is in the speaker's static closure; they are in chunks of their own", () => {
  const outs = built.metafile.outputs;
  const key = (entry: string): string => Object.keys(outs).find((f) => outs[f]!.entryPoint === entry)!;
  const seen = new Set<string>();
  const todo = [key('image/entry.ts'), key('src/speaker/main.ts')];
  while (todo.length > 0) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    for (const i of outs[f]?.imports ?? []) if (i.kind === 'import-statement' && outs[i.path]) todo.push(i.path);
  }
  const inputs = [...seen].flatMap((f) => Object.keys(outs[f]!.inputs));
  assert.ok(inputs.includes('src/speaker/main.ts'));
  assert.deepEqual(inputs.filter((i) => BGP_ONLY.test(i)), []);
  assert.ok(bgpChunks().size > 0, 'the BGP modules are in the bundle');
});

/** Records every module URL the process loads (a `load` hook, which runs off-thread: appends to a file). */
const LOAD_HOOK =
  'data:text/javascript,' +
  encodeURIComponent(
    `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`import { appendFileSync } from 'node:fs';
export async function load(url, context, next) { appendFileSync(${JSON.stringify(loadedLog)}, url + '\\\\n'); return next(url, context); }\`));`,
  );

function loadedFiles(): string[] {
  let text = '';
  try {
    text = readFileSync(loadedLog, 'utf8');
  } catch {
    /* nothing loaded yet */
  }
  return text
    .split('\n')
    .filter((u) => u.startsWith('file:'))
    .map((u) => new URL(u).pathname);
}

/** A TCP port on 127.0.0.1 where nothing listens, at most 16384 (the BGPPeer schema's bound for peerPort). */
async function unusedPort(): Promise<number> {
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * 6_000);
    const free = await new Promise<boolean>((r) => {
      const s = net.createServer();
      s.once('error', () => r(false));
      s.listen(port, '127.0.0.1', () => s.close(() => r(true)));
    });
    if (free) return port;
  }
}

async function waitFor(what: string | (() => string), cond: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('a speaker from the bundle loads the BGP chunks only once a BGPPeer selects its node', async (t) => {
  lab = await startTestLab({ nodes: 0 });
  if (!lab.kubectlPath) return t.skip('kubectl not found');
  await populateLab(lab, 3);
  const kubectl = async (args: string[], input?: string): Promise<string> => {
    const r = await lab!.kubectl(args, input !== undefined ? { input } : {});
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const peerPort = await unusedPort();
  const peer = (name: string, address: string, selector: string): string =>
    `apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: ${name}, namespace: ${NS}}\n` +
    `spec: {myASN: 64500, peerASN: 64501, peerAddress: ${address}, peerPort: ${peerPort}, connectTime: 1s${selector}}\n`;
  await kubectl(['apply', '-f', '-'], peer('elsewhere', '127.0.0.2', ', nodeSelectors: [{matchLabels: {kubernetes.io/hostname: n2}}]'));

  const child = spawn(
    process.execPath,
    ['--import', LOAD_HOOK, outfile, 'speaker', '--node-name', 'n1', '--kubeconfig', lab.lab.kubeconfigPath, '--metrics-port', 'auto', '--metrics-host', '127.0.0.1', '--dry-run-link'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    await waitFor(() => `the ready line:\n${out}`, () => /speaker: ready node=n1 .*announcing=\d+/.test(out) || child.exitCode !== null);
    assert.match(out, /speaker: ready node=n1 /, out);
    assert.match(out, /speaker: configuration loaded/, out);
    const port = Number(/serving \/metrics \/healthz \/readyz on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)![1]);
    const chunks = bgpChunks();
    const loaded = loadedFiles();
    assert.ok(loaded.some((f) => f === outfile), `the hook records loads: ${loaded.join(' ')}`);
    assert.deepEqual(loaded.filter((f) => chunks.has(f)), [], 'no BGP chunk loaded without a BGPPeer selecting n1');
    assert.doesNotMatch(out, /loading BGP/);
    assert.doesNotMatch(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), /metallb_bgp_session_up/);

    await kubectl(['apply', '-f', '-'], peer('everywhere', '127.0.0.1', ''));
    await waitFor(() => `the BGP chunks loaded:\n${out}`, () => loadedFiles().some((f) => chunks.has(f)));
    assert.match(out, /speaker: a BGPPeer selects this node .*: loading BGP/);
    await waitFor(() => `metallb_bgp_session_up exported:\n${out}`, async () =>
      /metallb_bgp_session_up\{[^}]*peer="[^"]*127\.0\.0\.1[^"]*"[^}]*\} 0/.test(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()),
    );
    child.kill('SIGTERM');
    assert.equal(await exited, 0, out);
  } finally {
    child.kill('SIGKILL');
  }
});
