// Lab for bgp-gr-daemons.test.ts: graceful restart (RFC 4724) of berth's BgpSpeaker against BIRD 2 and GoBGP 3 as
// helpers (receiving speakers). The namespaces and the daemon are test/fixtures/bgp/router-lab.ts's (router
// 198.51.100.1 AS 64501, passive; node 198.51.100.2); the speaker is bgp-speaker-agent.ts (BgpSpeaker with real
// BgpSessions) in the node namespace, given a BGPPeer with enableGracefulRestart through config validation, and can be
// SIGKILLed and started again with the same plan (its routes come before its End-of-RIB, as in the real speaker).
// The router's view of a prefix is read in a form both daemons give: present, stale. Documentation ranges only.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { validateObjects } from '../../src/config/build.ts';
import {
  createRouterNode,
  gobgpPassiveGrConfig,
  sh,
  sleep,
  startRouterDaemon,
  type DaemonName,
  type RouterDaemon,
  type RouterNode,
} from '../fixtures/bgp/router-lab.ts';

const SPEAKER_AGENT = fileURLToPath(new URL('./bgp-speaker-agent.ts', import.meta.url));

export const GR_ROUTER = '198.51.100.1';
export const GR_NODE = '198.51.100.2';

/** The helper-mode config of `daemon` for one neighbor (the node), IPv4 unicast, hold 9 s, graceful restart on. */
export function grDaemonConfig(daemon: DaemonName, dir: string): string {
  switch (daemon) {
    case 'bird':
      // `graceful restart on`: BIRD keeps a restarting neighbor's routes as stale (receiving speaker, RFC 4724 §4.2).
      return `router id ${GR_ROUTER};
log "${dir}/bird.log" all;
protocol device { }
protocol bgp speaker1 {
  local ${GR_ROUTER} as 64501;
  neighbor ${GR_NODE} as 64500;
  passive on;
  hold time 9;
  graceful restart on;
  debug { states, events };
  ipv4 { import all; export none; };
}
`;
    case 'gobgp':
      return gobgpPassiveGrConfig({ router: GR_ROUTER, node: GR_NODE, families: ['ipv4-unicast'] });
    case 'frr':
      return `frr defaults traditional
hostname bt-router
log file ${dir}/bgpd.log
!
router bgp 64501
 bgp router-id ${GR_ROUTER}
 bgp graceful-restart
 no bgp ebgp-requires-policy
 neighbor ${GR_NODE} remote-as 64500
 neighbor ${GR_NODE} passive
 neighbor ${GR_NODE} timers 3 9
!
`;
  }
}

/** The router's view of one prefix from the node: absent, present, present and marked stale. */
export interface RouterPath {
  present: boolean;
  stale: boolean;
  /** The CLI text it was read from (for messages). */
  text: string;
}

/**
 * Reads `prefix` at the router: BIRD `show route all <prefix>` (stale: the neighbor's graceful restart is active in
 * `show protocols all`, see below), GoBGP `gobgp global rib -j <prefix>` (each path's `stale`), FRR
 * `show bgp ipv4 unicast <prefix> json` (each path's `stale`). A failing query reads as absent.
 */
export function routerPath(daemon: DaemonName, d: RouterDaemon, dir: string, prefix: string): RouterPath {
  try {
    switch (daemon) {
      case 'bird': {
        // BIRD 2.0 prints no per-route stale flag: while the neighbor's graceful restart is active (RFC 4724 §4.2,
        // bgp_handle_graceful_restart → rt_refresh_begin) every route of its channels is stale, and the protocol says
        // `Neighbor graceful restart active` until End-of-RIB (or the restart timer) ends it.
        const t = sh('birdc', ['-s', `${dir}/bird.ctl`, 'show', 'route', 'all', prefix]);
        const present = t.includes(prefix.split('/')[0]!) && /\bspeaker1\b/.test(t);
        const proto = present
          ? sh('birdc', ['-s', `${dir}/bird.ctl`, 'show', 'protocols', 'all', 'speaker1'])
          : '';
        const stale = /Neighbor graceful restart active/.test(proto);
        return { present, stale, text: stale ? `${t}\n${proto}` : t };
      }
      case 'gobgp': {
        const t = d.gobgp(['global', 'rib', '-a', 'ipv4', prefix, '-j']);
        const j = JSON.parse(t || '{}') as Record<
          string,
          Array<{ stale?: boolean; 'source-id'?: string; neighbor_ip?: string }>
        >;
        const paths = Object.values(j).flat();
        return { present: paths.length > 0, stale: paths.some((p) => p.stale === true), text: t };
      }
      case 'frr': {
        const t = d.vtysh(`show bgp ipv4 unicast ${prefix} json`);
        const j = JSON.parse(t || '{}') as { paths?: Array<{ stale?: boolean }> };
        const paths = j.paths ?? [];
        return { present: paths.length > 0, stale: paths.some((p) => p.stale === true), text: t };
      }
    }
  } catch (e) {
    return { present: false, stale: false, text: String(e) };
  }
}

/** One run of bgp-speaker-agent.ts in the node namespace. */
export interface SpeakerAgent {
  child: ChildProcess;
  events: Array<{ event: string; [k: string]: unknown }>;
  /** Resolves with the first event `f` accepts; rejects after `ms` or when the agent exits. */
  waitFor(
    f: (e: { event: string; [k: string]: unknown }) => boolean,
    what: string,
    ms?: number,
  ): Promise<{ event: string; [k: string]: unknown }>;
  /** SIGKILL (no NOTIFICATION: the kernel closes the TCP connection), resolved once it exited. */
  kill(): Promise<void>;
}

export interface GrLab {
  node: RouterNode;
  daemon: RouterDaemon;
  /** The router's view of `prefix` (routerPath). */
  path(prefix: string): RouterPath;
  /** The daemon's neighbor view as text (birdc `show protocols all speaker1`, `gobgp neighbor <node>`, vtysh). */
  neighbor(): string;
  /**
   * GoBGP: whether End-of-RIB was received from the node for IPv4 unicast (`gobgp neighbor <node> -j`,
   * afi_safis[].mp_graceful_restart.state.end_of_rib_received); undefined for the other daemons or when unreadable.
   */
  endOfRibReceived(): boolean | undefined;
  /** The daemon's log file (BIRD `bird.log` with `debug { states, events }`; '' for the others or when absent). */
  log(): string;
  /** Starts a speaker agent announcing `prefixes` to the router through a BGPPeer with enableGracefulRestart. */
  startSpeaker(prefixes: readonly string[]): SpeakerAgent;
  close(): Promise<void>;
}

/**
 * Creates the namespaces and starts `daemon` with grDaemonConfig. `o.gracefulRestart` (default true) is the BGPPeer's
 * enableGracefulRestart (false: the control case, the router drops the routes when the connection closes).
 */
export async function startGrLab(daemon: DaemonName, o: { gracefulRestart?: boolean } = {}): Promise<GrLab> {
  const node = await createRouterNode({
    label: `${daemon}-gr`,
    routerAddresses: [`${GR_ROUTER}/24`],
    nodeAddresses: [`${GR_NODE}/24`],
  });
  try {
    const d = await startRouterDaemon(node, daemon, {
      config: grDaemonConfig(daemon, node.dir),
      listen: GR_ROUTER,
    });
    await sleep(daemon === 'gobgp' ? 300 : 1000);
    const built = validateObjects(
      [
        {
          apiVersion: 'metallb.io/v1beta2',
          kind: 'BGPPeer',
          metadata: { name: 'router', namespace: 'metallb-system' },
          spec: {
            myASN: 64500,
            peerASN: 64501,
            peerAddress: GR_ROUTER,
            holdTime: '9s',
            enableGracefulRestart: o.gracefulRestart ?? true,
          },
        },
      ],
      { namespace: 'metallb-system' },
    );
    if (built.problems.length) throw new Error(`BGPPeer refused: ${JSON.stringify(built.problems)}`);
    const peer = built.config!.peers[0]!;
    const agents: ChildProcess[] = [];
    return {
      node,
      daemon: d,
      path: (p) => routerPath(daemon, d, node.dir, p),
      endOfRibReceived: () => {
        if (daemon !== 'gobgp') return undefined;
        try {
          const j = JSON.parse(d.gobgp(['neighbor', GR_NODE, '-j'])) as {
            afi_safis?: Array<{
              config?: { family?: { afi?: number; safi?: number } };
              mp_graceful_restart?: { state?: { end_of_rib_received?: boolean } };
            }>;
          };
          const v4 = j.afi_safis?.find((a) => a.config?.family?.afi === 1 && a.config.family.safi === 1);
          return v4?.mp_graceful_restart?.state?.end_of_rib_received ?? false;
        } catch {
          return undefined;
        }
      },
      log: () => {
        try {
          return daemon === 'bird' ? readFileSync(join(node.dir, 'bird.log'), 'utf8') : '';
        } catch {
          return '';
        }
      },
      neighbor: () => {
        try {
          switch (daemon) {
            case 'bird':
              return sh('birdc', ['-s', `${node.dir}/bird.ctl`, 'show', 'protocols', 'all', 'speaker1']);
            case 'gobgp':
              return d.gobgp(['neighbor', GR_NODE]);
            case 'frr':
              return d.vtysh(`show bgp neighbors ${GR_NODE} json`);
          }
        } catch (e) {
          return String(e);
        }
      },
      startSpeaker: (prefixes) => {
        const child = spawn(
          'ip',
          ['netns', 'exec', node.node, process.execPath, '--import', 'tsx', SPEAKER_AGENT],
          {
            stdio: ['pipe', 'pipe', 'inherit'],
          },
        );
        agents.push(child);
        child.stdin!.on('error', () => {});
        const events: SpeakerAgent['events'] = [];
        createInterface({ input: child.stdout! }).on('line', (l) => {
          try {
            events.push(JSON.parse(l) as (typeof events)[number]);
          } catch {
            /* not ours */
          }
        });
        const route = (prefix: string) => ({
          prefix,
          family: 'IPv4',
          communities: [],
          largeCommunities: [],
          extendedCommunities: [],
          services: ['default/web'],
        });
        child.stdin!.write(
          JSON.stringify({
            cmd: 'sync',
            plan: {
              peers: [['router', { name: 'router', peer, routes: prefixes.map((p) => [p, route(p)]) }]],
            },
          }) + '\n',
        );
        const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
        return {
          child,
          events,
          waitFor: async (f, what, ms = 30_000) => {
            const end = Date.now() + ms;
            for (;;) {
              const e = events.find(f);
              if (e) return e;
              if (Date.now() > end || exited())
                throw new Error(`timed out waiting for ${what}; speaker events: ${JSON.stringify(events)}`);
              await sleep(50);
            }
          },
          kill: async () => {
            if (exited()) return;
            const gone = new Promise((r) => child.once('exit', r));
            child.kill('SIGKILL');
            await gone;
          },
        };
      },
      close: async () => {
        for (const a of agents) if (a.exitCode === null && a.signalCode === null) a.kill('SIGKILL');
        await node.close();
      },
    };
  } catch (e) {
    await node.close();
    throw e;
  }
}
