// Captures pino output as parsed lines, so tests assert on what was logged.
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../lib/platform/logger.ts';

export function captureLogs(name = 'test'): {
  log: Logger;
  lines: Array<Record<string, unknown>>;
  text: () => string;
} {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      raw.push(chunk.toString());
      cb();
    },
  });
  const log = createLogger({ name, level: 'debug', destination: stream });
  return {
    log,
    get lines() {
      return raw
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    text: () => raw.join(''),
  };
}
