// `berth speaker` as a child process for end-to-end tests (speaker-process, speaker-failover, metric-coverage):
// src/speaker/main.ts under tsx with the flags every such test passes (node name, kubeconfig, /metrics on a free
// loopback port, --dry-run-link: no socket on any interface), then waited for through its log lines. Stop it with the
// NodeProcess's stop() (SIGTERM, then SIGKILL). bench/speaker-rss.ts builds the same command line (and a bundle one).
import { fileURLToPath } from 'node:url';
import { spawnNode, type NodeProcess } from '../../src/lab/processes.ts';

export const SPEAKER_MAIN = fileURLToPath(new URL('../../src/speaker/main.ts', import.meta.url));

export interface SpeakerProcessOptions {
  /** `--node-name`. */
  node: string;
  /** `--kubeconfig`: the lab's (TestLab.lab.kubeconfigPath). */
  kubeconfig: string;
  /** `--metrics-port auto --metrics-host 127.0.0.1` (default true), or `--metrics-port 0` (no HTTP server). */
  metrics?: boolean;
  /** More flags, after the common ones (e.g. `--memberlist-bind`, `--namespace`). */
  args?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Appends the speaker's output to this file too. */
  logFile?: string;
}

/** The speaker's log line that names its /metrics port (src/speaker/main.ts). */
const SERVING = /serving \/metrics \/healthz \/readyz on http:\/\/127\.0\.0\.1:(\d+)/;

/**
 * Spawns `node --import tsx src/speaker/main.ts --node-name <node> --kubeconfig <kubeconfig> --metrics-port auto
 * --metrics-host 127.0.0.1 --dry-run-link ...args` and returns at once (register it for cleanup before waiting).
 */
export function spawnSpeaker(o: SpeakerProcessOptions): NodeProcess {
  const metrics =
    o.metrics === false ? ['--metrics-port', '0'] : ['--metrics-port', 'auto', '--metrics-host', '127.0.0.1'];
  return spawnNode(
    SPEAKER_MAIN,
    ['--node-name', o.node, '--kubeconfig', o.kubeconfig, ...metrics, '--dry-run-link', ...(o.args ?? [])],
    {
      ...(o.env ? { env: o.env } : {}),
      ...(o.logFile ? { logFile: o.logFile } : {}),
    },
  );
}

/** Waits (up to `timeoutMs`, default 60 s) for the speaker's /metrics line; resolves with the port. */
export async function speakerMetricsPort(p: NodeProcess, timeoutMs = 60_000): Promise<number> {
  return Number((await p.waitFor(SERVING, timeoutMs))[1]);
}

/**
 * Waits for the /metrics line, then for `ready` (default `speaker: ready node=`; pass a stricter one to check the
 * ready line's fields), each up to `timeoutMs` (default 60 s). Resolves with the /metrics port.
 */
export async function speakerReady(
  p: NodeProcess,
  ready: RegExp = /speaker: ready node=/,
  timeoutMs = 60_000,
): Promise<number> {
  const port = await speakerMetricsPort(p, timeoutMs);
  await p.waitFor(ready, timeoutMs);
  return port;
}
