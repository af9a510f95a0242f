// `ip netns exec <ns> node --import tsx bench/unix-to-tcp.ts SOCKET PORT`: listens on the unix socket SOCKET (a file,
// reachable from every network namespace) and pipes each connection to 127.0.0.1:PORT of the namespace it runs in,
// so a bench in the main namespace can read a speaker's /metrics inside a node namespace (bench/speaker-rss.ts
// --link netns). The reverse of src/lab/network/forwarder-main.ts. Prints `unix-to-tcp: listening` once bound;
// exits when its stdin closes (the bench's pipe: it ends with the bench, even after a SIGKILL) or on SIGTERM.
import { startBridge } from '../src/lab/network/forward.ts';

const [socket, portText] = process.argv.slice(2);
const port = Number(portText);
if (!socket || !Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write(`unix-to-tcp: usage: unix-to-tcp.ts SOCKET PORT (got ${JSON.stringify(process.argv.slice(2))})\n`);
  process.exit(2);
}
const bridge = await startBridge(socket, { host: '127.0.0.1', port });
process.stdout.write(`unix-to-tcp: listening ${socket} -> 127.0.0.1:${port}\n`);
await new Promise<void>((resolve) => {
  process.once('SIGTERM', resolve);
  process.stdin.once('end', resolve).once('error', resolve).once('close', resolve);
  process.stdin.resume();
});
await bridge.close();
process.exit(0);
