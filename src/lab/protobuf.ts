// Decoding of the Kubernetes protobuf envelope (`k8s\0` + runtime.Unknown{typeMeta, raw}) for the kinds
// kubectl's imperative commands send as protobuf (`kubectl create namespace|configmap|secret|service|
// serviceaccount|deployment|ingress`, `kubectl run`, `kubectl expose`): client-go's typed clients do not fall
// back to JSON on 415. Field numbers are those of k8s.io/api core/v1, apps/v1, networking/v1 and
// k8s.io/apimachinery meta/v1 generated.proto. Fields outside these schemas are skipped; other kinds answer 415.

/** `inline`: an embedded Go struct (`json:",inline"`), whose fields appear in the parent's JSON object. */
type FieldType = 'string' | 'int' | 'bool' | 'bytes' | 'time' | 'intstr' | 'map' | 'mapBytes' | 'mapQuantity' | { msg: string; inline?: boolean };
interface Field {
  name: string;
  type: FieldType;
  repeated?: boolean;
  /** A pointer field in Go (*bool, *int32): present on the wire only when set, so false/0 are kept. */
  pointer?: boolean;
}
type Schema = Record<number, Field>;

const S = (name: string, type: FieldType, repeated = false): Field => ({ name, type, repeated });
const P = (name: string, type: FieldType): Field => ({ name, type, pointer: true });

const SCHEMAS: Record<string, Schema> = {
  ObjectMeta: {
    1: S('name', 'string'),
    2: S('generateName', 'string'),
    3: S('namespace', 'string'),
    5: S('uid', 'string'),
    6: S('resourceVersion', 'string'),
    7: S('generation', 'int'),
    8: S('creationTimestamp', 'time'),
    9: S('deletionTimestamp', 'time'),
    10: P('deletionGracePeriodSeconds', 'int'),
    11: S('labels', 'map'),
    12: S('annotations', 'map'),
    13: S('ownerReferences', { msg: 'OwnerReference' }, true),
    14: S('finalizers', 'string', true),
  },
  OwnerReference: { 1: S('kind', 'string'), 3: S('name', 'string'), 4: S('uid', 'string'), 5: S('apiVersion', 'string'), 6: P('controller', 'bool'), 7: P('blockOwnerDeletion', 'bool') },
  Namespace: { 1: S('metadata', { msg: 'ObjectMeta' }), 2: S('spec', { msg: 'NamespaceSpec' }) },
  NamespaceSpec: { 1: S('finalizers', 'string', true) },
  ConfigMap: { 1: S('metadata', { msg: 'ObjectMeta' }), 2: S('data', 'map'), 3: S('binaryData', 'mapBytes'), 4: P('immutable', 'bool') },
  Secret: { 1: S('metadata', { msg: 'ObjectMeta' }), 2: S('data', 'mapBytes'), 3: S('type', 'string'), 4: S('stringData', 'map'), 5: P('immutable', 'bool') },
  ServiceAccount: {
    1: S('metadata', { msg: 'ObjectMeta' }),
    2: S('secrets', { msg: 'ObjectReference' }, true),
    3: S('imagePullSecrets', { msg: 'LocalObjectReference' }, true),
    4: P('automountServiceAccountToken', 'bool'),
  },
  ObjectReference: { 1: S('kind', 'string'), 2: S('namespace', 'string'), 3: S('name', 'string'), 4: S('uid', 'string'), 5: S('apiVersion', 'string'), 6: S('resourceVersion', 'string'), 7: S('fieldPath', 'string') },
  LocalObjectReference: { 1: S('name', 'string') },
  Service: { 1: S('metadata', { msg: 'ObjectMeta' }), 2: S('spec', { msg: 'ServiceSpec' }) },
  ServiceSpec: {
    1: S('ports', { msg: 'ServicePort' }, true),
    2: S('selector', 'map'),
    3: S('clusterIP', 'string'),
    4: S('type', 'string'),
    5: S('externalIPs', 'string', true),
    7: S('sessionAffinity', 'string'),
    8: S('loadBalancerIP', 'string'),
    9: S('loadBalancerSourceRanges', 'string', true),
    10: S('externalName', 'string'),
    11: S('externalTrafficPolicy', 'string'),
    12: S('healthCheckNodePort', 'int'),
    13: S('publishNotReadyAddresses', 'bool'),
    14: S('sessionAffinityConfig', { msg: 'SessionAffinityConfig' }),
    17: S('ipFamilyPolicy', 'string'),
    18: S('clusterIPs', 'string', true),
    19: S('ipFamilies', 'string', true),
    20: P('allocateLoadBalancerNodePorts', 'bool'),
    21: S('loadBalancerClass', 'string'),
    22: S('internalTrafficPolicy', 'string'),
    23: S('trafficDistribution', 'string'),
  },
  ServicePort: { 1: S('name', 'string'), 2: S('protocol', 'string'), 3: S('port', 'int'), 4: S('targetPort', 'intstr'), 5: S('nodePort', 'int'), 6: S('appProtocol', 'string') },
  SessionAffinityConfig: { 1: S('clientIP', { msg: 'ClientIPConfig' }) },
  ClientIPConfig: { 1: P('timeoutSeconds', 'int') },
  // meta/v1
  LabelSelector: { 1: S('matchLabels', 'map'), 2: S('matchExpressions', { msg: 'LabelSelectorRequirement' }, true) },
  LabelSelectorRequirement: { 1: S('key', 'string'), 2: S('operator', 'string'), 3: S('values', 'string', true) },
  // What `kubectl delete` and `kubectl drain` send: DELETE bodies and the pods/eviction subresource.
  DeleteOptions: {
    1: P('gracePeriodSeconds', 'int'),
    2: S('preconditions', { msg: 'Preconditions' }),
    3: P('orphanDependents', 'bool'),
    4: P('propagationPolicy', 'string'),
    5: S('dryRun', 'string', true),
    6: P('ignoreStoreReadErrorWithClusterBreakingPotential', 'bool'),
  },
  Preconditions: { 1: P('uid', 'string'), 2: P('resourceVersion', 'string') },
  // policy/v1
  Eviction: { 1: S('metadata', { msg: 'ObjectMeta' }), 2: S('deleteOptions', { msg: 'DeleteOptions' }) },
  // `kubectl create poddisruptionbudget`
  PodDisruptionBudget: { 1: S('metadata', { msg: 'ObjectMeta' }), 2: S('spec', { msg: 'PodDisruptionBudgetSpec' }) },
  PodDisruptionBudgetSpec: { 1: P('minAvailable', 'intstr'), 2: S('selector', { msg: 'LabelSelector' }), 3: P('maxUnavailable', 'intstr'), 4: P('unhealthyPodEvictionPolicy', 'string') },
  // core/v1 Pod and its template
  Pod: { 1: S('metadata', { msg: 'ObjectMeta' }), 2: S('spec', { msg: 'PodSpec' }) },
  PodTemplateSpec: { 1: S('metadata', { msg: 'ObjectMeta' }), 2: S('spec', { msg: 'PodSpec' }) },
  PodSpec: {
    2: S('containers', { msg: 'Container' }, true),
    3: S('restartPolicy', 'string'),
    4: P('terminationGracePeriodSeconds', 'int'),
    5: P('activeDeadlineSeconds', 'int'),
    6: S('dnsPolicy', 'string'),
    7: S('nodeSelector', 'map'),
    8: S('serviceAccountName', 'string'),
    9: S('serviceAccount', 'string'),
    10: S('nodeName', 'string'),
    11: S('hostNetwork', 'bool'),
    14: S('securityContext', { msg: 'Empty' }),
    15: S('imagePullSecrets', { msg: 'LocalObjectReference' }, true),
    16: S('hostname', 'string'),
    17: S('subdomain', 'string'),
    19: S('schedulerName', 'string'),
    20: S('initContainers', { msg: 'Container' }, true),
    21: P('automountServiceAccountToken', 'bool'),
    22: S('tolerations', { msg: 'Toleration' }, true),
    24: S('priorityClassName', 'string'),
    25: P('priority', 'int'),
    30: P('enableServiceLinks', 'bool'),
  },
  Empty: {},
  Container: {
    1: S('name', 'string'),
    2: S('image', 'string'),
    3: S('command', 'string', true),
    4: S('args', 'string', true),
    5: S('workingDir', 'string'),
    6: S('ports', { msg: 'ContainerPort' }, true),
    7: S('env', { msg: 'EnvVar' }, true),
    8: S('resources', { msg: 'ResourceRequirements' }),
    10: S('livenessProbe', { msg: 'Probe' }),
    11: S('readinessProbe', { msg: 'Probe' }),
    13: S('terminationMessagePath', 'string'),
    14: S('imagePullPolicy', 'string'),
    16: S('stdin', 'bool'),
    17: S('stdinOnce', 'bool'),
    18: S('tty', 'bool'),
    20: S('terminationMessagePolicy', 'string'),
    22: S('startupProbe', { msg: 'Probe' }),
  },
  ContainerPort: { 1: S('name', 'string'), 2: S('hostPort', 'int'), 3: S('containerPort', 'int'), 4: S('protocol', 'string'), 5: S('hostIP', 'string') },
  EnvVar: { 1: S('name', 'string'), 2: S('value', 'string') },
  ResourceRequirements: { 1: S('limits', 'mapQuantity'), 2: S('requests', 'mapQuantity') },
  Probe: {
    1: S('handler', { msg: 'ProbeHandler', inline: true }),
    2: S('initialDelaySeconds', 'int'),
    3: S('timeoutSeconds', 'int'),
    4: S('periodSeconds', 'int'),
    5: S('successThreshold', 'int'),
    6: S('failureThreshold', 'int'),
  },
  ProbeHandler: { 1: S('exec', { msg: 'ExecAction' }), 2: S('httpGet', { msg: 'HTTPGetAction' }), 3: S('tcpSocket', { msg: 'TCPSocketAction' }) },
  ExecAction: { 1: S('command', 'string', true) },
  HTTPGetAction: { 1: S('path', 'string'), 2: S('port', 'intstr'), 3: S('host', 'string'), 4: S('scheme', 'string') },
  TCPSocketAction: { 1: S('port', 'intstr'), 2: S('host', 'string') },
  Toleration: { 1: S('key', 'string'), 2: S('operator', 'string'), 3: S('value', 'string'), 4: S('effect', 'string'), 5: P('tolerationSeconds', 'int') },
  // apps/v1
  Deployment: { 1: S('metadata', { msg: 'ObjectMeta' }), 2: S('spec', { msg: 'DeploymentSpec' }) },
  DeploymentSpec: {
    1: P('replicas', 'int'),
    2: S('selector', { msg: 'LabelSelector' }),
    3: S('template', { msg: 'PodTemplateSpec' }),
    4: S('strategy', { msg: 'DeploymentStrategy' }),
    5: S('minReadySeconds', 'int'),
    6: P('revisionHistoryLimit', 'int'),
    7: S('paused', 'bool'),
    9: P('progressDeadlineSeconds', 'int'),
  },
  DeploymentStrategy: { 1: S('type', 'string'), 2: S('rollingUpdate', { msg: 'RollingUpdateDeployment' }) },
  RollingUpdateDeployment: { 1: S('maxUnavailable', 'intstr'), 2: S('maxSurge', 'intstr') },
  ReplicaSet: { 1: S('metadata', { msg: 'ObjectMeta' }), 2: S('spec', { msg: 'ReplicaSetSpec' }) },
  ReplicaSetSpec: { 1: P('replicas', 'int'), 2: S('selector', { msg: 'LabelSelector' }), 3: S('template', { msg: 'PodTemplateSpec' }), 4: S('minReadySeconds', 'int') },
  // networking/v1
  Ingress: { 1: S('metadata', { msg: 'ObjectMeta' }), 2: S('spec', { msg: 'IngressSpec' }) },
  IngressSpec: { 1: S('defaultBackend', { msg: 'IngressBackend' }), 2: S('tls', { msg: 'IngressTLS' }, true), 3: S('rules', { msg: 'IngressRule' }, true), 4: S('ingressClassName', 'string') },
  IngressRule: { 1: S('host', 'string'), 2: S('ingressRuleValue', { msg: 'IngressRuleValue', inline: true }) },
  IngressRuleValue: { 1: S('http', { msg: 'HTTPIngressRuleValue' }) },
  HTTPIngressRuleValue: { 1: S('paths', { msg: 'HTTPIngressPath' }, true) },
  HTTPIngressPath: { 1: S('path', 'string'), 2: S('backend', { msg: 'IngressBackend' }), 3: S('pathType', 'string') },
  IngressBackend: { 3: S('resource', { msg: 'TypedLocalObjectReference' }), 4: S('service', { msg: 'IngressServiceBackend' }) },
  TypedLocalObjectReference: { 1: S('apiGroup', 'string'), 2: S('kind', 'string'), 3: S('name', 'string') },
  IngressServiceBackend: { 1: S('name', 'string'), 2: S('port', { msg: 'ServiceBackendPort' }) },
  ServiceBackendPort: { 1: S('name', 'string'), 2: S('number', 'int') },
  IngressTLS: { 1: S('hosts', 'string', true), 2: S('secretName', 'string') },
  IngressClass: { 1: S('metadata', { msg: 'ObjectMeta' }), 2: S('spec', { msg: 'IngressClassSpec' }) },
  IngressClassSpec: { 1: S('controller', 'string'), 2: S('parameters', { msg: 'IngressClassParametersReference' }) },
  IngressClassParametersReference: { 1: S('apiGroup', 'string'), 2: S('kind', 'string'), 3: S('name', 'string'), 4: S('scope', 'string'), 5: S('namespace', 'string') },
};

const KINDS: Record<string, string> = {
  'v1/Namespace': 'Namespace',
  'v1/ConfigMap': 'ConfigMap',
  'v1/Secret': 'Secret',
  'v1/Service': 'Service',
  'v1/ServiceAccount': 'ServiceAccount',
  'v1/Pod': 'Pod',
  'v1/DeleteOptions': 'DeleteOptions',
  'meta.k8s.io/v1/DeleteOptions': 'DeleteOptions',
  'policy/v1/Eviction': 'Eviction',
  'policy/v1beta1/Eviction': 'Eviction',
  'policy/v1/PodDisruptionBudget': 'PodDisruptionBudget',
  'apps/v1/Deployment': 'Deployment',
  'apps/v1/ReplicaSet': 'ReplicaSet',
  'networking.k8s.io/v1/Ingress': 'Ingress',
  'networking.k8s.io/v1/IngressClass': 'IngressClass',
};

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  varint(): bigint {
    let r = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error('truncated varint');
      const b = this.buf[this.pos++]!;
      r |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return r;
      shift += 7n;
      if (shift > 70n) throw new Error('varint too long');
    }
  }
  bytes(): Buffer {
    const n = Number(this.varint());
    if (this.pos + n > this.buf.length) throw new Error('truncated length-delimited field');
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

function fields(buf: Buffer, each: (num: number, wire: number, r: Reader) => void): void {
  const r = new Reader(buf);
  while (r.pos < buf.length) {
    const tag = Number(r.varint());
    each(tag >>> 3, tag & 7, r);
  }
}

const signed64 = (v: bigint) => Number(BigInt.asIntN(64, v));

function decodeMessage(buf: Buffer, schemaName: string): Record<string, unknown> {
  const schema = SCHEMAS[schemaName]!;
  const out: Record<string, unknown> = {};
  fields(buf, (num, wire, r) => {
    const f = schema[num];
    if (!f) {
      r.skip(wire);
      return;
    }
    let v: unknown;
    const t = f.type;
    if (t === 'string') v = r.bytes().toString('utf8');
    else if (t === 'bytes') v = r.bytes().toString('base64');
    else if (t === 'int') v = signed64(r.varint());
    else if (t === 'bool') v = r.varint() !== 0n;
    else if (t === 'time') {
      let seconds = 0;
      fields(r.bytes(), (n, w, rr) => {
        if (n === 1 && w === 0) seconds = signed64(rr.varint());
        else rr.skip(w);
      });
      // The zero metav1.Time (an empty message on the wire) is `null` in JSON, as in a pod template's metadata.
      v = seconds === 0 ? null : new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    } else if (t === 'intstr') {
      let kind = 0;
      let i = 0;
      let s = '';
      fields(r.bytes(), (n, w, rr) => {
        if (n === 1) kind = Number(rr.varint());
        else if (n === 2) i = signed64(rr.varint());
        else if (n === 3) s = rr.bytes().toString('utf8');
        else rr.skip(w);
      });
      v = kind === 1 ? s : i;
    } else if (t === 'map' || t === 'mapBytes' || t === 'mapQuantity') {
      let k = '';
      let val = '';
      fields(r.bytes(), (n, w, rr) => {
        if (n === 1) k = rr.bytes().toString('utf8');
        else if (n === 2 && t === 'mapQuantity') {
          // resource.Quantity is a message whose field 1 is its canonical string form.
          fields(rr.bytes(), (qn, qw, qr) => {
            if (qn === 1) val = qr.bytes().toString('utf8');
            else qr.skip(qw);
          });
        } else if (n === 2) val = t === 'map' ? rr.bytes().toString('utf8') : rr.bytes().toString('base64');
        else rr.skip(w);
      });
      const m = (out[f.name] ??= {}) as Record<string, string>;
      m[k] = val;
      return;
    } else if (t.inline) {
      Object.assign(out, decodeMessage(r.bytes(), t.msg));
      return;
    } else v = decodeMessage(r.bytes(), t.msg);
    if (f.repeated) ((out[f.name] ??= []) as unknown[]).push(v);
    // gogo-protobuf writes non-pointer scalars even when zero; JSON's omitempty would have dropped them.
    else if (f.pointer || !(v === '' || v === 0 || v === false)) out[f.name] = v;
  });
  return out;
}

/**
 * Decodes a protobuf request body into the JSON object, or returns why it cannot: `unsupported` when the
 * envelope is sound but its kind is not one the lab decodes (then 415), otherwise the body is malformed (400).
 */
export function decodeK8sProtobuf(buf: Buffer): { ok: true; value: Record<string, unknown> } | { ok: false; error: string; unsupported?: true } {
  try {
    if (buf.length < 4 || buf.toString('latin1', 0, 4) !== 'k8s\u0000') return { ok: false, error: 'provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]' };
    let apiVersion = '';
    let kind = '';
    let raw: Buffer | undefined;
    fields(buf.subarray(4), (num, wire, r) => {
      if (num === 1) {
        fields(r.bytes(), (n, w, rr) => {
          if (n === 1) apiVersion = rr.bytes().toString('utf8');
          else if (n === 2) kind = rr.bytes().toString('utf8');
          else rr.skip(w);
        });
      } else if (num === 2) raw = r.bytes();
      else r.skip(wire);
    });
    const schema = KINDS[`${apiVersion}/${kind}`];
    if (!schema || !raw) return { ok: false, error: `protobuf encoding of ${apiVersion}/${kind} is not supported by the lab`, unsupported: true };
    return { ok: true, value: { apiVersion, kind, ...decodeMessage(raw, schema) } };
  } catch (e) {
    return { ok: false, error: `unable to decode protobuf body: ${(e as Error).message}` };
  }
}
