// BGP unnumbered (BGPPeer `interface`, RFC 8950 over IPv6 link-local) with TCP MD5 and with BFD, against FRR 8
// (bgp-unnumbered-lab.ts: zebra + bgpd (+ bfdd) in the router namespace, `neighbor <if> interface`, passive).
// - MD5 (RFC 2385): berth's session sets TCP_MD5SIG for the router's link-local, found from its RAs, before the SYN
//   (the key is keyed on the address alone: Linux matches a key without TCP_MD5SIG_FLAG_IFINDEX on any interface);
//   FRR has `neighbor <if> password`, which it applies to its listening socket once it has learned the node's
//   link-local from the node's RAs. With the same key the session is Established and the route reaches the router;
//   with another key the router's kernel counts TCPMD5Failure and the session never comes up.
// Root only; documentation ranges only (203.0.113.0/24 routes, no other address on the link).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sh, sleep } from '../fixtures/bgp/router-lab.ts';
import { startSessionAgent } from '../fixtures/bgp/session-agent.ts';
import { startUnnumberedLab, unnumberedSkipReason } from './bgp-unnumbered-lab.ts';

const KEY = 'berth-md5-key';
const skip = unnumberedSkipReason();
if (skip) process.stdout.write(`# skipping bgp-unnumbered-options: ${skip}\n`);

/** TcpExt counters of a namespace's kernel (/proc/net/netstat), by name. */
function tcpExt(ns: string): Record<string, number> {
  const lines = sh('ip', ['netns', 'exec', ns, 'cat', '/proc/net/netstat'])
    .split('\n')
    .filter((l) => l.startsWith('TcpExt:'));
  const names = (lines[0] ?? '').split(/\s+/).slice(1);
  const values = (lines[1] ?? '').split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i] ?? 0]));
}

const session = (nif: string, extra: object) => ({
  id: 'router',
  peerAddress: '',
  interface: nif,
  localAsn: 64500,
  peerAsn: 64501,
  holdTime: 9,
  backoffMs: 300,
  maxBackoffMs: 1000,
  nodeName: 'n1',
  families: ['ipv4', 'ipv6'],
  ...extra,
});

test(
  'unnumbered + TCP MD5: the key set for the discovered link-local; Established with FRR `neighbor <if> password`, the route reaches the router kernel',
  { skip, timeout: 90_000 },
  async (t) => {
    const u = await startUnnumberedLab({ neighborLines: [`neighbor <if> password ${KEY}`] });
    t.after(() => u.close());
    const agent = startSessionAgent(u.lab, { sessions: [session(u.nif, { password: KEY })] });
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
    const agent = startSessionAgent(u.lab, { sessions: [session(u.nif, { password: 'not-the-key' })] });
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
