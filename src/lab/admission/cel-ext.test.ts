// The CEL additions ValidatingAdmissionPolicies need: macros map/filter/exists_one, the strings extension,
// the Kubernetes IP/CIDR library, lazily failing variables. Expected values follow cel-go and
// k8s.io/apiserver/pkg/cel/library (ip.go, cidr.go).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CelErrorValue, evalCel } from './cel.ts';

const vars = {
  object: { spec: { addresses: ['192.0.2.0/24', ' 10.0.0.1 - 10.0.0.9 ', 'x'] }, metadata: { annotations: { a: '1' } } },
  variables: { good: 'v', bad: new CelErrorValue('no such key: nope') },
};
const value = (src: string) => {
  const r = evalCel(src, vars);
  assert.ok(r.ok, `${src}: ${r.ok ? '' : r.error}`);
  return r.value;
};

test('macros: map, filter, exists_one, and all/exists error absorption', () => {
  assert.deepEqual(value('[1, 2, 3].map(x, x * 2)'), [2, 4, 6]);
  assert.deepEqual(value('[1, 2, 3].map(x, x > 1, x * 10)'), [20, 30]);
  assert.deepEqual(value("object.spec.addresses.filter(a, a.contains('/'))"), ['192.0.2.0/24']);
  assert.deepEqual(value("{'k': 1, 'j': 2}.filter(k, k == 'j')"), ['j']);
  assert.equal(value('[1, 2, 3].exists_one(x, x > 2)'), true);
  assert.equal(value('[1, 2, 3].exists_one(x, x > 1)'), false);
  assert.equal(value('[0, 1].exists(x, 1 / x == 1)'), true, 'an error on one element is absorbed when another decides');
  assert.equal(evalCel('[0, 1].map(x, 1 / x)', vars).ok, false, 'map propagates errors');
  assert.equal(evalCel('[1].filter(x, x)', vars).ok, false, 'a non-bool predicate is an error');
});

test('strings extension: trim, split, join, lowerAscii, upperAscii, replace, substring, indexOf, charAt', () => {
  assert.equal(value("'  a b \\t'.trim()"), 'a b');
  assert.deepEqual(value("'a,b,,c'.split(',')"), ['a', 'b', '', 'c']);
  assert.deepEqual(value("'a-b-c'.split('-', 2)"), ['a', 'b-c']);
  assert.deepEqual(value("'abc'.split('', -1)"), ['a', 'b', 'c']);
  assert.deepEqual(value("'a'.split(',', 0)"), []);
  assert.equal(value("['x', 'y'].join(', ')"), 'x, y');
  assert.equal(value("['x', 'y'].join()"), 'xy');
  assert.equal(evalCel('[1, 2].join()', vars).ok, false);
  assert.equal(value("'AbC-é'.lowerAscii()"), 'abc-é');
  assert.equal(value("'abc'.upperAscii()"), 'ABC');
  assert.equal(value("'a.b.c'.replace('.', '-')"), 'a-b-c');
  assert.equal(value("'a.b.c'.replace('.', '-', 1)"), 'a-b.c');
  assert.equal(value("'héllo'.substring(1, 3)"), 'él');
  assert.equal(evalCel("'abc'.substring(2, 1)", vars).ok, false);
  assert.equal(value("'héllo'.indexOf('l')"), 2);
  assert.equal(value("'héllo'.lastIndexOf('l')"), 3);
  assert.equal(value("'abc'.charAt(3)"), '');
  assert.equal(value('string(2) + "x"'), '2x');
  assert.equal(evalCel("'abc'.trim(1)", vars).ok, false, 'wrong arity is no matching overload');
});

test('IP library: isIP/ip() accept what netip accepts minus zones and IPv4-mapped IPv6', () => {
  for (const s of ['192.0.2.1', '0.0.0.0', '255.255.255.255', '2001:db8::1', '::', '::1.2.3.4', 'FE80::1']) assert.equal(value(`isIP('${s}')`), true, s);
  for (const s of ['192.168.1.300', '192.168.01.1', '1.2.3', ' 1.2.3.4', '1.2.3.4 ', 'fe80::1%eth0', '::ffff:1.2.3.4', '::ffff:102:304', '192.0.2.0/24', '', 'x', '1:2:3:4:5:6:7:8:9']) {
    assert.equal(value(`isIP('${s}')`), false, s);
  }
  assert.equal(value("ip('192.0.2.1').family()"), 4);
  assert.equal(value("ip('2001:db8::1').family()"), 6);
  assert.equal(value("ip('2001:db8::1') == ip('2001:0db8:0::1')"), true);
  assert.equal(value("string(ip('2001:0db8::0001'))"), '2001:db8::1');
  assert.equal(value("ip('127.0.0.9').isLoopback() && ip('::').isUnspecified()"), true);
  assert.equal(value("ip.isCanonical('2001:db8::1') && !ip.isCanonical('2001:DB8::1')"), true);
  const bad = evalCel("ip('192.168.1.300')", vars);
  assert.ok(!bad.ok && bad.error.includes('192.168.1.300'), 'ip() of a non-IP is an evaluation error');
});

test('CIDR library: isCIDR/cidr() (host bits allowed), containsIP, containsCIDR, masked, prefixLength', () => {
  for (const s of ['192.0.2.0/24', '192.0.2.5/24', '10.0.0.0/0', '2001:db8::/32', '::1/128']) assert.equal(value(`isCIDR('${s}')`), true, s);
  for (const s of ['100.200.300.400/24', '192.0.2.0/33', '192.0.2.0/024', '192.0.2.0', '2001:db8::/129', '::ffff:1.2.3.0/120', '192.0.2.0/ 24', ' 192.0.2.0/24']) {
    assert.equal(value(`isCIDR('${s}')`), false, s);
  }
  assert.equal(value("cidr('192.0.2.5/24').containsIP('192.0.2.200')"), true);
  assert.equal(value("cidr('192.0.2.5/24').containsIP(ip('192.0.3.1'))"), false);
  assert.equal(value("cidr('192.0.2.0/24').containsIP('2001:db8::1')"), false);
  assert.equal(value("cidr('10.0.0.0/8').containsCIDR('10.1.0.0/16') && !cidr('10.1.0.0/16').containsCIDR('10.0.0.0/8')"), true);
  assert.equal(value("string(cidr('192.0.2.5/24').masked())"), '192.0.2.0/24');
  assert.equal(value("cidr('192.0.2.5/24').ip() == ip('192.0.2.5')"), true);
  assert.equal(value("cidr('2001:db8::/48').prefixLength()"), 48);
  assert.equal(evalCel("cidr('192.0.2.0/33')", vars).ok, false);
});

test('a failed variable is an error only where it is read', () => {
  assert.equal(value("variables.good == 'v'"), true);
  assert.deepEqual(evalCel('variables.bad == 1', vars), { ok: false, error: 'no such key: nope' });
  assert.equal(value("true || variables.bad == 1"), true);
  assert.equal(value("object.metadata.annotations['a'] == '1'"), true);
});
