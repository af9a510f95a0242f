// The container image (issue 10 "Image"): image/build.ts builds it with buildah into a private store made for this
// test, then podman runs it: `version`, `validate` of pool files mounted read-only, `speaker --help`, the controller
// as uid 65534 with a read-only root filesystem against a lab API server (its ready line), and a second build gives
// the same image id (buildah commit --timestamp 0). Needs root, buildah, podman, runc and the built addon; skips
// with the reason otherwise. Every container has a name starting with bt<pid>- and is removed (podman rm -f).
// The speaker (issue 8: non-root with only CAP_NET_RAW) runs under runc directly, with the OCI spec Kubernetes' CRI
// (containerd, CRI-O) writes for the DaemonSet's securityContext (criSpec): podman cannot stand in for it, because
// for a non-root --user it copies --cap-add into the ambient set, which Kubernetes never does (a non-root container
// gets its added capabilities in the bounding, permitted and effective sets only, and loses them at the first exec).
// The speaker answers ARP on a veth of a network namespace of the lab network (src/lab/network, documentation
// ranges only), reaching the lab API server through the namespace's forwarder.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { ADDON, buildImage, imageStore, SPEAKER_COMMAND, tool, type BuildResult, type ImageStore } from '../../image/build.ts';
import { bundleFiles, REPO } from '../../image/bundle.ts';
import { startLabStack } from '../../src/cli/lab.ts';
import { applyObject } from '../../src/kube/apply.ts';
import type { KubeObject } from '../../src/kube/client.ts';
import { Resources } from '../../src/kube/resources.ts';
import { startLabNetwork } from '../../src/lab/network/network.ts';
import { inNamespace, NETWORK_SERVICE_CIDRS, networkSupport } from '../../src/lab/network/topology.ts';
import { startTestLab } from '../../src/lab/testing.ts';
import { until } from '../helpers/poll.ts';

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

/** The speaker container of the shipped DaemonSet (command, args, env, securityContext). */
interface SpeakerContainer {
  command?: string[];
  args: string[];
  env: Array<{ name: string; value?: string }>;
  securityContext: {
    runAsUser?: number;
    runAsGroup?: number;
    runAsNonRoot?: boolean;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
  };
}
const DAEMONSET = join(REPO, 'gitops/base/speaker/daemonset.yaml');
function speakerContainer(): SpeakerContainer {
  const ds = parseYaml(readFileSync(DAEMONSET, 'utf8')) as { spec: { template: { spec: { containers: SpeakerContainer[] } } } };
  const c = ds.spec.template.spec.containers[0];
  assert.ok(c, `${DAEMONSET}: no container`);
  return c;
}

/** The parts of an OCI runtime spec (config.json) this test sets; `runc spec` writes the rest. */
interface OciSpec {
  process: {
    terminal: boolean;
    user: { uid: number; gid: number };
    args: string[];
    env: string[];
    cwd: string;
    noNewPrivileges?: boolean;
    capabilities: Record<string, string[]>;
    rlimits?: unknown;
  };
  root: { path: string; readonly: boolean };
  mounts: Array<{ destination: string; type: string; source: string; options: string[] }>;
  linux: { namespaces: Array<{ type: string; path?: string }> };
  hostname?: string;
}

/**
 * The runc spec Kubernetes' CRI writes for a container with securityContext `sc` (containerd's
 * WithCapabilities/WithUser/WithNoNewPrivileges; CRI-O alike): the added capabilities (CAP_ + name) in the bounding,
 * effective and permitted sets, none inheritable or ambient (containerd/containerd#5668, adding them to the ambient set,
 * was closed unmerged; kubernetes/enhancements#2757), uid/gid, no_new_privs when allowPrivilegeEscalation is false, a
 * read-only root when readOnlyRootFilesystem. `netns`: the network namespace to join (hostNetwork: the node's).
 */
function criSpec(
  base: OciSpec,
  sc: SpeakerContainer['securityContext'],
  o: { rootfs: string; args: string[]; env: string[]; netns?: string; mounts?: OciSpec['mounts'] },
): OciSpec {
  const caps = (sc.capabilities?.add ?? []).map((c) => `CAP_${c.toUpperCase()}`);
  assert.deepEqual(sc.capabilities?.drop, ['ALL'], 'the spec below starts from no capability: drop ALL');
  return {
    ...base,
    process: {
      ...base.process,
      terminal: false,
      user: { uid: sc.runAsUser ?? 0, gid: sc.runAsGroup ?? sc.runAsUser ?? 0 },
      args: o.args,
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'NODE_ENV=production', ...o.env],
      cwd: '/app',
      noNewPrivileges: sc.allowPrivilegeEscalation === false,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
    },
    root: { path: o.rootfs, readonly: sc.readOnlyRootFilesystem === true },
    mounts: [
      ...base.mounts,
      // The DaemonSet's emptyDir at /tmp.
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', 'size=16m'] },
      ...(o.mounts ?? []),
    ],
    linux: {
      ...base.linux,
      namespaces: base.linux.namespaces.map((n) => (n.type === 'network' && o.netns ? { type: 'network', path: `/run/netns/${o.netns}` } : n)),
    },
  };
}

/** A probe run by node in the container: its uid and capability sets, NoNewPrivs, process.title, the packet socket. */
const PROBE_JS =
  'const s = require("fs").readFileSync("/proc/self/status", "utf8");' +
  'const g = (k) => new RegExp("^" + k + ":\\\\s+(\\\\S+)", "m").exec(s)[1];' +
  'let socket; try { new (require("/app/native/build/Release/berth_native.node").PacketSocket)("lo", 0x0806, () => {}, () => {}).close();' +
  ' socket = "opened"; } catch (e) { socket = "error " + e.code + " " + e.syscall; }' +
  'console.log(JSON.stringify({ uid: g("Uid"), eff: g("CapEff"), amb: g("CapAmb"), nnp: g("NoNewPrivs"), title: process.title, socket }));';

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

  /** The image's files as a writable container rootfs (podman create + mount), for runc; made once. */
  let rootfs: Promise<string> | undefined;
  const imageRootfs = (): Promise<string> =>
    (rootfs ??= (async () => {
      names.push(PREFIX + 'rootfs');
      await tool(store, 'podman', ['create', '--name', PREFIX + 'rootfs', built.tag]);
      return tool(store, 'podman', ['mount', PREFIX + 'rootfs']);
    })());
  const runcIds: string[] = [];
  const runcDelete = (id: string): void => {
    try {
      execFileSync('runc', ['--root', runcRoot(), 'delete', '--force', id], { stdio: 'ignore' });
    } catch {
      // never created, or already gone
    }
  };
  /** runc's state folder for this test's containers (runc --root). */
  const runcRoot = (): string => join(dir, 'runc');

  /** Writes the bundle of runc container bt<pid>-<name> (config.json from `runc spec` + criSpec) and returns its id. */
  const runcBundle = async (name: string, spec: (base: OciSpec) => OciSpec): Promise<{ id: string; bundle: string }> => {
    const bundle = join(dir, `bundle-${name}`);
    execFileSync('mkdir', ['-p', bundle]);
    execFileSync('runc', ['spec', '--bundle', bundle]);
    const base = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as OciSpec;
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec(base), null, 2));
    const id = PREFIX + name;
    runcIds.push(id);
    return { id, bundle };
  };

  /** `runc run` of a bundle to its end: exit code and output. */
  const runcRunToEnd = (b: { id: string; bundle: string }): Promise<RunResult> =>
    new Promise((resolve, reject) => {
      const child = spawn('runc', ['--root', runcRoot(), 'run', '--bundle', b.bundle, b.id], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    for (const id of runcIds) runcDelete(id);
    if (rootfs) await tool(store, 'podman', ['umount', PREFIX + 'rootfs']).catch(() => undefined);
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

  test('the DaemonSet runs the speaker as uid 65534 with only NET_RAW and SYS_NICE, through the image\'s setpriv', () => {
    const c = speakerContainer();
    assert.deepEqual(c.command, SPEAKER_COMMAND);
    assert.equal(c.securityContext.runAsNonRoot, true);
    assert.equal(c.securityContext.runAsUser, 65534);
    assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'], add: ['NET_RAW', 'SYS_NICE'] });
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  });

  test('/usr/bin/setpriv in the image carries cap_net_raw,cap_sys_nice=p through buildah commit; node carries no file capability', async () => {
    const root = await imageRootfs();
    assert.match(execFileSync('getcap', [join(root, 'usr/bin/setpriv')], { encoding: 'utf8' }), /cap_net_raw,cap_sys_nice=p$/m);
    assert.equal(execFileSync('getcap', [join(root, 'usr/bin/node')], { encoding: 'utf8' }).trim(), '');
  });

  test('as Kubernetes runs the DaemonSet (runc, uid 65534, NET_RAW bounding/permitted/effective only, no_new_privs, read-only root): the speaker command holds NET_RAW and opens a packet socket; node alone cannot; without NET_RAW setpriv refuses', async () => {
    const c = speakerContainer();
    const rootfs = await imageRootfs();
    const node = SPEAKER_COMMAND.indexOf('/usr/bin/node');
    const probe = (name: string, args: string[], sc = c.securityContext): Promise<RunResult> =>
      runcBundle(name, (base) => criSpec(base, sc, { rootfs, args, env: ['NODE_OPTIONS=--title=berth-probe'] })).then(runcRunToEnd);

    // The speaker's command: setpriv raises NET_RAW into the inheritable and ambient sets, then execs node.
    const wrapped = await probe('probe-wrapped', [...SPEAKER_COMMAND.slice(0, node + 1), '-e', PROBE_JS]);
    assert.equal(wrapped.code, 0, wrapped.stderr);
    assert.deepEqual(JSON.parse(wrapped.stdout), {
      uid: '65534', eff: '0000000000802000', amb: '0000000000802000', nnp: '1', // NET_RAW (13) + SYS_NICE (23)
      // NODE_OPTIONS applies: node runs without secure-exec (no file capability on node itself).
      title: 'berth-probe', socket: 'opened',
    });
    // node exec'd directly (Kubernetes gives a non-root process no ambient set): NET_RAW is lost at the exec.
    const bare = await probe('probe-bare', ['/usr/bin/node', '-e', PROBE_JS]);
    assert.equal(bare.code, 0, bare.stderr);
    assert.deepEqual(JSON.parse(bare.stdout), {
      uid: '65534', eff: '0000000000000000', amb: '0000000000000000', nnp: '1', title: 'berth-probe', socket: 'error EPERM socket',
    });
    // Without NET_RAW in the bounding set (capabilities drop ALL, nothing added) setpriv cannot raise it: exit 127.
    const none = await probe('probe-none', [...SPEAKER_COMMAND.slice(0, node + 1), '-e', PROBE_JS], {
      ...c.securityContext,
      capabilities: { drop: ['ALL'] },
    });
    assert.equal(none.code, 127, none.stdout + none.stderr); // setpriv's SETPRIV_EXIT_PRIVERR
    assert.match(none.stderr, /setpriv: apply capabilities: Operation not permitted/);
  });

  test('the image\'s speaker, run as the DaemonSet runs it in a node network namespace, gets ready and answers ARP for its Service IP', async (t) => {
    const net = await networkSupport();
    if (!net.ok) {
      t.skip(net.reason);
      return;
    }
    const c = speakerContainer();
    const rootfs = await imageRootfs();
    const labDir = join(dir, 'lab');
    const stack = await startLabStack({ dir: labDir, webhook: false, devPools: false, nodes: 0, serviceCIDRs: NETWORK_SERVICE_CIDRS });
    t.after(() => stack.stop());
    const network = await startLabNetwork({
      labPort: stack.lab.port,
      kubeconfig: stack.lab.kubeconfigPath,
      client: stack.client,
      dir: labDir,
      stateDir: join(dir, 'netstate'),
      nodes: 1,
      speakers: false,
    });
    t.after(() => network.stop());
    const n1 = network.node('n1');
    const kubeconfig = join(dir, 'speaker-kubeconfig');
    writeFileSync(kubeconfig, readFileSync(stack.lab.kubeconfigPath), { mode: 0o644 }); // read by uid 65534

    // The kubelet's part: $(VAR) in args from the env the DaemonSet declares (fieldRefs resolved for node n1).
    const env: Record<string, string> = {
      METALLB_NODE_NAME: n1.name, METALLB_HOST: n1.ipv4, METALLB_NAMESPACE: 'metallb-system', POD_NAME: 'metallb-speaker-bt', POD_UID: '00000000-0000-4000-8000-000000000001', METALLB_ML_BIND_ADDR: n1.ipv4,
    };
    for (const e of c.env) if (e.value !== undefined) env[e.name] = e.value;
    for (const e of c.env) assert.ok(e.name in env, `env ${e.name} of the DaemonSet is not set by this test`);
    const args = c.args.map((a) => a.replace(/\$\((\w+)\)/g, (_m, v: string) => env[v] ?? `$(${v})`));
    const b = await runcBundle('speaker', (base) =>
      criSpec(base, c.securityContext, {
        rootfs,
        netns: n1.ns,
        args: [...(c.command ?? []), ...args, '--kubeconfig', '/kube/config'],
        env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
        mounts: [{ destination: '/kube/config', type: 'bind', source: kubeconfig, options: ['rbind', 'ro'] }],
      }),
    );
    const child = spawn('runc', ['--root', runcRoot(), 'run', '--bundle', b.bundle, b.id], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => {
      runcDelete(b.id);
      child.kill('SIGKILL');
    });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready line within 60 s:\n${out.slice(-4000)}`)), 60_000);
      const check = (d: Buffer): void => {
        out += d.toString();
        if (/speaker: ready/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', check);
      child.stderr.on('data', check);
      child.on('close', (code) => {
        clearTimeout(timer);
        reject(new Error(`the speaker exited (${code}) before its ready line:\n${out.slice(-4000)}`));
      });
    });
    // The container's first process is node itself (setpriv execs it): uid 65534, NET_RAW effective through ambient.
    const pid = (JSON.parse(execFileSync('runc', ['--root', runcRoot(), 'state', b.id], { encoding: 'utf8' })) as { pid: number }).pid;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    assert.match(status, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
    assert.match(status, /^CapEff:\s+0000000000802000$/m); // NET_RAW (13) + SYS_NICE (23)
    assert.match(status, /^CapBnd:\s+0000000000802000$/m);
    assert.match(status, /^NoNewPrivs:\s+1$/m);
    assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^\/usr\/bin\/node\0\/app\/dist\/berth\.mjs\0speaker\0/);

    const ip = '198.51.100.200';
    const svc: KubeObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'default', annotations: { 'metallb.io/loadBalancerIPs': ip } },
      spec: { type: 'LoadBalancer', ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack' },
    };
    const slice: KubeObject = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'web-ipv4', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'e2e' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [n1.ipv4], nodeName: n1.name, conditions: { ready: true, serving: true, terminating: false } }],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    };
    for (const o of [svc, slice]) {
      const r = await applyObject(stack.client, o);
      assert.ok(r.ok, r.ok ? '' : r.error.message);
    }
    await until('Service web to get its IP in status', async () => {
      const s = await stack.client.get(Resources.services, 'web', 'default');
      const ingress = s.ok ? ((s.value.status as { loadBalancer?: { ingress?: Array<{ ip?: string }> } } | undefined)?.loadBalancer?.ingress ?? []) : [];
      return ingress.some((i) => i.ip === ip) ? true : undefined;
    }, 30_000);
    const macs = await until('an ARP reply from n1 for the Service IP', async () => {
      const r = await inNamespace(network.topology.client.ns, 'arping', ['-b', '-c', '2', '-w', '3', '-I', 'eth0', ip], 20_000);
      const m = [...new Set([...r.stdout.matchAll(/reply from \S+ \[([0-9A-Fa-f:]{17})\]/g)].map((x) => x[1]!.toLowerCase()))];
      return m.length > 0 ? m : undefined;
    }, 30_000);
    assert.deepEqual(macs, [n1.mac], out.slice(-4000));
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
