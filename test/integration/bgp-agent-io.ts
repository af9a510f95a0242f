// The line protocol shared by the BGP agent scripts run in a node namespace (bgp-speaker-agent.ts,
// bgp-unnumbered-agent.ts): one JSON command a line on stdin, one JSON event a line on stdout.
import { createInterface } from 'node:readline';
import type { PeerConfig } from '../../src/config/types.ts';
import type { BgpRoute } from '../../src/speaker/bgp-plan.ts';
import type { BgpPlanLike, BgpSpeaker } from '../../src/speaker/bgp-speaker.ts';

/** Writes one event `o` as a JSON line on stdout. */
export const say = (o: object): void => {
  process.stdout.write(JSON.stringify(o) + '\n');
};

/** A BGP plan as JSON carries it: Maps as arrays of [key, value] pairs. */
export interface WirePlan {
  peers: Array<[string, { name: string; peer: PeerConfig; routes: Array<[string, BgpRoute]> }]>;
}

/** The BgpSpeaker plan of a WirePlan (the pairs back into Maps). */
export function planFromWire(w: WirePlan): BgpPlanLike {
  return { peers: new Map(w.peers.map(([n, p]) => [n, { ...p, routes: new Map(p.routes) }])) };
}

/** Says sessionUp (name, label) and sessionDown (name, reason, NOTIFICATION text) for every session of `speaker`. */
export function saySessionEvents(speaker: BgpSpeaker): void {
  speaker.on('sessionUp', (u: { name: string; label: string }) => say({ event: 'sessionUp', name: u.name, label: u.label }));
  speaker.on('sessionDown', (d: { name: string; down: { reason: string; text: string } }) =>
    say({ event: 'sessionDown', name: d.name, reason: d.down.reason, text: d.down.text }),
  );
}

/** Calls `handle` with each stdin line parsed as a command; a line that is not JSON is said as an `error` event. */
export function onCommands<C extends { cmd: string }>(handle: (c: C) => void): void {
  createInterface({ input: process.stdin }).on('line', (line) => {
    let c: C;
    try {
      c = JSON.parse(line) as C;
    } catch {
      say({ event: 'error', error: `not JSON: ${line}` });
      return;
    }
    handle(c);
  });
}
