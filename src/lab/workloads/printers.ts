// Table columns of the workload and networking kinds, as kube-apiserver prints them
// (pkg/printers/internalversion/printers.go: printPod, printDeployment, printReplicaSet, printNode,
// printEndpointSlice, printEndpoints, printIngress, printIngressClass). Wide-only columns have priority 1.
import { isPlainObject, type KubeObject } from '../types.ts';

export interface PrinterColumnDef {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

/** Columns after NAME and before/after AGE: `cells` returns every cell but NAME and AGE, in `columns` order. */
export interface KindPrinter {
  /** Columns shown before AGE (priority 0), without NAME. */
  before: PrinterColumnDef[];
  /** Columns after AGE (usually priority 1, the `-o wide` ones). */
  after: PrinterColumnDef[];
  cells(o: KubeObject): { before: unknown[]; after: unknown[] };
}

type Obj = Record<string, unknown>;
const obj = (x: unknown): Obj => (isPlainObject(x) ? x : {});
const arr = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);
const num = (x: unknown): number => (typeof x === 'number' ? x : 0);
const c = (name: string, description: string, priority = 0, type = 'string'): PrinterColumnDef => ({ name, type, format: '', description, priority });

/** metav1.FormatLabelSelector: `a=b,c in (x,y)`, `<none>` for an empty selector. */
export function formatLabelSelector(sel: unknown): string {
  const s = obj(sel);
  const parts = Object.entries(obj(s['matchLabels'])).map(([k, v]) => `${k}=${String(v)}`);
  for (const e of arr(s['matchExpressions'])) {
    const x = obj(e);
    const values = arr(x['values']).map(String).join(',');
    switch (x['operator']) {
      case 'In':
        parts.push(`${String(x['key'])} in (${values})`);
        break;
      case 'NotIn':
        parts.push(`${String(x['key'])} notin (${values})`);
        break;
      case 'Exists':
        parts.push(String(x['key']));
        break;
      case 'DoesNotExist':
        parts.push(`!${String(x['key'])}`);
        break;
    }
  }
  return parts.length ? parts.join(',') : '<none>';
}

function containersAndImages(template: unknown): [string, string] {
  const cs = arr(obj(obj(template)['spec'])['containers']).map(obj);
  return [cs.map((x) => String(x['name'] ?? '')).join(','), cs.map((x) => String(x['image'] ?? '')).join(',')];
}

const WIDE_WORKLOAD = [
  c('Containers', 'Names of each container in the template.', 1),
  c('Images', 'Images referenced by each container in the template.', 1),
  c('Selector', 'Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.', 1),
];

function podStatus(o: KubeObject): string {
  const st = obj(o['status']);
  if (o.metadata.deletionTimestamp) return 'Terminating';
  let reason = typeof st['reason'] === 'string' && st['reason'] ? st['reason'] : String(st['phase'] ?? 'Pending');
  for (const cs of arr(st['containerStatuses']).map(obj)) {
    const state = obj(cs['state']);
    const waiting = obj(state['waiting']);
    if (typeof waiting['reason'] === 'string' && waiting['reason']) reason = waiting['reason'];
  }
  if (reason === 'Pending' && obj(o['spec'])['nodeName'] && arr(st['containerStatuses']).length === 0) reason = 'ContainerCreating';
  return reason;
}

const PRINTERS: Record<string, KindPrinter> = {
  'core/pods': {
    before: [
      c('Ready', 'The aggregate readiness state of this pod for accepting traffic.'),
      c('Status', 'The aggregate status of the containers in this pod.'),
      c('Restarts', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
    ],
    after: [
      c('IP', 'IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.', 1),
      c('Node', 'Name of the node this pod is running on.', 1),
      c('Nominated Node', 'Name of the node where the pod is nominated to run, if any.', 1),
      c('Readiness Gates', 'The readiness gates of the pod.', 1),
    ],
    cells(o) {
      const st = obj(o['status']);
      const total = arr(obj(o['spec'])['containers']).length;
      const ready = arr(st['containerStatuses']).filter((x) => obj(x)['ready'] === true).length;
      const restarts = arr(st['containerStatuses']).reduce<number>((n, x) => n + num(obj(x)['restartCount']), 0);
      return {
        before: [`${ready}/${total}`, podStatus(o), String(restarts)],
        after: [
          typeof st['podIP'] === 'string' && st['podIP'] ? st['podIP'] : '<none>',
          (obj(o['spec'])['nodeName'] as string | undefined) || '<none>',
          (st['nominatedNodeName'] as string | undefined) || '<none>',
          '<none>',
        ],
      };
    },
  },
  'apps/deployments': {
    before: [
      c('Ready', 'Number of the pod with ready state'),
      c('Up-to-date', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.', 0, 'integer'),
      c('Available', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.', 0, 'integer'),
    ],
    after: WIDE_WORKLOAD,
    cells(o) {
      const spec = obj(o['spec']);
      const st = obj(o['status']);
      const [containers, images] = containersAndImages(spec['template']);
      return {
        before: [`${num(st['readyReplicas'])}/${typeof spec['replicas'] === 'number' ? spec['replicas'] : 1}`, num(st['updatedReplicas']), num(st['availableReplicas'])],
        after: [containers, images, formatLabelSelector(spec['selector'])],
      };
    },
  },
  'apps/replicasets': {
    before: [
      c('Desired', 'Replicas is the number of desired replicas.', 0, 'integer'),
      c('Current', 'Replicas is the most recently observed number of replicas.', 0, 'integer'),
      c('Ready', 'The number of ready replicas for this replica set.', 0, 'integer'),
    ],
    after: WIDE_WORKLOAD,
    cells(o) {
      const spec = obj(o['spec']);
      const st = obj(o['status']);
      const [containers, images] = containersAndImages(spec['template']);
      return {
        before: [typeof spec['replicas'] === 'number' ? spec['replicas'] : 1, num(st['replicas']), num(st['readyReplicas'])],
        after: [containers, images, formatLabelSelector(spec['selector'])],
      };
    },
  },
  'core/nodes': {
    before: [c('Status', 'The status of the node'), c('Roles', 'The roles of the node')],
    after: [
      c('Version', 'Kubelet Version reported by the node.'),
      c('Internal-IP', 'List of addresses reachable to the node. Queried from cloud provider, if available.', 1),
      c('External-IP', 'List of addresses reachable to the node. Queried from cloud provider, if available.', 1),
      c('OS-Image', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', 1),
      c('Kernel-Version', "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
      c('Container-Runtime', 'Container runtime version reported by the node through runtime remote API (e.g. containerd://1.4.2).', 1),
    ],
    cells(o) {
      const st = obj(o['status']);
      const ready = arr(st['conditions']).map(obj).find((x) => x['type'] === 'Ready');
      let status = ready ? (ready['status'] === 'True' ? 'Ready' : 'NotReady') : 'Unknown';
      if (obj(o['spec'])['unschedulable'] === true) status += ',SchedulingDisabled';
      const roles = Object.keys(o.metadata.labels ?? {})
        .filter((k) => k.startsWith('node-role.kubernetes.io/'))
        .map((k) => k.slice('node-role.kubernetes.io/'.length))
        .filter(Boolean)
        .sort();
      const addr = (type: string) =>
        arr(st['addresses'])
          .map(obj)
          .find((a) => a['type'] === type)?.['address'] ?? '<none>';
      const info = obj(st['nodeInfo']);
      return {
        before: [status, roles.length ? roles.join(',') : '<none>'],
        after: [info['kubeletVersion'] ?? '', addr('InternalIP'), addr('ExternalIP'), info['osImage'] ?? '', info['kernelVersion'] ?? '', info['containerRuntimeVersion'] ?? ''],
      };
    },
  },
  'discovery.k8s.io/endpointslices': {
    before: [
      c('AddressType', 'addressType specifies the type of address carried by this EndpointSlice.'),
      c('Ports', 'ports specifies the list of network ports exposed by each endpoint in this slice.'),
      c('Endpoints', 'endpoints is a list of unique endpoints in this slice.'),
    ],
    after: [],
    cells(o) {
      const ports = arr(o['ports']).map((p) => obj(p)['port']).filter((p) => typeof p === 'number');
      const addrs = arr(o['endpoints']).flatMap((e) => arr(obj(e)['addresses']).map(String));
      const shown = addrs.slice(0, 3).join(',') + (addrs.length > 3 ? ` + ${addrs.length - 3} more...` : '');
      return { before: [o['addressType'] ?? '', ports.length ? ports.join(',') : '<unset>', addrs.length ? shown : '<unset>'], after: [] };
    },
  },
  'core/endpoints': {
    before: [c('Endpoints', 'Endpoints is the list of endpoints in the service.')],
    after: [],
    cells(o) {
      const list: string[] = [];
      for (const s of arr(o['subsets']).map(obj)) {
        const ports = arr(s['ports']).map((p) => obj(p)['port']);
        for (const a of arr(s['addresses']).map(obj)) {
          if (ports.length === 0) list.push(String(a['ip']));
          for (const p of ports) list.push(`${String(a['ip'])}:${String(p)}`);
        }
      }
      const shown = list.slice(0, 3).join(',') + (list.length > 3 ? ` + ${list.length - 3} more...` : '');
      return { before: [list.length ? shown : '<none>'], after: [] };
    },
  },
  'networking.k8s.io/ingresses': {
    before: [
      c('Class', 'The name of the IngressClass resource that should be used for ingress.'),
      c('Hosts', 'Hosts that incoming requests are matched against before the ingress rule'),
      c('Address', 'Address is a list containing ingress points for the load-balancer'),
      c('Ports', 'Ports of TLS configurations that open'),
    ],
    after: [],
    cells(o) {
      const spec = obj(o['spec']);
      const hosts = arr(spec['rules'])
        .map((r) => obj(r)['host'])
        .filter((h): h is string => typeof h === 'string' && h !== '');
      const ing = arr(obj(obj(obj(o['status'])['loadBalancer']))['ingress'])
        .map(obj)
        .map((i) => (i['ip'] ?? i['hostname'] ?? '') as string)
        .filter(Boolean);
      return {
        before: [
          typeof spec['ingressClassName'] === 'string' ? spec['ingressClassName'] : '<none>',
          hosts.length ? hosts.join(',') : '*',
          ing.join(','),
          arr(spec['tls']).length ? '80, 443' : '80',
        ],
        after: [],
      };
    },
  },
  'networking.k8s.io/ingressclasses': {
    before: [c('Controller', 'Controller that is responsible for handling this class'), c('Parameters', 'A reference to a resource with additional parameters')],
    after: [],
    cells(o) {
      const spec = obj(o['spec']);
      const p = obj(spec['parameters']);
      let params = '<none>';
      if (p['name']) params = `${String(p['kind'] ?? '')}${p['apiGroup'] ? `.${String(p['apiGroup'])}` : ''}/${String(p['name'])}`;
      return { before: [spec['controller'] ?? '', params], after: [] };
    },
  },
};

/** The printer of a store bucket's kind, if the lab has one beyond NAME/AGE. */
export function workloadPrinter(storeKey: string): KindPrinter | undefined {
  return PRINTERS[storeKey];
}
