// The process's loggers write to stdout synchronously, through one destination: a line is out
// when the call returns, even if the process is killed at once, and lines keep their order.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'ava';

const logger = fileURLToPath(new URL('../lib/platform/logger.ts', import.meta.url));

test('logger: a line is written before the call returns, in order across loggers', async (t) => {
  const script = `
    import { createLogger } from ${JSON.stringify(logger)};
    const runtime = createLogger({ name: 'runtime' });
    const fn = createLogger({ name: 'fn', level: 'info' });
    for (let i = 0; i < 50; i++) (i % 2 ? fn : runtime).info({ i }, 'line');
    process.kill(process.pid, 'SIGKILL');`;
  const stdout = await new Promise<string>((resolve) =>
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { env: { PATH: process.env.PATH } },
      (_err, out) => resolve(out),
    ),
  );
  const lines = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { i: number; fn: string; msg: string });
  t.deepEqual(
    lines.map((l) => l.i),
    Array.from({ length: 50 }, (_, i) => i),
  );
  t.deepEqual(
    lines.slice(0, 2).map((l) => l.fn),
    ['runtime', 'fn'],
  );
});
