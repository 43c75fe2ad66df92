// Real Redis topologies for tests and benchmarks: a 3-master Redis Cluster (redis-server with
// --cluster-enabled, joined by `redis-cli --cluster create`) and a master watched by a Sentinel.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, type RedisServer, startRedisServer } from './redis-server.ts';

const run = promisify(execFile);

export interface RedisCluster {
  /** REDIS_URL for the store: redis+cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3 */
  url: string;
  ports: number[];
  /** Runs redis-cli against one node (default: the first), e.g. ['INFO', 'memory']. */
  cli(args: string[], port?: number): Promise<string>;
  stop(): Promise<void>;
}

async function cli(port: number, args: string[], password?: string): Promise<string> {
  const auth = password ? ['--no-auth-warning', '-a', password] : [];
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...auth, ...args]);
  return stdout;
}

/** Starts three masters and joins them into one cluster; stops whatever started if a step fails. */
export async function startRedisCluster(opts: { password?: string } = {}): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  const stop = async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
  };
  try {
    for (let i = 0; i < 3; i++) {
      nodes.push(
        await startRedisServer({
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '3000',
          ],
        }),
      );
    }
    const ports = nodes.map((n) => n.port);
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    // `create` returns once slots are assigned; every node must also agree the cluster is up.
    const deadline = Date.now() + 20_000;
    for (const port of ports) {
      while (!/cluster_state:ok/.test(await cli(port, ['CLUSTER', 'INFO']))) {
        if (Date.now() > deadline) throw new Error(`cluster node ${port} never reached cluster_state:ok`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // The password is set once the cluster is up: startRedisServer's readiness PING has no AUTH.
    if (opts.password) {
      for (const port of ports) {
        await cli(port, ['CONFIG', 'SET', 'masterauth', opts.password]);
        await cli(port, ['CONFIG', 'SET', 'requirepass', opts.password]);
      }
    }
    const creds = opts.password ? `:${encodeURIComponent(opts.password)}@` : '';
    return {
      url: `redis+cluster://${creds}${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
      ports,
      cli: (args, port = ports[0] as number) => cli(port, args, opts.password),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface RedisSentinel {
  /** REDIS_URL for the store: redis+sentinel://127.0.0.1:<sentinel>/<master> */
  url: string;
  master: RedisServer;
  sentinelPort: number;
  masterName: string;
  stop(): Promise<void>;
}

/** A master and one Sentinel (redis-server --sentinel) monitoring it under `masterName`. */
export async function startRedisSentinel(masterName = 'kubeincident'): Promise<RedisSentinel> {
  const master = await startRedisServer();
  const dir = await mkdtemp(join(tmpdir(), 'redis-sentinel-'));
  let sentinel: { stop(): Promise<void> } | undefined;
  const stop = async () => {
    await Promise.allSettled([sentinel?.stop(), master.stop()]);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    // Sentinel rewrites its config file, so it must be a writable file of its own.
    const conf = join(dir, 'sentinel.conf');
    await writeFile(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 1`,
        `sentinel down-after-milliseconds ${masterName} 2000`,
        '',
      ].join('\n'),
    );
    sentinel = await startSentinelProcess(conf, port);
    const deadline = Date.now() + 10_000;
    while (
      !(await cli(port, ['SENTINEL', 'get-master-addr-by-name', masterName])).includes(String(master.port))
    ) {
      if (Date.now() > deadline) throw new Error('sentinel never reported the master');
      await new Promise((r) => setTimeout(r, 100));
    }
    return {
      url: `redis+sentinel://127.0.0.1:${port}/${masterName}`,
      master,
      sentinelPort: port,
      masterName,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

// Sentinel needs a config file as its first argument, which startRedisServer does not take.
async function startSentinelProcess(conf: string, port: number): Promise<{ stop(): Promise<void> }> {
  const proc = spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGKILL');
    await exited;
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`redis sentinel exited during start: ${stderr.trim()}`);
    try {
      if ((await cli(port, ['PING'])).startsWith('PONG')) return { stop };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`redis sentinel did not answer on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
