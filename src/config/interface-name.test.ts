// L2Advertisement `interfaces` entries must be valid Linux interface names (net/core/dev.c dev_valid_name): refused
// at validation (LB_BAD_INTERFACE) with the value and the rule; valid names, including 15-byte ones, pass.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateObjects } from './build.ts';
import { interfaceNameError, MAX_INTERFACE_NAME_BYTES } from './interface-name.ts';
import { l2, NS, pool } from './test-objects.ts';

const dev = pool('default', ['192.0.2.0/28']);

test('interfaceNameError: the kernel rules, each with its own message', () => {
  for (const ok of ['eth0', 'enp0s31f6', 'br-lan', 'eth0.100', 'wg_0', 'a', 'x'.repeat(MAX_INTERFACE_NAME_BYTES), 'vlan@eth0']) {
    assert.equal(interfaceNameError(ok), undefined, ok);
  }
  assert.equal(interfaceNameError(''), 'an interface name must not be empty');
  assert.equal(interfaceNameError('x'.repeat(16)), 'an interface name is at most 15 bytes (IFNAMSIZ-1), this one has 16');
  // Bytes, not characters: 8 two-byte characters are 16 bytes.
  assert.match(interfaceNameError('é'.repeat(8)) ?? '', /at most 15 bytes .* has 16/);
  assert.equal(interfaceNameError('.'), 'an interface name must not be "." or ".."');
  assert.equal(interfaceNameError('..'), 'an interface name must not be "." or ".."');
  assert.match(interfaceNameError('eth0/1') ?? '', /must not contain '\/'.*\(found "\/"\)/);
  assert.match(interfaceNameError('eth0:1') ?? '', /\(found ":"\)/);
  assert.match(interfaceNameError('eth 0') ?? '', /whitespace.*\(found " "\)/);
  assert.match(interfaceNameError('eth0\t') ?? '', /\(found "\\t"\)/);
  assert.match(interfaceNameError('eth\u00000') ?? '', /NUL/);
  assert.equal(interfaceNameError(7), 'an interface name must be a string');
});

test('an L2Advertisement with bad interface names: one LB_BAD_INTERFACE per entry, naming the value and the rule', () => {
  const r = validateObjects([dev, l2('l2-advert', { ipAddressPools: ['default'], interfaces: ['eth0', 'enp0s31f6.100.200', '', '..', 'br/0', 'eth 1'] })], { namespace: NS });
  assert.deepEqual(
    r.problems.map((p) => [p.code, p.object, p.path, p.message]),
    [
      ['LB_BAD_INTERFACE', 'L2Advertisement/l2-advert', 'spec.interfaces[1]', 'parsing l2 advertisement l2-advert: invalid interface "enp0s31f6.100.200" in interfaces: an interface name is at most 15 bytes (IFNAMSIZ-1), this one has 17'],
      ['LB_BAD_INTERFACE', 'L2Advertisement/l2-advert', 'spec.interfaces[2]', 'parsing l2 advertisement l2-advert: invalid interface "" in interfaces: an interface name must not be empty'],
      ['LB_BAD_INTERFACE', 'L2Advertisement/l2-advert', 'spec.interfaces[3]', 'parsing l2 advertisement l2-advert: invalid interface ".." in interfaces: an interface name must not be "." or ".."'],
      ['LB_BAD_INTERFACE', 'L2Advertisement/l2-advert', 'spec.interfaces[4]', `parsing l2 advertisement l2-advert: invalid interface "br/0" in interfaces: an interface name must not contain '/', ':', whitespace or NUL (found "/")`],
      ['LB_BAD_INTERFACE', 'L2Advertisement/l2-advert', 'spec.interfaces[5]', `parsing l2 advertisement l2-advert: invalid interface "eth 1" in interfaces: an interface name must not contain '/', ':', whitespace or NUL (found " ")`],
    ],
  );
  assert.equal(r.config, undefined, 'no configuration is built from it');
});

test('valid interface names (15 bytes included) load, in order', () => {
  const r = validateObjects([dev, l2('l2-advert', { ipAddressPools: ['default'], interfaces: ['eth0', 'abcdefghijklmno'] })], { namespace: NS });
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.config?.l2Advertisements.map((a) => a.interfaces), [['eth0', 'abcdefghijklmno']]);
});
