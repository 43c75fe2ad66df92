// Structured JSON logs (pino). Credentials are redacted by path before anything is written.
import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'SLACK_BOT_TOKEN',
  '*.SLACK_BOT_TOKEN',
  // ioredis reply errors carry the failed command: AUTH / HELLO ... AUTH hold the Redis password.
  '*.command.args',
  '*.cause.command.args',
];

export interface LoggerOptions {
  name?: string;
  level?: string;
  /** A sink stream, so tests can assert on parsed log lines. */
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const options = {
    level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
    base: opts.name ? { fn: opts.name } : {},
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return pino(options, opts.destination ?? stdout());
}

let stdoutDestination: DestinationStream | undefined;

/**
 * Every logger of the process writes to one synchronous stdout destination: a line is written
 * when it is logged, so the last lines before a crash or an exit are never left in a buffer, and
 * lines from the runtime's and the function's loggers keep their order. A function logs a few
 * lines per event; pino's default is an asynchronous destination per logger, flushed at exit.
 * Where something replaced process.stdout.write (a test capturing output), it is used, as pino
 * itself does.
 */
function stdout(): DestinationStream {
  const out = process.stdout;
  if (out.write !== Object.getPrototypeOf(out).write) return out;
  stdoutDestination ??= pino.destination({ dest: out.fd ?? 1, sync: true });
  return stdoutDestination;
}

/** Removes anything that looks like a Slack token or bearer credential from free text. */
export function redactSecrets(text: string): string {
  return text
    .replace(/xox[abposr]-[A-Za-z0-9-]+/g, 'xox?-[redacted]')
    .replace(/(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 [redacted]');
}
