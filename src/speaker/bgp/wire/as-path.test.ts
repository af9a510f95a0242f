// RFC 6793 §4.2.2 / §4.2.3: sending and rebuilding AS paths across 2-octet AS sessions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AS_TRANS } from './constants.ts';
import { type AsPathSegment, asPathCount, downgradeAsPath, reconstructAsPath } from './attributes/as-path.ts';

const seq = (...asns: number[]): AsPathSegment => ({ type: 'AS_SEQUENCE', asns });
const set = (...asns: number[]): AsPathSegment => ({ type: 'AS_SET', asns });

test('downgradeAsPath: 4-octet ASNs become AS_TRANS and the real path goes in AS4_PATH', () => {
  assert.deepEqual(downgradeAsPath([seq(4200000000, 64500)]), {
    asPath: [seq(AS_TRANS, 64500)],
    as4Path: [seq(4200000000, 64500)],
  });
  assert.deepEqual(
    downgradeAsPath([seq(64500)]),
    { asPath: [seq(64500)], as4Path: undefined },
    'no AS4_PATH when nothing needs it',
  );
  assert.deepEqual(
    downgradeAsPath([{ type: 'AS_CONFED_SEQUENCE', asns: [65001] }, seq(4200000000)]).as4Path,
    [seq(4200000000)],
    'confederation segments stay out of AS4_PATH (RFC 6793 §3)',
  );
});

test('asPathCount: AS_SET counts 1, confederation segments 0', () => {
  assert.equal(asPathCount([seq(1, 2, 3), set(4, 5), { type: 'AS_CONFED_SET', asns: [6] }]), 4);
});

const cases: {
  desc: string;
  asPath: AsPathSegment[];
  as4Path: AsPathSegment[] | undefined;
  want: AsPathSegment[];
}[] = [
  {
    desc: 'no AS4_PATH: AS_PATH as is',
    asPath: [seq(64500, AS_TRANS)],
    as4Path: undefined,
    want: [seq(64500, AS_TRANS)],
  },
  {
    desc: 'an old speaker prepended 64501 in front of a path with one 4-octet ASN',
    asPath: [seq(64501, AS_TRANS, 64500)],
    as4Path: [seq(4200000000, 64500)],
    want: [seq(64501, 4200000000, 64500)],
  },
  {
    desc: 'same length: AS4_PATH replaces AS_PATH',
    asPath: [seq(AS_TRANS)],
    as4Path: [seq(4200000000)],
    want: [seq(4200000000)],
  },
  {
    desc: 'AS4_PATH longer than AS_PATH is ignored (§4.2.3)',
    asPath: [seq(AS_TRANS)],
    as4Path: [seq(4200000000, 64500)],
    want: [seq(AS_TRANS)],
  },
  {
    desc: 'an AS_SET in the leading part counts once',
    asPath: [set(1, 2), seq(AS_TRANS)],
    as4Path: [seq(4200000000)],
    want: [set(1, 2), seq(4200000000)],
  },
];
for (const c of cases) {
  test(`reconstructAsPath: ${c.desc}`, () => {
    assert.deepEqual(reconstructAsPath(c.asPath, c.as4Path), c.want);
  });
}

test('downgrade then reconstruct gives the original path back', () => {
  const path = [seq(64501, 4200000000, 64500, 4200000001)];
  const d = downgradeAsPath(path);
  assert.deepEqual(reconstructAsPath(d.asPath, d.as4Path), path);
});
