// Spawns a real redis-server for tests and benchmarks: its own port, its own temp dir, no
// persistence. Node builtins only, so any test or benchmark script can import it.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServerOptions {
  /** Defaults to /usr/bin/redis-server (the Debian package). */
  binary?: string;
  /** Extra `--name value` arguments, e.g. ['--maxmemory', '1mb']. */
  args?: string[];
  /** How long to wait for the first PONG. */
  startTimeoutMs?: number;
}

export interface RedisServer {
  url: string;
  port: number;
  /** Kills the server; resolves once the process has exited. Idempotent. */
  stop(): Promise<void>;
  /** Starts it again on the same port (after stop, or stopping it first). */
  restart(): Promise<void>;
}

/** A port the OS says is free right now; redis-server binds it a moment later. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

// RESP inline PING over a raw socket: no client library, and it proves the server answers commands.
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = opts.binary ?? '/usr/bin/redis-server';
  const startTimeoutMs = opts.startTimeoutMs ?? 10_000;
  const dir = await mkdtemp(join(tmpdir(), 'redis-test-'));
  let port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const launch = async (): Promise<void> => {
    // stop() removes the dir, and a restart after stop() needs it back.
    await mkdir(dir, { recursive: true });
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      ...(opts.args ?? []),
    ];
    const proc = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    let gone = false;
    exited = new Promise((resolve) => {
      proc.once('exit', () => {
        gone = true;
        resolve();
      });
      proc.once('error', () => {
        gone = true;
        resolve();
      });
    });
    const deadline = Date.now() + startTimeoutMs;
    while (Date.now() < deadline) {
      if (gone) throw new Error(`redis-server exited during start: ${stderr.trim()}`);
      if (await ping(port)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    proc.kill('SIGKILL');
    throw new Error(`redis-server did not answer PING on port ${port} within ${startTimeoutMs}ms`);
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGKILL');
    await exited;
  };

  try {
    await launch();
  } catch (err) {
    // The port may have been taken between freePort() and bind: one more try on a new port.
    port = await freePort();
    try {
      await launch();
    } catch {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
    async restart() {
      await stop();
      await launch();
    },
  };
}

/**
 * Writes `key` through `store` until a write goes through (true) or `tries` writes 100 ms apart
 * have failed (false): a client reconnects to a restarted server on its own schedule, so tests
 * poll instead of assuming how soon.
 */
export async function putOnceReconnected(
  store: { put(key: string, value: string, ttlSeconds: number): Promise<unknown> },
  key: string,
  value: string,
  tries = 100,
): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    const ok = await store.put(key, value, 60).then(
      () => true,
      () => false,
    );
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
