// Child of answer-priority-netns.test.ts, run inside a node namespace: opens an ARP packet socket on eth0 with
// answerPriority argv[2] (as the speaker does for --layer2-answer-priority), turns the native answer on for
// argv[3], prints one JSON line { pid, thread, errors } once the answer thread runs, then waits for SIGTERM.
import { openPacketSocket } from '../../src/speaker/link/packet.ts';

const priority = Number(process.argv[2]);
const vip = process.argv[3] ?? '198.51.100.100';
const errors: { code: string; syscall: string; message: string }[] = [];
const sock = openPacketSocket({
  ifname: 'eth0',
  ethertype: 0x0806,
  onFrame: () => {},
  onError: (e) => errors.push({ code: e.code, syscall: e.syscall, message: e.message }),
  answerPriority: priority,
});
sock.setArpAnswers([vip], []);
const report = (): void => {
  const t = sock.answerThread();
  if (t.running && t.tid === 0) {
    setTimeout(report, 10); // the thread stores its tid as it starts
    return;
  }
  const { error: _e, ...thread } = t;
  process.stdout.write(`${JSON.stringify({ pid: process.pid, thread, errors })}\n`);
};
report();
process.on('SIGTERM', () => {
  sock.close();
  process.exit(0);
});
setInterval(() => {}, 1 << 30);
