// Test helper shared by every end-to-end test: a lab in a fresh temp dir plus a `kubectl` bound to it.
//   const t = await startTestLab(); try { await t.kubectl(['get', 'svc']) } finally { await t.stop() }
//   await withLab(async (t) => { ... })
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { startLab, type Lab, type LabOptions } from './server.ts';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestLab {
  lab: Lab;
  /** The temp dir holding certs, kubeconfig and kubectl's cache (removed by stop). */
  dir: string;
  /** Runs the real kubectl against the lab; `input` is written to stdin (for `apply -f -`). */
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<KubectlResult>;
  /** Path of the kubectl binary in use, or undefined when none was found (tests then skip). */
  kubectlPath: string | undefined;
  stop(): Promise<void>;
}

/**
 * The kubectl to drive the lab with: `.lab/bin/kubectl` in the repo (scripts/fetch-kubectl.sh), else the
 * google-cloud-sdk 1.32 binary (skips the dispatcher's extra /version probe), else `kubectl` on PATH.
 */
export function findKubectl(): string | undefined {
  const candidates = [
    process.env['BERTH_KUBECTL'],
    resolve(import.meta.dirname, '../../.lab/bin/kubectl'),
    '/usr/lib/google-cloud-sdk/bin/kubectl.1.32',
    ...(process.env['PATH'] ?? '').split(delimiter).map((d) => join(d, 'kubectl')),
  ];
  for (const c of candidates) if (c && existsSync(c)) return c;
  return undefined;
}

export async function startTestLab(opts: Partial<LabOptions> = {}): Promise<TestLab> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'berth-lab-'));
  let lab: Lab;
  try {
    lab = await startLab({ ...opts, dir });
  } catch (e) {
    if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const kubectlPath = findKubectl();
  const cacheDir = join(dir, 'kube-cache');
  const kubectl = (args: string[], o: { input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> =>
    new Promise((resolveRun) => {
      if (!kubectlPath) {
        resolveRun({ code: 127, stdout: '', stderr: 'kubectl not found' });
        return;
      }
      const child = execFile(
        kubectlPath,
        [`--kubeconfig=${lab.kubeconfigPath}`, `--cache-dir=${cacheDir}`, '--request-timeout=20s', ...args],
        { timeout: o.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, KUBECONFIG: lab.kubeconfigPath, HOME: dir } },
        (err, stdout, stderr) => {
          const code = err ? (typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? ((err as unknown as { code: number }).code) : 1) : 0;
          resolveRun({ code, stdout: String(stdout), stderr: String(stderr) });
        },
      );
      if (o.input !== undefined) child.stdin?.end(o.input);
      else child.stdin?.end();
    });
  let stopped = false;
  return {
    lab,
    dir,
    kubectl,
    kubectlPath,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await lab.stop();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `fn` with a fresh lab and always stops it (and removes its temp dir). */
export async function withLab<T>(fn: (t: TestLab) => Promise<T>, opts: Partial<LabOptions> = {}): Promise<T> {
  const t = await startTestLab(opts);
  try {
    return await fn(t);
  } finally {
    await t.stop();
  }
}
