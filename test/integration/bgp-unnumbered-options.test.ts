// BGP unnumbered (BGPPeer `interface`, RFC 8950 over IPv6 link-local) with TCP MD5 and with BFD, against FRR 8
// (bgp-unnumbered-lab.ts: zebra + bgpd (+ bfdd) in the router namespace, `neighbor <if> interface`, passive).
// - MD5 (RFC 2385): berth's session sets TCP_MD5SIG for the router's link-local, found from its RAs, before the SYN
//   (the key is keyed on the address alone: Linux matches a key without TCP_MD5SIG_FLAG_IFINDEX on any interface);
//   FRR has `neighbor <if> password`, which it applies to its listening socket once it has learned the node's
//   link-local from the node's RAs. With the same key the session is Established and the route reaches the router;
//   with another key the router's kernel counts TCPMD5Failure and the session never comes up.
// - BFD (RFC 5880/5881 single hop over the IPv6 link-locals): a BGPPeer with `interface` and a bfdProfile through the
//   config and BgpSpeaker with its BfdServer (bgp-unnumbered-agent.ts); the BFD server finds the router on the
//   interface as the session does (its RA-learned link-local) and FRR's bfdd (`neighbor <if> bfd profile fast`, 100 ms
//   × 3) runs the session with the node's link-local. Hold time 90 s so only BFD can end the session quickly: bfdd
//   SIGSTOPped → berth's BFD goes down (Control Detection Time Expired) and closes the BGP session with Cease/BFD Down;
//   SIGCONT → BFD up, the session is Established again.
// Root only; documentation ranges only (203.0.113.0/24 routes, no other address on the link).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sh, sleep } from '../fixtures/bgp/router-lab.ts';
import { startSessionAgent } from '../fixtures/bgp/session-agent.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateObjects } from '../../src/config/build.ts';
import { startLineAgent, startUnnumberedLab, unnumberedSession, unnumberedSkipReason } from './bgp-unnumbered-lab.ts';

const KEY = 'berth-md5-key';
const AGENT = fileURLToPath(new URL('./bgp-unnumbered-agent.ts', import.meta.url));
const skip = unnumberedSkipReason();
if (skip) process.stdout.write(`# skipping bgp-unnumbered-options: ${skip}\n`);
const skipBfd = unnumberedSkipReason({ bfd: true });

/** TcpExt counters of a namespace's kernel (/proc/net/netstat), by name. */
function tcpExt(ns: string): Record<string, number> {
  const lines = sh('ip', ['netns', 'exec', ns, 'cat', '/proc/net/netstat'])
    .split('\n')
    .filter((l) => l.startsWith('TcpExt:'));
  const names = (lines[0] ?? '').split(/\s+/).slice(1);
  const values = (lines[1] ?? '').split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i] ?? 0]));
}

test(
  'unnumbered + TCP MD5: the key set for the discovered link-local; Established with FRR `neighbor <if> password`, the route reaches the router kernel',
  { skip, timeout: 90_000 },
  async (t) => {
    const u = await startUnnumberedLab({ neighborLines: [`neighbor <if> password ${KEY}`] });
    t.after(() => u.close());
    const agent = startSessionAgent(u.lab, { sessions: [unnumberedSession(u.nif, { password: KEY })] });
    t.after(() => agent.stop());
    await agent.waitFor((e) => e.event === 'established', 'the unnumbered session with MD5', 40_000);
    const n = await (async () => {
      for (let i = 0; i < 100; i++) {
        const x = u.neighbor();
        if (x?.bgpState === 'Established') return x;
        await sleep(200);
      }
      throw new Error(`FRR never Established: ${JSON.stringify(u.neighbor())}`);
    })();
    process.stdout.write(
      `# FRR neighbor ${u.rif}: ${String(n.bgpState)}, host ${String(n.hostname ?? '')}, md5 ${JSON.stringify(n.tcpMd5 ?? n.md5 ?? '(not shown)')}\n`,
    );
    const ext = tcpExt(u.lab.router);
    process.stdout.write(
      `# router kernel: TCPMD5NotFound ${ext.TCPMD5NotFound}, TCPMD5Unexpected ${ext.TCPMD5Unexpected}, TCPMD5Failure ${ext.TCPMD5Failure}\n`,
    );
    agent.send({ cmd: 'announce', prefix: '203.0.113.30/32' });
    for (let i = 0; ; i++) {
      const r = u.kernelRoute('203.0.113.30');
      if (r) {
        process.stdout.write(`# router kernel: ${r}\n`);
        assert.match(r, new RegExp(`dev ${u.rif}`));
        break;
      }
      if (i > 100) assert.fail('203.0.113.30 never reached the router kernel');
      await sleep(200);
    }
  },
);

test(
  'unnumbered + TCP MD5 with the wrong key: the router kernel drops the signed segments (TCPMD5Failure), never Established',
  { skip, timeout: 90_000 },
  async (t) => {
    const u = await startUnnumberedLab({ neighborLines: [`neighbor <if> password ${KEY}`] });
    t.after(() => u.close());
    const before = tcpExt(u.lab.router).TCPMD5Failure ?? 0;
    const agent = startSessionAgent(u.lab, { sessions: [unnumberedSession(u.nif, { password: 'not-the-key' })] });
    t.after(() => agent.stop());
    let failures = 0;
    for (let i = 0; i < 200 && failures === 0; i++) {
      failures = (tcpExt(u.lab.router).TCPMD5Failure ?? 0) - before;
      if (failures === 0) await sleep(200);
    }
    process.stdout.write(
      `# router kernel TCPMD5Failure +${failures}; berth: ${JSON.stringify(agent.events.slice(0, 3))}\n`,
    );
    assert.ok(failures > 0, 'the router kernel saw segments signed with another key');
    assert.ok(!agent.events.some((e) => e.event === 'established'), 'no session with the wrong key');
    assert.notEqual(u.neighbor()?.bgpState, 'Established');
  },
);

test(
  "unnumbered + BFD (and MD5 from the BGPPeer): BgpSpeaker's BFD session with FRR bfdd over the link-locals; BFD down closes the BGP session (Cease/BFD Down), BFD up brings it back",
  { skip: skipBfd, timeout: 120_000 },
  async (t) => {
    const u = await startUnnumberedLab({
      // With the key too: the BGPPeer password through the config and BgpSpeaker (the first test sets it directly).
      neighborLines: [
        'neighbor <if> bfd profile fast',
        'neighbor <if> timers 30 90',
        `neighbor <if> password ${KEY}`,
      ],
      bfdProfile: { name: 'fast', intervalMs: 100, multiplier: 3 },
    });
    t.after(() => u.close());
    const built = validateObjects(
      [
        {
          apiVersion: 'metallb.io/v1beta2',
          kind: 'BGPPeer',
          metadata: { name: 'tor', namespace: 'metallb-system' },
          spec: {
            myASN: 64500,
            peerASN: 64501,
            interface: u.nif,
            holdTime: '90s',
            keepaliveTime: '30s',
            bfdProfile: 'fast',
            password: KEY,
          },
        },
        {
          apiVersion: 'metallb.io/v1beta1',
          kind: 'BFDProfile',
          metadata: { name: 'fast', namespace: 'metallb-system' },
          spec: { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3 },
        },
      ],
      { namespace: 'metallb-system' },
    );
    assert.deepEqual(built.problems, []);
    const { child, events } = startLineAgent(t, u.lab, AGENT);
    const waitEvent = async (f: (e: (typeof events)[number]) => boolean, what: string, ms = 40_000) => {
      for (let waited = 0; ; waited += 100) {
        const e = events.find(f);
        if (e) return e;
        if (waited > ms || child.exitCode !== null)
          throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(events)}`);
        await sleep(100);
      }
    };
    const prefix = '203.0.113.40/32';
    child.stdin!.write(
      JSON.stringify({
        cmd: 'sync',
        bfdProfiles: built.config!.bfdProfiles,
        plan: {
          peers: [
            [
              'tor',
              {
                name: 'tor',
                peer: built.config!.peers[0]!,
                routes: [
                  [
                    prefix,
                    {
                      prefix,
                      family: 'IPv4',
                      communities: [],
                      largeCommunities: [],
                      extendedCommunities: [],
                      services: ['default/web'],
                    },
                  ],
                ],
              },
            ],
          ],
        },
      }) + '\n',
    );
    await waitEvent((e) => e.event === 'sessionUp', 'the unnumbered session Established');
    const bfdUp = await waitEvent((e) => e.event === 'bfdSessionUp', "berth's BFD session Up");
    process.stdout.write(`# berth BFD: ${JSON.stringify(bfdUp)}\n`);
    assert.equal(bfdUp.peer, u.routerLinkLocal(), "the BFD peer is the router's link-local");
    assert.equal(bfdUp.ifname, u.nif);
    type FrrBfdPeer = {
      peer?: string;
      interface?: string;
      status?: string;
      diagnostic?: string;
      'remote-diagnostic'?: string;
    };
    const frrPeer = (): FrrBfdPeer | undefined =>
      ((u.vtysh('show bfd peers json') as FrrBfdPeer[] | undefined) ?? []).find((p) => p.interface === u.rif);
    for (let i = 0; frrPeer()?.status !== 'up'; i++) {
      if (i > 100) assert.fail(`FRR's BFD peer never up: ${JSON.stringify(u.vtysh('show bfd peers json'))}`);
      await sleep(200);
    }
    process.stdout.write(`# FRR bfdd: ${JSON.stringify(frrPeer())}\n`);
    assert.equal(frrPeer()?.peer, u.nodeLinkLocal(), "FRR's BFD peer is the node's link-local");
    process.stdout.write(`# FRR neighbor BFD: ${JSON.stringify(u.neighbor()?.peerBfdInfo)}\n`);

    const bfdd = Number(readFileSync(join(u.lab.dir, 'bfdd.pid'), 'utf8').trim());
    assert.ok(Number.isInteger(bfdd) && bfdd > 1, 'bfdd pid');
    process.kill(bfdd, 'SIGSTOP');
    try {
      const down = await waitEvent((e) => e.event === 'bfdDown', 'berth: BFD down', 20_000);
      process.stdout.write(`# berth: ${JSON.stringify(down)}\n`);
      assert.match(String(down.diagName), /Control ?Detection ?Time ?Expired/i);
      const sd = await waitEvent((e) => e.event === 'sessionDown', 'berth: the BGP session down', 20_000);
      process.stdout.write(`# berth: ${JSON.stringify(sd)}\n`);
      assert.match(String(sd.text), /Cease\/BfdDown/);
    } finally {
      process.kill(bfdd, 'SIGCONT');
    }
    await waitEvent((e) => e.event === 'bfdUp', 'berth: BFD up again', 30_000);
    for (let i = 0; events.filter((e) => e.event === 'sessionUp').length < 2; i++) {
      if (i > 300) assert.fail(`the session never came back: ${JSON.stringify(events)}`);
      await sleep(100);
    }
    for (let i = 0; !u.kernelRoute('203.0.113.40'); i++) {
      if (i > 150) assert.fail('203.0.113.40 not in the router kernel after the session came back');
      await sleep(200);
    }
  },
);
