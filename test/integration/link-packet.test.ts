// AF_PACKET sockets (src/speaker/link/packet.ts, native/) between two network namespaces joined by a veth pair:
// frames cross, the ethertype binding filters, our own outgoing frames are not echoed, close is idempotent and
// releases the event loop, a missing interface is ENODEV. The receiving namespace's kernel answers our crafted ARP
// request, so the frames are real ones. Documentation ranges only (192.0.2.0/24, 2001:db8::/32).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Agent,
  agentArgv,
  arpPayload,
  ethernetFrame,
  ip,
  netnsUnavailable,
  type AgentEvent,
} from './link-harness.ts';

const skip = netnsUnavailable();
const ETH_P_ARP = 0x0806;
const ETH_P_IPV6 = 0x86dd;

for (const native of [false, true])
  test(
    `packet sockets across a veth pair in two namespaces${
      native
        ? ", A read by the addon's answer thread (setArpAnswers on: frames for JS queued, ENETDOWN, close)"
        : ''
    }`,
    { skip: skip ?? false, timeout: 120_000 },
    async (t) => {
      const nsA = `bt${process.pid}-${native ? 'na' : 'la'}`;
      const nsB = `bt${process.pid}-${native ? 'nb' : 'lb'}`;
      const [ifA, ifB] = native ? ['lna', 'lnb'] : ['lka', 'lkb'];
      const macA = '020000b70001';
      const macB = '020000b70002';
      const colon = (m: string): string => m.match(/../g)!.join(':');
      const agents: Agent[] = [];
      t.after(() => {
        for (const a of agents) a.stop();
        for (const ns of [nsA, nsB]) {
          try {
            ip('netns', 'del', ns);
          } catch {
            // already gone
          }
        }
      });
      ip('netns', 'add', nsA);
      ip('netns', 'add', nsB);
      ip('link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB);
      ip('-n', nsA, 'link', 'set', ifA, 'address', colon(macA), 'up');
      ip('-n', nsB, 'link', 'set', ifB, 'address', colon(macB), 'up');
      ip('-n', nsA, 'addr', 'add', '192.0.2.1/24', 'dev', ifA);
      ip('-n', nsB, 'addr', 'add', '192.0.2.2/24', 'dev', ifB);
      ip('-n', nsA, 'addr', 'add', '2001:db8:b7::1/64', 'dev', ifA, 'nodad');

      const a = new Agent(agentArgv(ifA, ETH_P_ARP, ['ip', 'netns', 'exec', nsA]));
      const b = new Agent(agentArgv(ifB, ETH_P_ARP, ['ip', 'netns', 'exec', nsB]));
      agents.push(a, b);
      const readyA = await a.waitFor((e) => e.event === 'ready' || e.event === 'open-failed');
      const readyB = await b.waitFor((e) => e.event === 'ready' || e.event === 'open-failed');
      assert.equal(readyA.event, 'ready', JSON.stringify(readyA));
      assert.equal(readyB.event, 'ready', JSON.stringify(readyB));
      if (native) {
        // Nothing announced; every address of the test watched, so plain requests for them still reach JS.
        a.send({
          arp: {
            announced: [],
            watched: ['192.0.2.1', '192.0.2.2', '192.0.2.97', '192.0.2.98', '192.0.2.99'],
          },
        });
        await a.waitFor((e) => e.event === 'arp-answers' || e.event === 'error');
      }
      // MAC (SIOCGIFHWADDR) and ifindex as the kernel reports them.
      assert.equal(readyA.mac, macA);
      assert.equal(readyB.mac, macB);
      const ifindexA = (JSON.parse(ip('-j', '-n', nsA, 'link', 'show', ifA)) as { ifindex: number }[])[0]
        ?.ifindex;
      assert.equal(readyA.ifindex, ifindexA);

      // B sends an IPv6-ethertype frame (A's ARP socket must not get it), then a real ARP request for A's address.
      const notArp = ethernetFrame(macA, macB, ETH_P_IPV6, Buffer.from('6000000000083aff', 'hex'));
      const request = ethernetFrame(
        'ffffffffffff',
        macB,
        ETH_P_ARP,
        arpPayload(1, macB, '192.0.2.2', '000000000000', '192.0.2.1'),
      );
      b.send({ send: notArp.toString('hex') });
      b.send({ send: request.toString('hex') });

      const isFrame = (hex: string) => (e: AgentEvent) => e.event === 'frame' && e.hex === hex;
      await a.waitFor(isFrame(request.toString('hex')));
      // A's kernel answers with an ARP reply (is-at macA): B's socket receives it; A's socket skips it (PACKET_OUTGOING).
      const reply = await b.waitFor((e) => {
        if (e.event !== 'frame') return false;
        const f = Buffer.from(e.hex as string, 'hex');
        return (
          f.readUInt16BE(12) === ETH_P_ARP &&
          f.readUInt16BE(20) === 2 &&
          f.subarray(22, 28).toString('hex') === macA
        );
      });
      const replyFrame = Buffer.from(reply.hex as string, 'hex');
      assert.equal(replyFrame.subarray(0, 6).toString('hex'), macB, 'the reply is unicast to B');
      assert.deepEqual([...replyFrame.subarray(28, 32)], [192, 0, 2, 1], 'sender IP 192.0.2.1');

      // Markers in both directions prove the order: whatever each side had queued before is already delivered.
      const markerA = ethernetFrame(
        macB,
        macA,
        ETH_P_ARP,
        arpPayload(2, macA, '192.0.2.1', macB, '192.0.2.99'),
      );
      a.send({ send: markerA.toString('hex') });
      await b.waitFor(isFrame(markerA.toString('hex')));
      const markerB = ethernetFrame(
        macA,
        macB,
        ETH_P_ARP,
        arpPayload(2, macB, '192.0.2.2', macA, '192.0.2.98'),
      );
      b.send({ send: markerB.toString('hex') });
      await a.waitFor(isFrame(markerB.toString('hex')));

      const frames = (x: Agent): Buffer[] =>
        x.events.filter((e) => e.event === 'frame').map((e) => Buffer.from(e.hex as string, 'hex'));
      for (const f of frames(a))
        assert.equal(
          f.readUInt16BE(12),
          ETH_P_ARP,
          `A's ARP socket got ethertype 0x${f.readUInt16BE(12).toString(16)}`,
        );
      for (const f of frames(b)) assert.equal(f.readUInt16BE(12), ETH_P_ARP);
      // Own frames are never delivered: B never sees its request or marker, A never sees its kernel's reply or its marker.
      const hexes = (x: Agent): string[] => frames(x).map((f) => f.toString('hex'));
      assert.ok(!hexes(b).includes(request.toString('hex')), 'B got its own ARP request');
      assert.ok(!hexes(b).includes(markerB.toString('hex')), 'B got its own marker');
      assert.ok(!hexes(a).includes(markerA.toString('hex')), 'A got its own marker');
      assert.ok(!hexes(a).includes(replyFrame.toString('hex')), "A got its kernel's outgoing reply");
      assert.deepEqual(
        a.events.filter((e) => e.event === 'error'),
        [],
      );
      assert.deepEqual(
        b.events.filter((e) => e.event === 'error'),
        [],
      );

      // Memberships program the interface's receive filter (visible as `link` entries / promiscuity), and go with close().
      const promiscuity = (): number =>
        (JSON.parse(ip('-d', '-j', '-n', nsA, 'link', 'show', ifA)) as { promiscuity: number }[])[0]
          ?.promiscuity ?? -1;
      const linkGroups = (): string => ip('-n', nsA, 'maddr', 'show', 'dev', ifA);
      const solicited = '33:33:ff:00:b7:01'; // solicited-node group ff02::1:ff00:b701
      const count = (): number =>
        a.events.filter((e) => e.event === 'membership' || e.event === 'error').length;
      const member = async (cmd: object): Promise<void> => {
        const n = count();
        a.send(cmd);
        await a.waitFor((e) => e.event === 'membership' || e.event === 'error', a.events.length);
        assert.equal(count(), n + 1);
        assert.deepEqual(
          a.events.filter((e) => e.event === 'error'),
          [],
        );
      };
      assert.doesNotMatch(linkGroups(), new RegExp(solicited));
      await member({ add: { kind: 'multicast', mac: solicited } });
      assert.match(linkGroups(), new RegExp(`link\\s+${solicited}`));
      await member({ drop: { kind: 'multicast', mac: solicited } });
      assert.doesNotMatch(linkGroups(), new RegExp(solicited));
      await member({ add: { kind: 'multicast', mac: solicited } });
      await member({ add: { kind: 'promisc' } });
      assert.equal(promiscuity(), 1);

      // A link flap: the socket reports ENETDOWN and receives again once the link is back up (a new frame from B is
      // resent until it arrives: after carrier returns the kernel's link watch may drop the first ones).
      ip('-n', nsA, 'link', 'set', ifA, 'down');
      const down = await a.waitFor((e) => e.event === 'error');
      assert.equal(down.code, 'ENETDOWN');
      assert.equal(down.syscall, 'recvfrom');
      ip('-n', nsA, 'link', 'set', ifA, 'up');
      const markerC = ethernetFrame(
        macA,
        macB,
        ETH_P_ARP,
        arpPayload(2, macB, '192.0.2.2', macA, '192.0.2.97'),
      );
      const resend = setInterval(() => b.send({ send: markerC.toString('hex') }), 200);
      try {
        b.send({ send: markerC.toString('hex') });
        await a.waitFor(isFrame(markerC.toString('hex')));
      } finally {
        clearInterval(resend);
      }

      // close() twice, then the agent exits on its own: the closed socket no longer holds the event loop.
      a.send({ close: true });
      await a.waitFor((e) => e.event === 'closed');
      assert.equal(await a.exited, 0);
      assert.equal(promiscuity(), 0, 'promiscuous membership dropped by close');
      assert.doesNotMatch(linkGroups(), new RegExp(solicited), 'multicast membership dropped by close');

      // A missing interface inside the namespace: LinkError ENODEV.
      const missing = new Agent(agentArgv('bt-nope0', ETH_P_ARP, ['ip', 'netns', 'exec', nsB]));
      agents.push(missing);
      const failed = await missing.waitFor((e) => e.event === 'open-failed' || e.event === 'ready');
      assert.equal(failed.event, 'open-failed');
      assert.equal(failed.isLinkError, true);
      assert.equal(failed.code, 'ENODEV');
      assert.match(failed.message as string, /bt-nope0/);

      b.send({ close: true });
      assert.equal(await b.exited, 0);
    },
  );
