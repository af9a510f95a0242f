// MetalLB's BFD metrics (FRR mode names, help texts and labels: `peer`, `vrf`; metallb-compat.md §7, MetalLB
// frr-tools/metrics/collector/bfd.go), read from a BfdServer's sessions at scrape time on an injected Registry.
// Echo is not implemented, so the echo counters stay 0. `metallb_bfd_zebra_notifications` counts what FRR's bfdd sends
// its client daemons through zebra; berth's equivalent is the up/down notifications given to the BGP sessions, so it is
// up events + down events.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BfdServer } from './udp.ts';

type Labels = 'peer' | 'vrf';

/** Registers the eight `metallb_bfd_*` series on `registry`; values come from `server` when scraped. */
export function bfdMetrics(registry: Registry, server: Pick<BfdServer, 'peers'>): void {
  const rows = (): Array<{
    labels: Record<Labels, string>;
    up: boolean;
    c: ReturnType<BfdServer['peers']>[number]['counters'];
  }> =>
    server
      .peers()
      .map((p) => ({ labels: { peer: p.peer, vrf: p.vrf }, up: p.state === 'Up', c: p.counters }));
  new Gauge<Labels>({
    name: 'metallb_bfd_session_up',
    help: 'BFD session state (1 is up, 0 is down)',
    labelNames: ['peer', 'vrf'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of rows()) this.set(r.labels, r.up ? 1 : 0);
    },
  });
  const counter = (
    name: string,
    help: string,
    value: (c: ReturnType<typeof rows>[number]['c']) => number,
  ): void => {
    new Counter<Labels>({
      name,
      help,
      labelNames: ['peer', 'vrf'],
      registers: [registry],
      collect() {
        this.reset();
        for (const r of rows()) this.inc(r.labels, value(r.c));
      },
    });
  };
  counter(
    'metallb_bfd_control_packet_input',
    'Number of received BFD control packets',
    (c) => c.controlPacketInput,
  );
  counter(
    'metallb_bfd_control_packet_output',
    'Number of sent BFD control packets',
    (c) => c.controlPacketOutput,
  );
  counter('metallb_bfd_echo_packet_input', 'Number of received BFD echo packets', () => 0);
  counter('metallb_bfd_echo_packet_output', 'Number of sent BFD echo packets', () => 0);
  counter('metallb_bfd_session_down_events', 'Number of BFD session down events', (c) => c.sessionDownEvents);
  counter('metallb_bfd_session_up_events', 'Number of BFD session up events', (c) => c.sessionUpEvents);
  counter(
    'metallb_bfd_zebra_notifications',
    'Number of BFD zebra notifications',
    (c) => c.sessionUpEvents + c.sessionDownEvents,
  );
}
