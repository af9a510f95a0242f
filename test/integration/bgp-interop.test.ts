// berth's BGP session (src/speaker/bgp/session.ts + fsm.ts) against BIRD 2, FRR 8 and GoBGP 3 in network namespaces
// (bgp-interop-lab.ts; root, skipped with the reason otherwise). Each router must show the session Established and
// the routes berth announces with the right next hop, AS path, communities, large communities (and LOCAL_PREF on
// iBGP), read back with birdc / vtysh / gobgp; a withdraw must remove them. TCP MD5 (RFC 2385) is on for the eBGP
// cases, off for the IPv6-transport and iBGP ones; a wrong key never establishes. A hostile peer beside FRR sends a
// treat-as-withdraw UPDATE and a malformed one: it gets UPDATE Message Error / Malformed Attribute List, and the FRR
// session is untouched. Graceful restart: BIRD keeps the route across a SIGKILLed and restarted speaker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DAEMONS,
  peerLabSkipReason,
  sleep,
  startInteropLab,
  type Agent,
  type DaemonName,
  type InteropLab,
} from './bgp-interop-lab.ts';

async function eventually(f: () => boolean, what: () => string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what()}`);
    await sleep(200);
  }
}

const V4 = '198.51.100.10/32';
const V6 = '2001:db8:100::10/128';

const EXPECT: Record<DaemonName, { v4: RegExp[]; v6: RegExp[]; ibgp: RegExp[] }> = {
  bird: {
    v4: [
      /BGP\.as_path: 64500\s*$/m,
      /BGP\.next_hop: 198\.51\.100\.2/,
      /BGP\.community: \(64500,100\)/,
      /BGP\.large_community: \(64500, 1, 2\)/,
    ],
    v6: [/BGP\.next_hop: 2001:db8:77::2/, /BGP\.large_community: \(64500, 1, 2\)/],
    ibgp: [/BGP\.local_pref: 300/, /BGP\.as_path:\s*$/m],
  },
  frr: {
    v4: [
      /^\s*64500\s*$/m,
      /198\.51\.100\.2 from 198\.51\.100\.2/,
      /Community: 64500:100/,
      /Large Community: 64500:1:2/,
    ],
    v6: [/2001:db8:77::2/, /Large Community: 64500:1:2/],
    ibgp: [/localpref 300/, /Local/],
  },
  gobgp: {
    v4: [/198\.51\.100\.2\s+64500\s/, /Communities: 64500:100/, /LargeCommunity: \[ 64500:1:2\]/],
    v6: [/2001:db8:77::2\s+64500\s/, /LargeCommunity: \[ 64500:1:2\]/],
    ibgp: [/LocalPref: 300/],
  },
};

async function announceAndCheck(
  lab: InteropLab,
  daemon: DaemonName,
  ibgp: boolean,
  o: { session?: object; hostile?: boolean; during?: (agent: Agent) => Promise<void> } = {},
): Promise<void> {
  const agent = lab.agent({ ...(o.session ? { session: o.session } : {}), hostile: o.hostile ?? false });
  try {
    const up = await agent.waitFor((e) => e.event === 'established', `the session with ${daemon}`);
    assert.equal(up.holdTime, 9);
    const attrs = { communities: ['64500:100'], large: ['64500:1:2'], ...(ibgp ? { localPref: 300 } : {}) };
    agent.send({ cmd: 'announce', prefix: V4, ...attrs });
    agent.send({ cmd: 'announce', prefix: V6, ...attrs });
    await eventually(
      () => lab.route(V4) !== '' && lab.route(V6) !== '',
      () => `${V4} and ${V6} in ${daemon}:\n${lab.route(V4)}\n${lab.route(V6)}`,
    );
    const v4 = lab.route(V4);
    const v6 = lab.route(V6);
    if (process.env.SHOW_ROUTES) console.log(v4, v6);
    if (ibgp) for (const re of EXPECT[daemon].ibgp) assert.match(v4, re, `${daemon} iBGP route:\n${v4}`);
    else {
      for (const re of EXPECT[daemon].v4) assert.match(v4, re, `${daemon} IPv4 route:\n${v4}`);
      for (const re of EXPECT[daemon].v6) assert.match(v6, re, `${daemon} IPv6 route:\n${v6}`);
    }
    await o.during?.(agent);
    agent.send({ cmd: 'withdraw', prefix: V4 });
    agent.send({ cmd: 'withdraw', prefix: V6 });
    await eventually(
      () => lab.route(V4) === '' && lab.route(V6) === '',
      () => `the withdraw in ${daemon}:\n${lab.route(V4)}\n${lab.route(V6)}`,
    );
    assert.ok(
      !agent.events.some((e) => e.event === 'down' && e.id === 'router'),
      JSON.stringify(agent.events),
    );
  } finally {
    await agent.stop();
  }
}

for (const daemon of DAEMONS) {
  test(
    `${daemon}: eBGP over IPv4 with TCP MD5; IPv4 and IPv6 routes with next hop and communities, then withdrawn${daemon === 'frr' ? '; a hostile peer beside it gets the RFC 7606 treatment' : ''}`,
    { skip: peerLabSkipReason(daemon) },
    async (t) => {
      const lab = await startInteropLab({ daemon, password: 'berth-md5-key' });
      t.after(() => lab.close());
      // Beside the FRR session, a hostile peer (bgp-session-agent.ts) sends a treat-as-withdraw UPDATE, then a
      // malformed one: it gets UPDATE Message Error / Malformed Attribute List, and the FRR session is untouched.
      await announceAndCheck(
        lab,
        daemon,
        false,
        daemon === 'frr' ? { hostile: true, during: hostileChecks } : {},
      );
    },
  );
}

test(
  'bird: eBGP over IPv6 transport without MD5, hop limit 1',
  { skip: peerLabSkipReason('bird') },
  async (t) => {
    const lab = await startInteropLab({ daemon: 'bird', transport: 6 });
    t.after(() => lab.close());
    await announceAndCheck(lab, 'bird', false, { session: { ttl: 1 } });
  },
);

for (const daemon of ['gobgp', 'bird'] as const) {
  test(
    `${daemon}: iBGP carries LOCAL_PREF and an empty AS path`,
    { skip: peerLabSkipReason(daemon) },
    async (t) => {
      const lab = await startInteropLab({ daemon, ibgp: true });
      t.after(() => lab.close());
      await announceAndCheck(lab, daemon, true);
    },
  );
}

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
  'bird: a wrong TCP MD5 key never establishes (the key really is on the SYN)',
  { skip: peerLabSkipReason('bird') },
  async (t) => {
    const lab = await startInteropLab({ daemon: 'bird', password: 'berth-md5-key' });
    t.after(() => lab.close());
    const agent = lab.agent({ session: { password: 'not-the-key', connectTimeMs: 1000 } });
    t.after(() => agent.stop());
    await agent.waitFor((e) => e.event === 'down', 'a failed attempt');
    await sleep(2000);
    assert.ok(!agent.events.some((e) => e.event === 'established'), JSON.stringify(agent.events));
    const down = agent.events.find((e) => e.event === 'down');
    assert.equal(
      down?.reason,
      'connect-timeout',
      'unsigned-by-the-right-key SYNs are dropped: the connect times out',
    );
  },
);

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
