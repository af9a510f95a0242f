// The heartbeat sender as a thread of berth's addon (native/src/heartbeat_sender.cc) instead of a worker thread: the
// same contract as sender-source.ts (pre-signed heartbeats queued by the main thread, one sent per interval to every
// peer from a thread the main event loop cannot delay, silence once the queue runs dry), at a fraction of the memory
// (a worker is a second V8 isolate and Node environment: ~7 MiB RssAnon + ~2 MiB of the node binary's pages; the
// pthread is a 64 KiB stack and a 96 KiB slot table; docs/layer2.md "Resources").
//
// NativeSenderPort speaks the worker's message protocol (sender-source.ts) so udp.ts drives both the same way:
// postMessage({type:'queue'|'peers'|'leave'|'close'}) in; 'message' events {type:'ready'}, {type:'stats'} every
// second and {type:'left'} out. The last seq sent is read with lastSent() (the worker shares it through memory).
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The addon's HeartbeatSender (native/src/heartbeat_sender.cc). */
interface NativeHeartbeatSender {
  queue(seqs: number[], bufs: Buffer[]): void;
  setPeers(addresses: string[], ports: number[]): void;
  leave(bufs: Buffer[]): void;
  stats(): { sent: number; sendErrors: number; starved: number; rounds: number; maxDriftMs: number; lastError: string };
  lastSent(): number;
  left(): boolean;
  port(): number;
  close(): void;
}

const ADDON_PATH = fileURLToPath(new URL('../../../native/build/Release/berth_native.node', import.meta.url));

/** The addon's HeartbeatSender constructor. Throws an Error naming the path when the addon (or the class) is missing. */
function nativeClass(): new (bindAddress: string, intervalMs: number, lastSent: number) => NativeHeartbeatSender {
  let addon: { HeartbeatSender?: new (bindAddress: string, intervalMs: number, lastSent: number) => NativeHeartbeatSender };
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as typeof addon;
  } catch (err) {
    throw new Error(`liveness: the native addon cannot be loaded from ${ADDON_PATH} (${(err as Error).message}); built by \`npm run build:native\``, {
      cause: err,
    });
  }
  if (!addon.HeartbeatSender) throw new Error(`liveness: the native addon at ${ADDON_PATH} has no HeartbeatSender (an older build: \`npm run build:native\`)`);
  return addon.HeartbeatSender;
}

/** At most this many heartbeats queued at once (the addon's slot table). */
export const NATIVE_MAX_QUEUE_DEPTH = 64;

/**
 * A heartbeat sender on a thread of the addon, driven with the worker's messages (sender-source.ts protocol).
 * The constructor binds a UDP socket of `bindAddress`'s family to bindAddress:0 and starts the thread; it throws when
 * the addon is missing, the address is not an IP (TypeError) or the bind fails (Error with code/errno/syscall).
 * The thread's clock starts with the first queue message. `lastSent` (default 0): the seq to go on from.
 */
export class NativeSenderPort extends EventEmitter {
  readonly #s: NativeHeartbeatSender;
  readonly #statsTimer: NodeJS.Timeout;
  #leftTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(o: { bindAddress: string; intervalMs: number; lastSent?: number }) {
    super();
    const Sender = nativeClass();
    this.#s = new Sender(o.bindAddress, o.intervalMs, o.lastSent ?? 0);
    this.#statsTimer = setInterval(() => this.emit('message', { type: 'stats', stats: this.#stats() }), 1000);
    this.#statsTimer.unref();
    const port = this.#s.port();
    setImmediate(() => {
      if (!this.#closed) this.emit('message', { type: 'ready', port });
    });
  }

  #stats(): { sent: number; sendErrors: number; starved: number; rounds: number; maxDriftMs: number; lastError: string } {
    return this.#s.stats();
  }

  /** The last seq the thread sent (0 before the first). */
  lastSent(): number {
    return this.#s.lastSent();
  }

  /** One message of the worker protocol (sender-source.ts). Unknown types and messages after close are ignored. */
  postMessage(message: unknown): void {
    if (this.#closed || typeof message !== 'object' || message === null) return;
    const m = message as { type?: string; items?: Array<{ seq: number; buf: Buffer } | Buffer>; peers?: readonly { address: string; port: number }[] };
    if (m.type === 'queue' && m.items) {
      const items = (m.items as { seq: number; buf: Buffer }[]).slice(-NATIVE_MAX_QUEUE_DEPTH);
      this.#s.queue(
        items.map((i) => i.seq),
        items.map((i) => i.buf),
      );
    } else if (m.type === 'peers' && m.peers) {
      this.#s.setPeers(
        m.peers.map((p) => p.address),
        m.peers.map((p) => p.port),
      );
    } else if (m.type === 'leave') {
      this.#s.leave(((m.items ?? []) as Buffer[]).slice(0, 8));
      const poll = (): void => {
        if (this.#closed) return;
        if (this.#s.left()) this.emit('message', { type: 'left' });
        else this.#leftTimer = setTimeout(poll, 5);
      };
      poll();
    } else if (m.type === 'close') {
      this.close();
    }
  }

  /** Stops and joins the thread and closes its socket (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#statsTimer);
    clearTimeout(this.#leftTimer);
    this.#s.close();
  }
}
