// The lab's stand-in for kube-controller-manager, kube-scheduler and the kubelets: Deployments get ReplicaSets,
// ReplicaSets get Pods, Pods are bound to the lab's Nodes and become Running/Ready with an IP, and Services with a
// selector get EndpointSlices (and core/v1 Endpoints) that follow their Pods. It watches the store, collects the
// keys that changed, and reconciles them through the REST layer (so admission, resourceVersions and watch
// events are those of any client), one pass at a time. Sources: pkg/controller/deployment, replicaset,
// endpointslice, endpoint, podgc; what differs from a real cluster is listed in src/lab/README.md.
import { randomBytes } from 'node:crypto';
import type { Reply, Rest, Target } from '../rest.ts';
import type { Registry } from '../registry.ts';
import type { Store, StoreEvent } from '../store.ts';
import { isFailure } from '../status.ts';
import { deepEqual } from '../patch/deep-equal.ts';
import { matchLabels } from '../selectors.ts';
import { isPlainObject, type KubeObject } from '../types.ts';
import {
  LABEL_MANAGED_BY,
  LABEL_SERVICE_NAME,
  LABEL_SKIP_MIRROR,
  SLICE_CONTROLLER,
  desiredEndpointSlices,
  desiredEndpointsSubsets,
  podIPs,
  podReady,
  selects,
  serviceSelector,
  type DesiredSlice,
} from './endpoints.ts';
import { PodIpPool } from './pod-ips.ts';
import { LAB_PROCESS_POD_ANNOTATION } from './pod-logs.ts';
import { controllerRef, labelSelectorReqs } from './selector.ts';

type Obj = Record<string, unknown>;
const obj = (x: unknown): Obj => (isPlainObject(x) ? x : {});
const arr = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);
const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
const nowIso = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const key = (ns: string | undefined, name: string | undefined) => `${ns ?? ''}/${name ?? ''}`;
const split = (k: string): [string, string] => {
  const i = k.indexOf('/');
  return [k.slice(0, i), k.slice(i + 1)];
};

export interface WorkloadControllerOptions {
  store: Store;
  rest: Rest;
  registry: Registry;
  log?: (line: string) => void;
  /** Time between a Pod's binding to a Node and its Running/Ready status, in ms (default 300). */
  podStartDelayMs?: number;
  /** IPv4 /24 blocks of Pod IPs (pod-ips.ts; default DEFAULT_POD_IPV4_BLOCKS, the network lab NETWORK_POD_IPV4_BLOCKS). */
  podIpv4Blocks?: readonly string[];
}

const SAFE = 'bcdfghjklmnpqrstvwxz2456789';

/** JSON with object keys sorted at every level: the same template hashes the same whatever wrote it. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isPlainObject(v)) {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
/** pod-template-hash: FNV-32a of the template, its decimal digits mapped to safe characters (rand.SafeEncodeString). */
export function podTemplateHash(template: unknown, collisionCount = 0): string {
  let h = 0x811c9dc5;
  const bytes = Buffer.from(canonicalJson(template ?? {}) + (collisionCount ? String(collisionCount) : ''), 'utf8');
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return [...String(h)].map((d) => SAFE[d.charCodeAt(0) % SAFE.length]).join('');
}

function condition(o: KubeObject, type: string): Obj | undefined {
  return arr(obj(o['status'])['conditions']).map(obj).find((c) => c['type'] === type);
}

/** Keeps a condition's timestamps when its status, reason and message did not change. */
function setCondition(list: Obj[], prev: Obj[] | undefined, c: Obj, now: string, stamps: string[]): void {
  const old = prev?.find((p) => p['type'] === c['type']);
  const same = old && old['status'] === c['status'] && old['reason'] === c['reason'] && old['message'] === c['message'];
  const out: Obj = { ...c };
  for (const s of stamps) {
    if (s === 'lastTransitionTime' && old && old['status'] === c['status']) out[s] = old[s] ?? now;
    else out[s] = same ? (old[s] ?? now) : now;
  }
  if (c['lastProbeTime'] === null) out['lastProbeTime'] = null;
  list.push(out);
}

const nodeReady = (n: KubeObject | undefined): boolean => !!n && condition(n, 'Ready')?.['status'] === 'True';

function intOrPercent(v: unknown, total: number, roundUp: boolean): number {
  if (typeof v === 'number') return v;
  const m = typeof v === 'string' ? /^(\d+)%$/.exec(v) : null;
  if (!m) return 0;
  const x = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(x) : Math.floor(x);
}

export class WorkloadController {
  private readonly store: Store;
  private readonly rest: Rest;
  private readonly registry: Registry;
  private readonly log: (line: string) => void;
  private readonly startDelay: number;
  private readonly ips: PodIpPool;
  private dirty = { deployments: new Set<string>(), replicasets: new Set<string>(), pods: new Set<string>(), services: new Set<string>() };
  /** Namespaces whose ReplicaSets and Pods must be checked for a deleted owner (garbage collection). */
  private gcNamespaces = new Set<string>();
  /** Services with a selector per namespace, so a Pod change touches only those. */
  private readonly servicesByNs = new Map<string, Set<string>>();
  /** Names of the managed EndpointSlices per Service key (ns/name), kept from slice events. */
  private readonly slicesBySvc = new Map<string, Set<string>>();
  /** When each bound Pod was first seen without an IP (ms): the "kubelet" starts it podStartDelayMs later. */
  private readonly bindingSeen = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly unwatch: Array<() => void> = [];
  private scheduled = false;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(opts: WorkloadControllerOptions) {
    this.store = opts.store;
    this.rest = opts.rest;
    this.registry = opts.registry;
    this.log = opts.log ?? (() => undefined);
    this.startDelay = opts.podStartDelayMs ?? 300;
    this.ips = new PodIpPool(opts.podIpv4Blocks);
  }

  /** Starts watching the store and reconciles everything once (objects restored from a snapshot included). */
  start(): void {
    const on = (storeKey: string, fn: (ev: StoreEvent) => void) => this.unwatch.push(this.store.addWatcher({ storeKey, deliver: fn }));
    on('apps/deployments', (ev) => {
      this.dirty.deployments.add(key(ev.object.metadata.namespace, ev.object.metadata.name));
      if (ev.type === 'DELETED') this.gc(ev.object);
      this.kick();
    });
    on('apps/replicasets', (ev) => {
      const o = ev.object;
      this.dirty.replicasets.add(key(o.metadata.namespace, o.metadata.name));
      const owner = controllerRef(o);
      if (owner?.kind === 'Deployment') this.dirty.deployments.add(key(o.metadata.namespace, owner.name));
      if (ev.type === 'DELETED') this.gc(o);
      this.kick();
    });
    on('core/pods', (ev) => this.podEvent(ev));
    on('core/services', (ev) => {
      const o = ev.object;
      const ns = o.metadata.namespace ?? '';
      let set = this.servicesByNs.get(ns);
      if (ev.type !== 'DELETED' && serviceSelector(o)) {
        if (!set) this.servicesByNs.set(ns, (set = new Set()));
        set.add(o.metadata.name ?? '');
      } else set?.delete(o.metadata.name ?? '');
      this.dirty.services.add(key(ns, o.metadata.name));
      this.kick();
    });
    on('core/nodes', () => {
      for (const p of this.store.list('core/pods')) this.dirty.pods.add(key(p.metadata.namespace, p.metadata.name));
      this.kick();
    });
    const sliceOrEndpoints = (ev: StoreEvent, label: string, value: string | undefined) => {
      const labels = ev.object.metadata.labels ?? {};
      if (value === undefined ? labels[label] === undefined : labels[label] !== value) return;
      const svc = label === LABEL_MANAGED_BY ? labels[LABEL_SERVICE_NAME] : ev.object.metadata.name;
      if (svc) {
        this.dirty.services.add(key(ev.object.metadata.namespace, svc));
        this.kick();
      }
    };
    on('discovery.k8s.io/endpointslices', (ev) => {
      if (ev.old) this.indexSlice(ev.old, false);
      this.indexSlice(ev.object, ev.type !== 'DELETED');
      sliceOrEndpoints(ev, LABEL_MANAGED_BY, SLICE_CONTROLLER);
    });
    on('core/endpoints', (ev) => sliceOrEndpoints(ev, LABEL_SKIP_MIRROR, 'true'));
    for (const p of this.store.list('core/pods')) {
      this.ips.markUsed(podIPs(p));
      this.dirty.pods.add(key(p.metadata.namespace, p.metadata.name));
    }
    for (const s of this.store.list('core/services')) {
      if (serviceSelector(s)) {
        const ns = s.metadata.namespace ?? '';
        if (!this.servicesByNs.has(ns)) this.servicesByNs.set(ns, new Set());
        this.servicesByNs.get(ns)!.add(s.metadata.name ?? '');
      }
      this.dirty.services.add(key(s.metadata.namespace, s.metadata.name));
    }
    for (const d of this.store.list('apps/deployments')) this.dirty.deployments.add(key(d.metadata.namespace, d.metadata.name));
    for (const r of this.store.list('apps/replicasets')) this.dirty.replicasets.add(key(r.metadata.namespace, r.metadata.name));
    for (const ns of this.store.list('core/namespaces')) this.gcNamespaces.add(ns.metadata.name ?? '');
    // Slices and Endpoints left by Services deleted while the lab was down.
    for (const s of this.store.list('discovery.k8s.io/endpointslices')) {
      this.indexSlice(s, true);
      const l = s.metadata.labels ?? {};
      if (l[LABEL_MANAGED_BY] === SLICE_CONTROLLER && l[LABEL_SERVICE_NAME]) this.dirty.services.add(key(s.metadata.namespace, l[LABEL_SERVICE_NAME]));
    }
    this.kick();
  }

  /** Stops watching and timers; waits for the pass under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unwatch) u();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.running;
  }

  private indexSlice(s: KubeObject, present: boolean): void {
    const l = s.metadata.labels ?? {};
    if (l[LABEL_MANAGED_BY] !== SLICE_CONTROLLER || !l[LABEL_SERVICE_NAME]) return;
    const k = key(s.metadata.namespace, l[LABEL_SERVICE_NAME]);
    let set = this.slicesBySvc.get(k);
    if (present) {
      if (!set) this.slicesBySvc.set(k, (set = new Set()));
      set.add(s.metadata.name ?? '');
    } else if (set) {
      set.delete(s.metadata.name ?? '');
      if (set.size === 0) this.slicesBySvc.delete(k);
    }
  }

  private podEvent(ev: StoreEvent): void {
    const p = ev.object;
    const ns = p.metadata.namespace ?? '';
    if (ev.type === 'DELETED') {
      this.ips.release(podIPs(p));
      this.bindingSeen.delete(p.metadata.uid ?? '');
    } else this.ips.markUsed(podIPs(p));
    this.dirty.pods.add(key(ns, p.metadata.name));
    const owner = controllerRef(p);
    if (owner?.kind === 'ReplicaSet') this.dirty.replicasets.add(key(ns, owner.name));
    const svcs = this.servicesByNs.get(ns);
    if (svcs) {
      for (const name of svcs) {
        const svc = this.store.get('core/services', ns, name);
        const sel = svc && serviceSelector(svc);
        if (sel && (selects(sel, p.metadata.labels) || (ev.old && selects(sel, ev.old.metadata.labels)))) this.dirty.services.add(key(ns, name));
      }
    }
    this.kick();
  }

  private gc(owner: KubeObject): void {
    this.gcNamespaces.add(owner.metadata.namespace ?? '');
  }

  private kick(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.stopped) return;
      if (this.running) {
        // The running pass loops until nothing is dirty.
        return;
      }
      this.running = this.loop().finally(() => {
        this.running = undefined;
      });
    });
  }

  private hasDirty(): boolean {
    const d = this.dirty;
    return d.deployments.size + d.replicasets.size + d.pods.size + d.services.size + this.gcNamespaces.size > 0;
  }

  private async loop(): Promise<void> {
    while (!this.stopped && this.hasDirty()) {
      const d = this.dirty;
      const gcNs = this.gcNamespaces;
      this.dirty = { deployments: new Set(), replicasets: new Set(), pods: new Set(), services: new Set() };
      this.gcNamespaces = new Set();
      // One failing object never stops the others (a bug here must not freeze the lab's workloads).
      const each = async (what: string, keys: Iterable<string>, fn: (k: string) => Promise<void>) => {
        for (const k of keys) {
          if (this.stopped) return;
          try {
            await fn(k);
          } catch (e) {
            this.log(`lab: workload controller: ${what} ${k}: ${(e as Error).stack ?? String(e)}`);
          }
        }
      };
      await each('garbage collection in', gcNs, (ns) => this.collectGarbage(ns));
      await each('deployment', d.deployments, (k) => this.syncDeployment(...split(k)));
      await each('replicaset', d.replicasets, (k) => this.syncReplicaSet(...split(k)));
      await each('pod', d.pods, (k) => this.syncPod(...split(k)));
      await each('service', d.services, (k) => this.syncService(...split(k)));
    }
  }

  private later(ms: number, fn: () => void): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
      this.kick();
    }, ms);
    this.timers.add(t);
  }

  // ---------- writes ----------

  private target(group: string, plural: string, namespace: string, name: string, subresource = ''): Target {
    return { type: this.registry.resolve(group, 'v1', plural)!, version: 'v1', namespace, name, subresource };
  }

  /** Logs a failed write; a conflict marks `retry` dirty again shortly (another writer got there first). */
  private failed(what: string, r: unknown, retry?: () => void): boolean {
    if (!isFailure(r)) return false;
    if (r.code === 409 && retry) this.later(50, retry);
    else if (r.code !== 404 && r.code !== 403) this.log(`lab: workload controller: ${what}: ${r.status.message ?? r.code}`);
    return true;
  }

  private async create(group: string, plural: string, ns: string, body: KubeObject, what: string): Promise<KubeObject | undefined> {
    const r = await this.rest.create(this.target(group, plural, ns, ''), body, { dryRun: false });
    return this.failed(what, r) ? undefined : ((r as Reply).body as KubeObject);
  }

  private eventSeq = 0;

  /** Records a core/v1 Event about `about` (type Normal unless given), as the named component would. */
  private async event(about: KubeObject, reason: string, message: string, component: string, opts: { host?: string; type?: 'Normal' | 'Warning' } = {}): Promise<void> {
    const now = nowIso();
    const ns = about.metadata.namespace || 'default';
    const suffix = (BigInt(Date.now()) * 1_000_000n + BigInt(this.eventSeq++ % 1_000_000)).toString(16);
    const ev: KubeObject = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${about.metadata.name ?? ''}.${suffix}`, namespace: ns },
      involvedObject: { kind: about.kind, namespace: ns, name: about.metadata.name ?? '', uid: about.metadata.uid ?? '', apiVersion: about.apiVersion, resourceVersion: about.metadata.resourceVersion ?? '' },
      reason,
      message,
      source: { component, ...(opts.host ? { host: opts.host } : {}) },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      type: opts.type ?? 'Normal',
      eventTime: null,
      reportingComponent: component,
      reportingInstance: opts.host ?? '',
    };
    await this.create('', 'events', ns, ev, `event ${reason} for ${ns}/${about.metadata.name}`);
  }

  private async update(group: string, plural: string, o: KubeObject, sub: '' | 'status', what: string, retry: () => void): Promise<void> {
    const r = await this.rest.update(this.target(group, plural, o.metadata.namespace ?? '', o.metadata.name ?? '', sub), o, { dryRun: false });
    this.failed(what, r, retry);
  }

  /** Deletes `o` (precondition: its uid); true when it was deleted. */
  private async remove(group: string, plural: string, o: KubeObject, what: string): Promise<boolean> {
    const r = await this.rest.delete(this.target(group, plural, o.metadata.namespace ?? '', o.metadata.name ?? ''), {
      dryRun: false,
      preconditions: { uid: o.metadata.uid ?? '' },
    });
    return !this.failed(what, r);
  }

  // ---------- garbage collection ----------

  /** Deletes ReplicaSets whose Deployment and Pods whose ReplicaSet no longer exist (ownerReferences by uid). */
  private async collectGarbage(ns: string): Promise<void> {
    const deployments = new Set(this.store.list('apps/deployments', ns).map((d) => d.metadata.uid));
    for (const rs of this.store.list('apps/replicasets', ns)) {
      const owner = controllerRef(rs);
      if (owner?.kind === 'Deployment' && !deployments.has(owner.uid)) await this.remove('apps', 'replicasets', rs, `garbage-collect replicaset ${ns}/${rs.metadata.name}`);
    }
    const sets = new Set(this.store.list('apps/replicasets', ns).map((r) => r.metadata.uid));
    for (const pod of this.store.list('core/pods', ns)) {
      const owner = controllerRef(pod);
      if (owner?.kind === 'ReplicaSet' && !sets.has(owner.uid)) await this.remove('', 'pods', pod, `garbage-collect pod ${ns}/${pod.metadata.name}`);
    }
  }

  // ---------- Deployments ----------

  private ownedBy<T extends KubeObject>(list: T[], uid: string | undefined): T[] {
    return list.filter((o) => controllerRef(o)?.uid === uid && !o.metadata.deletionTimestamp);
  }

  /**
   * One ReplicaSet per pod template (named `<deployment>-<pod-template-hash>`): the current one gets
   * spec.replicas, older ones are scaled to 0 at once (a rollout without surge steps) and pruned beyond
   * revisionHistoryLimit; then the status and conditions of deployment_controller.go are written.
   */
  private async syncDeployment(ns: string, name: string): Promise<void> {
    const d = this.store.get('apps/deployments', ns, name);
    if (!d || d.metadata.deletionTimestamp) return;
    const spec = obj(d['spec']);
    const replicas = typeof spec['replicas'] === 'number' ? spec['replicas'] : 1;
    const template = obj(spec['template']);
    const selector = labelSelectorReqs(spec['selector']);
    if (!selector) return;
    const hash = podTemplateHash(template);
    const owned = this.ownedBy(this.store.list('apps/replicasets', ns), d.metadata.uid);
    const revisionOf = (rs: KubeObject) => Number(rs.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0) || 0;
    let current = owned.find((rs) => rs.metadata.labels?.['pod-template-hash'] === hash);
    const maxRevision = owned.reduce((m, rs) => Math.max(m, revisionOf(rs)), 0);
    const paused = spec['paused'] === true;
    const annotations = (rev: number) => ({
      'deployment.kubernetes.io/desired-replicas': String(replicas),
      'deployment.kubernetes.io/max-replicas': String(replicas + intOrPercent(obj(obj(spec['strategy'])['rollingUpdate'])['maxSurge'], replicas, true)),
      'deployment.kubernetes.io/revision': String(rev),
    });
    if (!current && !paused) {
      const tmeta = obj(template['metadata']);
      const podLabels = { ...(obj(tmeta['labels']) as Record<string, string>), 'pod-template-hash': hash };
      const sel = clone(obj(spec['selector']));
      sel['matchLabels'] = { ...obj(sel['matchLabels']), 'pod-template-hash': hash };
      const rs: KubeObject = {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: `${name}-${hash}`,
          namespace: ns,
          labels: podLabels,
          annotations: annotations(maxRevision + 1),
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: d.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }],
        },
        spec: { replicas, minReadySeconds: spec['minReadySeconds'] ?? 0, selector: sel, template: { ...clone(template), metadata: { ...clone(tmeta), labels: podLabels } } },
      };
      const made = await this.create('apps', 'replicasets', ns, rs, `create replicaset ${ns}/${name}-${hash}`);
      if (made && replicas > 0) await this.event(d, 'ScalingReplicaSet', `Scaled up replica set ${made.metadata.name} from 0 to ${replicas}`, 'deployment-controller');
      current = this.store.get('apps/replicasets', ns, `${name}-${hash}`);
    }
    const retry = () => this.dirty.deployments.add(key(ns, name));
    // The current ReplicaSet holds the highest revision (a rollback to an older template renumbers it).
    const maxOld = owned.filter((rs) => rs !== current).reduce((m, rs) => Math.max(m, revisionOf(rs)), 0);
    const revision = current && revisionOf(current) > maxOld ? revisionOf(current) : maxOld + 1;
    for (const rs of owned) {
      const want = rs === current ? replicas : 0;
      const rsSpec = obj(rs['spec']);
      const ann = rs === current ? annotations(revision) : rs.metadata.annotations;
      if (paused || (rsSpec['replicas'] === want && deepEqual(rs.metadata.annotations, ann))) continue;
      await this.update('apps', 'replicasets', { ...rs, metadata: { ...rs.metadata, annotations: ann ?? {} }, spec: { ...rsSpec, replicas: want } }, '', `scale replicaset ${ns}/${rs.metadata.name}`, retry);
      const had = typeof rsSpec['replicas'] === 'number' ? rsSpec['replicas'] : 1;
      if (had !== want) await this.event(d, 'ScalingReplicaSet', `Scaled ${want > had ? 'up' : 'down'} replica set ${rs.metadata.name} from ${had} to ${want}`, 'deployment-controller');
    }
    // The Deployment carries its current revision (what `kubectl rollout undo` patches and history reads).
    const annotated = this.store.get('apps/deployments', ns, name);
    if (!paused && current && annotated && annotated.metadata.annotations?.['deployment.kubernetes.io/revision'] !== String(revision)) {
      const metadata = { ...annotated.metadata, annotations: { ...(annotated.metadata.annotations ?? {}), 'deployment.kubernetes.io/revision': String(revision) } };
      await this.update('apps', 'deployments', { ...annotated, metadata }, '', `annotate deployment ${ns}/${name}`, retry);
    }
    // revisionHistoryLimit: old ReplicaSets with no replicas beyond the limit go, oldest first.
    const limit = typeof spec['revisionHistoryLimit'] === 'number' ? spec['revisionHistoryLimit'] : 10;
    const old = owned.filter((rs) => rs !== current && obj(rs['spec'])['replicas'] === 0 && obj(rs['status'])['replicas'] === 0).sort((a, b) => revisionOf(a) - revisionOf(b));
    for (const rs of old.slice(0, Math.max(0, old.length - limit))) await this.remove('apps', 'replicasets', rs, `prune replicaset ${ns}/${rs.metadata.name}`);

    // Status from the Pods of every owned ReplicaSet (what the ReplicaSets' statuses add up to).
    const fresh = this.store.get('apps/deployments', ns, name);
    if (!fresh) return;
    const sets = this.ownedBy(this.store.list('apps/replicasets', ns), d.metadata.uid);
    const pods = this.store.list('core/pods', ns).filter((p) => !p.metadata.deletionTimestamp && ['Pending', 'Running', undefined].includes(obj(p['status'])['phase'] as string | undefined));
    const podsOf = (rs: KubeObject | undefined) => (rs ? pods.filter((p) => controllerRef(p)?.uid === rs.metadata.uid) : []);
    const all = sets.flatMap((rs) => podsOf(rs));
    const updated = podsOf(current);
    const ready = all.filter(podReady).length;
    const unavailable = Math.max(0, replicas - ready);
    const maxUnavailable = intOrPercent(obj(obj(spec['strategy'])['rollingUpdate'])['maxUnavailable'], replicas, false);
    const prev = arr(obj(fresh['status'])['conditions']).map(obj);
    const now = nowIso();
    const conditions: Obj[] = [];
    const available = ready >= replicas - maxUnavailable;
    setCondition(
      conditions,
      prev,
      available
        ? { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' }
        : { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' },
      now,
      ['lastUpdateTime', 'lastTransitionTime'],
    );
    const rsName = current?.metadata.name ?? `${name}-${hash}`;
    const complete = updated.length === replicas && all.length === replicas && ready >= replicas;
    setCondition(
      conditions,
      prev,
      paused
        ? { type: 'Progressing', status: 'Unknown', reason: 'DeploymentPaused', message: 'Deployment is paused' }
        : complete
          ? { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${rsName}" has successfully progressed.` }
          : { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: `ReplicaSet "${rsName}" is progressing.` },
      now,
      ['lastUpdateTime', 'lastTransitionTime'],
    );
    const status: Obj = { observedGeneration: fresh.metadata.generation ?? 1, replicas: all.length, updatedReplicas: updated.length, readyReplicas: ready, availableReplicas: ready };
    if (unavailable) status['unavailableReplicas'] = unavailable;
    for (const k of ['replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas'] as const) if (status[k] === 0) delete status[k];
    status['conditions'] = conditions;
    if (deepEqual(fresh['status'], status)) return;
    await this.update('apps', 'deployments', { ...fresh, status }, 'status', `status of deployment ${ns}/${name}`, retry);
  }

  // ---------- ReplicaSets ----------

  private async syncReplicaSet(ns: string, name: string): Promise<void> {
    const rs = this.store.get('apps/replicasets', ns, name);
    if (!rs || rs.metadata.deletionTimestamp) return;
    const owner = controllerRef(rs);
    if (owner?.kind === 'Deployment' && !this.store.list('apps/deployments', ns).some((d) => d.metadata.uid === owner.uid)) {
      await this.remove('apps', 'replicasets', rs, `garbage-collect replicaset ${ns}/${name}`);
      return;
    }
    const spec = obj(rs['spec']);
    const want = typeof spec['replicas'] === 'number' ? spec['replicas'] : 1;
    const selector = labelSelectorReqs(spec['selector']);
    if (!selector) return;
    // A Pod of ours whose labels no longer match the selector is released (its controller reference removed),
    // as the ReplicaSet controller's ClaimPods does; it keeps running outside the ReplicaSet.
    for (const p of this.store.list('core/pods', ns)) {
      if (controllerRef(p)?.uid !== rs.metadata.uid || p.metadata.deletionTimestamp || matchLabels(selector, p.metadata.labels)) continue;
      const ownerReferences = (p.metadata.ownerReferences ?? []).filter((r) => r['uid'] !== rs.metadata.uid);
      const { ownerReferences: _dropped, ...rest } = p.metadata;
      const metadata = ownerReferences.length ? { ...rest, ownerReferences } : rest;
      await this.update('', 'pods', { ...p, metadata }, '', `release pod ${ns}/${p.metadata.name}`, () => this.dirty.replicasets.add(key(ns, name)));
    }
    const active = () =>
      this.store
        .list('core/pods', ns)
        .filter((p) => controllerRef(p)?.uid === rs.metadata.uid && matchLabels(selector, p.metadata.labels) && !p.metadata.deletionTimestamp && !['Succeeded', 'Failed'].includes(obj(p['status'])['phase'] as string));
    let pods = active();
    const template = obj(spec['template']);
    for (let i = pods.length; i < want; i++) {
      const tmeta = obj(template['metadata']);
      const pod: KubeObject = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          generateName: `${name}-`,
          namespace: ns,
          labels: { ...(obj(tmeta['labels']) as Record<string, string>) },
          ...(isPlainObject(tmeta['annotations']) ? { annotations: { ...(tmeta['annotations'] as Record<string, string>) } } : {}),
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name, uid: rs.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }],
        },
        spec: clone(obj(template['spec'])),
      };
      const made = await this.create('', 'pods', ns, pod, `create pod for replicaset ${ns}/${name}`);
      if (made) await this.event(rs, 'SuccessfulCreate', `Created pod: ${made.metadata.name}`, 'replicaset-controller');
    }
    if (pods.length > want) {
      // controller.ActivePods order: unscheduled, then not running, then not ready, then the newest first.
      const rank = (p: KubeObject) => (obj(p['spec'])['nodeName'] ? 0 : 4) + (obj(p['status'])['phase'] === 'Running' ? 0 : 2) + (podReady(p) ? 0 : 1);
      const victims = [...pods].sort((a, b) => rank(b) - rank(a) || String(b.metadata.creationTimestamp).localeCompare(String(a.metadata.creationTimestamp)) || String(b.metadata.name).localeCompare(String(a.metadata.name)));
      for (const p of victims.slice(0, pods.length - want)) {
        if (await this.remove('', 'pods', p, `scale down replicaset ${ns}/${name}`)) await this.event(rs, 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`, 'replicaset-controller');
      }
    }
    pods = active();
    const fresh = this.store.get('apps/replicasets', ns, name);
    if (!fresh) return;
    const tlabels = obj(obj(template['metadata'])['labels']) as Record<string, string>;
    const ready = pods.filter(podReady).length;
    const status: Obj = {
      replicas: pods.length,
      fullyLabeledReplicas: pods.filter((p) => matchLabels(selector, p.metadata.labels) && Object.entries(tlabels).every(([k, v]) => p.metadata.labels?.[k] === v)).length,
      readyReplicas: ready,
      availableReplicas: ready,
      observedGeneration: fresh.metadata.generation ?? 1,
    };
    for (const k of ['fullyLabeledReplicas', 'readyReplicas', 'availableReplicas'] as const) if (status[k] === 0) delete status[k];
    if (deepEqual(fresh['status'], status)) return;
    await this.update('apps', 'replicasets', { ...fresh, status }, 'status', `status of replicaset ${ns}/${name}`, () => this.dirty.replicasets.add(key(ns, name)));
  }

  // ---------- Pods: scheduler and kubelet ----------

  private schedulable(pod: KubeObject): KubeObject[] {
    const sel = obj(obj(pod['spec'])['nodeSelector']) as Record<string, string>;
    return this.store
      .list('core/nodes')
      .filter((n) => nodeReady(n) && obj(n['spec'])['unschedulable'] !== true && !n.metadata.deletionTimestamp && selects(sel, n.metadata.labels));
  }

  private async syncPod(ns: string, name: string): Promise<void> {
    const pod = this.store.get('core/pods', ns, name);
    if (!pod || pod.metadata.deletionTimestamp) return;
    // A Pod the lab runs as a process (the network lab's speakers): its status is that process's, written by its owner.
    if (pod.metadata.annotations?.[LAB_PROCESS_POD_ANNOTATION]) return;
    const spec = obj(pod['spec']);
    const status = obj(pod['status']);
    const retry = () => this.dirty.pods.add(key(ns, name));
    const nodeName = typeof spec['nodeName'] === 'string' ? spec['nodeName'] : '';
    const now = nowIso();
    const prevConds = arr(status['conditions']).map(obj);
    if (!nodeName) {
      // kube-scheduler: a Ready, schedulable Node matching nodeSelector, spreading the Pods of one controller
      // (the default topology spread by hostname), then the fewest Pods, then by name.
      const nodes = this.schedulable(pod);
      if (nodes.length === 0) {
        const total = this.store.count('core/nodes');
        const conditions: Obj[] = [];
        setCondition(conditions, prevConds, { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: `0/${total} nodes are available: ${total === 0 ? 'no nodes available to schedule pods' : `${total} node(s) didn't match Pod's node affinity/selector or were not ready`}.`, lastProbeTime: null }, now, ['lastTransitionTime']);
        const next = { ...status, phase: 'Pending', conditions };
        if (!deepEqual(status, next)) {
          await this.update('', 'pods', { ...pod, status: next }, 'status', `status of pod ${ns}/${name}`, retry);
          await this.event(pod, 'FailedScheduling', String(conditions[0]!['message']), 'default-scheduler', { type: 'Warning' });
        }
        return;
      }
      const load = new Map<string, number>();
      const siblings = new Map<string, number>();
      const owner = controllerRef(pod)?.uid;
      for (const p of this.store.list('core/pods')) {
        const n = obj(p['spec'])['nodeName'];
        if (typeof n !== 'string') continue;
        load.set(n, (load.get(n) ?? 0) + 1);
        if (owner && controllerRef(p)?.uid === owner) siblings.set(n, (siblings.get(n) ?? 0) + 1);
      }
      const by = (m: Map<string, number>, n: KubeObject) => m.get(n.metadata.name ?? '') ?? 0;
      const node = nodes.sort((a, b) => by(siblings, a) - by(siblings, b) || by(load, a) - by(load, b) || String(a.metadata.name).localeCompare(String(b.metadata.name)))[0]!;
      await this.update('', 'pods', { ...pod, spec: { ...spec, nodeName: node.metadata.name } }, '', `bind pod ${ns}/${name}`, retry);
      await this.event(pod, 'Scheduled', `Successfully assigned ${ns}/${name} to ${node.metadata.name}`, 'default-scheduler');
      return;
    }
    const node = this.store.get('core/nodes', undefined, nodeName);
    if (!node) {
      // PodGC: a Pod bound to a Node that no longer exists is deleted (its controller makes another).
      if (controllerRef(pod)) await this.remove('', 'pods', pod, `garbage-collect pod ${ns}/${name} of deleted node ${nodeName}`);
      return;
    }
    if (status['phase'] === 'Succeeded' || status['phase'] === 'Failed') return;
    const ready = nodeReady(node);
    let ips = podIPs(pod);
    let startedAt = typeof status['startTime'] === 'string' ? status['startTime'] : undefined;
    if (ips.length === 0) {
      const uid = pod.metadata.uid ?? '';
      const seen = this.bindingSeen.get(uid);
      const t = Date.now();
      if (seen === undefined) this.bindingSeen.set(uid, t);
      const wait = this.startDelay - (t - (seen ?? t));
      if (wait > 0) {
        this.later(wait, retry);
        return;
      }
      if (!ready) return; // a NotReady node starts nothing
      const got = this.ips.allocate();
      if (!got) {
        this.log(`lab: workload controller: no pod IP left for ${ns}/${name} (all ${this.ips.capacity} are in use: ${this.ips.describe()})`);
        return;
      }
      this.bindingSeen.delete(uid);
      ips = got;
      startedAt = now;
    }
    const hostIPs = arr(obj(node['status'])['addresses'])
      .map(obj)
      .filter((a) => a['type'] === 'InternalIP')
      .map((a) => String(a['address']));
    const containers = arr(spec['containers']).map(obj);
    const prevStatuses = arr(status['containerStatuses']).map(obj);
    const containerStatuses = containers.map((c) => {
      const old = prevStatuses.find((s) => s['name'] === c['name']);
      const image = String(c['image'] ?? '');
      return {
        containerID: old?.['containerID'] ?? `containerd://${randomBytes(32).toString('hex')}`,
        image: image.includes('/') || image === '' ? image : `docker.io/library/${image.includes(':') ? image : `${image}:latest`}`,
        imageID: old?.['imageID'] ?? '',
        lastState: {},
        name: c['name'],
        ready,
        restartCount: 0,
        started: true,
        state: { running: { startedAt: obj(obj(old?.['state'])['running'])['startedAt'] ?? startedAt ?? now } },
      };
    });
    const conditions: Obj[] = [];
    const t = ['lastTransitionTime'];
    setCondition(conditions, prevConds, { type: 'PodReadyToStartContainers', status: 'True', lastProbeTime: null }, now, t);
    setCondition(conditions, prevConds, { type: 'Initialized', status: 'True', lastProbeTime: null }, now, t);
    setCondition(conditions, prevConds, ready ? { type: 'Ready', status: 'True', lastProbeTime: null } : { type: 'Ready', status: 'False', reason: 'NodeNotReady', lastProbeTime: null }, now, t);
    setCondition(conditions, prevConds, ready ? { type: 'ContainersReady', status: 'True', lastProbeTime: null } : { type: 'ContainersReady', status: 'False', reason: 'NodeNotReady', lastProbeTime: null }, now, t);
    setCondition(conditions, prevConds, { type: 'PodScheduled', status: 'True', lastProbeTime: null }, now, t);
    const next: Obj = {
      phase: 'Running',
      conditions,
      hostIP: hostIPs[0] ?? '',
      hostIPs: hostIPs.map((ip) => ({ ip })),
      podIP: ips[0],
      podIPs: ips.map((ip) => ({ ip })),
      startTime: startedAt ?? now,
      containerStatuses,
      qosClass: status['qosClass'] ?? 'BestEffort',
    };
    if (deepEqual(status, next)) return;
    await this.update('', 'pods', { ...pod, status: next }, 'status', `status of pod ${ns}/${name}`, retry);
    if (podIPs(pod).length === 0) {
      // The kubelet's events of a container start (image "already present": the lab pulls nothing).
      for (const c of containers) {
        const host = { host: nodeName };
        await this.event(pod, 'Pulled', `Container image "${String(c['image'] ?? '')}" already present on machine`, 'kubelet', host);
        await this.event(pod, 'Created', `Created container: ${String(c['name'] ?? '')}`, 'kubelet', host);
        await this.event(pod, 'Started', `Started container ${String(c['name'] ?? '')}`, 'kubelet', host);
      }
    }
  }

  // ---------- Services: EndpointSlices and Endpoints ----------

  private async syncService(ns: string, name: string): Promise<void> {
    const svc = this.store.get('core/services', ns, name);
    const live = svc && !svc.metadata.deletionTimestamp && serviceSelector(svc) ? svc : undefined;
    const existing = [...(this.slicesBySvc.get(key(ns, name)) ?? [])]
      .sort()
      .map((n) => this.store.get('discovery.k8s.io/endpointslices', ns, n))
      .filter((s): s is KubeObject => !!s && s.metadata.labels?.[LABEL_MANAGED_BY] === SLICE_CONTROLLER && s.metadata.labels?.[LABEL_SERVICE_NAME] === name);
    const mirrored = this.store.get('core/endpoints', ns, name);
    const ours = mirrored?.metadata.labels?.[LABEL_SKIP_MIRROR] === 'true' ? mirrored : undefined;
    if (!live) {
      for (const s of existing) await this.remove('discovery.k8s.io', 'endpointslices', s, `delete endpointslice ${ns}/${s.metadata.name}`);
      if (ours) await this.remove('', 'endpoints', ours, `delete endpoints ${ns}/${name}`);
      return;
    }
    const pods = this.store.list('core/pods', ns);
    const desired = desiredEndpointSlices(live, pods, this.store.list('core/nodes'));
    const retry = () => this.dirty.services.add(key(ns, name));
    const labels: Record<string, string> = { ...(live.metadata.labels ?? {}), [LABEL_SERVICE_NAME]: name, [LABEL_MANAGED_BY]: SLICE_CONTROLLER };
    if (obj(live['spec'])['clusterIP'] === 'None') labels['service.kubernetes.io/headless'] = '';
    const ownerReferences = [{ apiVersion: 'v1', kind: 'Service', name, uid: live.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }];
    const sliceKey = (s: object) => JSON.stringify([(s as Obj)['addressType'], (s as Obj)['ports'] ?? null]);
    const unused = [...existing];
    const body = (d: DesiredSlice): Obj => ({ addressType: d.addressType, endpoints: d.endpoints, ...(d.ports ? { ports: d.ports } : {}) });
    const toCreate: DesiredSlice[] = [];
    for (const d of desired) {
      const i = unused.findIndex((s) => sliceKey(s) === sliceKey(d) && deepEqual(s['endpoints'] ?? null, d.endpoints) && deepEqual(s.metadata.labels, labels));
      if (i >= 0) unused.splice(i, 1);
      else toCreate.push(d);
    }
    for (const d of toCreate) {
      // Reuse a stored slice of the same address type and ports before creating one (reconciler.go).
      const i = unused.findIndex((s) => sliceKey(s) === sliceKey(d));
      const j = i >= 0 ? i : unused.findIndex((s) => s['addressType'] === d.addressType);
      if (j >= 0) {
        const s = unused.splice(j, 1)[0]!;
        const next: KubeObject = { ...s, ...body(d), metadata: { ...s.metadata, labels, ownerReferences, annotations: { ...(s.metadata.annotations ?? {}), 'endpoints.kubernetes.io/last-change-trigger-time': nowIso() } } };
        if (!d.ports) delete next['ports'];
        await this.update('discovery.k8s.io', 'endpointslices', next, '', `update endpointslice ${ns}/${s.metadata.name}`, retry);
      } else {
        const slice: KubeObject = {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: { generateName: `${name}-`, namespace: ns, labels, ownerReferences, annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': nowIso() } },
          ...body(d),
        };
        await this.create('discovery.k8s.io', 'endpointslices', ns, slice, `create endpointslice for service ${ns}/${name}`);
      }
    }
    for (const s of unused) await this.remove('discovery.k8s.io', 'endpointslices', s, `delete endpointslice ${ns}/${s.metadata.name}`);

    // core/v1 Endpoints (the Endpoints controller owns the Endpoints named after a Service with a selector).
    const subsets = desiredEndpointsSubsets(live, pods);
    const epLabels = { ...(live.metadata.labels ?? {}), [LABEL_SKIP_MIRROR]: 'true' };
    const epBody = (base: KubeObject | undefined): KubeObject => {
      const e: KubeObject = { apiVersion: 'v1', kind: 'Endpoints', metadata: { ...(base?.metadata ?? { name, namespace: ns }), labels: epLabels } };
      if (subsets.length) e['subsets'] = subsets;
      return e;
    };
    if (!mirrored) await this.create('', 'endpoints', ns, epBody(undefined), `create endpoints ${ns}/${name}`);
    else if (!deepEqual(mirrored['subsets'], subsets.length ? subsets : undefined) || !deepEqual(mirrored.metadata.labels, epLabels)) {
      await this.update('', 'endpoints', epBody(mirrored), '', `update endpoints ${ns}/${name}`, retry);
    }
  }
}
