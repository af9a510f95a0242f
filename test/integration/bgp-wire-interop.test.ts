// The wire codec against real routers: a speaker made only of src/speaker/bgp/wire (test/fixtures/bgp/wire-speaker.ts)
// opens a 2-octet AS session (no 4-octet capability, so AS_PATH 64500 4200000000 goes out as AS_TRANS + AS4_PATH)
// to BIRD 2, FRR 8 and GoBGP 3 in network namespaces, announces IPv4 and IPv6 prefixes with MED, a community, a large
// community and the link-bandwidth extended community, then withdraws them. Each router must show the routes with
// those attributes (its own CLI), then drop them; every UPDATE the router sends back must decode without error.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import {
  DAEMONS,
  type DaemonName,
  peerLabSkipReason,
  sleep,
  startPeerLab,
} from '../fixtures/bgp/peer-lab.ts';

/** Polls `f` every 200 ms until it returns true; gives up after `ms` and reports `what` with the last state. */
async function eventually(f: () => boolean, what: () => string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what()}`);
    await sleep(200);
  }
}

/** Per daemon: regexes the CLI output for 198.51.100.10/32 must match (each names one attribute). */
const EXPECT: Record<DaemonName, { v4: RegExp[]; v6: RegExp[] }> = {
  bird: {
    v4: [
      /BGP\.as_path: 64500 4200000000/,
      /BGP\.next_hop: 198\.51\.100\.2/,
      /BGP\.med: 10/,
      /BGP\.community: \(64500,100\)/,
      /BGP\.large_community: \(64500, 1, 2\)/,
      /BGP\.ext_community: .*0x4004/,
    ],
    v6: [/BGP\.as_path: 64500 4200000000/, /BGP\.next_hop: 2001:db8:77::2/],
  },
  frr: {
    v4: [
      /64500 4200000000/,
      /198\.51\.100\.2/,
      /metric 10/,
      /Community: 64500:100/,
      /Large Community: 64500:1:2/,
      /LB:64500:125000000/,
    ],
    v6: [/64500 4200000000/, /2001:db8:77::2/],
  },
  gobgp: {
    v4: [
      /64500 4200000000/,
      /198\.51\.100\.2/,
      /\{Med: 10\}/,
      /Communities: 64500:100/,
      /Extcomms: \[64500:125000000\]/,
      /LargeCommunity: \[ 64500:1:2\]/,
    ],
    v6: [/64500 4200000000/, /2001:db8:77::2/],
  },
};

// The three routers run side by side, each in its own pair of namespaces (the time is spent waiting on them).
describe('the wire codec against BIRD 2, FRR 8 and GoBGP 3', { concurrency: true }, () => {
  for (const daemon of DAEMONS) {
    const skip = peerLabSkipReason(daemon);
    test(
      `${daemon} installs the routes the codec announces, with their attributes, and removes them on withdraw`,
      { skip },
      async (t) => {
        const lab = await startPeerLab(daemon);
        const child: ChildProcess = lab.speaker(['announce']);
        t.after(async () => {
          child.stdin?.end('close\n');
          await sleep(300);
          if (child.exitCode === null && child.pid) child.kill('SIGTERM');
          await lab.close();
        });
        const lines: string[] = [];
        createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
        await eventually(
          () => lines.includes('announced') || lines.some((l) => l.startsWith('notification')),
          () => `the session (lines: ${lines.join(' | ')})`,
        );
        assert.ok(!lines.some((l) => l.startsWith('notification')), lines.join(' | '));

        await eventually(
          () => lab.route('198.51.100.10/32').includes('4200000000'),
          () => `198.51.100.10/32 in ${daemon}: ${lab.route('198.51.100.10/32')}`,
        );
        await eventually(
          () => lab.route('2001:db8:100::10/128').includes('4200000000'),
          () => `2001:db8:100::10/128 in ${daemon}: ${lab.route('2001:db8:100::10/128')}`,
        );
        assert.ok(
          lab.route('203.0.113.7/32').includes('4200000000'),
          'the second IPv4 prefix of the same UPDATE',
        );
        const v4 = lab.route('198.51.100.10/32');
        if (process.env.SHOW_ROUTES) console.log(v4, lab.route('2001:db8:100::10/128'));
        for (const re of EXPECT[daemon].v4) assert.match(v4, re, `${daemon} IPv4 route:\n${v4}`);
        const v6 = lab.route('2001:db8:100::10/128');
        for (const re of EXPECT[daemon].v6) assert.match(v6, re, `${daemon} IPv6 route:\n${v6}`);

        child.stdin!.write('withdraw\n');
        await eventually(
          () => lines.includes('withdrawn'),
          () => 'the withdraw',
        );
        await eventually(
          () => !lab.route('198.51.100.10/32').includes('4200000000'),
          () => `198.51.100.10/32 gone from ${daemon}`,
        );
        await eventually(
          () => !lab.route('2001:db8:100::10/128').includes('4200000000'),
          () => `2001:db8:100::10/128 gone from ${daemon}`,
        );

        // Everything the router sent on this 2-octet session decoded without an RFC 7606 error. FRR coalesces its
        // first UPDATEs (End-of-RIB included) for a while after Established: wait for them rather than assume them.
        await eventually(
          () => lines.some((l) => l.startsWith('received ')),
          () => `${daemon} sent UPDATEs (lines: ${lines.join(' | ')})`,
        );
        const last = [...lines].reverse().find((l) => l.startsWith('received '));
        assert.ok(last, `${daemon} sent UPDATEs (lines: ${lines.join(' | ')})`);
        assert.equal(last.split(' ')[2], '0', `decode errors: ${last}`);
      },
    );
  }
});
