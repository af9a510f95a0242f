import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { bfdMetrics } from './metrics.ts';
import type { BfdPeer } from './udp.ts';

function fakePeer(peer: string, state: string, c: Partial<BfdPeer['counters']> = {}): BfdPeer {
  return {
    peer,
    vrf: 'default',
    state,
    counters: {
      controlPacketInput: 0,
      controlPacketOutput: 0,
      sessionUpEvents: 0,
      sessionDownEvents: 0,
      ...c,
    },
  } as BfdPeer;
}

test("MetalLB's eight BFD series with peer and vrf labels, read at scrape time; removed peers lose their series", async () => {
  const registry = new Registry();
  let peers = [
    fakePeer('198.51.100.1', 'Up', {
      controlPacketInput: 12,
      controlPacketOutput: 11,
      sessionUpEvents: 2,
      sessionDownEvents: 1,
    }),
    fakePeer('2001:db8::1', 'Down'),
  ];
  bfdMetrics(registry, { peers: () => peers });
  const text = await registry.metrics();
  for (const line of [
    'metallb_bfd_session_up{peer="198.51.100.1",vrf="default"} 1',
    'metallb_bfd_session_up{peer="2001:db8::1",vrf="default"} 0',
    'metallb_bfd_control_packet_input{peer="198.51.100.1",vrf="default"} 12',
    'metallb_bfd_control_packet_output{peer="198.51.100.1",vrf="default"} 11',
    'metallb_bfd_echo_packet_input{peer="198.51.100.1",vrf="default"} 0',
    'metallb_bfd_echo_packet_output{peer="198.51.100.1",vrf="default"} 0',
    'metallb_bfd_session_up_events{peer="198.51.100.1",vrf="default"} 2',
    'metallb_bfd_session_down_events{peer="198.51.100.1",vrf="default"} 1',
    'metallb_bfd_zebra_notifications{peer="198.51.100.1",vrf="default"} 3',
    '# TYPE metallb_bfd_control_packet_input counter',
    '# HELP metallb_bfd_session_up BFD session state (1 is up, 0 is down)',
  ]) {
    assert.ok(text.includes(line), `missing: ${line}\n${text}`);
  }
  peers = [peers[1]!];
  const after = await registry.metrics();
  assert.ok(!after.includes('198.51.100.1'), after);
  assert.ok(after.includes('metallb_bfd_session_up{peer="2001:db8::1",vrf="default"} 0'));
});
