// Bench: the container image (issue 10). Prints the build time and sizes of `npm run image` and the controller's
// resident memory (VmRSS, /proc/<pid>/status) once ready and idle against a lab API server, three ways:
//   container   podman run (uid 65534, --read-only, --network host) of the image: node + the esbuild bundle
//   bundle      node dist/berth.mjs controller on the host (the same bundle, no container)
//   tsx         node --import tsx src/controller/main.ts on the host (how the lab and the tests run it)
// Needs root, buildah, podman, runc, catatonit and kubectl (as test/image/image.test.ts). Figures only, no bounds.
//   npx tsx bench/image.ts [--settle-ms 5000]
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildImage, imageStore, tool } from '../image/build.ts';
import { REPO } from '../image/bundle.ts';
import { startControllerProcess } from '../src/lab/processes.ts';
import { startTestLab } from '../src/lab/testing.ts';

const { values } = parseArgs({ options: { 'settle-ms': { type: 'string', default: '5000' } } });
const settleMs = Number(values['settle-ms']);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const rssMiB = (pid: number): number => Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

const store = imageStore();
const built = await buildImage({ store });
console.log(
  `build: ${(built.buildMs / 1000).toFixed(1)} s  image ${(built.imageBytes / 1e6).toFixed(1)} MB  ` +
    `archive ${(built.archiveBytes / 1e6).toFixed(1)} MB  bundle ${(built.bundleBytes / 1e6).toFixed(1)} MB`,
);

const lab = await startTestLab({ nodes: 1 });
try {
  const crds = readdirSync(join(REPO, 'gitops/base/crds')).filter((f) => /\.io\.yaml$/.test(f));
  const r = await lab.kubectl(['apply', ...crds.flatMap((f) => ['-f', join(REPO, 'gitops/base/crds', f)])]);
  if (r.code !== 0) throw new Error(`kubectl apply CRDs: ${r.stderr}`);
  await lab.kubectl(['create', 'namespace', 'metallb-system']);
  const args = ['--kubeconfig', lab.lab.kubeconfigPath, '--metrics-port', 'auto', '--metrics-host', '127.0.0.1'];

  // container
  const kubeconfig = join(lab.dir, 'kubeconfig-ro');
  writeFileSync(kubeconfig, readFileSync(lab.lab.kubeconfigPath), { mode: 0o644 });
  const name = `bt${process.pid}-bench-ctl`;
  const child = spawn(
    'podman',
    [...store.globalArgs, 'run', '--rm', '--init', '--name', name, '--network', 'host', '--read-only', '-v', `${kubeconfig}:/kube/config:ro`,
      built.tag, 'controller', '--kubeconfig', '/kube/config', '--metrics-port', 'auto', '--metrics-host', '127.0.0.1'],
    { env: store.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const on = (d: Buffer): void => {
        out += d.toString();
        if (/controller: ready/.test(out)) resolve();
      };
      child.stdout.on('data', on);
      child.stderr.on('data', on);
      child.on('close', (c) => reject(new Error(`container exited (${c}):\n${out.slice(-2000)}`)));
    });
    await sleep(settleMs);
    const initPid = Number(await tool(store, 'podman', ['inspect', '--format', '{{.State.Pid}}', name]));
    const nodePid = Number(readFileSync(`/proc/${initPid}/task/${initPid}/children`, 'utf8').trim().split(/\s+/)[0]);
    console.log(`controller RSS, container (bundle, uid 65534): ${rssMiB(nodePid).toFixed(1)} MiB`);
  } finally {
    await tool(store, 'podman', ['rm', '-f', '--ignore', name]).catch(() => undefined);
  }

  for (const [label, start] of [
    ['host, node dist/berth.mjs', () => startControllerProcess(['controller', ...args], { script: join(REPO, 'dist/berth.mjs'), tsx: false })],
    ['host, node --import tsx', () => startControllerProcess(args)],
  ] as const) {
    const p = await start();
    try {
      await sleep(settleMs);
      console.log(`controller RSS, ${label}: ${rssMiB(p.pid).toFixed(1)} MiB`);
    } finally {
      await p.stop();
    }
  }
} finally {
  await lab.stop();
}
