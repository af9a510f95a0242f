// berth's BGP session (src/speaker/bgp/session.ts + fsm.ts) against FRR 8 and BIRD 2 in network namespaces
// (bgp-interop-lab.ts; root, skipped with the reason otherwise), for what the interop matrix does not cover
// (bgp-interop-matrix.test.ts: every daemon × IPv4/IPv6 transport × MD5 or not, iBGP LOCAL_PREF, a wrong key). A
// hostile peer beside an FRR session (eBGP over IPv4 with TCP MD5, routes checked with vtysh) sends a treat-as-withdraw
// UPDATE and a malformed one: it gets UPDATE Message Error / Malformed Attribute List, and the FRR session is
// untouched. Graceful restart: BIRD keeps the route across a SIGKILLed and restarted speaker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { peerLabSkipReason, sleep, startInteropLab, type Agent, type InteropLab } from './bgp-interop-lab.ts';

async function eventually(f: () => boolean, what: () => string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what()}`);
    await sleep(200);
  }
}

const V4 = '198.51.100.10/32';
const V6 = '2001:db8:100::10/128';

const EXPECT = {
  v4: [
    /^\s*64500\s*$/m,
    /198\.51\.100\.2 from 198\.51\.100\.2/,
    /Community: 64500:100/,
    /Large Community: 64500:1:2/,
  ],
  v6: [/2001:db8:77::2/, /Large Community: 64500:1:2/],
};

/** FRR with a hostile peer beside its session (hostileChecks) while IPv4 and IPv6 routes are announced, then withdrawn. */
async function announceAndCheck(lab: InteropLab, during: (agent: Agent) => Promise<void>): Promise<void> {
  const agent = lab.agent({ hostile: true });
  try {
    const up = await agent.waitFor((e) => e.event === 'established', 'the session with frr');
    assert.equal(up.holdTime, 9);
    const attrs = { communities: ['64500:100'], large: ['64500:1:2'] };
    agent.send({ cmd: 'announce', prefix: V4, ...attrs });
    agent.send({ cmd: 'announce', prefix: V6, ...attrs });
    await eventually(
      () => lab.route(V4) !== '' && lab.route(V6) !== '',
      () => `${V4} and ${V6} in frr:\n${lab.route(V4)}\n${lab.route(V6)}`,
    );
    const v4 = lab.route(V4);
    const v6 = lab.route(V6);
    for (const re of EXPECT.v4) assert.match(v4, re, `frr IPv4 route:\n${v4}`);
    for (const re of EXPECT.v6) assert.match(v6, re, `frr IPv6 route:\n${v6}`);
    await during(agent);
    agent.send({ cmd: 'withdraw', prefix: V4 });
    agent.send({ cmd: 'withdraw', prefix: V6 });
    await eventually(
      () => lab.route(V4) === '' && lab.route(V6) === '',
      () => `the withdraw in frr:\n${lab.route(V4)}\n${lab.route(V6)}`,
    );
    assert.ok(
      !agent.events.some((e) => e.event === 'down' && e.id === 'router'),
      JSON.stringify(agent.events),
    );
  } finally {
    await agent.stop();
  }
}

test(
  'frr: a hostile peer beside an eBGP session (IPv4, TCP MD5) gets the RFC 7606 treatment; the FRR session and its routes are untouched',
  { skip: peerLabSkipReason('frr') },
  async (t) => {
    const lab = await startInteropLab({ daemon: 'frr', password: 'berth-md5-key' });
    t.after(() => lab.close());
    // A hostile peer (bgp-session-agent.ts) sends a treat-as-withdraw UPDATE, then a malformed one: it gets UPDATE
    // Message Error / Malformed Attribute List, and the FRR session is untouched.
    await announceAndCheck(lab, hostileChecks);
  },
);

/** The hostile peer's session was reset with the right NOTIFICATION after one treat-as-withdraw UPDATE; FRR's is up. */
async function hostileChecks(agent: Agent): Promise<void> {
  const n = await agent.waitFor(
    (e) => e.event === 'hostile' && e.notification !== undefined,
    'the NOTIFICATION to the hostile peer',
  );
  assert.equal(n.notification, '3/1', 'UPDATE Message Error / Malformed Attribute List');
  const down = await agent.waitFor(
    (e) => e.event === 'down' && e.id === 'hostile',
    'the hostile session reset',
  );
  assert.equal(down.reason, 'decode-error');
  agent.send({ cmd: 'stats' });
  const st = await agent.waitFor((e) => e.event === 'stats' && e.id === 'hostile', 'hostile stats');
  assert.deepEqual(st.updateErrors, { 'treat-as-withdraw': 1 }, 'the ORIGIN 5 UPDATE was kept as a withdraw');
  const fr = await agent.waitFor((e) => e.event === 'stats' && e.id === 'router', 'router stats');
  assert.equal(fr.up, true);
  assert.equal(fr.announcedPrefixes, 2);
}

test(
  'bird: with graceful restart the route survives a SIGKILLed speaker and its restart; without it the route goes at once',
  { skip: peerLabSkipReason('bird') },
  async (t) => {
    const lab = await startInteropLab({ daemon: 'bird' });
    t.after(() => lab.close());
    // Control: no graceful restart → the route is gone as soon as the connection drops.
    const plain = lab.agent();
    await plain.waitFor((e) => e.event === 'established', 'the session');
    plain.send({ cmd: 'announce', prefix: V4 });
    await eventually(
      () => lab.route(V4) !== '',
      () => `${V4} in bird`,
    );
    await plain.kill();
    await eventually(
      () => lab.route(V4) === '',
      () => `${V4} removed without graceful restart:\n${lab.route(V4)}`,
      5000,
    );

    const gr = { gracefulRestart: { restartTimeSec: 120 } };
    const first = lab.agent({ session: gr });
    await first.waitFor((e) => e.event === 'established', 'the session with graceful restart');
    first.send({ cmd: 'announce', prefix: V4 });
    await eventually(
      () => lab.route(V4) !== '',
      () => `${V4} in bird`,
    );
    await first.kill();
    // Throughout the outage and the restart the route must stay at the router.
    let missing = 0;
    const watch = setInterval(() => {
      if (lab.route(V4) === '') missing++;
    }, 100);
    t.after(() => clearInterval(watch));
    await sleep(1500);
    assert.match(lab.route(V4), /stale|198\.51\.100\.2/, 'kept (stale) while the speaker is down');
    const second = lab.agent({ session: gr });
    second.send({ cmd: 'announce', prefix: V4 });
    await second.waitFor((e) => e.event === 'established', 'the restarted session');
    await sleep(1500);
    clearInterval(watch);
    assert.equal(missing, 0, 'the route never disappeared');
    assert.doesNotMatch(lab.route(V4), /stale/, 'refreshed after End-of-RIB');
    await second.stop();
  },
);
