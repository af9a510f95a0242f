import { test } from 'node:test';
import assert from 'node:assert/strict';
import { updateProblems } from './transitions.ts';
import { peerV1beta1, routerBgp } from './test-objects.ts';

test('enableGracefulRestart cannot change on update (CEL self == oldSelf), across served versions', () => {
  assert.deepEqual(updateProblems(routerBgp(), routerBgp({ enableGracefulRestart: true })), [
    {
      code: 'LB_IMMUTABLE_FIELD',
      path: 'spec.enableGracefulRestart',
      object: 'BGPPeer/router-bgp',
      message: 'EnableGracefulRestart cannot be changed after creation',
    },
  ]);
  assert.deepEqual(
    updateProblems(
      routerBgp({ enableGracefulRestart: true }),
      routerBgp({ enableGracefulRestart: true, holdTime: '30s' }),
    ),
    [],
  );
  const old = peerV1beta1('router-bgp', { myASN: 64500, peerASN: 64501, peerAddress: '192.168.1.1' });
  assert.deepEqual(updateProblems(old, routerBgp()), []);
});

test('an IPAddressClaim keeps its ip', () => {
  const claim = (ip: string) => ({
    apiVersion: 'berth.io/v1alpha1',
    kind: 'IPAddressClaim',
    metadata: { name: 'v4-10-0-0-1' },
    spec: { ip },
  });
  assert.deepEqual(updateProblems(claim('10.0.0.1'), claim('10.0.0.1')), []);
  assert.deepEqual(
    updateProblems(claim('10.0.0.1'), claim('10.0.0.2')).map((p) => p.message),
    ['ip is immutable'],
  );
});
