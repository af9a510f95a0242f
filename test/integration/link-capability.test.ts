// CAP_NET_RAW is what the speaker's AF_PACKET sockets need, and all they need: as the unprivileged user nobody
// (65534) holding only CAP_NET_RAW the addon opens its socket; with no capability it fails with a clear LinkError
// EPERM. setpriv(1) sets the capabilities; the socket is opened on loopback and nothing is sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Agent, agentArgv } from './link-harness.ts';

function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to drop to nobody with setpriv';
  const r = spawnSync('setpriv', ['--version'], { encoding: 'utf8' });
  if (r.status !== 0) return 'setpriv (util-linux) is not installed';
  const probe = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'true'], {
    encoding: 'utf8',
  });
  if (probe.status !== 0) return `setpriv cannot switch users here: ${probe.stderr}`;
  return undefined;
}
const skip = unavailable();

const asNobody = (caps: string): string[] => [
  'setpriv',
  '--reuid=65534',
  '--regid=65534',
  '--clear-groups',
  `--inh-caps=-all${caps}`,
  `--ambient-caps=-all${caps}`,
  `--bounding-set=-all${caps}`,
];

async function openAs(caps: string): Promise<{ agent: Agent; first: Record<string, unknown> }> {
  const agent = new Agent(agentArgv('lo', 0x88b5, asNobody(caps)), { env: { ...process.env, HOME: '/tmp' } });
  const first = await agent.waitFor((e) => e.event === 'ready' || e.event === 'open-failed');
  return { agent, first };
}

test(
  'as nobody with only CAP_NET_RAW the packet socket opens',
  { skip: skip ?? false, timeout: 120_000 },
  async (t) => {
    const { agent, first } = await openAs(',+net_raw');
    t.after(() => agent.stop());
    assert.equal(first.event, 'ready', JSON.stringify(first) + agent.stderr);
    assert.equal(first.ifindex, 1);
    agent.send({ close: true });
    assert.equal(await agent.exited, 0);
  },
);

test(
  'as nobody without CAP_NET_RAW opening fails with LinkError EPERM',
  { skip: skip ?? false, timeout: 120_000 },
  async (t) => {
    const { agent, first } = await openAs('');
    t.after(() => agent.stop());
    assert.equal(first.event, 'open-failed', JSON.stringify(first) + agent.stderr);
    assert.equal(first.isLinkError, true);
    assert.equal(first.code, 'EPERM');
    assert.equal(first.syscall, 'socket');
    assert.match(first.message as string, /socket on lo: EPERM/);
    assert.equal(await agent.exited, 0);
  },
);
