// The real kubectl against a lab API server, for tests that want its exit status and text (not src/lab/testing.ts's
// TestLab.kubectl, which needs a TestLab): HOME and the discovery cache live in the test's temp dir, so runs never
// touch the user's ~/.kube.
import { execFile } from 'node:child_process';
import { join } from 'node:path';

/**
 * Runs `kubectl --kubeconfig=<kubeconfig> --cache-dir=<dir>/kube-cache --request-timeout=20s ...args` with HOME=`dir`,
 * `input` on stdin (empty when absent), killed after 60 s. Never rejects: `code` is 0 on success, 1 on any failure
 * (exit status, timeout, spawn error); `out` is stdout followed by stderr.
 */
export function runKubectl(
  kubectl: string,
  kubeconfig: string,
  dir: string,
  args: readonly string[],
  input?: string,
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      kubectl,
      [
        `--kubeconfig=${kubeconfig}`,
        `--cache-dir=${join(dir, 'kube-cache')}`,
        '--request-timeout=20s',
        ...args,
      ],
      { timeout: 60_000, env: { ...process.env, HOME: dir } },
      (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` }),
    );
    child.stdin?.end(input ?? '');
  });
}
