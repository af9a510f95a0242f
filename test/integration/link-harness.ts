// Helpers for the link integration tests: throwaway network namespaces and link-agent.ts children driven over stdio.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const AGENT = fileURLToPath(new URL('./link-agent.ts', import.meta.url));
export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** Runs `ip ...`; throws with stderr on failure. */
export function ip(...args: string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

/** Why namespace tests cannot run here, or undefined when they can (root and a working `ip netns`). */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, CAP_NET_RAW)';
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.status !== 0) return `ip netns does not work here: ${r.stderr || r.error?.message}`;
  return undefined;
}

export interface AgentEvent {
  event: string;
  [k: string]: unknown;
}

/** A link-agent.ts child: its JSON events in arrival order, with a waiter. */
export class Agent {
  readonly events: AgentEvent[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  #waiters: (() => void)[] = [];
  #stderr = '';

  constructor(argv: string[], options: SpawnOptions = {}) {
    const [cmd = '', ...rest] = argv;
    this.child = spawn(cmd, rest, { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'], ...options });
    this.child.stderr?.on('data', (d: Buffer) => (this.#stderr += d.toString()));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as AgentEvent);
      } catch {
        this.events.push({ event: 'garbage', line });
      }
      for (const w of this.#waiters.splice(0)) w();
    });
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code) => {
        resolve(code);
        for (const w of this.#waiters.splice(0)) w();
      }),
    );
  }

  /** Resolves with the first event (from index `from`) matching `pred`; rejects when the child exits first. */
  async waitFor(pred: (e: AgentEvent) => boolean, from = 0): Promise<AgentEvent> {
    for (;;) {
      const hit = this.events.slice(from).find(pred);
      if (hit) return hit;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(
          `agent exited (${this.child.exitCode ?? this.child.signalCode}) before the event; stderr: ${this.#stderr}`,
        );
      }
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  send(cmd: object): void {
    this.child.stdin?.write(`${JSON.stringify(cmd)}\n`);
  }

  /** Kills the child (by its own pid) if still running. */
  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  get stderr(): string {
    return this.#stderr;
  }
}

/** `node --import tsx link-agent.ts IFNAME ETHERTYPE`, optionally prefixed (ip netns exec NS, setpriv ...). */
export function agentArgv(ifname: string, ethertype: number, prefix: string[] = []): string[] {
  return [...prefix, process.execPath, '--import', 'tsx', AGENT, ifname, String(ethertype)];
}

/** Ethernet header + payload (padded to the 60-byte minimum). MACs as 12 hex digits. */
export function ethernetFrame(dst: string, src: string, ethertype: number, payload: Buffer): Buffer {
  const f = Buffer.alloc(Math.max(60, 14 + payload.length));
  Buffer.from(dst, 'hex').copy(f, 0);
  Buffer.from(src, 'hex').copy(f, 6);
  f.writeUInt16BE(ethertype, 12);
  payload.copy(f, 14);
  return f;
}

/** RFC 826 Ethernet/IPv4 ARP payload (28 bytes). op 1 request, 2 reply. */
export function arpPayload(
  op: 1 | 2,
  senderMac: string,
  senderIp: string,
  targetMac: string,
  targetIp: string,
): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16BE(1, 0); // htype Ethernet
  b.writeUInt16BE(0x0800, 2); // ptype IPv4
  b[4] = 6;
  b[5] = 4;
  b.writeUInt16BE(op, 6);
  Buffer.from(senderMac, 'hex').copy(b, 8);
  Buffer.from(senderIp.split('.').map(Number)).copy(b, 14);
  Buffer.from(targetMac, 'hex').copy(b, 18);
  Buffer.from(targetIp.split('.').map(Number)).copy(b, 24);
  return b;
}
