// Issue 8, `berth speaker --layer2-answer-priority` on the namespace lab (root only; skips with the reason otherwise):
// one node namespace whose speaker runs with --layer2-answer-priority=5 owns a Service IP and answers `arping` from
// the client namespace; its process then has exactly one SCHED_FIFO thread (/proc/<pid>/task/<tid>/sched), at
// priority 5, the ARP answer thread of eth0: the info line names it and berth_speaker_layer2_answer_priority
// {interface="eth0"} reads 5. Restarted under `setpriv --bounding-set=-sys_nice` (no CAP_SYS_NICE) it logs one
// Warning naming the flag and EPERM, has no SCHED_FIFO thread, exports 0 and still answers.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SPEAKER_METRICS_PORT } from '../../src/lab/network/network.ts';
import { inNamespace } from '../../src/lab/network/topology.ts';
import { metricValue } from '../helpers/metrics.ts';
import { l2LabForFile, until } from './speaker-l2-harness.ts';

const PRIORITY = 5;
const { skip, l2 } = await l2LabForFile('the answer priority end-to-end test', {
  nodes: 1,
  speakerArgs: [`--layer2-answer-priority=${PRIORITY}`],
});
const IP = '198.51.100.214';

/** Threads of `pid` by sched(7) policy number (1 = SCHED_FIFO) with their RT priority (/proc/<pid>/task/<tid>/sched). */
function fifoThreads(pid: number): { tid: number; rtPriority: number }[] {
  const out: { tid: number; rtPriority: number }[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/sched`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    if (Number(/^policy\s*:\s*(\d+)/m.exec(text)?.[1]) !== 1) continue;
    out.push({ tid: Number(tid), rtPriority: 99 - Number(/^prio\s*:\s*(\d+)/m.exec(text)?.[1]) });
  }
  return out;
}

async function answerPriorityMetric(): Promise<number | undefined> {
  const lab = l2();
  const host = lab.net.topology.nodes[0]!.ipv4;
  const r = await inNamespace(lab.clientNs, 'curl', ['-s', '--max-time', '5', `http://${host}:${SPEAKER_METRICS_PORT}/metrics`]);
  return metricValue(r.stdout, 'berth_speaker_layer2_answer_priority{interface="eth0"}');
}

test('a speaker with --layer2-answer-priority runs its ARP answer thread SCHED_FIFO; without CAP_SYS_NICE it warns and still answers', { skip }, async () => {
  const lab = l2();
  await lab.createService('answer-prio', [IP]);
  await lab.setEndpoints('answer-prio', [{ node: 'n1', ready: true }]);
  await lab.waitForIngress('answer-prio', IP);
  await until(`n1 answers ARP for ${IP}`, async () => ((await lab.arping(IP, 1)).length === 1 ? true : undefined), 30_000);

  const sp = lab.net.speakers.get('n1')!;
  const fifo = fifoThreads(sp.pid);
  assert.equal(fifo.length, 1, `SCHED_FIFO threads of the speaker: ${JSON.stringify(fifo)}`);
  assert.equal(fifo[0]!.rtPriority, PRIORITY);
  const line = await sp.waitFor(/layer-2 answer thread of eth0 runs SCHED_FIFO priority (\d+)/, 5000);
  assert.equal(Number(line[1]), PRIORITY);
  assert.match(sp.output(), new RegExp(`"tid":${fifo[0]!.tid}\\b`));
  assert.equal(await answerPriorityMetric(), PRIORITY);
  assert.doesNotMatch(sp.output(), /not applied/);

  // Without CAP_SYS_NICE: one warning naming the flag and EPERM, SCHED_OTHER, still answering.
  const weak = await lab.net.startSpeaker('n1', [], ['setpriv', '--inh-caps=-all', '--bounding-set=-sys_nice']);
  await until(`n1 (no CAP_SYS_NICE) answers ARP for ${IP}`, async () => ((await lab.arping(IP, 1)).length === 1 ? true : undefined), 30_000);
  await weak.waitFor(/--layer2-answer-priority=5 not applied: .*EPERM/, 5000);
  assert.equal(weak.output().match(/not applied/g)?.length, 1, 'one warning');
  assert.match(weak.output(), /"level":40|WARN/i);
  assert.deepEqual(fifoThreads(weak.pid), []);
  assert.equal(await answerPriorityMetric(), 0);
  assert.equal(weak.exited, false);
});
