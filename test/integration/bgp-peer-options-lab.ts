// Lab for the BGPPeer options berth runs natively (dynamicASN, localASN, vrf): a router namespace bt<pid>-<n>r
// (198.51.100.1/24) with FRR 8 bgpd (-Z, no zebra), passive, one `neighbor` line per entry of `neighbors`, and a node
// namespace bt<pid>-<n>n (198.51.100.2/24 + `extraNodeAddresses`) joined by a veth pair <id>a / <id>b. `nodeSetup`
// runs extra `ip` commands in the node namespace (a VRF, a misleading route) before the daemon starts. berth's
// BgpSession runs in the node namespace in test/integration/bgp-session-agent.ts, one agent process per session.
// Documentation ranges only; close() stops the daemon and the agents by pid and deletes both namespaces and the temp
// dir (call it from t.after, it also runs when the test failed). The namespaces, FRR and the agent are
// test/fixtures/bgp/router-lab.ts's and session-agent.ts's (shared with the other BGP labs).
import { readFileSync } from 'node:fs';
import { createRouterNode, sleep, startRouterDaemon } from '../fixtures/bgp/router-lab.ts';
import { startSessionAgent, type Agent } from '../fixtures/bgp/session-agent.ts';

export { eventually, peerLabSkipReason } from '../fixtures/bgp/router-lab.ts';
export type { AgentEvent } from '../fixtures/bgp/session-agent.ts';

export const ROUTER_ADDRESS = '198.51.100.1';
export const NODE_ADDRESS = '198.51.100.2';

export interface FrrNeighbor {
  /** The node address the router expects the session from. */
  address: string;
  /** FRR `remote-as`: a number, or `internal` / `external`. */
  remoteAs: number | 'internal' | 'external';
}

export interface PeerOptionsLabOptions {
  routerAsn: number;
  neighbors: FrrNeighbor[];
  /** More /24 addresses for the node's veth end (198.51.100.3, …). */
  extraNodeAddresses?: string[];
  /** `ip` argument lists run in the node namespace after its addresses are up (e.g. a VRF). `{id}` = the lab id. */
  nodeSetup?: string[][];
}

/** The session agent (test/fixtures/bgp/session-agent.ts). */
export type LabAgent = Agent;

export interface PeerOptionsLab {
  id: string;
  router: string;
  node: string;
  /** The node's veth end (`<id>b`). */
  nodeIfname: string;
  /** `show bgp neighbors <address> json` → that neighbor's object, or undefined. */
  neighbor(address: string): Record<string, unknown> | undefined;
  /** `show bgp ipv4 unicast <prefix> json` paths (empty when absent). */
  paths(prefix: string): Array<Record<string, unknown>>;
  /** FRR's log so far (neighbor changes and NOTIFICATIONs: `bgp log-neighbor-changes`). */
  log(): string;
  /** Starts bgp-session-agent.ts in the node namespace with one session (BgpSessionOptions without log). */
  agent(session: Record<string, unknown>): LabAgent;
  close(): Promise<void>;
}

function frrConfig(o: PeerOptionsLabOptions, dir: string): string {
  const n = o.neighbors;
  return `frr defaults traditional
hostname bt-router
log file ${dir}/bgpd.log
!
router bgp ${o.routerAsn}
 bgp router-id ${ROUTER_ADDRESS}
 bgp log-neighbor-changes
 no bgp ebgp-requires-policy
 no bgp network import-check
${n.map((x) => ` neighbor ${x.address} remote-as ${x.remoteAs}\n neighbor ${x.address} passive\n neighbor ${x.address} timers 3 9`).join('\n')}
 address-family ipv4 unicast
${n.map((x) => `  neighbor ${x.address} activate`).join('\n')}
 exit-address-family
!
`;
}

/** Creates the namespaces and starts FRR (ready to accept the node's connections). Throws after cleaning up. */
export async function startPeerOptionsLab(o: PeerOptionsLabOptions): Promise<PeerOptionsLab> {
  const lab = await createRouterNode({
    label: 'frr',
    routerAddresses: [`${ROUTER_ADDRESS}/24`],
    nodeAddresses: [NODE_ADDRESS, ...(o.extraNodeAddresses ?? [])].map((a) => `${a}/24`),
    ...(o.nodeSetup ? { nodeSetup: o.nodeSetup } : {}),
  });
  const { dir } = lab;
  try {
    const d = await startRouterDaemon(lab, 'frr', {
      config: frrConfig(o, dir),
      listen: ROUTER_ADDRESS,
      file: 'bgpd.conf',
    });
    const vtysh = (cmd: string): unknown => {
      try {
        return JSON.parse(d.vtysh(cmd));
      } catch {
        return undefined;
      }
    };
    for (let i = 0; vtysh('show bgp summary json') === undefined; i++) {
      if (i > 50) throw new Error(`FRR bgpd did not start; see ${dir}/bgpd.log`);
      await sleep(200);
    }
    return {
      id: lab.id,
      router: lab.router,
      node: lab.node,
      nodeIfname: lab.nodeIfname,
      neighbor: (address) =>
        (
          vtysh(`show bgp neighbors ${address} json`) as Record<string, Record<string, unknown>> | undefined
        )?.[address],
      log: () => {
        try {
          return readFileSync(`${dir}/bgpd.log`, 'utf8');
        } catch {
          return '';
        }
      },
      paths: (prefix) =>
        (vtysh(`show bgp ipv4 unicast ${prefix} json`) as { paths?: Array<Record<string, unknown>> })
          ?.paths ?? [],
      agent: (session) => startSessionAgent(lab, { sessions: [{ id: 'router', ...session }] }),
      close: lab.close,
    };
  } catch (e) {
    await lab.close();
    throw e;
  }
}
