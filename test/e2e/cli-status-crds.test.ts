// `berth status` against the `npm start` lab (API server, webhook, controller, dev pool `default` with L2Advertisement
// l2-advert) when the ServiceL2Status/ServiceBGPStatus CRDs are deleted with the real kubectl: the lists answer 404,
// and status says so once (naming both CRDs and `kubectl apply -k gitops/base/crds`) instead of blaming the speakers
// on every Service; the command it gives, run as printed, brings the normal answer back.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { LabStack } from '../../src/cli/lab.ts';
import { recordingIO } from '../../src/cli/io.ts';
import { main } from '../../src/cli/main.ts';
import { findKubectl } from '../../src/lab/testing.ts';
import { repoPath } from '../../src/webhook/testing-process.ts';
import { readyEndpointSlice, startLabStackInTempDir, stopLabStackInTempDir } from '../helpers/lab-stack.ts';
import { until } from '../helpers/poll.ts';

const kubectlPath = findKubectl();
let dir = '';
let stack: LabStack | undefined;

function kubectl(args: string[], input?: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      kubectlPath!,
      [`--kubeconfig=${stack!.lab.kubeconfigPath}`, `--cache-dir=${join(dir, 'kube-cache')}`, '--request-timeout=20s', ...args],
      { timeout: 60_000, env: { ...process.env, HOME: dir } },
      (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` }),
    );
    child.stdin?.end(input ?? '');
  });
}

async function ok(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.out}`);
  return r.out;
}

const svc = (name: string, port: number): string =>
  `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: default}\nspec:\n  type: LoadBalancer\n  ports: [{port: ${port}, protocol: TCP}]\n`;

interface StatusJson {
  missingStatusCrds?: Array<{ kind: string; crd: string }>;
  services: Array<{ name: string; ips: string[]; announcedByUnknown?: boolean; notAnnounced?: { reason: string; message: string } }>;
}

async function status(args: string[] = []): Promise<{ code: number; out: string; err: string }> {
  const io = recordingIO();
  const code = await main(['status', '--kubeconfig', stack!.lab.kubeconfigPath, ...args], io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

before(async () => {
  if (!kubectlPath) return;
  ({ dir, stack } = await startLabStackInTempDir('berth-status-crds-'));
});

after(async () => {
  await stopLabStackInTempDir({ stack, dir });
});

test('berth status with the status CRDs deleted: one notice naming them and the install command, ANNOUNCED-BY ?', { skip: kubectlPath ? false : 'kubectl not found', timeout: 240_000 }, async () => {
  // web: a ready endpoint on lab-node-1 (a speaker there should announce it); idle: no endpoint (noEndpoints).
  await ok(['apply', '-f', '-'], [svc('web', 80), readyEndpointSlice('web', 'lab-node-1'), svc('idle', 81)].join('---\n'));
  const json = async (): Promise<StatusJson> => {
    const r = await status(['-o', 'json']);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as StatusJson;
  };
  const withIps = async (): Promise<StatusJson> =>
    until('web and idle with an IP', async () => {
      const j = await json();
      return ['web', 'idle'].every((n) => (j.services.find((s) => s.name === n)?.ips.length ?? 0) > 0) ? j : undefined;
    }, 90_000);

  // Control: CRDs installed, no speaker runs → speakerNotRunning.
  const before = await withIps();
  assert.equal(before.missingStatusCrds, undefined);
  assert.equal(before.services.find((s) => s.name === 'web')?.notAnnounced?.reason, 'speakerNotRunning');

  await ok(['delete', 'crd', 'servicel2statuses.metallb.io', 'servicebgpstatuses.metallb.io']);
  const j = await json();
  assert.deepEqual(j.missingStatusCrds?.map((m) => m.crd), ['servicel2statuses.metallb.io', 'servicebgpstatuses.metallb.io']);
  const web = j.services.find((s) => s.name === 'web');
  assert.equal(web?.announcedByUnknown, true);
  assert.equal(web?.notAnnounced, undefined);
  assert.equal(j.services.find((s) => s.name === 'idle')?.notAnnounced?.reason, 'noEndpoints');

  const text = await status();
  assert.equal(text.code, 0, text.err);
  const notices = text.err.split('\n').filter((l) => /not installed/.test(l));
  assert.equal(notices.length, 1, text.err);
  assert.match(notices[0]!, /^berth status: the ServiceL2Status and ServiceBGPStatus CRDs \(servicel2statuses\.metallb\.io, servicebgpstatuses\.metallb\.io\) are not installed/);
  assert.match(notices[0]!, /kubectl apply -k gitops\/base\/crds/);
  assert.match(text.out, /^default\s+web\s+192\.168\.1\.\d+\s+default\s+\?\s*$/m);
  assert.match(text.out, /^default\s+idle\s+192\.168\.1\.\d+\s+default\s+-\s+noEndpoints: /m);
  assert.doesNotMatch(text.out, /speakerNotRunning|no speaker reports/);

  // The command the notice gives, as printed (from the checkout), brings the normal answer back.
  await ok(['apply', '-k', repoPath('gitops/base/crds')]);
  const fixed = await until('the status CRDs served again', async () => {
    const r = await json();
    return r.missingStatusCrds === undefined ? r : undefined;
  }, 30_000);
  assert.equal(fixed.services.find((s) => s.name === 'web')?.notAnnounced?.reason, 'speakerNotRunning');
});
