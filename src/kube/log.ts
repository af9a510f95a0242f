// The processes' logger (controller, webhook): pino, one JSON object per line by default (what log collectors
// parse), or `--log-format text` for people: `2026-01-02T03:04:05.678Z INFO  msg key=value …`.
// Only main.ts files create a logger; pure modules take a `log` callback or report decisions through a callback.
import { writeSync } from 'node:fs';
import { pino, stdTimeFunctions, type DestinationStream, type Logger } from 'pino';

export type LogFormat = 'json' | 'text';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export const LOG_FORMATS: readonly LogFormat[] = ['json', 'text'];
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** `--log-format` value → format, or a message naming the value and the allowed ones. */
export function parseLogFormat(v: string | undefined): { ok: true; format: LogFormat } | { ok: false; message: string } {
  if (v === undefined) return { ok: true, format: 'json' };
  if ((LOG_FORMATS as readonly string[]).includes(v)) return { ok: true, format: v as LogFormat };
  return { ok: false, message: `--log-format: "${v}" is not one of ${LOG_FORMATS.join(', ')}` };
}

/** `--log-level` value → level, or a message naming the value and the allowed ones. */
export function parseLogLevel(v: string | undefined): { ok: true; level: LogLevel } | { ok: false; message: string } {
  if (v === undefined) return { ok: true, level: 'info' };
  if ((LOG_LEVELS as readonly string[]).includes(v)) return { ok: true, level: v as LogLevel };
  return { ok: false, message: `--log-level: "${v}" is not one of ${LOG_LEVELS.join(', ')}` };
}

/** Something lines can be written to (process.stdout, a test's array). */
export interface LineSink {
  write(line: string): unknown;
}

export interface LoggerOptions {
  /** `name` of every line, e.g. `berth-controller`. */
  readonly name: string;
  readonly format?: LogFormat;
  readonly level?: LogLevel;
  /** Default: process.stdout. */
  readonly sink?: LineSink;
}

const HIDDEN_IN_TEXT = new Set(['level', 'time', 'msg', 'name', 'pid', 'hostname']);

function textValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return JSON.stringify(v);
}

/**
 * One pino JSON record as a text line: time, level, message, then the other fields as key=value (strings with
 * spaces, quotes or `=` JSON-quoted; arrays and objects as JSON). Records that are not JSON pass through unchanged.
 */
export function textLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.replace(/\n$/, '');
  }
  const level = String(rec.level ?? 'info').toUpperCase().padEnd(5);
  const fields = Object.entries(rec)
    .filter(([k, v]) => !HIDDEN_IN_TEXT.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${textValue(v)}`);
  return [String(rec.time ?? ''), level, String(rec.msg ?? ''), ...fields].join(' ').trimEnd();
}

function textDestination(sink: LineSink): DestinationStream {
  return { write: (s: string) => void sink.write(`${textLine(s)}\n`) };
}

export interface BufferedSinkOptions {
  /** Buffered bytes (UTF-16 code units) that force a write at once (default 16,384). */
  readonly maxChars?: number;
  /** Called with the buffered text on process exit, synchronously (default: fs.writeSync to fd 1). */
  readonly onExit?: (text: string) => void;
}

/**
 * A LineSink that gathers the lines of one event-loop turn and hands them to `out` in one write, in that turn's check
 * phase (setImmediate): before the next poll for I/O, so a line is never more than one loop turn behind what it
 * reports. Not strictly before: an I/O callback of the same poll phase (an HTTP request for /metrics, say) may answer
 * first, and a reader of two channels (the log pipe and an HTTP socket) sees them in no guaranteed order anyway, so
 * tests wait for a log line (NodeProcess.waitFor) rather than match it at once after another channel. At once when
 * `maxChars` are buffered or a line is a warning or an error (`"level":"warn"`/`"error"` in JSON, ` WARN `/` ERROR `
 * in text), and synchronously when the process exits. One write per line cost a write(2) on a pipe and a wake-up of
 * the reader per line: at 100 admissions/s the webhook's logging was 11.6 % of its CPU (issue 12). Under a CPU
 * shortage one turn handles many requests, and their lines then go out together. Returns the sink and `flush()`.
 */
export function bufferedSink(out: LineSink, opts: BufferedSinkOptions = {}): LineSink & { flush(): void } {
  const max = opts.maxChars ?? 16_384;
  const onExit =
    opts.onExit ??
    ((text: string) => {
      try {
        writeSync(1, text);
      } catch {
        // stdout gone or full at exit: nothing else can be done with it.
      }
    });
  let parts: string[] = [];
  let size = 0;
  let pending: NodeJS.Immediate | undefined;
  const flush = (): void => {
    if (pending) clearImmediate(pending);
    pending = undefined;
    if (parts.length === 0) return;
    const text = parts.length === 1 ? parts[0]! : parts.join('');
    parts = [];
    size = 0;
    out.write(text);
  };
  process.once('exit', () => {
    if (pending) clearImmediate(pending);
    if (parts.length > 0) onExit(parts.join(''));
    parts = [];
  });
  return {
    write(line: string) {
      parts.push(line);
      size += line.length;
      if (size >= max || /"level":"(?:warn|error|fatal)"|^\S+ (?:WARN|ERROR|FATAL) /.test(line)) flush();
      else if (!pending) {
        pending = setImmediate(flush);
        pending.unref();
      }
    },
    flush,
  };
}

/** A pino logger writing JSON lines (default) or text lines to stdout (or `sink`); levels as labels, ISO times. */
export function createLogger(opts: LoggerOptions): Logger {
  const format = opts.format ?? 'json';
  // process.stdout, as console.log did: Node queues on a full pipe instead of blocking the event loop (sonic-boom's
  // synchronous mode sleeps on EAGAIN, which would stall reconciles and admissions behind a slow log reader); the
  // lines of one event-loop turn in one write (bufferedSink).
  const sink: LineSink = opts.sink ?? bufferedSink({ write: (l: string) => process.stdout.write(l) });
  const dest: DestinationStream = format === 'text' ? textDestination(sink) : { write: (s: string) => void sink.write(s) };
  return pino(
    {
      name: opts.name,
      level: opts.level ?? 'info',
      base: { pid: process.pid },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
}

/** The plain `(line) => void` callback older call sites take, written through the logger at info. */
export function lineLogger(logger: Logger): (line: string) => void {
  return (line) => logger.info(line);
}

export type { Logger };
