// BgpSpeaker end to end (issue 9 "Sessions"): network namespaces router + node (documentation ranges, recipes §4,
// bgp-interop-lab.ts), GoBGP 3 and BIRD 2 passive in the router namespace, BgpSpeaker with real BgpSessions in a
// child process in the node namespace (bgp-speaker-agent.ts) fed successive plans: the routes appear with their
// communities, a changed community updates the route without the session flapping (GoBGP: OPENs received and
// uptime; BIRD: the protocol line with its since time, unchanged), a removed route is withdrawn, a removed peer gets
// a Cease. Root only; skips with the reason otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { PeerConfig } from '../../src/config/types.ts';
import type { BgpRoute } from '../../src/speaker/bgp-plan.ts';
import { peerLabSkipReason, sleep, startInteropLab, type InteropLab } from './bgp-interop-lab.ts';
import { eventually as until } from '../fixtures/bgp/router-lab.ts';
import { fileURLToPath } from 'node:url';

const AGENT = fileURLToPath(new URL('./bgp-speaker-agent.ts', import.meta.url));

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

/** The router's view of the session: `up` and a `marker` that changes whenever the session is re-established. */
interface SessionView {
  up: boolean;
  marker: string;
}

interface Neighbor {
  state: { session_state: number; messages: { received: { open?: number; update?: number } } };
  timers: { state: { uptime?: { seconds: number } } };
}

/** GoBGP: ESTABLISHED is session_state 6; OPENs received and the uptime change on a re-establish. */
function gobgpView(lab: InteropLab): SessionView {
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
  const n = JSON.parse(out) as Neighbor;
  return {
    up: n.state.session_state === 6,
    marker: `opens=${n.state.messages.received.open ?? 0} uptime=${n.timers.state.uptime?.seconds ?? 0}`,
  };
}

/** BIRD: `show protocols speaker1` → state and the time of the last change (ms resolution). */
function birdView(lab: InteropLab): SessionView {
  // The lab keeps BIRD's control socket in its temp dir, named after the namespaces' prefix.
  const prefix = `${lab.router.slice(0, -1)}-bird-`;
  const dir = readdirSync(tmpdir()).find((d) => d.startsWith(prefix));
  if (!dir) throw new Error(`no ${prefix}* directory in ${tmpdir()}`);
  const out = execFileSync(
    'birdc',
    ['-s', join(tmpdir(), dir, 'bird.ctl'), 'show', 'protocols', 'speaker1'],
    {
      encoding: 'utf8',
    },
  );
  const line = out.split('\n').find((l) => l.startsWith('speaker1')) ?? '';
  return { up: /\bup\b.*Established/.test(line), marker: line };
}

for (const daemon of ['gobgp', 'bird'] as const) {
  const skip = peerLabSkipReason(daemon);
  if (skip) console.log(`# skipping bgp-speaker integration with ${daemon}: ${skip}`);
  const view = daemon === 'gobgp' ? gobgpView : birdView;
  test(
    `BgpSpeaker against ${daemon}: routes from plans, community change without a flap, withdraw`,
    { skip },
    async (t) => {
      const lab = await startInteropLab({ daemon });
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
      await until(
        () => /64512:1\b|\(64512,1\)/.test(lab.route('203.0.113.10/32')),
        '203.0.113.10/32 with 64512:1 at the router',
      );
      await until(() => lab.route('203.0.113.11/32') !== '', '203.0.113.11/32 at the router');
      await until(() => view(lab).up, `${daemon} to show the session Established`);
      const before = view(lab);

      await sleep(1100); // so a re-establish would show in GoBGP's uptime (whole seconds)
      send({ cmd: 'sync', plan: wirePlan(peer, [route('203.0.113.10/32', [c2])]) });
      await until(
        () => /64512:2\b|\(64512,2\)/.test(lab.route('203.0.113.10/32')),
        'the community change at the router',
      );
      await until(() => lab.route('203.0.113.11/32') === '', '203.0.113.11/32 withdrawn');
      const after = view(lab);
      assert.equal(after.up, true);
      assert.equal(
        after.marker,
        before.marker,
        'the session did not flap (same OPEN count / uptime / since)',
      );
      assert.doesNotMatch(lab.route('203.0.113.10/32'), /64512:1\b|\(64512,1\)/);
      assert.equal(events.filter((e) => e.event === 'sessionDown').length, 0);

      // The peer leaves the plan: Cease, the router drops the session and the route.
      send({ cmd: 'sync', plan: wirePlan(undefined, []) });
      await until(() => !view(lab).up, `${daemon} to see the session closed`);
      await until(() => lab.route('203.0.113.10/32') === '', 'the route gone with the session');
      send({ cmd: 'stop' });
      await until(
        () => events.some((e) => e.event === 'stopped') || child.exitCode !== null,
        'the agent to stop',
        5000,
      );
    },
  );
}
