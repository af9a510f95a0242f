// gitops/base, gitops/dev and gitops/prod rendered with the real `kubectl kustomize`: every object against its
// official schema, `berth validate` on the output (in-process), a bad pool failing it with file:line, the seed's
// labels and pools, hardened Pods, the processes' flags, the webhook wiring, and Argo CD's wave order.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test, type TestContext } from 'node:test';
import { recordingIO } from '../../src/cli/io.ts';
import { runValidate } from '../../src/cli/validate.ts';
import { parseControllerFlags } from '../../src/controller/flags.ts';
import { parseWebhookFlags } from '../../src/webhook/flags.ts';
import {
  argoWaves,
  idOf,
  kustomize,
  parseObjects,
  REPO,
  schemaProblems,
  waveOf,
  type K8sObject,
  type Rendered,
} from './render.ts';

const DIRS = ['gitops/base', 'gitops/dev', 'gitops/prod'] as const;
const OVERLAYS = ['gitops/dev', 'gitops/prod'] as const;
const rendered = new Map<string, Rendered>(DIRS.map((d) => [d, kustomize(d)]));

/** The rendered objects of `dir`, or undefined after skipping the test (no kubectl). Fails on a kustomize error. */
function objectsOf(t: TestContext, dir: string): { text: string; objects: K8sObject[] } | undefined {
  const r = rendered.get(dir) ?? kustomize(dir);
  if (!r.ok && r.skip) {
    t.skip(r.skip);
    return undefined;
  }
  assert.ok(r.ok, r.ok ? '' : r.message);
  return r;
}

function find(objects: readonly K8sObject[], kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} is not rendered (have: ${objects.map(idOf).join(', ')})`);
  return o;
}

interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: Array<{ name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
  };
  livenessProbe?: { httpGet?: { path: string; port: string | number; scheme?: string } };
  readinessProbe?: { httpGet?: { path: string; port: string | number; scheme?: string } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface PodSpec {
  hostNetwork?: boolean;
  serviceAccountName?: string;
  securityContext?: { runAsNonRoot?: boolean; seccompProfile?: { type: string } };
  containers: Container[];
}
interface Workload {
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
}

function podSpec(o: K8sObject): Workload['spec'] {
  return (o as unknown as Workload).spec;
}

/** A container's args with `$(VAR)` expanded as the kubelet does (fieldRef metadata.namespace → metallb-system). */
function expandedArgs(c: Container): string[] {
  const values: Record<string, string> = {};
  for (const e of c.env ?? []) {
    const path = e.valueFrom?.fieldRef?.fieldPath;
    values[e.name] =
      path === 'metadata.namespace'
        ? 'metallb-system'
        : path === 'metadata.name'
          ? 'metallb-controller-abc'
          : 'node-1';
  }
  return (c.args ?? []).map((a) => a.replace(/\$\(([A-Z_]+)\)/g, (m, v: string) => values[v] ?? m));
}

for (const dir of DIRS) {
  test(`${dir}: kubectl kustomize renders it and every object matches its official schema`, async (t) => {
    const r = objectsOf(t, dir);
    if (!r) return;
    assert.ok(r.objects.length > 20, `only ${r.objects.length} objects`);
    assert.deepEqual(await schemaProblems(r.objects), []);
    // Names are unique per kind and namespace (kustomize would merge or refuse duplicates, but check what comes out).
    const ids = r.objects.map(idOf);
    assert.deepEqual(
      ids.filter((id, i) => ids.indexOf(id) !== i),
      [],
    );
  });
}

test('the schema check finds a wrong field type, an unknown kind and a CR that breaks its CRD schema', async (t) => {
  const r = objectsOf(t, 'gitops/dev');
  if (!r) return;
  const objects = structuredClone(r.objects);
  const dep = find(objects, 'Deployment', 'metallb-controller');
  (dep['spec'] as Record<string, unknown>)['replicas'] = 'two';
  const pool = find(objects, 'IPAddressPool', 'default');
  (pool['spec'] as Record<string, unknown>)['addresses'] = '192.168.1.220-192.168.1.250';
  objects.push({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } });
  const problems = await schemaProblems(objects);
  assert.equal(problems.length, 3, problems.join('\n'));
  assert.match(
    problems.join('\n'),
    /Deployment\/metallb-system\/metallb-controller: .*replicas must be integer/,
  );
  assert.match(
    problems.join('\n'),
    /IPAddressPool\/metallb-system\/default: \/spec\/addresses must be array/,
  );
  assert.match(problems.join('\n'), /Widget\/w: no schema for example\.com\/v1 Widget/);
});

test("berth validate accepts the rendered dev and prod overlays, which hold the seed's pools and l2-advert", (t) => {
  const expected: Record<string, string> = {
    'gitops/dev': '192.168.1.220-192.168.1.250',
    'gitops/prod': '192.168.1.240-192.168.1.250',
  };
  for (const dir of OVERLAYS) {
    const r = objectsOf(t, dir);
    if (!r) return;
    const io = recordingIO(r.text);
    const code = runValidate(['-'], io);
    assert.equal(code, 0, `${dir}: ${[...io.stdout, ...io.stderr].join('\n')}`);
    assert.deepEqual(io.stdout, [], dir);
    assert.match(io.stderr.join('\n'), /2 metallb\.io object\(s\) valid/, dir);
    const pool = find(r.objects, 'IPAddressPool', 'default');
    assert.equal(pool.metadata.namespace, 'metallb-system');
    assert.deepEqual((pool['spec'] as { addresses: string[] }).addresses, [expected[dir]], dir);
    const l2 = find(r.objects, 'L2Advertisement', 'l2-advert');
    assert.equal(l2.metadata.namespace, 'metallb-system');
    assert.deepEqual((l2['spec'] as { ipAddressPools: string[] }).ipAddressPools, ['default']);
  }
});

test('a bad pool in a rendered overlay makes berth validate fail with file:line', async (t) => {
  if (!objectsOf(t, 'gitops/dev')) return;
  const dir = mkdtempSync(join(tmpdir(), 'berth-gitops-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cases = [
    {
      name: 'range end before its start',
      addresses: ['192.168.1.250-192.168.1.220'],
      message: /192\.168\.1\.250-192\.168\.1\.220/,
    },
    { name: 'not an IP', addresses: ['192.168.1.300/32'], message: /192\.168\.1\.300\/32/ },
  ];
  for (const c of cases) {
    // An overlay of the dev overlay that only breaks the pool, as a bad commit to gitops/dev/ipaddresspool.yaml would.
    const overlay = join(dir, c.name.replace(/\W+/g, '-'));
    rmSync(overlay, { recursive: true, force: true });
    mkdirSync(overlay);
    writeFileSync(
      join(overlay, 'kustomization.yaml'),
      [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        'resources:',
        `  - ${relative(overlay, join(REPO, 'gitops/dev'))}`,
        'patches:',
        '  - target: { kind: IPAddressPool, name: default }',
        '    patch: |-',
        '      - op: replace',
        '        path: /spec/addresses',
        `        value: ${JSON.stringify(c.addresses)}`,
        '',
      ].join('\n'),
    );
    const r = kustomize(overlay);
    assert.ok(r.ok, r.ok ? '' : r.message);
    const file = join(overlay, 'rendered.yaml');
    writeFileSync(file, r.text);
    const io = recordingIO();
    const code = runValidate([file], io);
    assert.equal(code, 1, `${c.name}: ${[...io.stdout, ...io.stderr].join('\n')}`);
    const line = io.stdout.find((l) => l.startsWith(`${file}:`));
    assert.ok(line, `${c.name}: no file:line in ${io.stdout.join('\n')}`);
    const m = /^.*?:(\d+) IPAddressPool\/default: (.*)$/.exec(line);
    assert.ok(m, `${c.name}: ${line}`);
    assert.match(m[2]!, c.message, c.name);
    // The line is the bad entry itself in the rendered stream.
    const at = r.text.split('\n')[Number(m[1]) - 1] ?? '';
    assert.ok(at.includes(c.addresses[0]!), `${c.name}: line ${m[1]} is "${at}", not the pool's address`);
  }
});

test("metallb-controller and metallb-speaker carry the labels the seed's commands select on", (t) => {
  for (const dir of OVERLAYS) {
    const r = objectsOf(t, dir);
    if (!r) return;
    const want = {
      'Deployment/metallb-controller': 'controller',
      'DaemonSet/metallb-speaker': 'speaker',
    } as const;
    for (const [id, component] of Object.entries(want)) {
      const [kind, name] = id.split('/') as [string, string];
      const o = find(r.objects, kind, name);
      assert.equal(o.metadata.namespace, 'metallb-system', id);
      const spec = podSpec(o);
      // `kubectl describe pod -n metallb-system -l app.kubernetes.io/component=speaker`, ServiceMonitors.
      for (const labels of [spec.selector.matchLabels, spec.template.metadata.labels]) {
        assert.equal(labels['app.kubernetes.io/name'], 'metallb', id);
        assert.equal(labels['app.kubernetes.io/component'], component, id);
      }
    }
    // `kubectl logs deployment/metallb-controller` shows the first container: the controller.
    assert.equal(
      podSpec(find(r.objects, 'Deployment', 'metallb-controller')).template.spec.containers[0]!.name,
      'controller',
    );
  }
});

test('Pods are hardened: non-root read-only controller and webhook, speaker with host network and CAP_NET_RAW only', (t) => {
  for (const dir of OVERLAYS) {
    const r = objectsOf(t, dir);
    if (!r) return;
    const controller = podSpec(find(r.objects, 'Deployment', 'metallb-controller')).template.spec;
    assert.equal(controller.securityContext?.runAsNonRoot, true);
    assert.equal(controller.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    assert.notEqual(controller.hostNetwork, true);
    assert.deepEqual(
      controller.containers.map((c) => c.name),
      ['controller', 'webhook'],
    );
    for (const c of controller.containers) {
      assert.equal(c.securityContext?.readOnlyRootFilesystem, true, c.name);
      assert.equal(c.securityContext?.allowPrivilegeEscalation, false, c.name);
      assert.deepEqual(c.securityContext?.capabilities, { drop: ['ALL'] }, c.name);
      assert.notEqual(c.securityContext?.runAsUser, 0, c.name);
      assert.ok(
        c.resources?.requests?.['cpu'] && c.resources.requests['memory'] && c.resources.limits?.['memory'],
        c.name,
      );
      assert.equal(c.livenessProbe?.httpGet?.path, '/healthz', c.name);
      assert.equal(c.readinessProbe?.httpGet?.path, '/readyz', c.name);
    }
    const speaker = podSpec(find(r.objects, 'DaemonSet', 'metallb-speaker')).template.spec;
    assert.equal(speaker.hostNetwork, true);
    assert.equal(speaker.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    const sc = speaker.containers[0]!.securityContext;
    assert.deepEqual(sc?.capabilities, { drop: ['ALL'], add: ['NET_RAW', 'SYS_NICE'] });
    assert.equal(sc?.readOnlyRootFilesystem, true);
    assert.equal(sc?.allowPrivilegeEscalation, false);
    // hostNetwork and NET_RAW need the namespace's Pod Security level to allow them.
    const ns = find(r.objects, 'Namespace', 'metallb-system');
    assert.equal(ns.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'privileged');
  }
});

test('the containers run `berth controller|webhook|speaker` with flags the processes accept', (t) => {
  const r = objectsOf(t, 'gitops/prod');
  if (!r) return;
  const [controller, webhook] = podSpec(find(r.objects, 'Deployment', 'metallb-controller')).template.spec
    .containers as [Container, Container];
  const cArgs = expandedArgs(controller);
  assert.equal(cArgs[0], 'controller');
  const cf = parseControllerFlags(cArgs.slice(1), { POD_NAME: 'metallb-controller-abc' }, 'host', 1);
  assert.ok(cf.ok, cf.ok ? '' : cf.message);
  assert.equal(cf.flags.namespace, 'metallb-system');
  assert.equal(cf.flags.metricsPort, 7472);
  assert.equal(cf.flags.replicaId, 'metallb-controller-abc', 'replica identity from the downward API');
  assert.ok(
    controller.env?.some(
      (e) => e.name === 'POD_NAME' && e.valueFrom?.fieldRef?.fieldPath === 'metadata.name',
    ),
  );
  assert.equal(controller.ports?.find((p) => p.name === 'monitoring')?.containerPort, 7472);

  const wArgs = expandedArgs(webhook);
  assert.equal(wArgs[0], 'webhook');
  const wf = parseWebhookFlags(wArgs.slice(1));
  assert.ok(wf.ok, wf.ok ? '' : wf.message);
  assert.equal(wf.flags.namespace, 'metallb-system');
  assert.equal(webhook.ports?.find((p) => p.name === 'webhook')?.containerPort, wf.flags.port);
  for (const probe of [webhook.livenessProbe, webhook.readinessProbe])
    assert.equal(probe?.httpGet?.scheme, 'HTTPS');

  // The flags are checked for real: a misspelt one is refused.
  assert.equal(parseWebhookFlags([...wArgs.slice(1), '--bootstrap-tsl']).ok, false);

  const speaker = podSpec(find(r.objects, 'DaemonSet', 'metallb-speaker')).template.spec.containers[0]!;
  assert.equal(speaker.args?.[0], 'speaker');
  assert.equal(speaker.ports?.find((p) => p.name === 'monitoring')?.containerPort, 7472);
});

test('the webhook configurations reach the webhook container: Service name, namespace, port, TLS names, config names', (t) => {
  const r = objectsOf(t, 'gitops/prod');
  if (!r) return;
  const webhook = podSpec(find(r.objects, 'Deployment', 'metallb-controller')).template.spec.containers[1]!;
  const wf = parseWebhookFlags(expandedArgs(webhook).slice(1));
  assert.ok(wf.ok);
  const svc = find(r.objects, 'Service', wf.flags.serviceName);
  assert.equal(svc.metadata.namespace, wf.flags.namespace);
  const svcSpec = svc['spec'] as {
    selector: Record<string, string>;
    ports: Array<{ port: number; targetPort: string | number }>;
  };
  const pod = podSpec(find(r.objects, 'Deployment', 'metallb-controller')).template.metadata.labels;
  for (const [k, v] of Object.entries(svcSpec.selector)) assert.equal(pod[k], v, `Service selector ${k}`);
  const configs = r.objects.filter(
    (o) => o.kind === 'MutatingWebhookConfiguration' || o.kind === 'ValidatingWebhookConfiguration',
  );
  assert.deepEqual(
    configs.map((o) => o.metadata.name),
    [wf.flags.webhookConfigName, wf.flags.webhookConfigName],
  );
  let hooks = 0;
  for (const cfg of configs) {
    for (const h of cfg['webhooks'] as Array<{
      name: string;
      clientConfig: { service?: { name: string; namespace: string; port?: number }; caBundle?: string };
    }>) {
      hooks++;
      const s = h.clientConfig.service;
      assert.ok(s, h.name);
      assert.equal(s.name, svc.metadata.name, h.name);
      assert.equal(s.namespace, svc.metadata.namespace, h.name);
      const port = svcSpec.ports.find((p) => p.port === (s.port ?? 443));
      assert.ok(port, `${h.name}: Service has no port ${s.port ?? 443}`);
      const target =
        typeof port.targetPort === 'string'
          ? webhook.ports?.find((p) => p.name === port.targetPort)?.containerPort
          : port.targetPort;
      assert.equal(
        target,
        wf.flags.port,
        `${h.name}: Service port ${port.port} → ${String(port.targetPort)}`,
      );
      // The caBundle is the webhook's to write (or cert-manager's): none in Git, so Argo CD never reverts it.
      assert.equal(h.clientConfig.caBundle, undefined, h.name);
    }
  }
  assert.ok(hooks >= 8, `${hooks} webhooks`);
});

test('Argo CD waves: CRDs and RBAC first, then the controller/webhook with its configurations, then pools and advertisements', (t) => {
  for (const dir of OVERLAYS) {
    const r = objectsOf(t, dir);
    if (!r) return;
    // Every object says its wave (an unannotated one would land in wave 0, before the CRDs).
    const unannotated = r.objects.filter(
      (o) => o.metadata.annotations?.['argocd.argoproj.io/sync-wave'] === undefined,
    );
    assert.deepEqual(unannotated.map(idOf), [], dir);
    assert.deepEqual(r.objects.filter((o) => Number.isNaN(waveOf(o))).map(idOf), [], dir);
    const order = argoWaves(r.objects).flatMap((w) => w.objects);
    const pos = (kind: string, name?: string): number[] =>
      order.flatMap((o, i) =>
        o.kind === kind && (name === undefined || o.metadata.name === name) ? [i] : [],
      );
    const wave = (kind: string, name?: string): number[] => [
      ...new Set(
        order.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name)).map(waveOf),
      ),
    ];
    const [deployment] = wave('Deployment', 'metallb-controller') as [number];
    const before = (kind: string) =>
      assert.ok(
        wave(kind).every((w) => w < deployment),
        `${dir}: ${kind} waves ${wave(kind).join(',')} not before ${deployment}`,
      );
    for (const k of [
      'Namespace',
      'CustomResourceDefinition',
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
    ])
      before(k);
    // The webhook's Service with the Deployment; the configurations in the same wave, applied after the Deployment
    // (kind order), so the Deployment's health (webhook Ready = its CA in their caBundle) can be reached in that wave.
    assert.deepEqual(wave('Service', 'berth-webhook-service'), [deployment], dir);
    for (const k of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      assert.deepEqual(wave(k), [deployment], `${dir}: ${k}`);
      assert.ok(
        Math.min(...pos(k)) > Math.max(...pos('Deployment')),
        `${dir}: ${k} applied before the Deployment`,
      );
    }
    // Pools and advertisements only after that wave is healthy; the speaker does not hold them back.
    for (const k of ['IPAddressPool', 'L2Advertisement', 'DaemonSet']) {
      assert.ok(
        wave(k).length > 0 && wave(k).every((w) => w > deployment),
        `${dir}: ${k} waves ${wave(k).join(',')}`,
      );
    }
    assert.ok(
      wave('IPAddressPool').every((w) => wave('DaemonSet').every((d) => d <= w)),
      `${dir}: speaker after the pools`,
    );
  }
});

test('a metallb.io object added to an overlay without a wave syncs in the pools wave (components/config-wave)', (t) => {
  if (!objectsOf(t, 'gitops/dev')) return;
  for (const dir of OVERLAYS) {
    const k = parseObjects(readFileSync(join(REPO, dir, 'kustomization.yaml'), 'utf8'))[0] as unknown as {
      components?: string[];
    };
    assert.equal(
      k.components?.at(-1),
      '../components/config-wave',
      `${dir}: config-wave is not its last component`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'berth-gitops-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'peer.yaml'),
    'apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: { name: router, namespace: metallb-system }\nspec: { myASN: 64500, peerASN: 64501, peerAddress: 192.168.1.1 }\n',
  );
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    [
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      'resources: [peer.yaml]',
      `components: [${relative(dir, join(REPO, 'gitops/components/config-wave'))}]`,
      '',
    ].join('\n'),
  );
  const r = kustomize(dir);
  assert.ok(r.ok, r.ok ? '' : r.message);
  const pool = find(objectsOf(t, 'gitops/dev')!.objects, 'IPAddressPool', 'default');
  assert.equal(waveOf(find(r.objects, 'BGPPeer', 'router')), waveOf(pool));
});

test('the image is one variable the overlays set (kustomize images:), per environment replicas and resources', (t) => {
  const replicas: Record<string, number> = { 'gitops/dev': 1, 'gitops/prod': 2 };
  for (const dir of OVERLAYS) {
    const r = objectsOf(t, dir);
    if (!r) return;
    const images = r.objects.flatMap((o) =>
      o.kind === 'Deployment' || o.kind === 'DaemonSet'
        ? podSpec(o).template.spec.containers.map((c) => c.image)
        : [],
    );
    assert.equal(images.length, 3, dir);
    assert.deepEqual([...new Set(images)], ['localhost/berth:0.1.0'], dir);
    assert.equal(podSpec(find(r.objects, 'Deployment', 'metallb-controller')).replicas, replicas[dir], dir);
    const pdb = find(r.objects, 'PodDisruptionBudget', 'metallb-controller')['spec'] as {
      maxUnavailable: number;
      selector: { matchLabels: Record<string, string> };
    };
    assert.equal(pdb.maxUnavailable, 1);
    assert.equal(pdb.selector.matchLabels['app.kubernetes.io/component'], 'controller');
  }
  // base names the image `berth` only: the variable, never a registry.
  const raw = readFileSync(join(REPO, 'gitops/base/controller/deployment.yaml'), 'utf8');
  assert.deepEqual(
    [...raw.matchAll(/image: (\S+)/g)].map((m) => m[1]),
    ['berth', 'berth'],
  );
  const dev = objectsOf(t, 'gitops/dev');
  const prod = objectsOf(t, 'gitops/prod');
  if (!dev || !prod) return;
  const req = (objs: K8sObject[]) =>
    podSpec(find(objs, 'Deployment', 'metallb-controller')).template.spec.containers.map(
      (c) => c.resources?.requests?.['cpu'],
    );
  assert.notDeepEqual(req(dev.objects), req(prod.objects));
});
