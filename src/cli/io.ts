// The CLI's I/O seam, so commands are tested without spawning a process.
import { readFileSync } from 'node:fs';

export interface CliIO {
  out(line: string): void;
  err(line: string): void;
  readStdin(): string;
  /** Prints a usage error and returns exit code 2. */
  usage(message: string): number;
}

export function processIO(): CliIO {
  return {
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
    readStdin: () => readFileSync(0, 'utf8'),
    usage(message) {
      process.stderr.write(`${message}\n`);
      return 2;
    },
  };
}

/** A recording IO for tests. */
export function recordingIO(stdin = ''): CliIO & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (l) => void stdout.push(l),
    err: (l) => void stderr.push(l),
    readStdin: () => stdin,
    usage(message) {
      stderr.push(message);
      return 2;
    },
  };
}
