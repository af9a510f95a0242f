// `GET /api/v1/namespaces/<ns>/pods/<name>/log`, the kubelet's container logs as kube-apiserver proxies them
// (pkg/registry/core/pod/rest/log.go, PodLogOptions), so `kubectl logs deployment/metallb-controller -n metallb-system`
// works in the lab as on a cluster: kubectl GETs the Deployment, lists its Pods by selector, then asks for this
// subresource. The lab runs no containers; it runs berth's controller and webhook as local processes. It stands them
// in as Deployment `metallb-controller` (gitops/base/controller/deployment.yaml, one replica), whose Pods' containers
// `controller` and `webhook` answer with those processes' log files. Any other Pod's container has an empty log.
// Supported: container, follow, tailLines, limitBytes; previous is refused (the lab keeps no terminated container);
// timestamps, sinceSeconds and sinceTime are accepted and not applied (the log files carry no per-line kubelet time).
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { parseDocument } from 'yaml';
import type { Registry } from '../registry.ts';
import type { Rest, Target } from '../rest.ts';
import { Errors, isFailure, type Failure } from '../status.ts';
import type { Store } from '../store.ts';
import { isPlainObject, type KubeObject } from '../types.ts';
import { controllerRef } from './selector.ts';

type Obj = Record<string, unknown>;
const obj = (x: unknown): Obj => (isPlainObject(x) ? x : {});
const arr = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);

/** The Deployment the lab stands its processes in as (MetalLB's name: the runbook's `kubectl logs` commands). */
export const LAB_PROCESS_DEPLOYMENT = 'metallb-controller';

/** The DaemonSet the network lab stands its per-node speaker processes in as (src/lab/network/speaker-pods.ts). */
export const LAB_SPEAKER_DAEMONSET = 'metallb-speaker';

/**
 * Annotation of the Pods the lab runs as local processes rather than fake containers (the speaker Pods of
 * src/lab/network/speaker-pods.ts): the workload controller does not bind, start or change them.
 */
export const LAB_PROCESS_POD_ANNOTATION = 'berth.io/lab-process';

/** The lab's own processes as a Deployment's containers: container name → its log file. */
export interface ProcessLogs {
  /** berth's namespace (metallb-system). */
  namespace: string;
  /** e.g. `{ controller: '<dir>/controller.log', webhook: '<dir>/webhook.log' }`; containers left out log nothing. */
  containers: Readonly<Record<string, string>>;
  /**
   * The per-node processes of DaemonSet metallb-speaker: container name → the log file of the process on a node
   * (e.g. `{ speaker: (node) => '<dir>/speaker-<node>.log' }`). Asked only with a Node name (a DNS subdomain).
   */
  nodeContainers?: Readonly<Record<string, (node: string) => string>>;
}

/** A Kubernetes DNS subdomain (a Node's name): no `/`, no `..`, so safe in a file name. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Is `subresource` the log subresource of this store bucket (only Pods have one)? */
export function hasLog(storeKey: string, subresource: string): boolean {
  return storeKey === 'core/pods' && subresource === 'log';
}

/** The discovery entry of `pods/log`. */
export const LOG_DISCOVERY = { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] };

/** How often a `follow` stream looks for new bytes, in ms. */
const FOLLOW_POLL_MS = 200;

/**
 * gitops/base/controller/deployment.yaml with one replica (the lab runs one controller and one webhook process) and
 * the `kubectl.kubernetes.io/last-applied-configuration` annotation `kubectl apply` would write, so a later
 * `kubectl apply -k gitops/dev` updates it as its own. Throws when the file is missing or not a Deployment.
 */
export function labProcessDeployment(namespace: string): KubeObject {
  const file = new URL('../../../gitops/base/controller/deployment.yaml', import.meta.url);
  const doc = parseDocument(readFileSync(file, 'utf8')).toJS() as KubeObject | null;
  if (!doc || doc.kind !== 'Deployment' || doc.metadata?.name !== LAB_PROCESS_DEPLOYMENT)
    throw new Error(`lab: ${file.pathname} is not Deployment ${LAB_PROCESS_DEPLOYMENT}`);
  const spec = { ...obj(doc['spec']), replicas: 1 };
  const applied: KubeObject = {
    apiVersion: doc.apiVersion,
    kind: doc.kind,
    metadata: { name: LAB_PROCESS_DEPLOYMENT, namespace, labels: { ...(doc.metadata.labels ?? {}) } },
    spec,
  };
  return {
    ...applied,
    metadata: {
      ...applied.metadata,
      annotations: {
        ...(doc.metadata.annotations ?? {}),
        'berth.io/lab': "the lab runs this Deployment's containers as local processes: kubectl logs reads their log files",
        'kubectl.kubernetes.io/last-applied-configuration': `${JSON.stringify(applied)}\n`,
      },
    },
  };
}

/**
 * Creates namespace `p.namespace` and Deployment metallb-controller (labProcessDeployment) when they do not exist
 * (a persisted lab keeps its own, also one `kubectl apply -k gitops/dev` changed). Nothing when `p` names no container.
 */
export async function ensureProcessDeployment(rest: Rest, store: Store, registry: Registry, p: ProcessLogs): Promise<void> {
  if (Object.keys(p.containers).length === 0) return;
  const target = (group: string, plural: string, namespace: string, name: string): Target => ({
    type: registry.resolve(group, 'v1', plural)!,
    version: 'v1',
    namespace,
    name,
    subresource: '',
  });
  if (!store.get('core/namespaces', undefined, p.namespace)) {
    await rest.create(target('', 'namespaces', '', p.namespace), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: p.namespace } }, { dryRun: false });
  }
  if (store.get('apps/deployments', p.namespace, LAB_PROCESS_DEPLOYMENT)) return;
  const r = await rest.create(target('apps', 'deployments', p.namespace, ''), labProcessDeployment(p.namespace), { dryRun: false });
  if (isFailure(r)) throw new Error(`lab: creating Deployment ${LAB_PROCESS_DEPLOYMENT}: ${r.status.message}`);
}

/** The parsed PodLogOptions query, or a 400 naming the value and the rule. */
interface LogQuery {
  container?: string;
  follow: boolean;
  tailLines?: number;
  limitBytes?: number;
}

function parseQuery(q: URLSearchParams, pod: string): LogQuery | Failure {
  const bool = (k: string): boolean => q.get(k) === 'true' || q.get(k) === '1';
  const int = (k: string, min: number): number | undefined | Failure => {
    const v = q.get(k);
    if (v === null || v === '') return undefined;
    if (!/^-?\d+$/.test(v)) return Errors.badRequest(`${k}: Invalid value: "${v}": must be an integer`);
    const n = Number(v);
    if (n < min) return Errors.badRequest(`${k}: Invalid value: ${n}: must be greater than or equal to ${min}`);
    return n;
  };
  const tailLines = int('tailLines', 0);
  if (isFailure(tailLines)) return tailLines;
  const limitBytes = int('limitBytes', 1);
  if (isFailure(limitBytes)) return limitBytes;
  const container = q.get('container') || undefined;
  if (bool('previous')) return Errors.badRequest(`previous terminated container "${container ?? ''}" in pod "${pod}" not found`);
  return {
    ...(container !== undefined ? { container } : {}),
    follow: bool('follow'),
    ...(tailLines !== undefined ? { tailLines } : {}),
    ...(limitBytes !== undefined ? { limitBytes } : {}),
  };
}

/** The last `n` lines of `text` (a final newline does not start a line). */
export function tailLinesOf(text: Buffer, n: number): Buffer {
  if (n === 0) return Buffer.alloc(0);
  let end = text.length;
  if (end > 0 && text[end - 1] === 0x0a) end--;
  let seen = 0;
  for (let i = end - 1; i >= 0; i--) {
    if (text[i] === 0x0a && ++seen === n) return text.subarray(i + 1);
  }
  return text;
}

/** Serves the log subresource; answers `res` itself (a text body or a stream), or returns the failure to send. */
export class PodLogs {
  private readonly follows = new Set<() => void>();

  constructor(
    private readonly store: Store,
    private readonly processes: ProcessLogs | undefined,
  ) {}

  /**
   * The log file of `container` of `pod` when the lab runs it as a process: owner chain to Deployment
   * metallb-controller, or owned by DaemonSet metallb-speaker (the file of the process on the Pod's spec.nodeName).
   */
  fileFor(pod: KubeObject, container: string): string | undefined {
    const p = this.processes;
    if (!p || pod.metadata.namespace !== p.namespace) return undefined;
    const rsRef = controllerRef(pod);
    if (rsRef?.kind === 'DaemonSet' && rsRef.name === LAB_SPEAKER_DAEMONSET) {
      const ds = this.store.get('apps/daemonsets', p.namespace, LAB_SPEAKER_DAEMONSET);
      const node = obj(pod['spec'])['nodeName'];
      const file = p.nodeContainers?.[container];
      if (!ds || ds.metadata.uid !== rsRef.uid || typeof node !== 'string' || !DNS_SUBDOMAIN.test(node) || !file) return undefined;
      return file(node);
    }
    if (rsRef?.kind !== 'ReplicaSet') return undefined;
    const rs = this.store.get('apps/replicasets', p.namespace, rsRef.name);
    if (!rs || rs.metadata.uid !== rsRef.uid) return undefined;
    const dRef = controllerRef(rs);
    if (dRef?.kind !== 'Deployment' || dRef.name !== LAB_PROCESS_DEPLOYMENT) return undefined;
    return p.containers[container];
  }

  serve(namespace: string, name: string, q: URLSearchParams, res: ServerResponse): Failure | undefined {
    const pod = this.store.get('core/pods', namespace, name);
    if (!pod) return Errors.notFound({ group: '', resource: 'pods' }, name);
    const opts = parseQuery(q, name);
    if (isFailure(opts)) return opts;
    const containers = arr(obj(pod['spec'])['containers']).map((c) => String(obj(c)['name'] ?? ''));
    let container = opts.container;
    if (container === undefined) {
      if (containers.length !== 1)
        return Errors.badRequest(`a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`);
      container = containers[0]!;
    }
    if (!containers.includes(container)) return Errors.badRequest(`container ${container} is not valid for pod ${name}`);
    const file = this.fileFor(pod, container);
    const running = obj(pod['status'])['phase'] === 'Running';
    if (!file && !running) return Errors.badRequest(`container "${container}" in pod "${name}" is waiting to start: ContainerCreating`);
    let text: Buffer = file && existsSync(file) ? readFileSync(file) : Buffer.alloc(0);
    const from = text.length;
    if (opts.tailLines !== undefined) text = tailLinesOf(text, opts.tailLines);
    if (opts.limitBytes !== undefined && text.length >= opts.limitBytes) {
      // Like the kubelet: the limit ends the answer, also a follow.
      const body = text.subarray(0, opts.limitBytes);
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': String(body.length), 'Cache-Control': 'no-cache, private' });
      res.end(body);
      return undefined;
    }
    if (!opts.follow || !file) {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': String(text.length), 'Cache-Control': 'no-cache, private' });
      res.end(text);
      return undefined;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private' });
    res.write(text);
    this.follow(file, from, opts.limitBytes !== undefined ? opts.limitBytes - text.length : undefined, res);
    return undefined;
  }

  /** Writes what is appended to `file` after byte `offset` until the client goes (or `budget` bytes were sent). */
  private follow(file: string, offset: number, budget: number | undefined, res: ServerResponse): void {
    let pos = offset;
    let left = budget;
    const timer = setInterval(() => {
      try {
        const size = existsSync(file) ? statSync(file).size : 0;
        if (size < pos) pos = 0; // truncated (a restarted process rewrote it)
        if (size === pos) return;
        const want = Math.min(size - pos, left ?? Infinity, 1 << 20);
        const buf = Buffer.alloc(want);
        const fd = openSync(file, 'r');
        let got = 0;
        try {
          got = readSync(fd, buf, 0, want, pos);
        } finally {
          closeSync(fd);
        }
        pos += got;
        res.write(buf.subarray(0, got));
        if (left !== undefined && (left -= got) <= 0) end();
      } catch {
        end();
      }
    }, FOLLOW_POLL_MS);
    const end = (): void => {
      clearInterval(timer);
      this.follows.delete(end);
      if (!res.writableEnded) res.end();
    };
    this.follows.add(end);
    res.on('close', end);
  }

  /** Ends every follow stream (the lab stops). */
  close(): void {
    for (const end of [...this.follows]) end();
  }
}
