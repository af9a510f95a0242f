// Decoding of the Kubernetes protobuf envelope (`k8s\0` + runtime.Unknown{typeMeta, raw}) for the few core
// kinds kubectl's imperative commands send as protobuf (`kubectl create namespace|configmap|secret|service|
// serviceaccount`): client-go's typed clients do not fall back to JSON on 415. Field numbers are those of
// k8s.io/api core/v1 and k8s.io/apimachinery meta/v1 generated.proto. Other kinds answer 415.

type FieldType = 'string' | 'int' | 'bool' | 'bytes' | 'time' | 'intstr' | 'map' | 'mapBytes' | { msg: string };
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
};

const KINDS: Record<string, string> = { 'v1/Namespace': 'Namespace', 'v1/ConfigMap': 'ConfigMap', 'v1/Secret': 'Secret', 'v1/Service': 'Service', 'v1/ServiceAccount': 'ServiceAccount' };

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
      v = new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
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
    } else if (t === 'map' || t === 'mapBytes') {
      let k = '';
      let val = '';
      fields(r.bytes(), (n, w, rr) => {
        if (n === 1) k = rr.bytes().toString('utf8');
        else if (n === 2) val = t === 'map' ? rr.bytes().toString('utf8') : rr.bytes().toString('base64');
        else rr.skip(w);
      });
      const m = (out[f.name] ??= {}) as Record<string, string>;
      m[k] = val;
      return;
    } else v = decodeMessage(r.bytes(), t.msg);
    if (f.repeated) ((out[f.name] ??= []) as unknown[]).push(v);
    // gogo-protobuf writes non-pointer scalars even when zero; JSON's omitempty would have dropped them.
    else if (f.pointer || !(v === '' || v === 0 || v === false)) out[f.name] = v;
  });
  return out;
}

/** Decodes a protobuf request body into the JSON object, or returns why it cannot. */
export function decodeK8sProtobuf(buf: Buffer): { ok: true; value: Record<string, unknown> } | { ok: false; error: string } {
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
    if (!schema || !raw) return { ok: false, error: `protobuf encoding of ${apiVersion}/${kind} is not supported by the lab` };
    return { ok: true, value: { apiVersion, kind, ...decodeMessage(raw, schema) } };
  } catch (e) {
    return { ok: false, error: `unable to decode protobuf body: ${(e as Error).message}` };
  }
}
