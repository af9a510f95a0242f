// The RBAC of the rendered gitops/prod overlay, evaluated as the API server's RBAC authorizer does (rules of the
// Roles/ClusterRoles bound to a ServiceAccount; resourceNames never authorize create): each process can make every
// call it makes (src/kube, src/webhook), and nothing beyond it — the speaker writes neither Services nor claims.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { kustomize, type K8sObject } from './render.ts';

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}
interface Request {
  group: string;
  /** `services` or `services/status`. */
  resource: string;
  verb: string;
  /** Absent for cluster-scoped resources. */
  namespace?: string;
  name?: string;
}

const NS = 'metallb-system';
const rendered = kustomize('gitops/prod');

function objects(t: TestContext): K8sObject[] | undefined {
  if (!rendered.ok && rendered.skip) {
    t.skip(rendered.skip);
    return undefined;
  }
  assert.ok(rendered.ok, rendered.ok ? '' : rendered.message);
  return rendered.objects;
}

/** Whether ServiceAccount NS/`sa` may make `req`, per the bindings among `objs` (k8s.io/kubernetes rbac/validation). */
function allowed(objs: readonly K8sObject[], sa: string, req: Request): boolean {
  const role = (kind: string, name: string, ns?: string) =>
    objs.find(
      (o) => o.kind === kind && o.metadata.name === name && (ns === undefined || o.metadata.namespace === ns),
    );
  const matches = (r: Rule): boolean =>
    (r.apiGroups ?? []).some((g) => g === '*' || g === req.group) &&
    (r.resources ?? []).some((x) => x === '*' || x === req.resource) &&
    r.verbs.some((v) => v === '*' || v === req.verb) &&
    (!r.resourceNames ||
      r.resourceNames.length === 0 ||
      (req.name !== undefined && req.verb !== 'create' && r.resourceNames.includes(req.name)));
  for (const b of objs) {
    if (b.kind !== 'ClusterRoleBinding' && b.kind !== 'RoleBinding') continue;
    const subjects = (b['subjects'] ?? []) as Array<{ kind: string; name: string; namespace?: string }>;
    if (!subjects.some((s) => s.kind === 'ServiceAccount' && s.name === sa && s.namespace === NS)) continue;
    // A RoleBinding grants only in its own namespace, even when it references a ClusterRole.
    if (b.kind === 'RoleBinding' && req.namespace !== b.metadata.namespace) continue;
    const ref = b['roleRef'] as { kind: string; name: string };
    const r =
      ref.kind === 'ClusterRole'
        ? role('ClusterRole', ref.name)
        : role('Role', ref.name, b.metadata.namespace);
    assert.ok(r, `${b.kind}/${b.metadata.name} refers to missing ${ref.kind}/${ref.name}`);
    if (((r['rules'] ?? []) as Rule[]).some(matches)) return true;
  }
  return false;
}

function req(text: string): Request {
  // "verb group/resource [ns] [name]" with group '' written as "core".
  const [verb, gr, ns, name] = text.split(' ') as [string, string, string?, string?];
  const [group, ...rest] = gr.split('/');
  return {
    verb,
    group: group === 'core' ? '' : group!,
    resource: rest.join('/'),
    ...(ns && ns !== '-' ? { namespace: ns } : {}),
    ...(name ? { name } : {}),
  };
}

// The calls each process makes (src/kube/*.ts, src/controller/main.ts, src/webhook/main.ts + kube-io.ts).
const CONTROLLER_CALLS = [
  'list core/services',
  'watch core/services',
  'get core/services default web',
  'patch core/services default web',
  'patch core/services/status default web',
  'list core/namespaces',
  'watch core/namespaces',
  'create core/events default',
  'patch core/events default',
  'list berth.io/ipaddressclaims',
  'watch berth.io/ipaddressclaims',
  'get berth.io/ipaddressclaims - 192.168.1.240',
  'create berth.io/ipaddressclaims',
  'update berth.io/ipaddressclaims - 192.168.1.240',
  'delete berth.io/ipaddressclaims - 192.168.1.240',
  `list metallb.io/ipaddresspools ${NS}`,
  `watch metallb.io/ipaddresspools ${NS}`,
  `patch metallb.io/ipaddresspools/status ${NS} default`,
  `list metallb.io/communities ${NS}`,
  `watch metallb.io/communities ${NS}`,
  `create coordination.k8s.io/leases ${NS}`,
  `get coordination.k8s.io/leases ${NS} berth-controller`,
  `update coordination.k8s.io/leases ${NS} berth-controller`,
  `get metallb.io/configurationstates ${NS} controller`,
  `create metallb.io/configurationstates ${NS}`,
  `patch metallb.io/configurationstates/status ${NS} controller`,
  `list core/configmaps ${NS} config`,
  `watch core/configmaps ${NS} config`,
];
const WEBHOOK_CALLS = [
  'list berth.io/ipaddressclaims',
  'watch berth.io/ipaddressclaims',
  'get berth.io/ipaddressclaims - 192.168.1.240',
  'create berth.io/ipaddressclaims',
  'update berth.io/ipaddressclaims - 192.168.1.240',
  'delete berth.io/ipaddressclaims - 192.168.1.240',
  'list core/namespaces',
  'watch core/namespaces',
  ...[
    'ipaddresspools',
    'l2advertisements',
    'bgpadvertisements',
    'bgppeers',
    'communities',
    'bfdprofiles',
  ].flatMap((r) => [`list metallb.io/${r} ${NS}`, `watch metallb.io/${r} ${NS}`]),
  `get core/secrets ${NS} berth-webhook-cert`,
  `create core/secrets ${NS}`,
  `update core/secrets ${NS} berth-webhook-cert`,
  `list core/secrets ${NS} berth-webhook-cert`,
  `watch core/secrets ${NS} berth-webhook-cert`,
  'get admissionregistration.k8s.io/mutatingwebhookconfigurations - berth-webhook-configuration',
  'update admissionregistration.k8s.io/mutatingwebhookconfigurations - berth-webhook-configuration',
  'get admissionregistration.k8s.io/validatingwebhookconfigurations - berth-webhook-configuration',
  'update admissionregistration.k8s.io/validatingwebhookconfigurations - berth-webhook-configuration',
  // The caBundle watch: list/watch with fieldSelector metadata.name (authorized as that name).
  'list admissionregistration.k8s.io/mutatingwebhookconfigurations - berth-webhook-configuration',
  'watch admissionregistration.k8s.io/mutatingwebhookconfigurations - berth-webhook-configuration',
  'list admissionregistration.k8s.io/validatingwebhookconfigurations - berth-webhook-configuration',
  'watch admissionregistration.k8s.io/validatingwebhookconfigurations - berth-webhook-configuration',
];
const SPEAKER_READS = [
  'list core/services',
  'watch core/services',
  'list core/nodes',
  'watch core/nodes',
  'list discovery.k8s.io/endpointslices',
  'watch discovery.k8s.io/endpointslices',
  'list berth.io/ipaddressclaims',
  'watch berth.io/ipaddressclaims',
  `list metallb.io/ipaddresspools ${NS}`,
  `list metallb.io/l2advertisements ${NS}`,
  `list metallb.io/bgppeers ${NS}`,
  'create core/events default',
  'patch core/events default',
  `list core/secrets ${NS} memberlist`,
  `watch core/secrets ${NS} memberlist`,
  `create core/secrets ${NS}`,
  `list metallb.io/servicel2statuses ${NS}`,
  `watch metallb.io/servicel2statuses ${NS}`,
  `create metallb.io/servicel2statuses ${NS}`,
  `patch metallb.io/servicel2statuses/status ${NS} l2-abcde`,
  `delete metallb.io/servicel2statuses ${NS} l2-abcde`,
  `list metallb.io/servicebgpstatuses ${NS}`,
  `watch metallb.io/servicebgpstatuses ${NS}`,
  `create metallb.io/servicebgpstatuses ${NS}`,
  `patch metallb.io/servicebgpstatuses/status ${NS} bgp-abcde`,
  `delete metallb.io/servicebgpstatuses ${NS} bgp-abcde`,
  `get metallb.io/configurationstates ${NS} speaker-n1`,
  `create metallb.io/configurationstates ${NS}`,
  `patch metallb.io/configurationstates/status ${NS} speaker-n1`,
  `create coordination.k8s.io/leases ${NS}`,
  `get coordination.k8s.io/leases ${NS} metallb-speaker-n1`,
  `update coordination.k8s.io/leases ${NS} metallb-speaker-n1`,
  `patch coordination.k8s.io/leases ${NS} metallb-speaker-n1`,
  `delete coordination.k8s.io/leases ${NS} metallb-speaker-n1`,
  `list coordination.k8s.io/leases ${NS}`,
  `watch coordination.k8s.io/leases ${NS}`,
];

test('the controller and the webhook (metallb-controller ServiceAccount) can make every call they make', (t) => {
  const objs = objects(t);
  if (!objs) return;
  const missing = [...CONTROLLER_CALLS, ...WEBHOOK_CALLS].filter(
    (c) => !allowed(objs, 'metallb-controller', req(c)),
  );
  assert.deepEqual(missing, []);
  // The Deployment runs as that ServiceAccount, the DaemonSet as the speaker's.
  const sa = (kind: string) =>
    (objs.find((o) => o.kind === kind)!['spec'] as { template: { spec: { serviceAccountName: string } } })
      .template.spec.serviceAccountName;
  assert.equal(sa('Deployment'), 'metallb-controller');
  assert.equal(sa('DaemonSet'), 'metallb-speaker');
});

test('the speaker reads what it announces and writes neither Services nor claims', (t) => {
  const objs = objects(t);
  if (!objs) return;
  assert.deepEqual(
    SPEAKER_READS.filter((c) => !allowed(objs, 'metallb-speaker', req(c))),
    [],
  );
  const writes = ['create', 'update', 'patch', 'delete', 'deletecollection'].flatMap((v) => [
    `${v} core/services default web`,
    `${v} core/services/status default web`,
    `${v} berth.io/ipaddressclaims - 192.168.1.240`,
    `${v} metallb.io/ipaddresspools ${NS} default`,
    `${v} metallb.io/ipaddresspools/status ${NS} default`,
  ]);
  assert.deepEqual(
    writes.filter((c) => allowed(objs, 'metallb-speaker', req(c))),
    [],
  );
  // BGPPeer passwordSecret may name any Secret of the speaker's namespace, so the speaker reads Secrets there (as
  // MetalLB's speaker Role does), and only there; it never writes one but the memberlist Secret it creates.
  assert.equal(allowed(objs, 'metallb-speaker', req(`get core/secrets ${NS} bgp-password`)), true);
  assert.equal(allowed(objs, 'metallb-speaker', req('get core/secrets default any')), false);
  assert.equal(allowed(objs, 'metallb-speaker', req(`update core/secrets ${NS} berth-webhook-cert`)), false);
  assert.equal(allowed(objs, 'metallb-speaker', req(`delete core/secrets ${NS} memberlist`)), false);
});

test('least privilege: no wildcards, Secrets (but the speaker\'s passwordSecret reads) and webhook configurations by name only, pools never written by berth', (t) => {
  const objs = objects(t);
  if (!objs) return;
  for (const r of objs.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')) {
    for (const rule of (r['rules'] ?? []) as Rule[]) {
      for (const f of [rule.apiGroups ?? [], rule.resources ?? [], rule.verbs])
        assert.ok(!f.includes('*'), `${r.kind}/${r.metadata.name}: wildcard`);
    }
  }
  const denied = [
    `get core/secrets ${NS} some-other-secret`,
    'get core/secrets default any',
    `list core/secrets ${NS}`,
    'update admissionregistration.k8s.io/validatingwebhookconfigurations - someone-elses-webhook',
    'update admissionregistration.k8s.io/mutatingwebhookconfigurations - someone-elses-webhook',
    `get core/configmaps ${NS} another-configmap`,
    // Pools are Git's: berth writes only their status.
    `update metallb.io/ipaddresspools ${NS} default`,
    `create metallb.io/ipaddresspools ${NS}`,
    `delete metallb.io/ipaddresspools ${NS} default`,
    'create core/services default',
    'delete core/services default web',
    'create apiextensions.k8s.io/customresourcedefinitions',
  ];
  // The speaker reads the Secrets of its own namespace (BGPPeer passwordSecret: any name, as MetalLB's speaker Role).
  const speakerReads = new Set([`get core/secrets ${NS} some-other-secret`, `list core/secrets ${NS}`]);
  for (const sa of ['metallb-controller', 'metallb-speaker']) {
    assert.deepEqual(
      denied.filter((c) => (sa !== 'metallb-speaker' || !speakerReads.has(c)) && allowed(objs, sa, req(c))),
      [],
      sa,
    );
  }
  // The controller's Lease by name only (the speakers read every speaker's Lease, whose names follow the nodes).
  assert.equal(allowed(objs, 'metallb-controller', req(`get coordination.k8s.io/leases ${NS} another-lease`)), false);
});
