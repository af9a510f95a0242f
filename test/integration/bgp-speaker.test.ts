// BgpSpeaker end to end (issue 9 "Sessions"): network namespaces router + node (documentation ranges, recipes §4,
// bgp-interop-lab.ts), GoBGP 3 passive in the router namespace, BgpSpeaker with real BgpSessions in a child process
// in the node namespace (bgp-speaker-agent.ts) fed successive plans: the routes appear with their communities, a
// changed community updates the route without the session flapping (GoBGP's OPENs received and uptime unchanged), a
// removed route is withdrawn, a removed peer gets a Cease. Root only; skips with the reason otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { PeerConfig } from '../../src/config/types.ts';
import type { BgpRoute } from '../../src/speaker/bgp-plan.ts';
import { peerLabSkipReason, sleep, startInteropLab, type InteropLab } from './bgp-interop-lab.ts';
import { fileURLToPath } from 'node:url';

const AGENT = fileURLToPath(new URL('./bgp-speaker-agent.ts', import.meta.url));
const skip = peerLabSkipReason('gobgp');
if (skip) console.log(`# skipping bgp-speaker integration: ${skip}`);

function route(prefix: string, communities: number[]): BgpRoute {
  return {
    prefix,
    family: prefix.includes(':') ? 'IPv6' : 'IPv4',
    communities,
    largeCommunities: [],
    extendedCommunities: [],
    services: ['default/svc'],
  };
}

function wirePlan(peer: PeerConfig | undefined, routes: BgpRoute[]): object {
  return {
    peers: peer ? [[peer.name, { name: peer.name, peer, routes: routes.map((r) => [r.prefix, r]) }]] : [],
  };
}

interface Neighbor {
  state: { session_state: number; messages: { received: { open?: number; update?: number } } };
  timers: { state: { uptime?: { seconds: number } } };
}

function neighbor(lab: InteropLab): Neighbor {
  const out = execFileSync(
    'ip',
    [
      'netns',
      'exec',
      lab.router,
      'gobgp',
      '-u',
      '127.0.0.1',
      '-p',
      '50051',
      'neighbor',
      lab.nodeAddress,
      '-j',
    ],
    { encoding: 'utf8' },
  );
  return JSON.parse(out) as Neighbor;
}

async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

test(
  'BgpSpeaker against GoBGP: routes from plans, community change without a flap, withdraw',
  { skip },
  async (t) => {
    const lab = await startInteropLab({ daemon: 'gobgp' });
    t.after(() => lab.close());
    // BgpSpeaker in a child process in the node namespace (the lab's agent() runs a bare BgpSession instead).
    const child = spawn('ip', ['netns', 'exec', lab.node, process.execPath, '--import', 'tsx', AGENT], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    t.after(() => {
      if (child.exitCode === null) child.kill('SIGTERM');
    });
    const events: Array<{ event: string; [k: string]: unknown }> = [];
    createInterface({ input: child.stdout }).on('line', (l) => {
      try {
        events.push(JSON.parse(l) as (typeof events)[number]);
      } catch {
        /* not ours */
      }
    });
    const send = (c: object) => child.stdin.write(JSON.stringify(c) + '\n');
    const peer: PeerConfig = {
      name: 'router',
      myASN: 64500,
      peerASN: lab.routerAsn,
      peerAddress: lab.routerAddress,
      sourceAddress: lab.nodeAddress,
      peerPort: 179,
      holdTimeMs: 9000,
      nodeSelectors: [],
      enableGracefulRestart: false,
      ebgpMultiHop: false,
      dualStackAddressFamily: false,
    };
    const c1 = 0xfc000001; // 64512:1
    const c2 = 0xfc000002; // 64512:2
    send({
      cmd: 'sync',
      plan: wirePlan(peer, [route('203.0.113.10/32', [c1]), route('203.0.113.11/32', [c1])]),
    });
    await until(() => events.some((e) => e.event === 'sessionUp'), 'the session to come up');
    await until(() => /64512:1/.test(lab.route('203.0.113.10/32')), '203.0.113.10/32 with 64512:1 at GoBGP');
    await until(() => lab.route('203.0.113.11/32') !== '', '203.0.113.11/32 at GoBGP');
    const before = neighbor(lab);
    assert.equal(before.state.session_state, 6, 'ESTABLISHED');
    assert.equal(before.state.messages.received.open, 1);

    await sleep(1100); // so a re-establish would show in GoBGP's uptime (whole seconds)
    send({ cmd: 'sync', plan: wirePlan(peer, [route('203.0.113.10/32', [c2])]) });
    await until(() => /64512:2/.test(lab.route('203.0.113.10/32')), 'the community change at GoBGP');
    await until(() => lab.route('203.0.113.11/32') === '', '203.0.113.11/32 withdrawn');
    const after = neighbor(lab);
    assert.equal(after.state.session_state, 6);
    assert.equal(after.state.messages.received.open, 1, 'no new OPEN: the session did not flap');
    assert.deepEqual(after.timers.state.uptime, before.timers.state.uptime, 'same uptime');
    assert.ok((after.state.messages.received.update ?? 0) > (before.state.messages.received.update ?? 0));
    assert.doesNotMatch(lab.route('203.0.113.10/32'), /64512:1/);
    assert.equal(events.filter((e) => e.event === 'sessionDown').length, 0);

    // The peer leaves the plan: Cease, GoBGP drops the session and the route.
    send({ cmd: 'sync', plan: wirePlan(undefined, []) });
    await until(() => neighbor(lab).state.session_state !== 6, 'GoBGP to see the session closed');
    await until(() => lab.route('203.0.113.10/32') === '', 'the route gone with the session');
    send({ cmd: 'stop' });
    await until(
      () => events.some((e) => e.event === 'stopped') || child.exitCode !== null,
      'the agent to stop',
      5000,
    );
  },
);
