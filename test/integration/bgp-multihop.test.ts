// eBGP multihop (issue 9 "eBGP multihop (TTL)") against FRR 8 two hops away, with berth's real BgpSpeaker and
// BgpSessions (bgp-speaker-agent.ts) fed a BGPPeer through config validation, as the speaker gets it.
//
// Topology (namespaces made here, documentation ranges only, deleted in t.after also on failure):
//   node <id>n 198.51.100.2/24 ── veth ── transit <id>r 198.51.100.1/24 | 203.0.113.1/24 ── veth ── router <id>x
//   203.0.113.2/24, FRR bgpd AS 64501 (passive). The transit forwards (ip_forward=1) and runs no BGP; the node routes
//   203.0.113.0/24 via the transit, the router 198.51.100.0/24 via the transit: one forwarding hop each way.
//
// What `ebgpMultiHop` does in berth (bgp-speaker.ts sessionSpecFor): the session's packets get TTL 255; without it the
// kernel default (64), as MetalLB's native speaker (FRR-K8s would send TTL 1 instead). The router enforces RFC 5082
// GTSM (`neighbor … ttl-security hops 2`: only TTL ≥ 254 accepted, IP_MINTTL in its kernel), which tells them apart:
//   1. ebgpMultiHop: true → TTL 255, 254 after the transit: the session establishes and the route reaches FRR;
//   2. ebgpMultiHop: false → TTL 64, 63 after the transit: the router's kernel drops the segments (its TcpExt
//      TCPMinTTLDrop counter grows), FRR never reaches Established and the route never arrives. The agent can be
//      Established on its own side for up to a hold time when its OPEN reached FRR before FRR set IP_MINTTL on the
//      accepted socket (a race FRR's GTSM leaves open; made certain in 2a by stopping bgpd while the agent connects);
//   3. the router with `ebgp-multihop 2` instead (no TTL check): ebgpMultiHop: false establishes too (TTL 64 crosses
//      the hop, as with MetalLB native), so a multi-hop peer without GTSM does not need the flag in berth.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { validateObjects } from '../../src/config/build.ts';
import type { PeerConfig } from '../../src/config/types.ts';
import { createRouterNode, peerLabSkipReason, sh, sleep, startRouterDaemon, type RouterDaemon, type RouterNode } from '../fixtures/bgp/router-lab.ts';

const AGENT = fileURLToPath(new URL('./bgp-speaker-agent.ts', import.meta.url));
const NODE = '198.51.100.2';
const TRANSIT_NODE_SIDE = '198.51.100.1';
const TRANSIT_ROUTER_SIDE = '203.0.113.1';
const ROUTER = '203.0.113.2';
const PREFIX = '192.0.2.10/32';

const skip = peerLabSkipReason('frr');
if (skip) process.stdout.write(`# skipping the eBGP multihop test: ${skip}\n`);

function frrConfig(dir: string, neighborTtl: string): string {
  return `frr defaults traditional
hostname bt-mh-router
log file ${dir}/bgpd.log
!
router bgp 64501
 bgp router-id ${ROUTER}
 bgp log-neighbor-changes
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor ${NODE} remote-as 64500
 neighbor ${NODE} passive
 neighbor ${NODE} timers 3 9
 neighbor ${NODE} ${neighborTtl}
 address-family ipv4 unicast
  neighbor ${NODE} activate
 exit-address-family
!
`;
}

/** The BGPPeer a user writes, through berth's config validation (the PeerConfig the speaker gets). */
function bgpPeer(ebgpMultiHop: boolean): PeerConfig {
  const built = validateObjects(
    [
      {
        apiVersion: 'metallb.io/v1beta2',
        kind: 'BGPPeer',
        metadata: { name: 'router', namespace: 'metallb-system' },
        spec: { myASN: 64500, peerASN: 64501, peerAddress: ROUTER, holdTime: '9s', ebgpMultiHop },
      },
    ],
    { namespace: 'metallb-system' },
  );
  assert.deepEqual(built.problems, []);
  return built.config!.peers[0]!;
}

interface Agent {
  events: Array<{ event: string; [k: string]: unknown }>;
  stop(): Promise<void>;
}

/** bgp-speaker-agent.ts in the node namespace, announcing PREFIX to the router through `peer`; events get `ms` (since the start). */
function startAgent(lab: RouterNode, peer: PeerConfig, children: ChildProcess[]): Agent {
  const child = spawn('ip', ['netns', 'exec', lab.node, process.execPath, '--import', 'tsx', AGENT], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  child.stdin!.on('error', () => {});
  const events: Agent['events'] = [];
  const t0 = Date.now();
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      events.push({ ...(JSON.parse(l) as Agent['events'][number]), ms: Date.now() - t0 });
    } catch {
      /* not ours */
    }
  });
  const route = { prefix: PREFIX, family: 'IPv4', communities: [], largeCommunities: [], extendedCommunities: [], services: ['default/web'] };
  child.stdin!.write(`${JSON.stringify({ cmd: 'sync', plan: { peers: [['router', { name: 'router', peer, routes: [[PREFIX, route]] }]] } })}\n`);
  return {
    events,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.stdin!.write(`${JSON.stringify({ cmd: 'stop' })}\n`);
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
    },
  };
}

/** Polls `f` every 200 ms until it returns a value; throws after `ms` with `what` and `more()`. */
async function until<T>(what: string, f: () => T | undefined, ms: number, more: () => string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}\n${more()}`);
    await sleep(200);
  }
}

/** The router namespace's TcpExt TCPMinTTLDrop counter (segments its kernel dropped for IP_MINTTL). */
function minTtlDrops(ns: string): number {
  const lines = sh('ip', ['netns', 'exec', ns, 'cat', '/proc/net/netstat']).split('\n').filter((l) => l.startsWith('TcpExt:'));
  const names = lines[0]!.trim().split(/\s+/);
  const values = lines[1]!.trim().split(/\s+/);
  const i = names.indexOf('TCPMinTTLDrop');
  assert.ok(i > 0, 'the kernel has no TcpExt TCPMinTTLDrop counter');
  return Number(values[i]);
}

test('eBGP multihop through a forwarding hop: ebgpMultiHop (TTL 255) passes the router\'s GTSM, the kernel default TTL does not; without GTSM both establish', { skip, timeout: 180_000 }, async (t) => {
  const children: ChildProcess[] = [];
  const lab = await createRouterNode({
    label: 'frr-multihop',
    routerAddresses: [`${TRANSIT_NODE_SIDE}/24`],
    nodeAddresses: [`${NODE}/24`],
    nodeSetup: [['route', 'add', '203.0.113.0/24', 'via', TRANSIT_NODE_SIDE]],
  });
  // The router two hops away: its own namespace <id>x behind the transit (<id>r), veth <id>c (transit) / <id>d.
  const routerNs = `${lab.id}x`;
  t.after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await lab.close();
    try {
      sh('ip', ['netns', 'del', routerNs]);
    } catch {
      /* absent */
    }
  });
  sh('ip', ['netns', 'add', routerNs]);
  sh('ip', ['link', 'add', `${lab.id}c`, 'type', 'veth', 'peer', 'name', `${lab.id}d`]);
  sh('ip', ['link', 'set', `${lab.id}c`, 'netns', lab.router]);
  sh('ip', ['link', 'set', `${lab.id}d`, 'netns', routerNs]);
  sh('ip', ['-n', lab.router, 'addr', 'add', `${TRANSIT_ROUTER_SIDE}/24`, 'dev', `${lab.id}c`]);
  sh('ip', ['-n', lab.router, 'link', 'set', `${lab.id}c`, 'up']);
  sh('ip', ['netns', 'exec', lab.router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  sh('ip', ['-n', routerNs, 'addr', 'add', `${ROUTER}/24`, 'dev', `${lab.id}d`]);
  sh('ip', ['-n', routerNs, 'link', 'set', `${lab.id}d`, 'up']);
  sh('ip', ['-n', routerNs, 'link', 'set', 'lo', 'up']);
  sh('ip', ['-n', routerNs, 'route', 'add', '198.51.100.0/24', 'via', TRANSIT_ROUTER_SIDE]);
  // The path works and is one hop: ping from the node with TTL 1 dies at the transit, TTL 2 arrives.
  sh('ip', ['netns', 'exec', lab.node, 'ping', '-c', '1', '-W', '5', ROUTER]);
  assert.throws(() => sh('ip', ['netns', 'exec', lab.node, 'ping', '-c', '1', '-W', '2', '-t', '1', ROUTER]), 'TTL 1 crosses the transit');
  sh('ip', ['netns', 'exec', lab.node, 'ping', '-c', '1', '-W', '5', '-t', '2', ROUTER]);

  // FRR in the router namespace (startRouterDaemon runs the daemon through inRouter: pointed at <id>x here); its pid
  // file is in the lab dir, so lab.close() stops it.
  const inRouterNs = (args: readonly string[]): ChildProcess => {
    const c = spawn('ip', ['netns', 'exec', routerNs, ...args], { stdio: 'ignore' });
    children.push(c);
    return c;
  };
  const frr: RouterDaemon = await startRouterDaemon({ ...lab, router: routerNs, inRouter: inRouterNs }, 'frr', {
    config: frrConfig(lab.dir, 'ttl-security hops 2'),
    listen: ROUTER,
    file: 'bgpd.conf',
  });
  const vty = (cmd: string): Record<string, unknown> | undefined => {
    try {
      return JSON.parse(frr.vtysh(cmd)) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  };
  const neighbor = (): Record<string, unknown> | undefined => vty(`show bgp neighbors ${NODE} json`)?.[NODE] as Record<string, unknown> | undefined;
  const frrLog = (): string => {
    try {
      return readFileSync(`${lab.dir}/bgpd.log`, 'utf8').slice(-3000);
    } catch {
      return '';
    }
  };
  await until('FRR bgpd up', () => (vty('show bgp summary json') ? true : undefined), 15_000, frrLog);
  const gtsm = neighbor();
  process.stdout.write(`# FRR neighbor ${NODE}: GTSM hops ${String(gtsm?.['bgpTtlSecurityHops'] ?? gtsm?.['externalBgpNbrMaxHopsAway'] ?? '?')}\n`);

  // 1. ebgpMultiHop: true → established through GTSM, the route at FRR.
  const a = startAgent(lab, bgpPeer(true), children);
  const more = (): string => `agent events: ${JSON.stringify(a.events)}\nneighbor: ${JSON.stringify(neighbor())?.slice(0, 1500)}\n--- bgpd.log\n${frrLog()}`;
  await until('the session with ebgpMultiHop: true Established at FRR', () => (neighbor()?.['bgpState'] === 'Established' ? true : undefined), 45_000, more);
  await until(`${PREFIX} at FRR`, () => (frr.route(PREFIX).includes(NODE) ? true : undefined), 20_000, more);
  await until('the agent reporting sessionUp', () => (a.events.some((e) => e.event === 'sessionUp') ? true : undefined), 10_000, more);
  await a.stop();
  await until('the session down at FRR after the agent stopped', () => (neighbor()?.['bgpState'] !== 'Established' ? true : undefined), 20_000, more);

  // 2. ebgpMultiHop: false → TTL 64, 63 at the router: GTSM drops it in the router's kernel; FRR never reaches
  // Established and the route never arrives. FRR sets IP_MINTTL on each accepted socket right after accept()
  // (bgp_network.c bgp_accept → bgp_set_socket_ttl; its listening socket has none), so the handshake and whatever
  // reaches the connection while it waits in the listen queue get through: when bgpd is slow to accept (a loaded
  // machine) berth's OPEN slips in, FRR answers OPEN + KEEPALIVE and the agent is Established on its side (RFC 4271
  // §8.2.2: KEEPALIVE received in OpenConfirm), while its KEEPALIVE and UPDATE are dropped (FRR stays short of
  // Established) until a hold timer ends it. 2a makes that race certain (bgpd stopped while the agent connects),
  // 2b is the usual path (the agent's next attempts, dropped from the start): no lasting session either way.
  const bgpdPid = Number(readFileSync(`${lab.dir}/bgpd.pid`, 'utf8').trim());
  const frrStates = new Set<string>();
  const drops0 = minTtlDrops(routerNs);
  // 2a. bgpd stopped: the kernel completes the handshake and queues the OPEN on the not yet accepted connection.
  const queued = (): string => sh('ip', ['netns', 'exec', routerNs, 'ss', '-tnH', 'state', 'established', 'sport', '= :179']);
  process.kill(bgpdPid, 'SIGSTOP');
  let b: Agent;
  try {
    b = startAgent(lab, bgpPeer(false), children);
    await until('the OPEN queued on a connection the stopped bgpd has not accepted (Recv-Q > 0)', () => (/^\s*[1-9]/.test(queued()) ? true : undefined), 30_000, queued);
    process.stdout.write(`# queued before accept (Recv-Q, Send-Q, local, peer): ${queued().trim()}\n`);
  } finally {
    process.kill(bgpdPid, 'SIGCONT');
  }
  const sampler = setInterval(() => frrStates.add(String(neighbor()?.['bgpState'])), 300);
  t.after(() => clearInterval(sampler));
  const moreB = (): string => `agent events: ${JSON.stringify(b.events)}\nFRR states seen: ${[...frrStates].join(',')}\nneighbor: ${JSON.stringify(neighbor())?.slice(0, 1500)}\n--- bgpd.log\n${frrLog()}`;
  const ups = (): number => b.events.filter((e) => e.event === 'sessionUp').length;
  const downs = (): number => b.events.filter((e) => e.event === 'sessionDown').length;
  await until('the agent Established on its side (its OPEN read by FRR before IP_MINTTL)', () => (ups() > 0 ? true : undefined), 20_000, moreB);
  await until('the router kernel dropping the agent\'s later segments (TCPMinTTLDrop)', () => (minTtlDrops(routerNs) - drops0 >= 3 ? true : undefined), 20_000, moreB);
  // Its KEEPALIVE never reaches FRR: a hold timer (9 s) ends the one-sided session.
  await until('the one-sided session ended by a hold timer', () => (downs() > 0 ? true : undefined), 30_000, moreB);
  process.stdout.write(`# forced race: agent ${JSON.stringify(b.events.filter((e) => e.event !== 'synced').map((e) => e['reason'] ?? e.event))}, FRR states ${[...frrStates].join(',')}\n`);
  // 2b. The agent's next attempts (bgpd accepting promptly): the router drops them from the first segment on.
  const drops1 = minTtlDrops(routerNs);
  const drops = await until('the router kernel dropping the next attempt\'s segments (TCPMinTTLDrop)', () => {
    const d = minTtlDrops(routerNs) - drops1;
    return d >= 3 ? d : undefined;
  }, 45_000, moreB);
  // A later attempt may race as 2a did (a loaded machine): it ends the same way, so wait for it to end.
  await until('every agent session up without ebgpMultiHop ended', () => (ups() === downs() ? true : undefined), 30_000, moreB);
  clearInterval(sampler);
  frrStates.add(String(neighbor()?.['bgpState']));
  process.stdout.write(`# without ebgpMultiHop: ${minTtlDrops(routerNs) - drops0} segments dropped by the router's IP_MINTTL (GTSM hops 2) (${drops} after the forced race), agent sessions up ${ups()} / down ${downs()} (${b.events.map((e) => `${String(e['reason'] ?? e.event)}@${String(e['ms'])}ms`).join(' ')}), FRR states ${[...frrStates].join(',')}\n`);
  assert.equal(frrStates.has('Established'), false, `FRR never Established without ebgpMultiHop: ${moreB()}`);
  assert.equal(frr.route(PREFIX).includes(NODE), false, 'no route without ebgpMultiHop');

  // 3. The router without GTSM (ebgp-multihop 2, no TTL check): the same agent's session (TTL 64) comes up.
  sh('vtysh', ['--vty_socket', lab.dir, '-d', 'bgpd', '-c', 'configure terminal', '-c', 'router bgp 64501', '-c', `no neighbor ${NODE} ttl-security hops 2`, '-c', `neighbor ${NODE} ebgp-multihop 2`]);
  await until('the session without ebgpMultiHop Established once the router does not check the TTL', () => (neighbor()?.['bgpState'] === 'Established' ? true : undefined), 60_000, moreB);
  await until(`${PREFIX} at FRR`, () => (frr.route(PREFIX).includes(NODE) ? true : undefined), 20_000, moreB);
  await b.stop();
});
