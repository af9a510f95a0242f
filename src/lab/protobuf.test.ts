import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeK8sProtobuf } from './protobuf.ts';

// A minimal protobuf writer: enough to build what client-go's gogo-protobuf marshalling sends.
const varint = (n: number): Buffer => {
  const out: number[] = [];
  let v = BigInt.asUintN(64, BigInt(n));
  do {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v ? b | 0x80 : b);
  } while (v);
  return Buffer.from(out);
};
const msg = (num: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([varint((num << 3) | 2), varint(body.length), body]);
};
const str = (num: number, s: string): Buffer => msg(num, Buffer.from(s, 'utf8'));
const int = (num: number, n: number): Buffer => Buffer.concat([varint(num << 3), varint(n)]);
const entry = (num: number, k: string, v: string): Buffer => msg(num, str(1, k), str(2, v));
const envelope = (apiVersion: string, kind: string, raw: Buffer): Buffer =>
  Buffer.concat([Buffer.from('k8s\u0000', 'latin1'), msg(1, str(1, apiVersion), str(2, kind)), msg(2, raw)]);

test('protobuf apps/v1 Deployment as kubectl create deployment sends it decodes to the JSON object', () => {
  const labels = entry(11, 'app', 'app1');
  const raw = Buffer.concat([
    msg(1, str(1, 'app1'), labels, msg(8)), // metadata, zero creationTimestamp
    msg(
      2,
      int(1, 2), // replicas (pointer)
      msg(2, entry(1, 'app', 'app1')), // selector.matchLabels
      msg(
        3,
        msg(1, labels, msg(8)),
        msg(
          2,
          // containers[0]: name, image, ports, resources {}, readinessProbe (inline ProbeHandler), periodSeconds
          msg(2, str(1, 'nginx'), str(2, 'nginx'), msg(6, int(3, 80), str(4, 'TCP')), msg(8), msg(11, msg(1, msg(2, str(1, '/healthz'), msg(2, int(1, 0), int(2, 80)))), int(4, 5))),
        ),
      ),
      msg(4), // strategy {}
      int(5, 0), // minReadySeconds 0: dropped like JSON omitempty
    ),
    msg(3), // status {}
  ]);
  const r = decodeK8sProtobuf(envelope('apps/v1', 'Deployment', raw));
  assert.ok(r.ok, r.ok ? '' : r.error);
  const spec = r.value['spec'] as Record<string, unknown>;
  assert.deepEqual(r.value['metadata'], { name: 'app1', labels: { app: 'app1' }, creationTimestamp: null });
  assert.equal(spec['replicas'], 2);
  assert.deepEqual(spec['selector'], { matchLabels: { app: 'app1' } });
  assert.deepEqual(spec['strategy'], {});
  assert.equal(spec['minReadySeconds'], undefined);
  const template = spec['template'] as { metadata: unknown; spec: { containers: unknown[] } };
  assert.deepEqual(template.metadata, { labels: { app: 'app1' }, creationTimestamp: null });
  assert.deepEqual(template.spec.containers, [
    { name: 'nginx', image: 'nginx', ports: [{ containerPort: 80, protocol: 'TCP' }], resources: {}, readinessProbe: { httpGet: { path: '/healthz', port: 80 }, periodSeconds: 5 } },
  ]);
});

test('protobuf Ingress: the inline IngressRuleValue lands in rule.http; quantities decode to strings', () => {
  const raw = Buffer.concat([
    msg(1, str(1, 'web')),
    msg(2, str(4, 'nginx'), msg(3, str(1, 'foo.com'), msg(2, msg(1, msg(1, str(1, '/bar'), str(3, 'Exact'), msg(2, msg(4, str(1, 'svc1'), msg(2, int(2, 8080))))))))),
  ]);
  const r = decodeK8sProtobuf(envelope('networking.k8s.io/v1', 'Ingress', raw));
  assert.ok(r.ok, r.ok ? '' : r.error);
  assert.deepEqual(r.value['spec'], {
    ingressClassName: 'nginx',
    rules: [{ host: 'foo.com', http: { paths: [{ path: '/bar', pathType: 'Exact', backend: { service: { name: 'svc1', port: { number: 8080 } } } }] } }],
  });
  const pod = decodeK8sProtobuf(envelope('v1', 'Pod', Buffer.concat([msg(1, str(1, 'p')), msg(2, msg(2, str(1, 'c'), msg(8, msg(1, str(1, 'cpu'), msg(2, str(1, '100m'))))))])));
  assert.ok(pod.ok);
  assert.deepEqual((pod.value['spec'] as { containers: unknown[] }).containers, [{ name: 'c', resources: { limits: { cpu: '100m' } } }]);
});

test('protobuf kinds outside the lab schemas answer a clear error naming the kind', () => {
  const r = decodeK8sProtobuf(envelope('batch/v1', 'Job', msg(1, str(1, 'j'))));
  assert.deepEqual(r, { ok: false, error: 'protobuf encoding of batch/v1/Job is not supported by the lab', unsupported: true });
  const bad = decodeK8sProtobuf(Buffer.from('k8s\u0000\u000a\u00ff', 'latin1'));
  assert.equal(bad.ok, false);
});

test('protobuf DeleteOptions exactly as `kubectl drain` sends it (empty raw) decodes to an empty DeleteOptions', () => {
  // Captured from kubectl 1.32 -v=8: DELETE .../pods/<name> with Content-Type application/vnd.kubernetes.protobuf.
  const body = Buffer.from('6b3873000a130a027631120d' + '44656c6574654f7074696f6e73' + '12001a002200', 'hex');
  assert.deepEqual(decodeK8sProtobuf(body), { ok: true, value: { apiVersion: 'v1', kind: 'DeleteOptions' } });
});

test('protobuf DeleteOptions keeps gracePeriodSeconds 0, preconditions, propagationPolicy and dryRun', () => {
  const raw = Buffer.concat([int(1, 0), msg(2, str(1, 'u-1'), str(2, '42')), str(4, 'Foreground'), str(5, 'All')]);
  const r = decodeK8sProtobuf(envelope('meta.k8s.io/v1', 'DeleteOptions', raw));
  assert.deepEqual(r, {
    ok: true,
    value: { apiVersion: 'meta.k8s.io/v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid: 'u-1', resourceVersion: '42' }, propagationPolicy: 'Foreground', dryRun: ['All'] },
  });
});

test('protobuf policy/v1 Eviction decodes its metadata and deleteOptions', () => {
  const raw = Buffer.concat([msg(1, str(1, 'web-1'), str(3, 'default'), msg(8)), msg(2, msg(2, str(1, 'u-1')))]);
  const r = decodeK8sProtobuf(envelope('policy/v1', 'Eviction', raw));
  assert.deepEqual(r, { ok: true, value: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'web-1', namespace: 'default', creationTimestamp: null }, deleteOptions: { preconditions: { uid: 'u-1' } } } });
});

test('a truncated protobuf Eviction is an error naming the problem, not a throw', () => {
  const whole = envelope('policy/v1', 'Eviction', msg(1, str(1, 'web-1')));
  const r = decodeK8sProtobuf(whole.subarray(0, whole.length - 3));
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.error : '', /unable to decode protobuf body: truncated/);
});
