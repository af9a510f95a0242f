// The network lab's speakers as DaemonSet `metallb-speaker` (gitops/base/speaker/daemonset.yaml) and one Pod per node,
// so the runbook's commands work as on a cluster: `kubectl logs -n metallb-system daemonset/metallb-speaker`,
// `kubectl describe pod -n metallb-system -l app.kubernetes.io/component=speaker`, `kubectl get pods -n metallb-system`.
// The lab runs no containers and has no DaemonSet controller: this file writes the DaemonSet, its Pods and their status
// through the API (as the DaemonSet controller and the kubelet would), from the speaker processes network.ts keeps.
// A Pod is Running/Ready while its node's process runs; when the process ends, its container is `terminated` (exit
// code, signal, reason Error, message naming the exit) and the Pod is not Ready (phase stays Running: restartPolicy
// Always, as the kubelet leaves it). The Pods carry LAB_PROCESS_POD_ANNOTATION, so the workload controller leaves them
// alone, and `kubectl logs` of container `speaker` reads the node's speaker log file (pod-logs.ts, speakerLogFile).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import type { KubeClient, KubeObject } from '../../kube/client.ts';
import type { Resource } from '../../kube/resources.ts';
import { LAB_PROCESS_POD_ANNOTATION, LAB_SPEAKER_DAEMONSET } from '../workloads/pod-logs.ts';

export { LAB_SPEAKER_DAEMONSET };

type Obj = Record<string, unknown>;

const PODS: Resource = { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true };
const DAEMONSETS: Resource = { group: 'apps', version: 'v1', plural: 'daemonsets', kind: 'DaemonSet', namespaced: true };

/** The log file of node `node`'s speaker in the lab folder `dir` (`<dir>/speaker-<node>.log`). */
export function speakerLogFile(dir: string, node: string): string {
  return join(dir, `speaker-${node}.log`);
}

/** A node of the segment as its speaker Pod needs it. */
export interface SpeakerNode {
  name: string;
  ipv4: string;
  ipv6: string;
}

/** What a speaker process is, for its Pod's status (a NodeProcess of src/lab/processes.ts fits). */
export interface SpeakerProcessState {
  pid: number;
  exited: boolean;
  exitCode: number | null;
  exitSignal: NodeJS.Signals | null;
}

const SAFE = 'bcdfghjklmnpqrstvwxz2456789';

/** `metallb-speaker-xxxxx`: the Pod of node `node`, the same name every run (5 characters of a SHA-256 of the node). */
export function speakerPodName(node: string): string {
  const h = createHash('sha256').update(node).digest();
  return `${LAB_SPEAKER_DAEMONSET}-${[...h.subarray(0, 5)].map((b) => SAFE[b % SAFE.length]).join('')}`;
}

/**
 * gitops/base/speaker/daemonset.yaml in `namespace`, annotated as the lab's (berth.io/lab) with the
 * `kubectl.kubernetes.io/last-applied-configuration` `kubectl apply` would write. Throws when the file is missing or
 * is not DaemonSet metallb-speaker.
 */
export function labSpeakerDaemonSet(namespace: string): KubeObject {
  const file = new URL('../../../gitops/base/speaker/daemonset.yaml', import.meta.url);
  const doc = parseDocument(readFileSync(file, 'utf8')).toJS() as KubeObject | null;
  if (!doc || doc.kind !== 'DaemonSet' || doc.metadata?.name !== LAB_SPEAKER_DAEMONSET)
    throw new Error(`lab: ${file.pathname} is not DaemonSet ${LAB_SPEAKER_DAEMONSET}`);
  const applied: KubeObject = {
    apiVersion: doc.apiVersion,
    kind: doc.kind,
    metadata: { name: LAB_SPEAKER_DAEMONSET, namespace, labels: { ...(doc.metadata.labels ?? {}) } },
    spec: doc['spec'],
  };
  return {
    ...applied,
    metadata: {
      ...applied.metadata,
      annotations: {
        ...(doc.metadata.annotations ?? {}),
        'berth.io/lab': "the network lab runs this DaemonSet's speakers as processes in node namespaces: kubectl logs reads their log files",
        'kubectl.kubernetes.io/last-applied-configuration': `${JSON.stringify(applied)}\n`,
      },
    },
  };
}

/** The Pod of DaemonSet `ds` on `node` (spec.nodeName, hostNetwork; no status: speakerPodStatus). */
export function speakerPod(ds: KubeObject, node: SpeakerNode): KubeObject {
  const template = (ds['spec'] as Obj | undefined)?.['template'] as { metadata?: { labels?: Record<string, string> }; spec?: Obj } | undefined;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: speakerPodName(node.name),
      namespace: ds.metadata?.namespace ?? '',
      labels: { ...(template?.metadata?.labels ?? {}), 'pod-template-generation': String(ds.metadata?.generation ?? 1) },
      annotations: { [LAB_PROCESS_POD_ANNOTATION]: `speaker process of node ${node.name} (the network lab)` },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: LAB_SPEAKER_DAEMONSET, uid: ds.metadata?.uid ?? '', controller: true, blockOwnerDeletion: true }],
    },
    spec: { ...(template?.spec ?? {}), nodeName: node.name },
  };
}

/**
 * The status the kubelet would report for the speaker Pod of `node` whose process is `p` (started at `startedAt`,
 * ended at `finishedAt`; RFC 3339). Running: phase Running, Ready; ended: container `terminated` with the exit code,
 * the signal's number and a message naming the exit, Ready False (ContainersNotReady). podIP(s)/hostIP(s) are the
 * node's addresses (hostNetwork).
 */
export function speakerPodStatus(node: SpeakerNode, p: SpeakerProcessState, startedAt: string, finishedAt: string): Obj {
  const ready = !p.exited;
  const ips = [node.ipv4, node.ipv6].map((ip) => ({ ip }));
  const signalNo = p.exitSignal ? (osSignal(p.exitSignal) ?? 0) : 0;
  const exitCode = p.exitCode ?? (signalNo ? 128 + signalNo : 0);
  const containerID = `berth-lab://pid-${p.pid}`;
  const state = ready
    ? { running: { startedAt } }
    : {
        terminated: {
          exitCode,
          ...(signalNo ? { signal: signalNo } : {}),
          reason: exitCode === 0 ? 'Completed' : 'Error',
          message: `speaker process pid ${p.pid} ${p.exitSignal ? `killed by ${p.exitSignal}` : `exited with ${p.exitCode ?? 'no code'}`} (the lab does not restart it)`,
          startedAt,
          finishedAt,
          containerID,
        },
      };
  const cond = (type: string, ok: boolean): Obj =>
    ok ? { type, status: 'True', lastProbeTime: null, lastTransitionTime: ready ? startedAt : finishedAt } : { type, status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [speaker]', lastProbeTime: null, lastTransitionTime: finishedAt };
  return {
    phase: 'Running',
    conditions: [
      { type: 'PodReadyToStartContainers', status: 'True', lastProbeTime: null, lastTransitionTime: startedAt },
      { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: startedAt },
      cond('Ready', ready),
      cond('ContainersReady', ready),
      { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: startedAt },
    ],
    hostIP: node.ipv4,
    hostIPs: ips,
    podIP: node.ipv4,
    podIPs: ips,
    startTime: startedAt,
    containerStatuses: [{ name: 'speaker', image: 'berth', imageID: '', containerID, ready, restartCount: 0, started: ready, state, lastState: {} }],
    qosClass: 'Burstable',
  };
}

/** The number of signal `s` on this OS (os.constants.signals), e.g. SIGKILL → 9. */
function osSignal(s: NodeJS.Signals): number | undefined {
  return (constants.signals as Partial<Record<string, number>>)[s];
}

const nowIso = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * Keeps DaemonSet metallb-speaker and its Pods in step with the network lab's speaker processes, through `client`.
 * Writes are queued one at a time; a failed write is logged (never thrown: the speakers run whatever the API says).
 */
export class SpeakerPods {
  private queue: Promise<void> = Promise.resolve();
  private ds: KubeObject | undefined;
  private readonly started = new Map<string, string>();
  private readonly procs = new Map<string, SpeakerProcessState>();

  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
    private readonly nodes: readonly SpeakerNode[],
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  /** Queues `fn`; resolves when it ran (its error logged). */
  private enqueue(what: string, fn: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(fn).catch((e: unknown) => this.log(`speaker pods: ${what}: ${e instanceof Error ? e.message : String(e)}`));
    return this.queue;
  }

  /** Creates the DaemonSet when missing and deletes Pods of it on nodes the lab does not have (an earlier run's). */
  start(): Promise<void> {
    return this.enqueue(`DaemonSet ${LAB_SPEAKER_DAEMONSET}`, async () => {
      const got = await this.client.get(DAEMONSETS, LAB_SPEAKER_DAEMONSET, this.namespace);
      if (got.ok) this.ds = got.value;
      else {
        const r = await this.client.create(DAEMONSETS, labSpeakerDaemonSet(this.namespace));
        if (!r.ok) throw new Error(`creating DaemonSet ${LAB_SPEAKER_DAEMONSET}: ${r.error.message}`);
        this.ds = r.value;
      }
      const pods = await this.client.list(PODS, { namespace: this.namespace, labelSelector: 'app.kubernetes.io/component=speaker' });
      if (!pods.ok) throw new Error(`listing speaker Pods: ${pods.error.message}`);
      const mine = new Set(this.nodes.map((n) => speakerPodName(n.name)));
      for (const p of pods.value.items) {
        const owned = p.metadata?.ownerReferences?.some((o) => o.kind === 'DaemonSet' && o.name === LAB_SPEAKER_DAEMONSET);
        if (!owned) continue;
        // Another run's Pod (other nodes, or an older DaemonSet): deleted; ours are recreated by running().
        if (!mine.has(p.metadata?.name ?? '') || (p.metadata?.ownerReferences?.[0]?.uid ?? '') !== this.ds?.metadata?.uid) {
          await this.client.delete(PODS, p.metadata?.name ?? '', { namespace: this.namespace });
        }
      }
      await this.writeDaemonSetStatus();
    });
  }

  /** Node `node`'s speaker process `p` started (or was restarted): its Pod exists, Running and Ready. */
  running(node: string, p: SpeakerProcessState): Promise<void> {
    this.started.set(node, nowIso());
    this.procs.set(node, p);
    return this.enqueue(`Pod of node ${node}`, () => this.writePod(node, p, ''));
  }

  /** Node `node`'s speaker process `p` ended: its container is terminated, the Pod not Ready. Nothing if it was replaced. */
  exited(node: string, p: SpeakerProcessState): Promise<void> {
    if (this.procs.get(node) !== p) return Promise.resolve();
    const finished = nowIso();
    return this.enqueue(`Pod of node ${node}`, () => this.writePod(node, p, finished));
  }

  /** Resolves when every queued write is done. */
  idle(): Promise<void> {
    return this.queue;
  }

  private async writePod(nodeName: string, p: SpeakerProcessState, finishedAt: string): Promise<void> {
    const node = this.nodes.find((n) => n.name === nodeName);
    if (!node || !this.ds) return;
    const name = speakerPodName(nodeName);
    let pod = await this.client.get(PODS, name, this.namespace);
    if (!pod.ok) {
      if (pod.error.status !== 404) throw new Error(`reading Pod ${name}: ${pod.error.message}`);
      pod = await this.client.create(PODS, speakerPod(this.ds, node));
      if (!pod.ok) throw new Error(`creating Pod ${name}: ${pod.error.message}`);
    }
    const status = speakerPodStatus(node, p, this.started.get(nodeName) ?? nowIso(), finishedAt || nowIso());
    const r = await this.client.replace(PODS, { ...pod.value, status } as KubeObject, { subresource: 'status' });
    if (!r.ok) throw new Error(`status of Pod ${name}: ${r.error.message}`);
    await this.writeDaemonSetStatus();
  }

  private async writeDaemonSetStatus(): Promise<void> {
    const ds = await this.client.get(DAEMONSETS, LAB_SPEAKER_DAEMONSET, this.namespace);
    if (!ds.ok) throw new Error(`reading DaemonSet ${LAB_SPEAKER_DAEMONSET}: ${ds.error.message}`);
    const scheduled = this.procs.size;
    const ready = [...this.procs.values()].filter((p) => !p.exited).length;
    const status = {
      currentNumberScheduled: scheduled,
      desiredNumberScheduled: this.nodes.length,
      numberMisscheduled: 0,
      numberReady: ready,
      numberAvailable: ready,
      ...(this.nodes.length - ready > 0 ? { numberUnavailable: this.nodes.length - ready } : {}),
      updatedNumberScheduled: scheduled,
      observedGeneration: ds.value.metadata?.generation ?? 1,
    };
    const r = await this.client.replace(DAEMONSETS, { ...ds.value, status } as KubeObject, { subresource: 'status' });
    if (!r.ok) throw new Error(`status of DaemonSet ${LAB_SPEAKER_DAEMONSET}: ${r.error.message}`);
    this.ds = r.value;
  }
}
