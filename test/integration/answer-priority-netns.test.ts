// --layer2-answer-priority end to end (root only): in a node namespace a packet socket opened with answerPriority
// (what `berth speaker --layer2-answer-priority N` does for every ARP socket) has exactly one SCHED_FIFO thread at
// priority N once it answers, read from /proc/<pid>/task/<tid>/sched, and answers `arping` from a client
// namespace; run under setpriv without CAP_SYS_NICE it reports one EPERM error for pthread_setschedparam, keeps its
// answer thread at SCHED_OTHER, and still answers. Topology: bt<pid>c (client, .1) --veth-- bt<pid>n (node, .2).
// Documentation range only: 198.51.100.0/24.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ip, netnsUnavailable, REPO } from './link-harness.ts';

const CHILD = fileURLToPath(new URL('./answer-priority-netns.child.ts', import.meta.url));
const ADDON = fileURLToPath(new URL('../../native/build/Release/berth_native.node', import.meta.url));
const P = `bt${process.pid}`;
const CL = `${P}c`;
const NODE = `${P}n`;
const VIP = '198.51.100.100';

function unavailable(): string | undefined {
  const why = netnsUnavailable();
  if (why) return why;
  if (!existsSync(ADDON)) return `native addon not built (${ADDON}): run npm install`;
  for (const tool of ['arping', 'setpriv'])
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  return undefined;
}

interface ChildReport {
  pid: number;
  thread: { running: boolean; tid: number; policy: string; priority: number; requested: number };
  errors: { code: string; syscall: string; message: string }[];
}

/** sched(7) policy number and RT priority of every thread of `pid` (/proc/<pid>/task/<tid>/sched). */
function threadPolicies(pid: number): { tid: number; policy: number; prio: number }[] {
  const out: { tid: number; policy: number; prio: number }[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/sched`, 'utf8');
    } catch {
      continue; // the thread exited meanwhile
    }
    const policy = Number(/^policy\s*:\s*(\d+)/m.exec(text)?.[1] ?? -1);
    const prio = Number(/^prio\s*:\s*(\d+)/m.exec(text)?.[1] ?? -1); // kernel prio: 99 - rt_priority for RT
    out.push({ tid: Number(tid), policy, prio });
  }
  return out;
}

const children: ChildProcess[] = [];

async function startChild(priority: number, dropSysNice: boolean): Promise<{ child: ChildProcess; report: ChildReport }> {
  const node = [process.execPath, '--import', 'tsx', CHILD, String(priority), VIP];
  const argv = dropSysNice ? ['setpriv', '--inh-caps=-all', '--bounding-set=-sys_nice', ...node] : node;
  const child = spawn('ip', ['netns', 'exec', NODE, ...argv], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before reporting`)));
  });
  return { child, report: JSON.parse(line) as ChildReport };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Replies to `arping -c 3` from the client namespace for VIP. */
function arpingReplies(): number {
  const r = spawnSync('ip', ['netns', 'exec', CL, 'arping', '-c', '3', '-w', '5', '-I', 'eth0', VIP], {
    encoding: 'utf8',
    timeout: 15_000,
  });
  return Number(/Received (\d+) response/.exec(r.stdout)?.[1] ?? 0);
}

const skip = unavailable();
if (skip) console.log(`# skipped answer-priority-netns: ${skip}`);

describe('--layer2-answer-priority: the native ARP answer thread runs SCHED_FIFO', { skip }, () => {
  before(() => {
    ip('netns', 'add', CL);
    ip('netns', 'add', NODE);
    ip('-n', CL, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NODE);
    for (const [ns, a] of [[CL, 1], [NODE, 2]] as const) {
      ip('-n', ns, 'addr', 'add', `198.51.100.${a}/24`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
  });
  after(async () => {
    for (const c of children) await stop(c);
    for (const ns of [CL, NODE]) spawnSync('ip', ['netns', 'del', ns]);
  });

  it('with CAP_SYS_NICE: exactly one SCHED_FIFO thread, the answer thread, at the priority; it answers', async () => {
    const { child, report } = await startChild(7, false);
    try {
      assert.deepEqual(report.errors, []);
      assert.equal(report.thread.running, true);
      assert.equal(report.thread.policy, 'fifo');
      assert.equal(report.thread.priority, 7);
      const fifo = threadPolicies(report.pid).filter((t) => t.policy === 1); // SCHED_FIFO
      assert.deepEqual(fifo, [{ tid: report.thread.tid, policy: 1, prio: 99 - 7 }]);
      assert.ok(arpingReplies() >= 1, 'arping got no reply');
    } finally {
      await stop(child);
    }
  });

  it('priority 0: no SCHED_FIFO thread', async () => {
    const { child, report } = await startChild(0, false);
    try {
      assert.deepEqual(report.errors, []);
      assert.equal(report.thread.policy, 'other');
      assert.deepEqual(threadPolicies(report.pid).filter((t) => t.policy === 1), []);
      assert.ok(arpingReplies() >= 1, 'arping got no reply');
    } finally {
      await stop(child);
    }
  });

  it('without CAP_SYS_NICE: one EPERM error naming pthread_setschedparam, SCHED_OTHER, and it still answers', async () => {
    const { child, report } = await startChild(7, true);
    try {
      assert.equal(report.errors.length, 1);
      assert.equal(report.errors[0]!.code, 'EPERM');
      assert.equal(report.errors[0]!.syscall, 'pthread_setschedparam');
      assert.match(report.errors[0]!.message, /SCHED_FIFO priority 7 refused .*EPERM.*SCHED_OTHER/);
      assert.equal(report.thread.running, true);
      assert.equal(report.thread.policy, 'other');
      assert.deepEqual(threadPolicies(report.pid).filter((t) => t.policy === 1), []);
      assert.ok(arpingReplies() >= 1, 'arping got no reply');
    } finally {
      await stop(child);
    }
  });
});
