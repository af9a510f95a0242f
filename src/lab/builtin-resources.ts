// The built-in kinds the lab serves, with discovery data as kube-apiserver 1.32 publishes it
// (plural, kind, shortNames, verbs, namespaced).
import type { ResourceType } from './types.ts';
import { coreEventFromEventsV1, eventsV1FromCoreEvent } from './event-view.ts';

const ALL = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

interface Def {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  status?: boolean;
  nameRule?: ResourceType['nameRule'];
  allowCreateOnUpdate?: boolean;
  storeKey?: string;
  skipAdmission?: boolean;
  verbs?: string[];
  generation?: boolean;
}

const defs: Def[] = [
  { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false, shortNames: ['ns'], status: true, nameRule: 'dns1123-label', verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] },
  { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true, shortNames: ['svc'], categories: ['all'], status: true, nameRule: 'dns1035-label' },
  { group: '', version: 'v1', plural: 'endpoints', kind: 'Endpoints', namespaced: true, shortNames: ['ep'], allowCreateOnUpdate: true },
  { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false, shortNames: ['no'], status: true },
  { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true, shortNames: ['ev'], allowCreateOnUpdate: true, storeKey: 'core/events', nameRule: 'path-segment' },
  { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true },
  { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true, shortNames: ['cm'] },
  { group: '', version: 'v1', plural: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true, shortNames: ['sa'] },
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true, shortNames: ['po'], categories: ['all'], status: true },
  { group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', kind: 'EndpointSlice', namespaced: true },
  { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true, shortNames: ['ev'], allowCreateOnUpdate: true, storeKey: 'core/events', nameRule: 'path-segment' },
  { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true },
  { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'mutatingwebhookconfigurations', kind: 'MutatingWebhookConfiguration', generation: true, namespaced: false, categories: ['api-extensions'], skipAdmission: true },
  { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingwebhookconfigurations', kind: 'ValidatingWebhookConfiguration', generation: true, namespaced: false, categories: ['api-extensions'], skipAdmission: true },
  { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingadmissionpolicies', kind: 'ValidatingAdmissionPolicy', generation: true, namespaced: false, categories: ['api-extensions'], status: true },
  { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingadmissionpolicybindings', kind: 'ValidatingAdmissionPolicyBinding', generation: true, namespaced: false, categories: ['api-extensions'] },
  { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition', generation: true, namespaced: false, shortNames: ['crd', 'crds'], categories: ['api-extensions'], status: true },
  { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', generation: true, namespaced: true, shortNames: ['deploy'], categories: ['all'], status: true },
  { group: 'apps', version: 'v1', plural: 'replicasets', kind: 'ReplicaSet', generation: true, namespaced: true, shortNames: ['rs'], categories: ['all'], status: true },
  { group: 'apps', version: 'v1', plural: 'daemonsets', kind: 'DaemonSet', generation: true, namespaced: true, shortNames: ['ds'], categories: ['all'], status: true },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', kind: 'Role', namespaced: true, nameRule: 'path-segment' },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', kind: 'RoleBinding', namespaced: true, nameRule: 'path-segment' },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', kind: 'ClusterRole', namespaced: false, nameRule: 'path-segment' },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', kind: 'ClusterRoleBinding', namespaced: false, nameRule: 'path-segment' },
  { group: 'policy', version: 'v1', plural: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', generation: true, namespaced: true, shortNames: ['pdb'], status: true },
  { group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', kind: 'NetworkPolicy', generation: true, namespaced: true, shortNames: ['netpol'] },
  { group: 'networking.k8s.io', version: 'v1', plural: 'ingresses', kind: 'Ingress', generation: true, namespaced: true, shortNames: ['ing'], status: true },
  { group: 'networking.k8s.io', version: 'v1', plural: 'ingressclasses', kind: 'IngressClass', generation: true, namespaced: false },
];

function singularOf(kind: string): string {
  return kind.toLowerCase();
}

export function builtinResources(): ResourceType[] {
  return defs.map((d) => {
    const r: ResourceType = {
      group: d.group,
      plural: d.plural,
      singular: singularOf(d.kind),
      kind: d.kind,
      listKind: `${d.kind}List`,
      namespaced: d.namespaced,
      shortNames: d.shortNames ?? [],
      categories: d.categories ?? [],
      versions: [d.version],
      storageVersion: d.version,
      verbs: d.verbs ?? ALL,
      statusSubresource: d.status ?? false,
      storeKey: d.storeKey ?? `${d.group || 'core'}/${d.plural}`,
      strategic: true,
      generation: d.generation ?? false,
      nameRule: d.nameRule ?? 'dns1123-subdomain',
      allowCreateOnUpdate: d.allowCreateOnUpdate ?? false,
      requireResourceVersionOnUpdate: false,
    };
    if (d.skipAdmission) r.skipAdmission = true;
    if (d.group === 'events.k8s.io') r.view = { toStorage: coreEventFromEventsV1, fromStorage: eventsV1FromCoreEvent };
    return r;
  });
}
