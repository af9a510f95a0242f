// Layer 2 end to end on a namespace segment (root only): a Layer2Announcer over real AF_PACKET sockets in a node
// namespace answers real `arping` and `ndisc6` from a client namespace for IPs configured on no interface; the
// client's kernel neighbour entries (made with ping) move to a second node's MAC on takeover (gratuitous ARP /
// unsolicited NA with Override); a client that owns an IP makes the announcer report a conflict and not announce.
// Topology: bt<pid>sw holds bridge br0; bt<pid>cl (client, .1), bt<pid>n1 (.2), bt<pid>n2 (.3), each an eth0 veth
// whose peer is a port of br0. Documentation ranges only: 198.51.100.0/24, 2001:db8:77::/64.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Agent,
  REPO,
  agentArgv,
  type AgentEvent,
  arpPayload,
  ethernetFrame,
  ip,
  netnsUnavailable,
} from './link-harness.ts';

const CHILD = fileURLToPath(new URL('./layer2-netns.child.ts', import.meta.url));
const ADDON = fileURLToPath(new URL('../../native/build/Release/berth_native.node', import.meta.url));
const P = `bt${process.pid}`;
const SW = `${P}sw`;
const CL = `${P}cl`;
const N1 = `${P}n1`;
const N2 = `${P}n2`;
const MAC = { [CL]: '02:00:00:77:00:01', [N1]: '02:00:00:77:00:02', [N2]: '02:00:00:77:00:03' };
const ADDR = { [CL]: 1, [N1]: 2, [N2]: 3 };
const VIP4 = '198.51.100.100';
const VIP6 = '2001:db8:77::100';
const TAKEN4 = '198.51.100.200';
const TAKEN6 = '2001:db8:77::200';
const BURST4 = '198.51.100.150';

function unavailable(): string | undefined {
  const why = netnsUnavailable();
  if (why) return why;
  if (!existsSync(ADDON)) return `native addon not built (${ADDON}): run npm install`;
  for (const tool of ['arping', 'ndisc6', 'ping'])
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  return undefined;
}

function inNs(ns: string, ...cmd: string[]): { status: number | null; out: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8', timeout: 15_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function neighbour(address: string): string {
  return ip('-n', CL, 'neigh', 'show', address);
}

async function until(what: string, check: () => boolean, tries = 50): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

function announcer(ns: string, cfg: { ips: string[]; probe: boolean; friendly?: string[] }): Agent {
  return new Agent(
    [
      'ip',
      'netns',
      'exec',
      ns,
      process.execPath,
      '--import',
      'tsx',
      CHILD,
      JSON.stringify({ friendly: [], ...cfg }),
    ],
    {
      cwd: REPO,
    },
  );
}

const skip = unavailable();
describe('layer 2 on a namespace segment', { skip }, () => {
  const agents: Agent[] = [];
  before(() => {
    ip('netns', 'add', SW);
    ip('-n', SW, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0');
    ip('-n', SW, 'link', 'set', 'br0', 'up');
    let port = 1;
    for (const ns of [CL, N1, N2]) {
      ip('netns', 'add', ns);
      ip('link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', `port${port}`, 'netns', SW);
      ip('-n', SW, 'link', 'set', `port${port}`, 'master', 'br0', 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', 'eth0', 'address', MAC[ns]!);
      ip('-n', ns, 'addr', 'add', `198.51.100.${ADDR[ns]}/24`, 'dev', 'eth0');
      ip('-n', ns, 'addr', 'add', `2001:db8:77::${ADDR[ns]}/64`, 'dev', 'eth0', 'nodad');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
      port++;
    }
  });
  after(async () => {
    for (const a of agents) a.stop();
    await Promise.all(agents.map((a) => a.exited));
    for (const ns of [CL, N1, N2, SW]) spawnSync('ip', ['netns', 'del', ns]);
  });

  it('node 1 answers arping and ndisc6 for IPs on no interface; the client kernel learns its MAC', async () => {
    const a1 = announcer(N1, { ips: [VIP4, VIP6], probe: true });
    agents.push(a1);
    await a1.waitFor((e) => e.event === 'announced' && e.ip === VIP4);
    await a1.waitFor((e) => e.event === 'announced' && e.ip === VIP6);

    const arping = inNs(CL, 'arping', '-c', '2', '-w', '3', '-I', 'eth0', VIP4);
    assert.match(arping.out, new RegExp(`reply from ${VIP4} \\[${MAC[N1]}\\]`, 'i'), arping.out);
    assert.match(arping.out, /Received 2 response/, arping.out);
    const ndisc = inNs(CL, 'ndisc6', '-r', '2', VIP6, 'eth0');
    assert.match(ndisc.out, new RegExp(`Target link-layer address: ${MAC[N1]}`, 'i'), ndisc.out);
    assert.match(ndisc.out, new RegExp(`from ${VIP6}`), ndisc.out);

    inNs(CL, 'ping', '-c', '1', '-W', '0.3', VIP4); // no echo reply (nobody owns the IP): only the neighbour entry matters
    inNs(CL, 'ping', '-6', '-c', '1', '-W', '0.3', VIP6);
    await until(`client IPv4 entry → ${MAC[N1]}`, () => neighbour(VIP4).includes(`lladdr ${MAC[N1]}`));
    await until(`client IPv6 entry → ${MAC[N1]}`, () => neighbour(VIP6).includes(`lladdr ${MAC[N1]}`));

    // The solicited-node group of VIP6 is joined at the IP layer: the node's kernel reports it by MLD.
    const maddr = spawnSync('ip', ['-n', N1, '-6', 'maddr', 'show', 'dev', 'eth0'], { encoding: 'utf8' }).stdout;
    assert.match(maddr, /ff02::1:ff00:100/, maddr);

    const from = a1.events.length;
    a1.send({ stats: true });
    const stats = await a1.waitFor((e) => e.event === 'stats', from);
    assert.ok(((stats.responsesSent as Record<string, number>)[VIP4] ?? 0) >= 2, JSON.stringify(stats));
    assert.ok(((stats.responsesSent as Record<string, number>)[VIP6] ?? 0) >= 1, JSON.stringify(stats));
  });

  it('node 2 takes over: the gratuitous ARP and unsolicited NA move the client entries to its MAC', async () => {
    const a1 = agents[0]!;
    a1.child.kill('SIGTERM');
    await a1.exited;
    await new Promise((r) => setTimeout(r, 1200)); // the kernel ignores ARP updates within locktime (~1 s) of the last
    const a2 = announcer(N2, { ips: [VIP4, VIP6], probe: false, friendly: [MAC[N1]!] });
    agents.push(a2);
    await a2.waitFor((e) => e.event === 'announced' && e.ip === VIP4);
    await a2.waitFor((e) => e.event === 'announced' && e.ip === VIP6);
    await until(`client IPv4 entry → ${MAC[N2]}`, () => neighbour(VIP4).includes(MAC[N2]!));
    await until(`client IPv6 entry → ${MAC[N2]}`, () => neighbour(VIP6).includes(MAC[N2]!));
    const arping = inNs(CL, 'arping', '-c', '1', '-w', '2', '-I', 'eth0', VIP4);
    assert.match(arping.out, new RegExp(`\\[${MAC[N2]}\\]`, 'i'), arping.out);
  });

  it('an IP the client owns is reported as a conflict with its MAC and not announced', async () => {
    ip('-n', CL, 'addr', 'add', `${TAKEN4}/24`, 'dev', 'eth0');
    ip('-n', CL, 'addr', 'add', `${TAKEN6}/64`, 'dev', 'eth0', 'nodad');
    const a3 = announcer(N1, { ips: [TAKEN4, TAKEN6], probe: true });
    agents.push(a3);
    const c4 = await a3.waitFor((e) => e.event === 'conflict' && e.ip === TAKEN4);
    const c6 = await a3.waitFor((e) => e.event === 'conflict' && e.ip === TAKEN6);
    assert.equal(c4.mac, MAC[CL]);
    assert.equal(c6.mac, MAC[CL]);
    await new Promise((r) => setTimeout(r, 500)); // past the probe window
    assert.equal(a3.events.filter((e) => e.event === 'announced').length, 0, JSON.stringify(a3.events));
    const arping = inNs(N2, 'arping', '-c', '1', '-w', '1', '-I', 'eth0', TAKEN4);
    assert.match(arping.out, new RegExp(MAC[CL]!, 'i'), arping.out);
    assert.doesNotMatch(arping.out, new RegExp(MAC[N1]!, 'i'), arping.out);
  });

  it('a burst of 2,000 ARP requests queued while the announcer is busy is answered by the addon in batches: every one answered and counted', async () => {
    const gate = join(tmpdir(), `${P}-gate`);
    rmSync(gate, { force: true });
    const a4 = announcer(N1, { ips: [BURST4], probe: false });
    agents.push(a4);
    await a4.waitFor((e) => e.event === 'announced' && e.ip === BURST4);
    const client = new Agent(agentArgv('eth0', 0x0806, ['ip', 'netns', 'exec', CL]));
    agents.push(client);
    await client.waitFor((e) => e.event === 'ready');
    const from = a4.events.length;
    a4.send({ stats: true });
    const before = await a4.waitFor((e) => e.event === 'stats', from);
    // Hold the announcer's event loop, queue the burst in its socket, then let it go.
    a4.send({ blockUntil: gate });
    await a4.waitFor((e) => e.event === 'blocked');
    const count = 2000;
    // Request i: ar$sha 02:00:<i> (the reply goes back to it, so each reply names its request), from 198.51.100.1.
    const request = ethernetFrame(
      'ffffffffffff',
      MAC[CL]!.replaceAll(':', ''),
      0x0806,
      arpPayload(1, '020000000000', '198.51.100.1', '000000000000', BURST4),
    );
    client.send({ burst: { hex: request.toString('hex'), count, at: 24 } });
    const sent = await client.waitFor((e) => e.event === 'burst-sent');
    assert.equal(sent.sent, count);
    writeFileSync(gate, '');
    try {
      await a4.waitFor((e) => e.event === 'unblocked');
      const sentFor = (st: AgentEvent): number => (st.responsesSent as Record<string, number>)[BURST4] ?? 0;
      const reqFor = (st: AgentEvent): number => (st.requestsReceived as Record<string, number>)[BURST4] ?? 0;
      const stats = async (): Promise<AgentEvent> => {
        const at = a4.events.length;
        a4.send({ stats: true });
        return a4.waitFor((e) => e.event === 'stats', at);
      };
      let after = await stats();
      for (let i = 0; i < 100 && sentFor(after) - sentFor(before) < count; i++) {
        await new Promise((r) => setTimeout(r, 100));
        after = await stats();
      }
      type LinkStats = { ethertype: number; kernelDrops: number; answeredNatively: number };
      const arpLink = (st: AgentEvent): LinkStats =>
        (st.links as LinkStats[]).find((l) => l.ethertype === 0x0806)!;
      const link = arpLink(after);
      assert.equal(link.kernelDrops, 0, JSON.stringify(after));
      assert.equal(reqFor(after) - reqFor(before), count, JSON.stringify(after));
      assert.equal(sentFor(after) - sentFor(before), count, JSON.stringify(after));
      // The addon answered it all (PacketSocket.setArpAnswers: its answer thread, which does not wait for the held
      // loop; up to 256 replies per sendmmsg), none of it crossing into JS.
      assert.equal(link.answeredNatively - arpLink(before).answeredNatively, count, JSON.stringify(link));
      // And the replies reached the requester, each naming its request.
      const answered = new Set<number>();
      const spa = Buffer.from(BURST4.split('.').map(Number)).toString('hex');
      // Ethernet type ARP, ar$op 2, ar$spa BURST4, ar$tha 02:00:…
      const isReply = (hex: string): boolean =>
        hex.slice(24, 28) === '0806' &&
        hex.slice(40, 44) === '0002' &&
        hex.slice(56, 64) === spa &&
        hex.slice(64, 68) === '0200';
      await until(
        `${count} replies at the client`,
        () => {
          for (const e of client.events)
            if (e.event === 'frame' && isReply(e.hex as string))
              answered.add(Number.parseInt((e.hex as string).slice(68, 76), 16));
          return answered.size === count;
        },
        150,
      ).catch((err: Error) => {
        throw new Error(`${err.message}: got ${answered.size}`);
      });
    } finally {
      if (existsSync(gate)) rmSync(gate);
    }
  });
});
