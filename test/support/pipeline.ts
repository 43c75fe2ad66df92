// Starts `npm start`'s pipeline (scripts/start.ts) as a child process on free ports and
// waits until every function is ready.
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

export interface RunningPipeline {
  webhook: string;
  broker: string;
  /** The preview page, when PREVIEW_PORT is given (it is off by default here). */
  preview?: string | undefined;
  /** The port each function listened on when the pipeline became ready. */
  ports: Record<string, number>;
  child: ChildProcess;
  /** The current process id of each function (they are restarted when they die). */
  pids(): Promise<Record<string, number>>;
  output(): string;
  stop(): Promise<void>;
}

/** `args` go to scripts/start.ts (`--demo`). */
export async function startPipeline(env: NodeJS.ProcessEnv, args: string[] = []): Promise<RunningPipeline> {
  const root = resolve(import.meta.dirname, '../..');
  let out = '';
  const child = spawn(process.execPath, [resolve(root, 'scripts/start.ts'), ...args], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: '0',
      BROKER_PORT: '0',
      LOG_FORMAT: 'json',
      // Not the default 8090: tests run side by side (and beside a developer's `npm start`).
      PREVIEW_PORT: 'off',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const ready = await new Promise<Pick<RunningPipeline, 'webhook' | 'broker' | 'ports' | 'preview'>>(
    (resolveReady, reject) => {
      const timer = setTimeout(() => {
        // Not left running: the caller gets no handle to stop it with (start.ts stops its functions).
        child.kill('SIGTERM');
        reject(new Error(`pipeline not ready in 60 s:\n${out.slice(-3000)}`));
      }, 60_000);
      child.on(
        'message',
        (m: {
          type?: string;
          webhook?: string;
          broker?: string;
          preview?: string;
          ports?: Record<string, number>;
        }) => {
          if (m?.type === 'ready' && m.webhook && m.broker) {
            clearTimeout(timer);
            resolveReady({ webhook: m.webhook, broker: m.broker, ports: m.ports ?? {}, preview: m.preview });
          }
        },
      );
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`pipeline exited with ${code}:\n${out.slice(-3000)}`));
      });
    },
  );
  return {
    ...ready,
    child,
    pids: () =>
      new Promise((resolvePids) => {
        const onMessage = (m: { type?: string; pids?: Record<string, number> }) => {
          if (m?.type !== 'pids' || !m.pids) return;
          child.off('message', onMessage);
          resolvePids(m.pids);
        };
        child.on('message', onMessage);
        child.send({ type: 'pids' });
      }),
    output: () => out,
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}

/** Polls until `check` returns a value (not undefined), or fails with `what` after timeoutMs. */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
