// The rendered gitops/dev and gitops/prod overlays, each applied to the lab wave by wave, in Argo CD's order (phase, wave, kind, name) with
// Argo CD's server-side apply, waiting for each wave's health before the next, berth's processes started from the
// rendered container arguments when their wave is applied (the lab has no kubelet: the processes stand in for the
// Pods, and their readiness for the readiness probes). Shows that a pool is refused while the webhook is configured but
// not serving, that every object of every wave is accepted in this order, that a LoadBalancer Service then gets the
// dev pool's first IP, and that a second pass changes nothing (`kubectl diff --server-side` empty, caBundle included).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { spawnNode, startControllerProcess, type NodeProcess } from '../../src/lab/processes.ts';
import { findKubectl, startTestLab, type TestLab } from '../../src/lab/testing.ts';
import { until } from '../helpers/poll.ts';
import { argoWaves, idOf, kustomize, type K8sObject } from './render.ts';

/** How Argo CD applies with ServerSideApply=true: its field manager, conflicts forced (Argo CD sync options). */
const APPLY = ['apply', '--server-side', '--force-conflicts', '--field-manager=argocd-controller', '-f', '-'];
const DIFF = ['diff', '--server-side', '--force-conflicts', '--field-manager=argocd-controller', '-f', '-'];
const NS = 'metallb-system';
/** The image's entrypoint: the `berth` command, run with the container's arguments. */
const BERTH = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));

const toYaml = (objects: readonly K8sObject[]): string => objects.map((o) => stringify(o)).join('---\n');

/** The Prometheus Operator's CRDs, as installed by an earlier app of the root (stand-ins: schema left open). */
const PROMETHEUS_OPERATOR_CRDS: K8sObject[] = [
  ['servicemonitors', 'ServiceMonitor'],
  ['prometheusrules', 'PrometheusRule'],
].map(([plural, kind]) => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${plural}.monitoring.coreos.com` },
  spec: {
    group: 'monitoring.coreos.com',
    scope: 'Namespaced',
    names: { plural, singular: kind!.toLowerCase(), kind, listKind: `${kind}List` },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
      },
    ],
  },
}));

interface Container {
  name: string;
  args?: string[];
  env?: Array<{ name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
}

/**
 * The container's args as the kubelet would pass them ($(VAR) from the downward API), minus the listed flags; the
 * first one (the process: controller, webhook) is kept.
 */
function containerArgs(deployment: K8sObject, name: string, drop: readonly string[]): string[] {
  const spec = deployment['spec'] as { template: { spec: { containers: Container[] } } };
  const c = spec.template.spec.containers.find((x) => x.name === name);
  assert.ok(c, `container ${name}`);
  const env: Record<string, string> = {};
  for (const e of c.env ?? [])
    if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[e.name] = NS;
  const args = (c.args ?? []).map((a) => a.replace(/\$\(([A-Z_]+)\)/g, (m, v: string) => env[v] ?? m));
  assert.equal(args[0], name, `${name}: first argument names the process`);
  return [name, ...args.slice(1).filter((a) => !drop.some((d) => a === d || a.startsWith(`${d}=`)))];
}


async function kubectlOk(lab: TestLab, args: string[], input?: string): Promise<string> {
  const r = await lab.kubectl(args, input === undefined ? {} : { input });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** The overlays and what each one sets: the seeds' pool per environment and the controller's replicas. */
const OVERLAYS = [
  { dir: 'gitops/dev', range: '192.168.1.220-192.168.1.250', firstIp: '192.168.1.220', replicas: '1' },
  { dir: 'gitops/prod', range: '192.168.1.240-192.168.1.250', firstIp: '192.168.1.240', replicas: '2' },
] as const;

for (const overlay of OVERLAYS)
  test(
    `${overlay.dir} converges on the lab wave by wave in Argo CD order; a second pass changes nothing`,
    { timeout: 240_000 },
    async (t) => {
      const rendered = kustomize(overlay.dir);
      if (!rendered.ok && rendered.skip) return void t.skip(rendered.skip);
      assert.ok(rendered.ok, rendered.ok ? '' : rendered.message);
      if (!findKubectl()) return void t.skip('kubectl not found');

      // No lab Nodes: the lab's kubelet stand-in would otherwise mark the Deployment's Pods Ready with unreachable IPs
      // and put them behind the webhook Service; here the real processes are the Pods.
      const lab = await startTestLab({ nodes: 0 });
      const procs: NodeProcess[] = [];
      t.after(async () => {
        for (const p of procs) await p.stop();
        await lab.stop();
      });
      await kubectlOk(lab, APPLY, toYaml(PROMETHEUS_OPERATOR_CRDS));

      const waves = argoWaves(rendered.objects);
      t.diagnostic(`waves: ${waves.map((w) => `${w.wave}: ${w.objects.length} objects`).join('; ')}`);
      const pools = rendered.objects.filter((o) => o.kind === 'IPAddressPool');
      assert.equal(pools.length, 1);
      let webhookServing = false;

      for (const w of waves) {
        const has = (kind: string, name?: string) =>
          w.objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
        // Argo CD applies the wave's objects in its order; every one must be accepted (a refusal fails the sync).
        await kubectlOk(lab, APPLY, toYaml(w.objects));
        t.diagnostic(`wave ${w.wave} applied: ${w.objects.map(idOf).join(', ')}`);

        // --- the wave's health, as Argo CD would wait for it ---
        const crds = w.objects.filter((o) => o.kind === 'CustomResourceDefinition');
        if (crds.length > 0) {
          await kubectlOk(lab, [
            'wait',
            '--for=condition=Established',
            '--timeout=30s',
            ...crds.map((c) => `crd/${c.metadata.name}`),
          ]);
        }
        const deployment = has('Deployment', 'metallb-controller');
        if (deployment) {
          assert.ok(
            has('MutatingWebhookConfiguration') && has('ValidatingWebhookConfiguration'),
            'webhook configurations in the Deployment wave',
          );
          // Configured but not serving yet: the pools' webhook fails closed, so a pool synced now would be refused.
          const early = await lab.kubectl([...APPLY.slice(0, -2), '--dry-run=server', '-f', '-'], {
            input: toYaml(pools),
          });
          assert.notEqual(early.code, 0, `a pool was accepted before the webhook served:\n${early.stdout}`);
          assert.match(
            early.stderr,
            /failed calling webhook "ipaddresspoolvalidationwebhook\.metallb\.io".*no endpoints available/s,
          );

          // `berth` with the webhook container's arguments, on loopback and a free port instead of 0.0.0.0:9443.
          const webhookArgs = containerArgs(deployment, 'webhook', ['--port', '--host']);
          const webhook = spawnNode(
            BERTH,
            [...webhookArgs, '--host', '127.0.0.1', '--port', '0', '--kubeconfig', lab.lab.kubeconfigPath],
            { tsx: false },
          );
          procs.push(webhook);
          const webhookPort = Number(
            (await webhook.waitFor(/webhook: listening on https:\/\/127\.0\.0\.1:(\d+)/, 60_000))[1],
          );
          // The endpoint the EndpointSlice controller would publish for a ready Pod (the lab has none: no Nodes).
          await kubectlOk(
            lab,
            ['apply', '-f', '-'],
            stringify({
              apiVersion: 'discovery.k8s.io/v1',
              kind: 'EndpointSlice',
              metadata: {
                name: 'berth-webhook-service-converge',
                namespace: NS,
                labels: { 'kubernetes.io/service-name': 'berth-webhook-service' },
              },
              addressType: 'IPv4',
              endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true, serving: true } }],
              ports: [{ name: 'https', port: webhookPort, protocol: 'TCP' }],
            }),
          );
          // Ready = caches synced and its CA in both configurations' caBundle (they were applied in this wave).
          await webhook.waitFor(/webhook: ready /, 60_000);
          webhookServing = true;
          const controllerArgs = containerArgs(deployment, 'controller', ['--metrics-port']);
          procs.push(
            await startControllerProcess(
              [
                ...controllerArgs,
                '--kubeconfig',
                lab.lab.kubeconfigPath,
                '--metrics-port',
                'auto',
                '--metrics-host',
                '127.0.0.1',
                '--replica-id',
                'converge-0',
              ],
              { script: BERTH, tsx: false, timeoutMs: 60_000 },
            ),
          );
          t.diagnostic(`wave ${w.wave} healthy: webhook ready on 127.0.0.1:${webhookPort}, controller ready`);
        }
        if (has('IPAddressPool')) {
          assert.ok(webhookServing, 'pools synced before the webhook served');
          const got = await kubectlOk(lab, [
            'get',
            'ipaddresspool',
            'default',
            '-n',
            NS,
            '-o',
            'jsonpath={.spec.addresses[0]}',
          ]);
          assert.equal(got, overlay.range);
        }
        if (has('DaemonSet', 'metallb-speaker'))
          t.diagnostic(
            'metallb-speaker stored; no speaker process yet (`berth speaker` is the speaker issue)',
          );
      }

      // A consumer app's LoadBalancer Service is Healthy for Argo CD once it has an IP: the dev pool's first.
      await kubectlOk(
        lab,
        ['apply', '-f', '-'],
        stringify({
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'web', namespace: 'default' },
          spec: { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ port: 80 }] },
        }),
      );
      const ip = await until('the Service IP', async () => {
        const r = await lab.kubectl([
          'get',
          'svc',
          'web',
          '-n',
          'default',
          '-o',
          'jsonpath={.status.loadBalancer.ingress[0].ip}',
        ]);
        return r.code === 0 && r.stdout !== '' ? r.stdout : undefined;
      });
      assert.equal(ip, overlay.firstIp);

      // The caBundle is in the live configurations (written by the webhook, not by Git)...
      for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
        const bundles = await kubectlOk(lab, [
          'get',
          kind,
          'berth-webhook-configuration',
          '-o',
          'jsonpath={.webhooks[*].clientConfig.caBundle}',
        ]);
        assert.ok(
          bundles.split(' ').every((b) => b.length > 100),
          `${kind}: caBundle not written`,
        );
      }
      // ...and a second pass has nothing to do: no drift, the caBundle included, with no ignoreDifferences.
      const all = toYaml(waves.flatMap((w) => w.objects));
      const diff = await lab.kubectl(DIFF, { input: all });
      assert.equal(
        diff.code,
        0,
        `kubectl diff found drift (exit ${diff.code}):\n${diff.stdout}${diff.stderr}`,
      );
      assert.equal(diff.stdout, '');
      // The diff does see drift: a hand edit of a field Git sets shows up (Argo CD: OutOfSync, selfHeal re-applies)...
      await kubectlOk(lab, ['scale', 'deployment', 'metallb-controller', '-n', NS, '--replicas=3']);
      const drift = await lab.kubectl(DIFF, { input: all });
      assert.equal(drift.code, 1, `no drift seen after kubectl scale:\n${drift.stdout}${drift.stderr}`);
      assert.match(drift.stdout, new RegExp(`-\\s+replicas: 3\\n\\+\\s+replicas: ${overlay.replicas}`));
      // ...and re-applying (selfHeal, a re-sync) is accepted, restores it and keeps the caBundle.
      await kubectlOk(lab, APPLY, all);
      assert.equal(
        await kubectlOk(lab, [
          'get',
          'deployment',
          'metallb-controller',
          '-n',
          NS,
          '-o',
          'jsonpath={.spec.replicas}',
        ]),
        overlay.replicas,
      );
      const after = await kubectlOk(lab, [
        'get',
        'validatingwebhookconfiguration',
        'berth-webhook-configuration',
        '-o',
        'jsonpath={.webhooks[0].clientConfig.caBundle}',
      ]);
      assert.ok(after.length > 100, 'caBundle removed by a re-sync');

      // Without ServerSideApply (Argo CD's default client-side apply and legacy 3-way diff): the configurations applied
      // client-side keep the caBundle, and the client-side diff of the Git state is empty too.
      const configs = toYaml(
        waves.flatMap((w) => w.objects).filter((o) => o.kind.endsWith('WebhookConfiguration')),
      );
      await kubectlOk(lab, ['apply', '-f', '-'], configs);
      const legacy = await lab.kubectl(['diff', '-f', '-'], { input: configs });
      assert.equal(
        legacy.code,
        0,
        `client-side kubectl diff found drift (exit ${legacy.code}):\n${legacy.stdout}${legacy.stderr}`,
      );
      const kept = await kubectlOk(lab, [
        'get',
        'mutatingwebhookconfiguration',
        'berth-webhook-configuration',
        '-o',
        'jsonpath={.webhooks[0].clientConfig.caBundle}',
      ]);
      assert.ok(kept.length > 100, 'caBundle removed by a client-side apply');
    },
  );
