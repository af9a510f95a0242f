// The benches' ARP requester (bench/failover-arp-load.ts; native: runArpLoad, native/src/arp_load.cc) between two
// throwaway namespaces joined by a veth pair: the node namespace's kernel answers ARP for its configured address, so
// every request gets a real reply. Checks that the native requester counts them right (every request sent, stamped
// as it left by the tap, answered, none unmatched), that it reports every request as lost when nobody answers, that
// the reference IP's replies are counted apart, and that the JS requester's tap stamps its requests too. Options are
// checked before any socket opens (TypeError naming the value). Documentation ranges only (198.51.100.0/24).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { hasNativeArpLoad, LinkError, runArpLoad } from '../../src/speaker/link/packet.ts';
import { ip, netnsUnavailable, REPO } from './link-harness.ts';

const LOAD = fileURLToPath(new URL('../../bench/failover-arp-load.ts', import.meta.url));
const noAddon = hasNativeArpLoad() ? undefined : 'the addon has no arpLoad (npm run build:native)';
const skip = noAddon ?? netnsUnavailable();

interface Figures {
  sent: number;
  replies: number;
  lost: number;
  wireSamples: number;
  wireP50Ms: number | null;
  sendP50Ms: number | null;
}
interface Out extends Figures {
  requester: string;
  unmatched: number;
  late: number;
  requestsSeen: number;
  kernelDrops: number;
  cpuMs: { user: number; system: number };
  reference?: Figures;
}

test('runArpLoad rejects bad options with a TypeError naming the value and the rule', { skip: noAddon ?? false }, async () => {
  const base = { ifname: 'lo', target: '198.51.100.2', rate: 1000, seconds: 1 };
  await assert.rejects(runArpLoad({ ...base, target: '2001:db8::1' }), /target must be an IPv4 address/);
  await assert.rejects(runArpLoad({ ...base, rate: 0 }), (e: unknown) => e instanceof TypeError && /rate 0\.0+ must be in/.test(e.message));
  await assert.rejects(runArpLoad({ ...base, seconds: -1 }), /seconds -1\.0+ must be > 0/);
  await assert.rejects(runArpLoad({ ...base, rate: 1e6, seconds: 100 }), /rate × seconds in 1\.\.20,000,000/);
  await assert.rejects(runArpLoad({ ...base, rate: 1, seconds: 0.1 }), /rate × seconds in 1\.\.20,000,000/);
  await assert.rejects(runArpLoad({ ...base, tickMicros: 5 }), /tickMicros 5\.0+ must be in 10\.\.1000000/);
  await assert.rejects(runArpLoad({ ...base, match: 'tha' as 'sha' }), /match "tha" is invalid/);
  await assert.rejects(runArpLoad({ ...base, reference: '198.51.100.3' }), /reference needs match "sha"/);
  await assert.rejects(runArpLoad({ ...base, ifname: 'a/b' }), /interface name "a\/b" is invalid/);
  await assert.rejects(
    runArpLoad({ ...base, ifname: 'bt-no-such-if' }),
    (e: unknown) => e instanceof LinkError && e.code === 'ENODEV' && e.ifname === 'bt-no-such-if',
  );
});

test('the ARP requester across a veth pair: kernel-answered requests counted, unanswered ones lost', { skip: skip ?? false, timeout: 120_000 }, async (t) => {
  const nsC = `bt${process.pid}-alc`;
  const nsN = `bt${process.pid}-aln`;
  const [ifC, ifN] = [`bt${process.pid % 100000}lc`, `bt${process.pid % 100000}ln`];
  t.after(() => {
    for (const ns of [nsC, nsN]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // already gone
      }
    }
  });
  ip('netns', 'add', nsC);
  ip('netns', 'add', nsN);
  ip('link', 'add', ifC, 'netns', nsC, 'type', 'veth', 'peer', 'name', ifN, 'netns', nsN);
  ip('-n', nsC, 'addr', 'add', '198.51.100.1/24', 'dev', ifC);
  ip('-n', nsN, 'addr', 'add', '198.51.100.2/24', 'dev', ifN);
  ip('-n', nsC, 'link', 'set', ifC, 'up');
  ip('-n', nsN, 'link', 'set', ifN, 'up');

  const load = (...args: string[]): Out => {
    const r = spawnSync(
      'ip',
      ['netns', 'exec', nsC, process.execPath, '--import', 'tsx', LOAD, '--ifname', ifC, '--rate', '2000', '--seconds', '0.5', ...args],
      { cwd: REPO, encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.status, 0, `failover-arp-load ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as Out;
  };

  for (const match of ['spa', 'sha']) {
    await t.test(`native, --match ${match}: the node kernel answers all 1,000 requests`, () => {
      const o = load('--target', '198.51.100.2', '--requester', 'native', '--match', match);
      assert.equal(o.requester, 'native');
      assert.equal(o.sent, 1000);
      assert.equal(o.requestsSeen, 1000, 'the tap stamped every request as it left');
      assert.equal(o.replies, 1000);
      assert.equal(o.lost, 0);
      assert.equal(o.unmatched, 0);
      assert.equal(o.late, 0);
      assert.equal(o.wireSamples, 1000);
      assert.equal(o.kernelDrops, 0);
      assert.ok(o.wireP50Ms !== null && o.wireP50Ms >= 0 && o.sendP50Ms !== null && o.sendP50Ms >= o.wireP50Ms - 0.001);
    });
  }

  await t.test('native: nobody answers 198.51.100.3, every request is lost', () => {
    const o = load('--target', '198.51.100.3', '--requester', 'native');
    assert.equal(o.sent, 1000);
    assert.equal(o.requestsSeen, 1000);
    assert.equal(o.replies, 0);
    assert.equal(o.lost, 1000);
    assert.equal(o.unmatched, 0);
  });

  await t.test('native, --reference: the reference answered and counted apart, the silent target lost', () => {
    const o = load('--target', '198.51.100.3', '--reference', '198.51.100.2', '--match', 'sha', '--requester', 'native');
    assert.equal(o.sent, 900);
    assert.equal(o.lost, 900);
    assert.equal(o.reference?.sent, 100);
    assert.equal(o.reference?.replies, 100);
    assert.equal(o.reference?.wireSamples, 100);
    assert.equal(o.unmatched, 0);
  });

  await t.test('js: its tap stamps every request, so every reply has a wire figure', () => {
    const o = load('--target', '198.51.100.2', '--requester', 'js');
    assert.equal(o.requester, 'js');
    assert.equal(o.sent, 1000);
    assert.equal(o.replies, 1000);
    assert.equal(o.requestsSeen, 1000);
    assert.equal(o.wireSamples, 1000);
  });
});
