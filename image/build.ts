// `npm run image`: builds berth's one OCI image (controller, webhook, speaker and the CLI share it) with buildah, with
// no registry involved (issue 10 "Image"; recipes §8, verified on this kind of machine):
//   1. dist/berth.mjs: the esbuild bundle of every command (image/bundle.ts), run by plain node (no tsx).
//   2. A tiny rootfs: the host's node binary plus the shared libraries `ldd` lists for it and for the N-API addon
//      (native/build/Release/berth_native.node, built by `npm ci`), the host's setpriv with the file capability
//      cap_net_raw=p (the speaker's wrapper, SPEAKER_COMMAND: it runs as uid 65534 with only CAP_NET_RAW),
//      /etc/passwd+group (root, nobody 65534), /tmp 1777,
//      and /app/{dist/berth.mjs and its chunks dist/berth.*.mjs, policies/admission.json,
//      native/build/Release/berth_native.node} at the paths the bundle resolves them from.
//   3. `buildah from scratch` + one copy + config (ENTRYPOINT node /app/dist/berth.mjs, user 65534:65534, OCI labels)
//      + `buildah commit --timestamp 0` (reproducible: two builds of the same tree give the same image id), tagged
//      localhost/berth:<package.json version>, then pushed to the OCI archive dist/berth-image.tar.
// buildah/podman use a private store (--root/--runroot under .lab/containers) and a containers.conf choosing runc
// (crun refuses hybrid cgroups here) with ulimits at the hard limits (podman's nofile=1048576 cannot be set without
// CAP_SYS_RESOURCE). Run the result with
//   podman load -i dist/berth-image.tar   (into any store), or with the same flags this prints.
// `tsx image/build.ts --bundle-only` writes only the bundle, dist/berth.mjs and its chunks (image/Containerfile uses it).
// Environment: BERTH_IMAGE_STORE (store folder, default .lab/containers), BERTH_IMAGE_STORAGE_DRIVER (default overlay).
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { bundle, bundleFiles, REPO } from './bundle.ts';

const run = promisify(execFile);

/** The speaker's N-API addon as `npm ci` builds it (src/speaker/link/packet.ts loads it from this path). */
export const ADDON = join(REPO, 'native/build/Release/berth_native.node');

export interface ImageStore {
  /** buildah/podman global flags selecting the private store: --root, --runroot, --storage-driver. */
  globalArgs: string[];
  /** Environment for buildah/podman: CONTAINERS_CONF pointing at the store's containers.conf. */
  env: NodeJS.ProcessEnv;
  dir: string;
}

/** The hard limit of an rlimit from /proc/self/limits ('Max open files', 'Max processes'); undefined if unlimited/unknown. */
function hardLimit(name: string): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith(name));
    const hard = line?.slice(name.length).trim().split(/\s+/)[1];
    return hard && /^\d+$/.test(hard) ? Number(hard) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A private buildah/podman store in `dir` (created): storage/, run/ and containers.conf (runtime runc, default
 * ulimits nofile and nproc at this process's hard limits, capped at 1048576 / 32768). Recipes §8.1.
 */
export function imageStore(dir: string = process.env['BERTH_IMAGE_STORE'] ?? join(REPO, '.lab/containers')): ImageStore {
  const abs = resolve(dir);
  mkdirSync(join(abs, 'storage'), { recursive: true });
  mkdirSync(join(abs, 'run'), { recursive: true });
  const nofile = Math.min(hardLimit('Max open files') ?? 1_048_576, 1_048_576);
  const nproc = Math.min(hardLimit('Max processes') ?? 32_768, 32_768);
  const conf = join(abs, 'containers.conf');
  writeFileSync(
    conf,
    [
      '# written by image/build.ts: runc (crun fails on hybrid cgroups), ulimits no higher than the hard limits',
      '[containers]',
      `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`,
      '[engine]',
      'runtime = "runc"',
      '',
    ].join('\n'),
  );
  const driver = process.env['BERTH_IMAGE_STORAGE_DRIVER'] ?? 'overlay';
  return {
    dir: abs,
    globalArgs: ['--root', join(abs, 'storage'), '--runroot', join(abs, 'run'), '--storage-driver', driver],
    env: { ...process.env, CONTAINERS_CONF: conf },
  };
}

/** Runs buildah/podman with the store's flags; resolves stdout (trimmed); rejects with the command and its stderr. */
export async function tool(store: ImageStore, cmd: 'buildah' | 'podman', args: readonly string[]): Promise<string> {
  try {
    const r = await run(cmd, [...store.globalArgs, ...args], { env: store.env, maxBuffer: 64 * 1024 * 1024 });
    return r.stdout.trim();
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(err.stderr ?? err.message).trim()}`, { cause: e });
  }
}

/** util-linux's setpriv(1) on this machine: the speaker's capability wrapper in the image (SPEAKER_COMMAND). */
export const SETPRIV = '/usr/bin/setpriv';

/**
 * The file capability of the image's setpriv (setcap(8) syntax): NET_RAW for the packet sockets, SYS_NICE for the
 * SCHED_FIFO ARP answer threads (--layer2-answer-priority, docs/layer2.md "Real-time answer thread").
 */
export const SETPRIV_CAPS = 'cap_net_raw,cap_sys_nice=p';

/**
 * The speaker container's `command` (gitops/base/speaker/daemonset.yaml; test/image/image.test.ts runs it): the
 * image's /usr/bin/setpriv carries the file capability `cap_net_raw=p` (permitted, not effective), so as uid 65534 in
 * a container whose bounding set holds CAP_NET_RAW (securityContext capabilities add NET_RAW) it may copy NET_RAW into
 * its inheritable and ambient sets (capabilities(7): an ambient capability must be permitted and inheritable), then
 * execs node, which holds NET_RAW through the ambient set. Kubernetes gives a non-root container no ambient
 * capabilities (kubernetes/enhancements#2757; containerd/containerd#5668 was closed unmerged), so without this
 * node would start with empty permitted/effective sets and its packet sockets would fail with EPERM. node itself
 * has no file capability: it runs without the kernel's secure-exec mode (AT_SECURE), so NODE_OPTIONS still applies
 * (Node ignores it in that mode), and the controller and webhook, whose bounding set is empty, run the same node.
 * allowPrivilegeEscalation: false (no_new_privs) does not block it: the runtime (runc under containerd or CRI-O) gives
 * the container's first process NET_RAW in its permitted set, so executing setpriv gains no capability it did not
 * hold and the kernel keeps the file capability (security/commoncap.c: only gained capabilities are dropped under
 * no_new_privs). Without NET_RAW in the bounding set setpriv exits 127 ("setpriv: apply capabilities: Operation not permitted").
 * SYS_NICE goes the same way (file capability SETPRIV_CAPS, DaemonSet capabilities add SYS_NICE): the SCHED_FIFO ARP
 * answer threads of --layer2-answer-priority. It is asked for like NET_RAW, so a container without SYS_NICE in its
 * bounding set needs `,+sys_nice` removed from both lists (else setpriv exits 127 the same way).
 */
export const SPEAKER_COMMAND: readonly string[] = [
  SETPRIV,
  '--inh-caps=+net_raw,+sys_nice',
  '--ambient-caps=+net_raw,+sys_nice',
  '--',
  '/usr/bin/node',
  '/app/dist/berth.mjs',
];

/** The absolute library paths `ldd FILE` lists (resolved through symlinks by the copy). */
async function sharedLibraries(file: string): Promise<string[]> {
  const { stdout } = await run('ldd', [file]);
  if (/not a dynamic executable|statically linked/.test(stdout)) return [];
  const missing = stdout.split('\n').filter((l) => l.includes('not found'));
  if (missing.length > 0) throw new Error(`ldd ${file}: missing libraries: ${missing.map((l) => l.trim()).join(', ')}`);
  return [...new Set(stdout.match(/\/[^\s)]+/g) ?? [])];
}

/**
 * Sets the file capability `caps` (setcap(8) syntax, e.g. `cap_net_raw=p`) on `file` (its security.capability
 * xattr) and reads it back with getcap; throws naming the file and setcap's error (no libcap2-bin, no CAP_SETFCAP).
 */
export async function setFileCapability(file: string, caps: string): Promise<void> {
  try {
    await run('setcap', [caps, file]);
    const { stdout } = await run('getcap', [file]);
    if (!stdout.includes(caps)) throw new Error(`getcap shows ${JSON.stringify(stdout.trim())}`);
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`image: setcap ${caps} ${file} failed (libcap2-bin installed? run as root): ${(err.stderr || err.message).trim()}`, { cause: e });
  }
}

function copyInto(root: string, inImage: string, from: string, mode?: number): void {
  const to = join(root, inImage);
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(realpathSync(from), to);
  if (mode !== undefined) chmodSync(to, mode);
}

/**
 * Writes the tiny rootfs into `root` (must not exist or be empty): /usr/bin/node (the running node), /usr/bin/setpriv
 * (this machine's, with the file capability SETPRIV_CAPS: SPEAKER_COMMAND), the libraries ldd lists for the three
 * binaries, /etc, /tmp, /app. Throws when the addon or policies are missing (the error says to run `npm ci` /
 * `npm run build:native`), when setpriv (util-linux) is missing, or when setcap (libcap2-bin) cannot set the
 * capability (it needs CAP_SETFCAP: build as root). Recipes §8.2a.
 */
export async function writeRootfs(root: string, bundleFile: string, addon = ADDON): Promise<void> {
  if (!existsSync(addon)) throw new Error(`image: ${addon} is missing: run \`npm ci\` or \`npm run build:native\` first`);
  if (!existsSync(SETPRIV)) throw new Error(`image: ${SETPRIV} is missing: install util-linux (the speaker's capability wrapper)`);
  const node = realpathSync(process.execPath);
  const libs = new Set([...(await sharedLibraries(node)), ...(await sharedLibraries(addon)), ...(await sharedLibraries(SETPRIV))]);
  copyInto(root, 'usr/bin/node', node, 0o755);
  copyInto(root, SETPRIV.slice(1), SETPRIV, 0o755);
  await setFileCapability(join(root, SETPRIV), SETPRIV_CAPS);
  for (const lib of [...libs].sort()) copyInto(root, lib.slice(1), lib, 0o755);
  // The entry and its chunks (image/bundle.ts: code splitting), side by side in /app/dist.
  const [entry, ...chunks] = bundleFiles(bundleFile);
  copyInto(root, 'app/dist/berth.mjs', entry!, 0o644);
  for (const c of chunks) copyInto(root, `app/dist/${basename(c)}`, c, 0o644);
  copyInto(root, 'app/policies/admission.json', join(REPO, 'policies/admission.json'), 0o644);
  copyInto(root, 'app/native/build/Release/berth_native.node', addon, 0o644);
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  // glibc ≥ 2.34 has files and dns built in; say the order explicitly (in-cluster DNS names such as the webhook's).
  writeFileSync(join(root, 'etc/nsswitch.conf'), 'hosts: files dns\n');
  mkdirSync(join(root, 'tmp'));
  chmodSync(join(root, 'tmp'), 0o1777);
}

export interface BuildResult {
  imageId: string;
  tag: string;
  archive: string;
  /** Uncompressed size of the image (its one layer), bytes. */
  imageBytes: number;
  archiveBytes: number;
  bundleBytes: number;
  /** Wall time of the whole build (bundle, rootfs, buildah, archive), milliseconds. */
  buildMs: number;
}

/** OCI architecture names of Node's process.arch. */
const OCI_ARCH: Readonly<Record<string, string>> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

/**
 * Builds the image into `store` (imageStore()) tagged `tag` (default localhost/berth:<version>) and writes the OCI
 * archive `archive` (default dist/berth-image.tar; null: no archive). `bundleFile`: where the bundle is written
 * (default dist/berth.mjs), or `prebuiltBundle`: an existing bundle to ship as is; `addonFile`: the addon to ship (default ADDON). Throws an Error
 * naming the failing step (buildah's stderr included).
 */
export async function buildImage(
  o: { store?: ImageStore; tag?: string; archive?: string | null; bundleFile?: string; prebuiltBundle?: string; addonFile?: string } = {},
): Promise<BuildResult> {
  const started = performance.now();
  const store = o.store ?? imageStore();
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string; description?: string; license?: string };
  const tag = o.tag ?? `localhost/berth:${pkg.version}`;
  const archive = o.archive === null ? undefined : resolve(o.archive ?? join(REPO, 'dist/berth-image.tar'));
  const b =
    o.prebuiltBundle !== undefined
      ? { outfile: o.prebuiltBundle, bytes: bundleFiles(o.prebuiltBundle).reduce((n, f) => n + statSync(f).size, 0) }
      : await bundle(o.bundleFile !== undefined ? { outfile: o.bundleFile } : {});
  const work = mkdtempSync(join(tmpdir(), 'berth-image-'));
  let ctr: string | undefined;
  try {
    const root = join(work, 'rootfs');
    await writeRootfs(root, b.outfile, o.addonFile);
    ctr = await tool(store, 'buildah', ['from', '--pull-never', 'scratch']);
    await tool(store, 'buildah', ['copy', ctr, root, '/']);
    // No label names the tag: the same tree gives the same image id whatever it is tagged.
    const labels = {
      'org.opencontainers.image.title': 'berth',
      'org.opencontainers.image.description': pkg.description ?? '',
      'org.opencontainers.image.version': pkg.version,
      'org.opencontainers.image.licenses': pkg.license ?? '',
    };
    await tool(store, 'buildah', [
      'config',
      '--entrypoint', JSON.stringify(['/usr/bin/node', '/app/dist/berth.mjs']),
      '--cmd', JSON.stringify(['help']),
      '--workingdir', '/app',
      '--env', 'NODE_ENV=production',
      '--user', '65534:65534',
      '--os', 'linux',
      '--arch', OCI_ARCH[process.arch] ?? process.arch,
      '--stop-signal', 'SIGTERM',
      ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
      ctr,
    ]);
    const imageId = await tool(store, 'buildah', ['commit', '--quiet', '--timestamp', '0', '--format', 'oci', '--rm', ctr, tag]);
    ctr = undefined;
    // The image the tag named before is now dangling: drop it (the store is berth's own).
    await tool(store, 'buildah', ['rmi', '--prune']).catch(() => undefined);
    let archiveBytes = 0;
    if (archive) {
      mkdirSync(dirname(archive), { recursive: true });
      rmSync(archive, { force: true });
      await tool(store, 'buildah', ['push', '--quiet', tag, `oci-archive:${archive}:${tag}`]);
      archiveBytes = statSync(archive).size;
    }
    const size = await tool(store, 'podman', ['image', 'inspect', '--format', '{{.Size}}', tag]);
    return {
      imageId,
      tag,
      archive: archive ?? '',
      imageBytes: Number(size),
      archiveBytes,
      bundleBytes: b.bytes,
      buildMs: performance.now() - started,
    };
  } finally {
    if (ctr) await tool(store, 'buildah', ['rm', ctr]).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}

const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

if (process.argv[1] && resolve(process.argv[1]) === resolve(REPO, 'image/build.ts') && process.argv[2] === '--bundle-only') {
  // image/Containerfile: only the bundle (dist/berth.mjs and its chunks dist/berth.*.mjs).
  const b = await bundle();
  console.log(`bundle: ${b.outfile} (${mb(b.bytes)})`);
} else if (process.argv[1] && resolve(process.argv[1]) === resolve(REPO, 'image/build.ts')) {
  try {
    const store = imageStore();
    const r = await buildImage({ store });
    const flags = store.globalArgs.map((a) => (a.includes(' ') ? JSON.stringify(a) : a)).join(' ');
    console.log(
      [
        `image: ${r.tag} id=${r.imageId.slice(0, 12)} size=${mb(r.imageBytes)} archive=${r.archive} (${mb(r.archiveBytes)}) ` +
          `bundle=${mb(r.bundleBytes)} build=${(r.buildMs / 1000).toFixed(1)}s`,
        `run:   CONTAINERS_CONF=${store.dir}/containers.conf podman ${flags} run --rm ${r.tag} version`,
        `   or: podman load -i ${r.archive}`,
      ].join('\n'),
    );
  } catch (e) {
    console.error((e as Error).message);
    process.exitCode = 1;
  }
}
