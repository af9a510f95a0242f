// Lab for bgp-interop.test.ts: router namespace bt<pid>-<n>r (198.51.100.1, 2001:db8:77::1) and node namespace
// bt<pid>-<n>n (198.51.100.2, 2001:db8:77::2) joined by a veth pair; BIRD 2, FRR 8 bgpd (-Z, no zebra) or GoBGP 3 in
// the router namespace, passive, configured for one neighbor (IPv4 or IPv6 transport, eBGP AS 64501 ↔ 64500 or iBGP
// 64500, optional TCP MD5 password), with its own config/socket/pid files in a temp dir; berth's BgpSession runs in the
// node namespace (bgp-session-agent.ts). Documentation ranges only; close() stops the daemon by pid, deletes both
// namespaces and the temp dir. The namespaces, the daemon and the agent are test/fixtures/bgp/router-lab.ts's and
// session-agent.ts's (shared with the other BGP labs).
import { createRouterNode, sleep, startRouterDaemon, type DaemonName } from '../fixtures/bgp/router-lab.ts';
import { startSessionAgent, type Agent } from '../fixtures/bgp/session-agent.ts';

export { DAEMONS, peerLabSkipReason, sleep, type DaemonName } from '../fixtures/bgp/router-lab.ts';
export type { Agent, AgentEvent } from '../fixtures/bgp/session-agent.ts';

export interface InteropOptions {
  daemon: DaemonName;
  /** Transport of the BGP session (default 4). */
  transport?: 4 | 6;
  /** TCP MD5 password on both sides. */
  password?: string;
  /** iBGP: both sides AS 64500. */
  ibgp?: boolean;
}

export interface InteropLab {
  router: string;
  node: string;
  routerAddress: string;
  nodeAddress: string;
  routerAsn: number;
  /** The router's CLI view of `prefix` ('' when absent or the query fails). */
  route(prefix: string): string;
  /** Starts bgp-session-agent.ts in the node namespace with one session to the router (+ the hostile peer). */
  agent(o?: { hostile?: boolean; session?: object }): Agent;
  close(): Promise<void>;
}

function daemonConfig(
  o: InteropOptions,
  dir: string,
  peer: string,
  local: string,
  routerAsn: number,
): string {
  const pw = o.password;
  switch (o.daemon) {
    case 'bird':
      return `router id 198.51.100.1;
log "${dir}/bird.log" all;
protocol device { }
protocol bgp speaker1 {
  local ${local} as ${routerAsn};
  neighbor ${peer} as 64500;
  passive on;
  ${o.ibgp ? 'direct;' : ''}
  hold time 9;
  ${pw ? `password "${pw}";` : ''}
  ipv4 { import all; export none; };
  ipv6 { import all; export none; };
}
`;
    case 'frr':
      return `frr defaults traditional
hostname bt-router
log file ${dir}/bgpd.log
!
router bgp ${routerAsn}
 bgp router-id 198.51.100.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor ${peer} remote-as 64500
 neighbor ${peer} passive
 neighbor ${peer} timers 3 9
 ${pw ? `neighbor ${peer} password ${pw}` : ''}
 address-family ipv4 unicast
  neighbor ${peer} activate
 exit-address-family
 address-family ipv6 unicast
  neighbor ${peer} activate
 exit-address-family
!
`;
    case 'gobgp':
      return `[global.config]
  as = ${routerAsn}
  router-id = "198.51.100.1"
  port = 179
  local-address-list = ["${local}"]

[[neighbors]]
  [neighbors.config]
    neighbor-address = "${peer}"
    peer-as = 64500
    ${pw ? `auth-password = "${pw}"` : ''}
  [neighbors.transport.config]
    passive-mode = true
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
`;
  }
}

/** Creates the namespaces and starts the daemon (ready to accept the node's connection). */
export async function startInteropLab(o: InteropOptions): Promise<InteropLab> {
  const v6 = o.transport === 6;
  const routerAddress = v6 ? '2001:db8:77::1' : '198.51.100.1';
  const nodeAddress = v6 ? '2001:db8:77::2' : '198.51.100.2';
  const routerAsn = o.ibgp ? 64500 : 64501;
  const lab = await createRouterNode({
    label: o.daemon,
    routerAddresses: ['198.51.100.1/24', '2001:db8:77::1/64'],
    nodeAddresses: ['198.51.100.2/24', '2001:db8:77::2/64'],
  });
  try {
    const d = await startRouterDaemon(lab, o.daemon, {
      config: daemonConfig(o, lab.dir, nodeAddress, routerAddress, routerAsn),
      listen: routerAddress,
    });
    await sleep(o.daemon === 'gobgp' ? 300 : 1000);
    return {
      router: lab.router,
      node: lab.node,
      routerAddress,
      nodeAddress,
      routerAsn,
      route: (p) => {
        try {
          const t = d.route(p);
          return /not in table|not found/i.test(t) ? '' : t;
        } catch {
          return '';
        }
      },
      agent: (a = {}): Agent => {
        const session = {
          id: 'router',
          peerAddress: routerAddress,
          localAddress: nodeAddress,
          localAsn: 64500,
          peerAsn: routerAsn,
          holdTime: 9,
          backoffMs: 200,
          nodeName: 'n1',
          ...(o.password ? { password: o.password } : {}),
          ...a.session,
        };
        return startSessionAgent(lab, { sessions: [session], hostile: a.hostile ?? false });
      },
      close: lab.close,
    };
  } catch (e) {
    await lab.close();
    throw e;
  }
}
