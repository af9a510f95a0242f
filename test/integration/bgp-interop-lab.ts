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

/**
 * One neighbor of the matrix lab: berth's session from `nodeAddress` (AS `localAsn`) to the router's `routerAddress`
 * of the same family, with or without TCP MD5.
 */
export interface MatrixPeer {
  name: string;
  transport: 4 | 6;
  md5: boolean;
  ibgp: boolean;
  nodeAddress: string;
  routerAddress: string;
  /** berth's AS: 64500 for eBGP, the router's 64501 for iBGP. */
  localAsn: number;
  /** More BgpSession options for this peer's session. */
  session?: object;
}

export const MATRIX_ROUTER_ASN = 64501;
export const MATRIX_PASSWORD = 'berth-md5-key';

/**
 * The matrix lab's neighbors, all configured in one daemon config: one node address each (the node's veth end holds
 * 198.51.100.2-4 and 2001:db8:77::2-3, the router's 198.51.100.1 and 2001:db8:77::1).
 */
export const MATRIX_PEERS: readonly MatrixPeer[] = [
  {
    name: 'ipv4',
    transport: 4,
    md5: false,
    ibgp: false,
    nodeAddress: '198.51.100.2',
    routerAddress: '198.51.100.1',
    localAsn: 64500,
  },
  {
    name: 'ipv4+md5',
    transport: 4,
    md5: true,
    ibgp: false,
    nodeAddress: '198.51.100.3',
    routerAddress: '198.51.100.1',
    localAsn: 64500,
  },
  {
    name: 'ipv6',
    transport: 6,
    md5: false,
    ibgp: false,
    nodeAddress: '2001:db8:77::2',
    routerAddress: '2001:db8:77::1',
    localAsn: 64500,
    // A directly connected eBGP peer: hop limit 1 (set through the addon on the IPv6 socket).
    session: { ttl: 1 },
  },
  {
    name: 'ipv6+md5',
    transport: 6,
    md5: true,
    ibgp: false,
    nodeAddress: '2001:db8:77::3',
    routerAddress: '2001:db8:77::1',
    localAsn: 64500,
  },
  {
    name: 'ibgp',
    transport: 4,
    md5: false,
    ibgp: true,
    nodeAddress: '198.51.100.4',
    routerAddress: '198.51.100.1',
    localAsn: 64501,
  },
];

function matrixConfig(daemon: DaemonName, dir: string): string {
  const asOf = (p: MatrixPeer): number => (p.ibgp ? MATRIX_ROUTER_ASN : 64500);
  switch (daemon) {
    case 'bird':
      return [
        `router id 198.51.100.1;\nlog "${dir}/bird.log" all;\nprotocol device { }\n`,
        ...MATRIX_PEERS.map(
          (p, i) => `protocol bgp m${i} {
  local ${p.routerAddress} as ${MATRIX_ROUTER_ASN};
  neighbor ${p.nodeAddress} as ${asOf(p)};
  passive on;
  ${p.ibgp ? 'direct;' : ''}
  hold time 9;
  ${p.md5 ? `password "${MATRIX_PASSWORD}";` : ''}
  ipv4 { import all; export none; };
  ipv6 { import all; export none; };
}
`,
        ),
      ].join('');
    case 'frr':
      return `frr defaults traditional
hostname bt-router
log file ${dir}/bgpd.log
!
router bgp ${MATRIX_ROUTER_ASN}
 bgp router-id 198.51.100.1
 no bgp ebgp-requires-policy
 no bgp network import-check
${MATRIX_PEERS.map(
  (p) => ` neighbor ${p.nodeAddress} remote-as ${asOf(p)}
 neighbor ${p.nodeAddress} passive
 neighbor ${p.nodeAddress} timers 3 9
${p.md5 ? ` neighbor ${p.nodeAddress} password ${MATRIX_PASSWORD}\n` : ''}`,
).join('')} address-family ipv4 unicast
${MATRIX_PEERS.map((p) => `  neighbor ${p.nodeAddress} activate\n`).join('')} exit-address-family
 address-family ipv6 unicast
${MATRIX_PEERS.map((p) => `  neighbor ${p.nodeAddress} activate\n`).join('')} exit-address-family
!
`;
    case 'gobgp':
      return `[global.config]
  as = ${MATRIX_ROUTER_ASN}
  router-id = "198.51.100.1"
  port = 179
  local-address-list = ["198.51.100.1", "2001:db8:77::1"]
${MATRIX_PEERS.map(
  (p) => `
[[neighbors]]
  [neighbors.config]
    neighbor-address = "${p.nodeAddress}"
    peer-as = ${asOf(p)}
    ${p.md5 ? `auth-password = "${MATRIX_PASSWORD}"` : ''}
  [neighbors.transport.config]
    passive-mode = true
    local-address = "${p.routerAddress}"
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
`,
).join('')}`;
  }
}

export interface MatrixLab {
  router: string;
  node: string;
  /** The router's CLI view of `prefix` ('' when absent or the query fails). */
  route(prefix: string): string;
  /**
   * Starts bgp-session-agent.ts in the node namespace with one session per peer, its id the peer's name (`session`
   * overrides options of every session; send announce/withdraw with `session: peer.name`).
   */
  agent(peers: MatrixPeer | readonly MatrixPeer[], session?: object): Agent;
  close(): Promise<void>;
}

/**
 * The interop matrix's lab: the namespace pair and ONE daemon config with every MATRIX_PEERS neighbor (IPv4 and IPv6
 * transport, with and without TCP MD5, iBGP), so one daemon start serves every case. Sessions are opened by one
 * agent (one process, several BgpSessions) for the caller.
 */
export async function startMatrixLab(daemon: DaemonName): Promise<MatrixLab> {
  const lab = await createRouterNode({
    label: `${daemon}-matrix`,
    routerAddresses: ['198.51.100.1/24', '2001:db8:77::1/64'],
    nodeAddresses: [
      '198.51.100.2/24',
      '198.51.100.3/24',
      '198.51.100.4/24',
      '2001:db8:77::2/64',
      '2001:db8:77::3/64',
    ],
  });
  try {
    const d = await startRouterDaemon(lab, daemon, {
      config: matrixConfig(daemon, lab.dir),
      listen: ['198.51.100.1', '2001:db8:77::1'],
    });
    await sleep(daemon === 'gobgp' ? 300 : 1000);
    return {
      router: lab.router,
      node: lab.node,
      route: (p) => {
        try {
          const t = d.route(p);
          return /not in table|not found|Network not/i.test(t) ? '' : t;
        } catch {
          return '';
        }
      },
      agent: (peers, session = {}): Agent =>
        startSessionAgent(lab, {
          sessions: [peers].flat().map((peer) => ({
            id: peer.name,
            peerAddress: peer.routerAddress,
            localAddress: peer.nodeAddress,
            localAsn: peer.localAsn,
            peerAsn: MATRIX_ROUTER_ASN,
            holdTime: 9,
            backoffMs: 200,
            nodeName: 'n1',
            ...(peer.md5 ? { password: MATRIX_PASSWORD } : {}),
            ...peer.session,
            ...session,
          })),
          hostile: false,
        }),
      close: lab.close,
    };
  } catch (e) {
    await lab.close();
    throw e;
  }
}
