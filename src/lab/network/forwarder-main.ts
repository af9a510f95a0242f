// `node --import tsx forwarder-main.ts --port N --socket PATH`: run inside a lab node namespace
// (`ip netns exec <ns> …`), listens on 127.0.0.1:N of that namespace and pipes each connection to the unix socket
// PATH, which the lab process bridges to its API server (forward.ts). Prints `forwarder: listening 127.0.0.1:N`
// once bound; exits 2 on bad flags, 1 when it cannot listen; SIGTERM/SIGINT close it. With --exit-with-parent its
// stdin is a pipe from the lab process (src/lab/processes.ts `stdin: 'pipe'`): EOF there means the lab died (even
// by SIGKILL), so it closes and exits 0 instead of staying reparented inside the namespace.
import { parseArgs } from 'node:util';
import { startBridge } from './forward.ts';

async function main(): Promise<number> {
  let v: { port?: string; socket?: string; 'exit-with-parent'?: boolean };
  try {
    v = parseArgs({
      args: process.argv.slice(2),
      strict: true,
      options: { port: { type: 'string' }, socket: { type: 'string' }, 'exit-with-parent': { type: 'boolean' } },
    }).values;
  } catch (e) {
    process.stderr.write(`forwarder: ${(e as Error).message}\n`);
    return 2;
  }
  const port = Number(v.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    process.stderr.write(`forwarder: --port "${v.port ?? ''}" is not a port number 1-65535\n`);
    return 2;
  }
  if (!v.socket) {
    process.stderr.write('forwarder: --socket PATH (the lab API unix socket) is required\n');
    return 2;
  }
  const bridge = await startBridge({ host: '127.0.0.1', port }, v.socket).catch((e: unknown) => {
    process.stderr.write(`forwarder: ${(e as Error).message}\n`);
    return undefined;
  });
  if (!bridge) return 1;
  process.stdout.write(`forwarder: listening 127.0.0.1:${port} -> unix:${v.socket}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
    if (v['exit-with-parent']) {
      const parentGone = (): void => {
        process.stdout.write('forwarder: parent gone (stdin closed), exiting\n');
        resolve();
      };
      process.stdin.once('end', parentGone).once('error', parentGone).once('close', parentGone);
      process.stdin.resume();
    }
  });
  await bridge.close();
  process.stdin.destroy();
  return 0;
}

process.exitCode = await main();
