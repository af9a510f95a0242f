// The container image (issue 10 "Image"): image/build.ts builds it with buildah into a private store made for this
// test, then podman runs it: `version`, `validate` of pool files mounted read-only, `speaker --help`, the controller
// as uid 65534 with a read-only root filesystem against a lab API server (its ready line), and a second build gives
// the same image id (buildah commit --timestamp 0). Needs root, buildah, podman, runc and the built addon; skips
// with the reason otherwise. Every container has a name starting with bt<pid>- and is removed (podman rm -f).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ADDON, buildImage, imageStore, tool, type BuildResult, type ImageStore } from '../../image/build.ts';
import { bundleFiles, REPO } from '../../image/bundle.ts';
import { startTestLab } from '../../src/lab/testing.ts';

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (buildah/podman with a private store)';
  if (!existsSync('/usr/libexec/podman/catatonit')) return 'catatonit is not installed (podman run --init; .ci/run installs it)';
  for (const cmd of ['buildah', 'podman', 'runc', 'ldd']) {
    try {
      execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    } catch {
      return `${cmd} is not installed (.ci/run installs buildah, podman and runc)`;
    }
  }
  if (!existsSync(ADDON)) return 'the native addon is not built (npm run build:native)';
  return undefined;
}

const skip = skipReason();
if (skip) console.log(`# skipping the image tests: ${skip}`);

const PREFIX = `bt${process.pid}-`;
const POOL = `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: default
  namespace: metallb-system
spec:
  addresses:
    - 192.0.2.220-192.0.2.250
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata:
  name: l2-advert
  namespace: metallb-system
`;

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

describe('berth image (buildah + podman)', { skip }, () => {
  let dir: string;
  let store: ImageStore;
  let built: BuildResult;
  const names: string[] = [];

  /** `podman run --rm --init --name bt<pid>-<name> [flags] IMAGE args…`, collected. */
  const podmanRun = (name: string, flags: readonly string[], args: readonly string[]): Promise<RunResult> =>
    new Promise((resolve, reject) => {
      names.push(PREFIX + name);
      const child = spawn('podman', [...store.globalArgs, 'run', '--rm', '--init', '--name', PREFIX + name, ...flags, built.tag, ...args], {
        env: store.env,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-image-test-'));
    chmodSync(dir, 0o755); // uid 65534 in the container reads the mounted files
    store = imageStore(join(dir, 'store'));
    // A snapshot of the addon: both builds ship the same bytes even if native/ is rebuilt meanwhile.
    copyFileSync(ADDON, join(dir, 'berth_native.node'));
    built = await buildImage({
      store,
      tag: 'localhost/berth:test',
      archive: join(dir, 'berth-image.tar'),
      bundleFile: join(dir, 'dist/berth.mjs'),
      addonFile: join(dir, 'berth_native.node'),
    });
    console.log(
      `# image ${built.tag}: ${(built.imageBytes / 1e6).toFixed(1)} MB, archive ${(built.archiveBytes / 1e6).toFixed(1)} MB, ` +
        `bundle ${(built.bundleBytes / 1e6).toFixed(1)} MB, build ${(built.buildMs / 1000).toFixed(1)} s`,
    );
  });

  after(async () => {
    for (const n of names) await tool(store, 'podman', ['rm', '-f', '--ignore', n]).catch(() => undefined);
    if (store) await tool(store, 'podman', ['rmi', '--all', '--force']).catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the OCI archive holds the image (index.json + blobs)', () => {
    const list = execFileSync('tar', ['-tf', built.archive], { encoding: 'utf8' }).split('\n');
    assert.ok(list.includes('index.json'), list.join(' '));
    assert.ok(list.some((f) => f.startsWith('blobs/sha256/')));
    const index = JSON.parse(execFileSync('tar', ['-xOf', built.archive, 'index.json'], { encoding: 'utf8' })) as {
      manifests: { annotations?: Record<string, string> }[];
    };
    assert.equal(index.manifests[0]?.annotations?.['org.opencontainers.image.ref.name'], built.tag);
  });

  test('config: entrypoint node + bundle, user 65534, OCI labels', async () => {
    const cfg = JSON.parse(await tool(store, 'podman', ['image', 'inspect', built.tag])) as {
      Config: { Entrypoint: string[]; User: string; Labels: Record<string, string> };
    }[];
    assert.deepEqual(cfg[0]?.Config.Entrypoint, ['/usr/bin/node', '/app/dist/berth.mjs']);
    assert.equal(cfg[0]?.Config.User, '65534:65534');
    assert.equal(cfg[0]?.Config.Labels['org.opencontainers.image.version'], '0.1.0');
  });

  test('`version` prints the version (read-only, no network)', async () => {
    const r = await podmanRun('version', ['--network', 'none', '--read-only'], ['version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'berth 0.1.0');
  });

  test('`speaker --help` prints the speaker usage', async () => {
    const r = await podmanRun('speaker-help', ['--network', 'none', '--read-only'], ['speaker', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /usage: berth speaker --node-name NODE/);
  });

  test('`validate` of pool files mounted read-only: a good one passes, a bad one exits 1 naming the problem', async () => {
    const cfg = join(dir, 'cfg');
    execFileSync('mkdir', ['-m', '755', cfg]);
    writeFileSync(join(cfg, 'good.yaml'), POOL, { mode: 0o644 });
    writeFileSync(join(cfg, 'bad.yaml'), POOL.replace('192.0.2.250', '192.0.2.350'), { mode: 0o644 });
    const flags = ['--network', 'none', '--read-only', '-v', `${cfg}:/cfg:ro`];
    const good = await podmanRun('validate-good', flags, ['validate', '/cfg/good.yaml']);
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.match(good.stdout + good.stderr, /2 metallb\.io object\(s\) valid/);
    const bad = await podmanRun('validate-bad', flags, ['validate', '/cfg/bad.yaml']);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(bad.stdout + bad.stderr, /\/cfg\/bad\.yaml:8 IPAddressPool\/default: .*invalid end IP "192\.0\.2\.350"/);
  });

  test('the controller runs as uid 65534 on a read-only root filesystem against the lab and prints its ready line', async (t) => {
    const lab = await startTestLab({ nodes: 1 });
    t.after(() => lab.stop());
    if (!lab.kubectlPath) {
      t.skip('no kubectl to install the CRDs with');
      return;
    }
    const crds = readdirSync(join(REPO, 'gitops/base/crds')).filter((f) => /\.io\.yaml$/.test(f));
    const applied = await lab.kubectl(['apply', ...crds.flatMap((f) => ['-f', join(REPO, 'gitops/base/crds', f)])]);
    assert.equal(applied.code, 0, applied.stderr);
    const ns = await lab.kubectl(['create', 'namespace', 'metallb-system']);
    assert.equal(ns.code, 0, ns.stderr);
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, readFileSync(lab.lab.kubeconfigPath), { mode: 0o644 });
    const name = PREFIX + 'controller';
    names.push(name);
    const child = spawn(
      'podman',
      [
        ...store.globalArgs, 'run', '--rm', '--init', '--name', name, '--network', 'host', '--read-only',
        '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '-v', `${kubeconfig}:/kube/config:ro`,
        built.tag, 'controller', '--kubeconfig', '/kube/config', '--metrics-port', 'auto', '--metrics-host', '127.0.0.1',
        '--log-format', 'text',
      ],
      { env: store.env },
    );
    t.after(async () => {
      await tool(store, 'podman', ['rm', '-f', '--ignore', name]).catch(() => undefined);
      child.kill('SIGKILL');
    });
    let out = '';
    const ready = await new Promise<RegExpMatchArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready line within 60 s:\n${out.slice(-4000)}`)), 60_000);
      const check = (d: Buffer): void => {
        out += d.toString();
        const m = /controller: ready .* metrics=(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m);
        }
      };
      child.stdout.on('data', check);
      child.stderr.on('data', check);
      child.on('close', (code) => {
        clearTimeout(timer);
        reject(new Error(`the container exited (${code}) before its ready line:\n${out.slice(-4000)}`));
      });
    });
    const res = await fetch(`http://127.0.0.1:${ready[1]}/readyz`);
    assert.equal(res.status, 200, await res.text());
    // The node process: the child of catatonit (--init), PID 1 in the container.
    const initPid = Number(await tool(store, 'podman', ['inspect', '--format', '{{.State.Pid}}', name]));
    const children = readFileSync(`/proc/${initPid}/task/${initPid}/children`, 'utf8').trim().split(/\s+/);
    const status = readFileSync(`/proc/${children[0]}/status`, 'utf8');
    assert.match(status, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
    assert.match(status, /^CapEff:\s+0+$/m);
    const rss = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
    t.diagnostic(`controller RSS in the container: ${(Number(rss) / 1024).toFixed(1)} MiB`);
    const stopped = await tool(store, 'podman', ['stop', '--time', '10', name]);
    assert.equal(stopped, name);
  });

  test('the bundle resolves the addon and the admission policy to the files shipped under /app', () => {
    // The entry and its chunks (image/bundle.ts splits the code at each dynamic import).
    const text = bundleFiles(join(dir, 'dist/berth.mjs')).map((f) => readFileSync(f, 'utf8')).join('\n');
    const where = (name: string): string => {
      const m = new RegExp(
        `${name}\\s*=\\s*fileURLToPath\\d*\\(new URL\\("([^"]+)",\\s*new URL\\("([^"]+)",\\s*import\\.meta\\.url\\)\\.href\\)\\)`,
      ).exec(text);
      assert.ok(m, `${name} not found in the bundle`);
      return new URL(m[1]!, new URL(m[2]!, 'file:///app/dist/berth.mjs')).pathname;
    };
    assert.equal(where('ADDON_PATH'), '/app/native/build/Release/berth_native.node');
    assert.equal(where('DEFAULT_POLICY_FILE'), '/app/policies/admission.json');
  });

  test('the addon opens a packet socket as root with CAP_NET_RAW only (the DaemonSet), EPERM without it', async () => {
    const js =
      'const a = require("/app/native/build/Release/berth_native.node"); const r = require("fs").readFileSync("/app/policies/admission.json");' +
      'try { new a.PacketSocket("lo", 0x0806, () => {}, () => {}).close(); console.log("opened", r.length > 0); }' +
      'catch (e) { console.log("error", e.code, e.syscall); }';
    const flags = ['--network', 'none', '--read-only', '--user', '0', '--cap-drop', 'ALL', '--entrypoint', '/usr/bin/node'];
    const raw = await podmanRun('addon-raw', [...flags, '--cap-add', 'NET_RAW'], ['-e', js]);
    assert.equal(raw.stdout.trim(), 'opened true', raw.stderr);
    const none = await podmanRun('addon-none', flags, ['-e', js]);
    assert.equal(none.stdout.trim(), 'error EPERM socket', none.stderr);
  });

  test('the build is reproducible: a second build of the same bundle and addon gives the same image id', async () => {
    const again = await buildImage({
      store,
      tag: 'localhost/berth:again',
      archive: null,
      prebuiltBundle: join(dir, 'dist/berth.mjs'), // src/ may change meanwhile (a shared working tree)
      addonFile: join(dir, 'berth_native.node'),
    });
    assert.equal(again.imageId, built.imageId);
  });
});
