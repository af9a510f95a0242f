// meta.k8s.io/v1 Table answers for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` (what `kubectl get`
// asks for): Service columns as pkg/printers/internalversion/printers.go prints them, CRD additionalPrinterColumns
// (apiextensions tableconvertor), NAME/AGE otherwise.
import type { KubeObject, PrinterColumn, ResourceType } from './types.ts';
import { isPlainObject } from './types.ts';
import type { SvcSpec, SvcStatus } from './service/service-strategy.ts';
import { workloadPrinter } from './workloads/printers.ts';

export interface ColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.floor(hours / 24) % 365;
    return dy === 0 ? `${Math.floor(hours / 24 / 365)}y` : `${Math.floor(hours / 24 / 365)}y${dy}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

function age(o: KubeObject, now: number): string {
  const ts = o.metadata.creationTimestamp;
  if (!ts) return '<unknown>';
  return humanDuration(now - Date.parse(ts));
}

const col = (name: string, type: string, description: string, format = '', priority = 0): ColumnDefinition => ({ name, type, format, description, priority });

const NAME = col('Name', 'string', 'Name must be unique within a namespace.', 'name');
const AGE = col('Age', 'string', 'CreationTimestamp is a timestamp representing the server time when this object was created.');

function serviceRow(o: KubeObject, now: number): unknown[] {
  const s = (isPlainObject(o['spec']) ? o['spec'] : {}) as SvcSpec;
  const st = (isPlainObject(o['status']) ? o['status'] : {}) as SvcStatus;
  const type = s.type ?? 'ClusterIP';
  const clusterIP = s.clusterIPs?.length ? s.clusterIPs.join(',') : s.clusterIP || '<none>';
  const ext = s.externalIPs ?? [];
  let external: string;
  switch (type) {
    case 'ClusterIP':
    case 'NodePort':
      external = ext.length ? ext.join(',') : '<none>';
      break;
    case 'LoadBalancer': {
      const ing = (st.loadBalancer?.ingress ?? []).map((i) => i.ip || i.hostname || '').filter(Boolean);
      const all = [...ing, ...ext];
      external = all.length ? all.join(',') : '<pending>';
      break;
    }
    case 'ExternalName':
      external = s.externalName ?? '<none>';
      break;
    default:
      external = '<unknown>';
  }
  const ports = (s.ports ?? []).map((p) => (p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol ?? 'TCP'}` : `${p.port}/${p.protocol ?? 'TCP'}`));
  const selector = s.selector && Object.keys(s.selector).length ? Object.entries(s.selector).map(([k, v]) => `${k}=${v}`).sort().join(',') : '<none>';
  return [o.metadata.name ?? '', type, clusterIP, external, ports.length ? ports.join(',') : '<none>', age(o, now), selector];
}

const SERVICE_COLUMNS: ColumnDefinition[] = [
  NAME,
  col('Type', 'string', 'type determines how the Service is exposed.'),
  col('Cluster-IP', 'string', 'clusterIP is the IP address of the service and is usually assigned randomly.'),
  col('External-IP', 'string', 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.'),
  col('Port(s)', 'string', 'The list of ports that are exposed by this service.'),
  AGE,
  col('Selector', 'string', 'Route service traffic to pods with label keys and values matching this selector.', '', 1),
];

/** Evaluates the simple JSONPath forms used in printer columns: `.a.b`, `.a[0].b`, `.a['x.y']`. */
export function simpleJsonPath(obj: unknown, path: string): unknown {
  const p = path.trim().replace(/^\{|\}$/g, '');
  const re = /\.([A-Za-z0-9_$-]+)|\[(\d+|\*)\]|\['([^']+)'\]|\["([^"]+)"\]/g;
  // A `[*]` fans out: the result is then the list of every match (a printer column joins them with commas).
  let cur: unknown[] = [obj];
  let fanned = false;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(p))) {
    if (m.index !== consumed) return undefined;
    consumed = re.lastIndex;
    const next: unknown[] = [];
    for (const c of cur) {
      if (c === null || typeof c !== 'object') continue;
      if (m[2] === '*') {
        if (Array.isArray(c)) next.push(...c);
        fanned = true;
      } else if (m[2] !== undefined) {
        if (Array.isArray(c) && c[Number(m[2])] !== undefined) next.push(c[Number(m[2])]);
      } else {
        const v = (c as Record<string, unknown>)[m[1] ?? m[3] ?? m[4] ?? ''];
        if (v !== undefined) next.push(v);
      }
    }
    cur = next;
  }
  if (consumed !== p.length) return undefined;
  return fanned ? cur : cur[0];
}

const fanOut = (path: string): boolean => path.includes('[*]');

function crdCell(c: PrinterColumn, o: KubeObject, now: number): unknown {
  const v = simpleJsonPath(o, c.jsonPath);
  if (v === undefined || v === null) return null;
  if (c.type === 'date' && typeof v === 'string') return humanDuration(now - Date.parse(v));
  if (c.type === 'integer' || c.type === 'number') return typeof v === 'number' ? v : Number(v);
  if (c.type === 'boolean') return Boolean(v);
  // kube-apiserver prints a column with client-go's JSONPath PrintResults: several results (a `[*]` fan-out) are
  // joined by spaces; one result that is itself a list or map is printed as JSON (`["192.168.1.220-192.168.1.250"]`).
  if (fanOut(c.jsonPath) && Array.isArray(v)) return v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' ');
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function rowObject(o: KubeObject, include: IncludeObject): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return o;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
}

export function buildTable(type: ResourceType, version: string, objects: KubeObject[], resourceVersion: string, include: IncludeObject, now = Date.now()): Record<string, unknown> {
  let columns: ColumnDefinition[];
  let cells: (o: KubeObject) => unknown[];
  const printer = type.printerColumns?.[version];
  const kindPrinter = type.crd ? undefined : workloadPrinter(type.storeKey);
  if (kindPrinter) {
    // Pods, Deployments, ReplicaSets, Nodes, EndpointSlices, Endpoints, Ingresses, IngressClasses.
    columns = [NAME, ...kindPrinter.before, AGE, ...kindPrinter.after];
    cells = (o) => {
      const r = kindPrinter.cells(o);
      return [o.metadata.name ?? '', ...r.before, age(o, now), ...r.after];
    };
  } else if (type.storeKey === 'core/services') {
    columns = SERVICE_COLUMNS;
    cells = (o) => serviceRow(o, now);
  } else if (type.storeKey === 'core/namespaces') {
    columns = [NAME, col('Status', 'string', 'The status of the namespace'), AGE];
    cells = (o) => [o.metadata.name ?? '', (isPlainObject(o['status']) ? o['status']['phase'] : undefined) ?? 'Active', age(o, now)];
  } else if (type.storeKey === 'core/events' && !type.view) {
    // kubectl get events: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE (printers.go printEvent).
    columns = [
      col('Last Seen', 'string', 'Time when last this event was observed.'),
      col('Type', 'string', 'Type of this event.'),
      col('Reason', 'string', 'Reason why this event was generated.'),
      col('Object', 'string', 'The object that this event is about.'),
      col('Message', 'string', 'A human-readable description of the status of this operation.'),
    ];
    cells = (o) => {
      const inv = isPlainObject(o['involvedObject']) ? o['involvedObject'] : {};
      const last = (o['lastTimestamp'] ?? o['eventTime'] ?? o.metadata.creationTimestamp) as string | undefined;
      const seen = last ? humanDuration(now - Date.parse(last)) : '<unknown>';
      return [seen, o['type'] ?? '', o['reason'] ?? '', `${String(inv['kind'] ?? '').toLowerCase()}/${String(inv['name'] ?? '')}`, o['message'] ?? ''];
    };
  } else if (printer && printer.length) {
    const hasAge = printer.some((c) => c.jsonPath === '.metadata.creationTimestamp');
    columns = [NAME, ...printer.map((c) => col(c.name, c.type, c.description ?? '', c.format ?? '', c.priority ?? 0))];
    if (!hasAge) columns.push(AGE);
    cells = (o) => {
      const row: unknown[] = [o.metadata.name ?? ''];
      for (const c of printer) row.push(crdCell(c, o, now));
      if (!hasAge) row.push(age(o, now));
      return row;
    };
  } else {
    columns = [NAME, AGE];
    cells = (o) => [o.metadata.name ?? '', age(o, now)];
  }
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: columns,
    rows: objects.map((o) => {
      const row: Record<string, unknown> = { cells: cells(o) };
      const obj = rowObject(o, include);
      if (obj !== undefined) row['object'] = obj;
      return row;
    }),
  };
}

/** Parses the Accept header: does the client want a Table (and which includeObject)? */
export function wantsTable(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => /;\s*as=Table/.test(part) && /;\s*g=meta\.k8s\.io/.test(part));
}
