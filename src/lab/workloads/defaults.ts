// Scheme defaults of the workload kinds the lab runs (k8s.io/kubernetes pkg/apis/apps/v1/defaults.go,
// pkg/apis/core/v1/defaults.go), applied on every create and update like kube-apiserver's decoder does, plus the
// admission defaults a real cluster adds to Pods (ServiceAccount, Priority). Only well-formed parts are defaulted:
// a field of the wrong shape is left as sent, never thrown on.
import { isPlainObject, type KubeObject } from '../types.ts';

type Obj = Record<string, unknown>;

const obj = (x: unknown): Obj | undefined => (isPlainObject(x) ? x : undefined);

/** Sets `o[k] = v` when `o[k]` is absent (undefined). */
function dflt(o: Obj, k: string, v: unknown): void {
  if (o[k] === undefined) o[k] = v;
}

/** imagePullPolicy default: Always for `:latest` or an untagged image, else IfNotPresent (defaults.go SetDefaults_Container). */
export function defaultPullPolicy(image: unknown): string {
  if (typeof image !== 'string') return 'IfNotPresent';
  if (image.includes('@')) return 'IfNotPresent';
  const last = image.slice(image.lastIndexOf('/') + 1);
  const tag = last.includes(':') ? last.slice(last.lastIndexOf(':') + 1) : '';
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultContainers(list: unknown): void {
  if (!Array.isArray(list)) return;
  for (const c of list) {
    const co = obj(c);
    if (!co) continue;
    dflt(co, 'terminationMessagePath', '/dev/termination-log');
    dflt(co, 'terminationMessagePolicy', 'File');
    dflt(co, 'imagePullPolicy', defaultPullPolicy(co['image']));
    dflt(co, 'resources', {});
    if (Array.isArray(co['ports'])) for (const p of co['ports']) if (obj(p)) dflt(p as Obj, 'protocol', 'TCP');
  }
}

/** PodSpec defaults (SetDefaults_PodSpec and the container defaults). */
export function defaultPodSpec(spec: unknown): void {
  const s = obj(spec);
  if (!s) return;
  dflt(s, 'restartPolicy', 'Always');
  dflt(s, 'terminationGracePeriodSeconds', 30);
  dflt(s, 'dnsPolicy', 'ClusterFirst');
  dflt(s, 'securityContext', {});
  dflt(s, 'schedulerName', 'default-scheduler');
  defaultContainers(s['containers']);
  defaultContainers(s['initContainers']);
}

function defaultTemplate(spec: Obj): void {
  const t = obj(spec['template']);
  if (t) defaultPodSpec(t['spec']);
}

/**
 * Applies the defaults of `storeKey`'s kind (Deployments, ReplicaSets, Pods) to `o` in place; other kinds are
 * untouched. Safe on malformed objects.
 */
export function defaultWorkload(storeKey: string, o: KubeObject): void {
  const spec = obj(o['spec']);
  switch (storeKey) {
    case 'apps/deployments': {
      if (!spec) return;
      dflt(spec, 'replicas', 1);
      dflt(spec, 'revisionHistoryLimit', 10);
      dflt(spec, 'progressDeadlineSeconds', 600);
      const st = obj(spec['strategy']) ?? {};
      spec['strategy'] = st;
      dflt(st, 'type', 'RollingUpdate');
      if (st['type'] === 'RollingUpdate') {
        const ru = obj(st['rollingUpdate']) ?? {};
        st['rollingUpdate'] = ru;
        dflt(ru, 'maxUnavailable', '25%');
        dflt(ru, 'maxSurge', '25%');
      }
      defaultTemplate(spec);
      return;
    }
    case 'apps/replicasets':
      if (!spec) return;
      dflt(spec, 'replicas', 1);
      defaultTemplate(spec);
      return;
    case 'core/pods': {
      if (!spec) return;
      defaultPodSpec(spec);
      // Admission plugins of every cluster: ServiceAccount and Priority.
      dflt(spec, 'serviceAccountName', 'default');
      dflt(spec, 'serviceAccount', spec['serviceAccountName']);
      dflt(spec, 'priority', 0);
      dflt(spec, 'enableServiceLinks', true);
      dflt(spec, 'preemptionPolicy', 'PreemptLowerPriority');
      if (o['status'] === undefined) o['status'] = { phase: 'Pending', qosClass: 'BestEffort' };
      return;
    }
    default:
      return;
  }
}
