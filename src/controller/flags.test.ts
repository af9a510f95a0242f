import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import { heapLimitWarning, parseControllerFlags } from './flags.ts';

describe('controller flags', () => {
  it('defaults: namespace metallb-system, metrics 7472, MetalLB-like lease timings, 60 s claim grace', () => {
    const r = parseControllerFlags([], {}, 'host', 42);
    assert.ok(r.ok);
    assert.deepEqual(r.flags, {
      namespace: 'metallb-system',
      metricsPort: 7472,
      metricsHost: '0.0.0.0',
      replicaId: 'host-42',
      leaseName: 'berth-controller',
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      claimGraceMs: 60_000,
      resyncMs: 300_000,
      logFormat: 'json',
      logLevel: 'info',
    });
  });

  it('reads every flag; Go durations; metrics-port auto; POD_NAME as identity', () => {
    const r = parseControllerFlags(
      ['--kubeconfig', '/k', '--namespace=lb', '--lb-class', 'x.io/lb', '--metrics-port', 'auto', '--lease-duration', '3s', '--renew-deadline', '2s', '--retry-period', '500ms', '--claim-grace', '1m30s'],
      { POD_NAME: 'ctl-0' },
      'h',
      1,
    );
    assert.ok(r.ok);
    assert.equal(r.flags.kubeconfig, '/k');
    assert.equal(r.flags.namespace, 'lb');
    assert.equal(r.flags.lbClass, 'x.io/lb');
    assert.equal(r.flags.metricsPort, 'auto');
    assert.equal(r.flags.replicaId, 'ctl-0');
    assert.equal(r.flags.retryPeriodMs, 500);
    assert.equal(r.flags.claimGraceMs, 90_000);
  });

  it('refuses unknown flags, bad durations, bad ports and inconsistent lease timings, naming the value', () => {
    assert.deepEqual(parseControllerFlags(['--metrics-port', 'x'], {}, 'h', 1), { ok: false, message: '--metrics-port: "x" is not a port number, 0 or auto' });
    assert.deepEqual(parseControllerFlags(['--claim-grace', '10'], {}, 'h', 1), { ok: false, message: '--claim-grace: time: missing unit in duration "10"' });
    const t = parseControllerFlags(['--renew-deadline', '20s'], {}, 'h', 1);
    assert.equal(t.ok, false);
    assert.match(!t.ok ? t.message : '', /retry-period < renew-deadline < lease-duration \(got 2000 ms, 20000 ms, 15000 ms\)/);
    assert.equal(parseControllerFlags(['--nope'], {}, 'h', 1).ok, false);
  });

  it('--log-format json|text and --log-level; other values are refused by name', () => {
    const r = parseControllerFlags(['--log-format', 'text', '--log-level', 'debug'], {}, 'h', 1);
    assert.ok(r.ok);
    assert.equal(r.flags.logFormat, 'text');
    assert.equal(r.flags.logLevel, 'debug');
    assert.deepEqual(parseControllerFlags(['--log-format', 'pretty'], {}, 'h', 1), { ok: false, message: '--log-format: "pretty" is not json or text' });
    assert.deepEqual(parseControllerFlags(['--log-level', 'trace'], {}, 'h', 1), {
      ok: false,
      message: '--log-level: "trace" is not one of debug, info, warn, error',
    });
  });
});

test('heapLimitWarning: none while the heap limit covers 96 MB per 10,000 Services; names both figures otherwise', () => {
  assert.equal(heapLimitWarning(10_000, 192e6), undefined);
  assert.equal(heapLimitWarning(20_000, 192e6), undefined);
  const w = heapLimitWarning(50_000, 200e6);
  assert.ok(w && w.includes('200 MB') && w.includes('480 MB') && w.includes('50000 Services'), w);
});
