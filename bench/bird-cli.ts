// A client of BIRD 2's control socket for the BGP benches (bench/bgp.ts, bench/bgp-speaker.ts): one connection per
// BIRD, kept open, so polling `show route count` every few ms costs no birdc process (which would load the 2 CPUs the
// speaker and BIRD are measured on).
import net from 'node:net';

/**
 * One connection to a BIRD control socket (the birdc protocol: replies are lines `NNNN-text` / ` text`, the last one
 * `NNNN text`; 0001 greets). A closed or failing socket answers every pending and later query with ''.
 */
export class BirdCli {
  readonly #sock: net.Socket;
  #buf = '';
  #waiting: Array<(reply: string) => void> = [];
  #ready: Promise<void>;
  #failed = false;

  /** `ctl`: path of BIRD's control socket (`bird -s`). */
  constructor(ctl: string) {
    this.#sock = net.connect(ctl);
    this.#sock.setEncoding('utf8');
    let greeted!: () => void;
    this.#ready = new Promise((r) => (greeted = r));
    let first = true;
    this.#sock.on('data', (d: string) => {
      this.#buf += d;
      for (;;) {
        const m = /^\d{4} .*$/m.exec(this.#buf);
        if (!m) return;
        const end = m.index + m[0].length + 1;
        const reply = this.#buf.slice(0, end);
        this.#buf = this.#buf.slice(end);
        if (first) {
          first = false;
          greeted();
        } else this.#waiting.shift()?.(reply);
      }
    });
    this.#sock.on('error', () => {
      this.#failed = true;
      greeted();
      for (const w of this.#waiting.splice(0)) w('');
    });
  }

  /** Sends one command (e.g. `show route count`) and resolves with BIRD's whole reply text ('' on a socket error). */
  async query(cmd: string): Promise<string> {
    await this.#ready;
    if (this.#failed) return '';
    return new Promise((r) => {
      this.#waiting.push(r);
      this.#sock.write(`${cmd}\n`);
    });
  }

  close(): void {
    this.#sock.destroy();
  }
}

/** Total routes in `show route count` ("Total: X of Y routes…"), -1 when the reply does not say. */
export function parseRouteCount(reply: string): number {
  const m = /Total:\s+(\d+) of/.exec(reply) ?? /(\d+) of \d+ routes/.exec(reply);
  return m ? Number(m[1]) : -1;
}
