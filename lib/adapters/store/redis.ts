// StateStore over Redis (ioredis 6): one server, a Redis Cluster or a Sentinel-managed master.
// Compare-and-set/delete run as Lua scripts so a delivery can never release or overwrite a lock
// it lost; a down Redis fails in bounded time as a retryable UnavailableError (503: the broker
// redelivers), and the client reconnects by itself.
import type { ClusterOptions, Redis as RedisClient, RedisOptions } from 'ioredis';
import {
  assertTokenRequest,
  assertTtl,
  type Lock,
  type LockAndGet,
  MAX_TOKEN_HORIZON_MS,
  MIN_TURN_MS,
  type StateStore,
  TOKEN_KEY_GRACE_MS,
  type TokenRequest,
  TURN_STEP_MS,
} from '../../domain/state-store.ts';
import { cjsExports } from '../../platform/cjs.ts';
import { DependencyError, UnavailableError } from '../../platform/errors.ts';
import type { Logger } from '../../platform/logger.ts';
import { type CorkableSocket, coalesceWrites } from './coalesce.ts';
import { parseRedisUrl, type RedisTarget } from './redis-url.ts';
import { THREAD_OPEN_LUA, type ThreadScriptReply } from './thread-script.ts';

export interface RedisStoreOptions {
  /** Upper bound for one command, and for waiting on a (re)connecting client. Default 1000. */
  commandTimeoutMs?: number;
  /** TCP connect timeout. Default 2000. */
  connectTimeoutMs?: number;
  /** Prepended to every key (e.g. per environment sharing one Redis). Keep the hash tags intact. */
  keyPrefix?: string;
  log?: Logger;
}

// TokenRequest's GCRA step (store.ts, gcraStep, which the memory store runs): the wait in ms
// until the tokens are there, taken when at most maxwait. Whole milliseconds throughout, so the
// stored time is exact.
const LUA_TAKE_TOKEN = `local function takeToken(key, interval, burst, now, count, maxwait)
  local tat = tonumber(redis.call('GET', key))
  if not tat or tat < now then tat = now end
  if tat > now + ${MAX_TOKEN_HORIZON_MS} then tat = now + ${MAX_TOKEN_HORIZON_MS} end
  if count > burst then count = burst end
  local wait = tat + (count - burst) * interval - now
  if wait < 0 then wait = 0 end
  if wait > 0 and maxwait > 0 then
    wait = math.max(${MIN_TURN_MS}, math.ceil(wait / ${TURN_STEP_MS}) * ${TURN_STEP_MS})
  end
  local start = now + wait
  if wait > maxwait then return wait end
  local nt = math.max(tat, start) + count * interval
  redis.call('SET', key, string.format('%.0f', nt), 'PX', string.format('%.0f', nt - now + ${TOKEN_KEY_GRACE_MS}))
  return wait
end
`;

// KEYS/ARGV by position. Every script touches only the keys passed in KEYS, and the callers pass
// a thread's lock and data keys, which share one hash tag (keys.ts): one slot, so Cluster-safe.
export const SCRIPTS = {
  kiLockAndGet: {
    numberOfKeys: 2,
    lua: `local ok = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
local v = redis.call('GET', KEYS[2])
if ok then return {1, v} end
return {0, v}`,
  },
  kiPutLocked: {
    numberOfKeys: 2,
    lua: `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`,
  },
  kiPutAndUnlock: {
    numberOfKeys: 2,
    lua: `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
redis.call('DEL', KEYS[1])
return 1`,
  },
  kiUnlock: {
    numberOfKeys: 1,
    lua: `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])`,
  },
  kiDropAndUnlock: {
    numberOfKeys: 2,
    lua: `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2], KEYS[1])
return 1`,
  },
  // The thread repository's open (adapters/store/threads.ts): five keys, one JSON argument.
  kiOpenThread: { numberOfKeys: 5, lua: `${LUA_TAKE_TOKEN}${THREAD_OPEN_LUA}` },
  kiTakeToken: {
    numberOfKeys: 1,
    lua: `${LUA_TAKE_TOKEN}return takeToken(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]),
  tonumber(ARGV[4]), tonumber(ARGV[5]))`,
  },
  kiClaim: {
    numberOfKeys: 1,
    lua: `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return false end
return redis.call('GET', KEYS[1])`,
  },
  // The TTL check (not just n == 1) also repairs a counter that somehow lost its TTL.
  kiIncrement: {
    numberOfKeys: 1,
    lua: `local n = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n`,
  },
} satisfies NonNullable<RedisOptions['scripts']>;

type Arg = string | number;
interface ScriptedClient extends RedisClient {
  kiLockAndGet(lock: string, data: string, token: string, ttlMs: number): Promise<[number, string | null]>;
  kiPutLocked(lock: string, data: string, ...args: Arg[]): Promise<number>;
  kiPutAndUnlock(lock: string, data: string, ...args: Arg[]): Promise<number>;
  kiUnlock(lock: string, token: string): Promise<number>;
  kiDropAndUnlock(lock: string, data: string, token: string): Promise<number>;
  kiIncrement(key: string, ttlSeconds: number): Promise<number>;
  kiTakeToken(
    key: string,
    intervalMs: number,
    burst: number,
    nowMs: number,
    count: number,
    maxWaitMs: number,
  ): Promise<number>;
  kiClaim(key: string, value: string, ttlSeconds: number): Promise<string | null>;
  kiOpenThread(...args: Arg[]): Promise<ThreadScriptReply>;
}

// Reply errors a retry can fix: memory pressure, loading, failover, cluster resharding.
const TRANSIENT_REPLY = /^(OOM|LOADING|BUSY|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|MOVED|ASK|NOREPLICAS)\b/;

function wrap(op: string, err: unknown): Error {
  if (err instanceof UnavailableError || err instanceof DependencyError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  // Wrong password, wrong type or a script error will not heal on retry; still 500 so the
  // broker keeps the event and dead-letters it.
  if (e.name === 'ReplyError' && !TRANSIENT_REPLY.test(e.message)) {
    return new DependencyError(`state store rejected ${op}`, { cause: e });
  }
  return new UnavailableError(`state store unavailable (${op})`, { cause: e });
}

export class RedisStore implements StateStore {
  readonly #client: Promise<ScriptedClient>;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #sharded: boolean;
  #readyWait: Promise<void> | undefined;
  #closed = false;

  constructor(url: string, opts: RedisStoreOptions = {}) {
    if (opts.keyPrefix?.includes('{'))
      throw new RangeError('keyPrefix must not contain "{": it would replace the hash tag');
    const target = parseRedisUrl(url);
    this.#prefix = opts.keyPrefix ?? '';
    this.#sharded = target.mode === 'cluster';
    this.#timeoutMs = opts.commandTimeoutMs ?? 1000;
    // The import is lazy (cold start) but starts now, overlapping the connect with other init.
    this.#client = this.#connect(target, opts);
    this.#client.catch(() => {});
  }

  async #connect(target: RedisTarget, opts: RedisStoreOptions): Promise<ScriptedClient> {
    const { Cluster, Redis } = await loadIoredis();
    const log = opts.log;
    const perNode = perNodeOptions(this.#timeoutMs, opts.connectTimeoutMs ?? 2000);
    const client = createClient(target, perNode, { Cluster, Redis });
    let lastError = '';
    client.on('error', (err: Error) => {
      // ioredis emits the same connection error on every retry: log each distinct one once.
      if (err.message !== lastError) log?.warn({ err }, 'redis connection error');
      lastError = err.message;
    });
    // Every connection (a cluster's too, one per node, each new one after a reconnect) sends the
    // commands issued in one turn of the event loop in writes of up to MAX_BATCH (coalesce.ts).
    const coalesceOnConnect = (node: RedisClient): void => {
      node.on('connect', () => {
        if (node.stream) coalesceWrites(node.stream as unknown as CorkableSocket);
      });
    };
    if (target.mode === 'cluster') client.on('+node', coalesceOnConnect);
    else coalesceOnConnect(client);
    client.on('ready', () => {
      if (lastError) log?.info('redis connection restored');
      lastError = '';
    });
    return client;
  }

  /** The client once it can take commands; waits at most commandTimeoutMs for a (re)connect. */
  async #ready(op: string): Promise<ScriptedClient> {
    if (this.#closed) throw new UnavailableError(`state store closed (${op})`);
    const client = await this.#client;
    if (client.status === 'ready') return client;
    if (client.status === 'end') throw new UnavailableError(`state store closed (${op})`);
    this.#readyWait ??= new Promise<void>((resolve) => {
      client.once('ready', () => {
        this.#readyWait = undefined;
        resolve();
      });
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#timeoutMs);
    });
    const outcome = await Promise.race([this.#readyWait, timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      throw new UnavailableError(`state store unavailable (${op}): not connected`);
    }
    return client;
  }

  async #run<T>(op: string, fn: (c: ScriptedClient) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.#ready(op));
    } catch (err) {
      throw wrap(op, err);
    }
  }

  #k(key: string): string {
    return this.#prefix + key;
  }

  async lockAndGet(lock: Lock, dataKey: string): Promise<LockAndGet> {
    assertTtl(lock.ttlMs, 'lock ttlMs');
    return this.#run('lockAndGet', async (c) => {
      const [locked, value] = await c.kiLockAndGet(
        this.#k(lock.key),
        this.#k(dataKey),
        lock.token,
        lock.ttlMs,
      );
      return { locked: locked === 1, value: value ?? null };
    });
  }

  /** Keys of different hash tags may live on different nodes (Redis Cluster): no script spans them. */
  get sharded(): boolean {
    return this.#sharded;
  }

  /** The thread repository's open script (thread-script.ts): its five keys, one JSON argument. */
  async openThreadScript(keys: string[], arg: string): Promise<ThreadScriptReply> {
    return this.#run('openThread', (c) => c.kiOpenThread(...keys.map((k) => this.#k(k)), arg));
  }

  async putLocked(lock: Lock, dataKey: string, value: string, ttlSeconds: number): Promise<boolean> {
    assertTtl(ttlSeconds, 'ttlSeconds');
    return this.#run('putLocked', async (c) => {
      const args = [lock.token, value, ttlSeconds, lock.ttlMs];
      return (await c.kiPutLocked(this.#k(lock.key), this.#k(dataKey), ...args)) === 1;
    });
  }

  async putAndUnlock(lock: Lock, dataKey: string, value: string, ttlSeconds: number): Promise<boolean> {
    assertTtl(ttlSeconds, 'ttlSeconds');
    return this.#run('putAndUnlock', async (c) => {
      const args = [lock.token, value, ttlSeconds];
      return (await c.kiPutAndUnlock(this.#k(lock.key), this.#k(dataKey), ...args)) === 1;
    });
  }

  async unlock(lock: Lock): Promise<boolean> {
    return this.#run('unlock', async (c) => (await c.kiUnlock(this.#k(lock.key), lock.token)) === 1);
  }

  async dropAndUnlock(lock: Lock, dataKey: string): Promise<boolean> {
    return this.#run(
      'dropAndUnlock',
      async (c) => (await c.kiDropAndUnlock(this.#k(lock.key), this.#k(dataKey), lock.token)) === 1,
    );
  }

  async get(key: string): Promise<string | null> {
    return this.#run('get', (c) => c.get(this.#k(key)));
  }

  async put(key: string, value: string, ttlSeconds: number): Promise<void> {
    assertTtl(ttlSeconds, 'ttlSeconds');
    return this.#run('put', async (c) => {
      await c.set(this.#k(key), value, 'EX', ttlSeconds);
    });
  }

  async setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    assertTtl(ttlSeconds, 'ttlSeconds');
    return this.#run(
      'setIfAbsent',
      async (c) => (await c.set(this.#k(key), value, 'EX', ttlSeconds, 'NX')) === 'OK',
    );
  }

  async claim(key: string, value: string, ttlSeconds: number): Promise<string | null> {
    assertTtl(ttlSeconds, 'ttlSeconds');
    return this.#run('claim', (c) => c.kiClaim(this.#k(key), value, ttlSeconds));
  }

  async increment(key: string, ttlSeconds: number): Promise<number> {
    assertTtl(ttlSeconds, 'ttlSeconds');
    return this.#run('increment', (c) => c.kiIncrement(this.#k(key), ttlSeconds));
  }

  async takeToken(req: TokenRequest): Promise<number> {
    assertTokenRequest(req);
    return this.#run('takeToken', (c) =>
      c.kiTakeToken(
        this.#k(req.key),
        req.intervalMs,
        req.burst,
        req.nowMs,
        req.count ?? 1,
        req.maxWaitMs ?? 0,
      ),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    let client: ScriptedClient;
    try {
      client = await this.#client;
    } catch {
      return;
    }
    if (client.status === 'ready') {
      try {
        await client.quit();
        return;
      } catch {
        // Fall through: a connection that cannot say goodbye is simply dropped.
      }
    }
    client.disconnect();
  }
}

// Per connection; for a cluster these go to every node's connection.
interface PerNodeOptions {
  maxRetriesPerRequest: number;
  autoResendUnfulfilledCommands: boolean;
  commandTimeout: number;
  connectTimeout: number;
  connectionName: string;
  disableClientInfo: boolean;
}

function perNodeOptions(commandTimeoutMs: number, connectTimeoutMs: number): PerNodeOptions {
  return {
    maxRetriesPerRequest: 1,
    // A command cut off by a dropped connection has already timed out for its caller: sent
    // again after the reconnect it could take a lock that nobody will release.
    autoResendUnfulfilledCommands: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: connectTimeoutMs,
    connectionName: 'kube-incident-agent',
    disableClientInfo: true,
  } satisfies RedisOptions;
}

// Constructors typed loosely: ioredis' option types do not hold under exactOptionalPropertyTypes
// once spread together, and the option objects below are checked against RedisOptions instead.
type Ctor = new (...args: unknown[]) => ScriptedClient;
interface Drivers {
  Cluster: unknown;
  Redis: unknown;
}

// Keep trying forever, but quickly: a function instance should heal as soon as Redis is back.
const retryStrategy = (times: number): number => Math.min(50 * 2 ** Math.min(times, 10), 1000);

function createClient(target: RedisTarget, perNode: RedisOptions, drivers: Drivers): ScriptedClient {
  const Redis = drivers.Redis as Ctor;
  const Cluster = drivers.Cluster as Ctor;
  const auth =
    target.mode === 'single'
      ? {}
      : {
          ...(target.username !== undefined ? { username: target.username } : {}),
          ...(target.password !== undefined ? { password: target.password } : {}),
          ...(target.tls ? { tls: {} } : {}),
        };
  // No offline queue: a command written minutes later (a lock nobody releases) is worse than a
  // fast 503. Startup and reconnects are covered by waiting for 'ready' in RedisStore.#ready.
  switch (target.mode) {
    case 'single':
      return new Redis(target.url, {
        ...perNode,
        enableOfflineQueue: false,
        retryStrategy,
        scripts: SCRIPTS,
      } satisfies RedisOptions);
    case 'sentinel': {
      return new Redis({
        ...perNode,
        ...auth,
        enableOfflineQueue: false,
        retryStrategy,
        scripts: SCRIPTS,
        sentinels: target.sentinels,
        name: target.masterName,
        // Ask the sentinels again quickly after a failover, like the master's own retry.
        sentinelRetryStrategy: retryStrategy,
        // A master demoted to replica answers READONLY: reconnect through the sentinels.
        reconnectOnError: (err: Error) => (err.message.startsWith('READONLY') ? 2 : false),
        ...(target.sentinelUsername ? { sentinelUsername: target.sentinelUsername } : {}),
        ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
        ...(target.tls ? { enableTLSForSentinelMode: true } : {}),
      } satisfies RedisOptions);
    }
    case 'cluster': {
      const cluster = new Cluster(target.nodes, {
        enableOfflineQueue: false,
        clusterRetryStrategy: retryStrategy,
        scripts: SCRIPTS,
        // MOVED/ASK during a reshard, TRYAGAIN and CLUSTERDOWN are retried within the command timeout.
        retryDelayOnFailover: 100,
        retryDelayOnTryAgain: 100,
        retryDelayOnClusterDown: 100,
        redisOptions: { ...perNode, ...auth },
      } satisfies ClusterOptions);
      return cluster;
    }
  }
}

export function createRedisStore(url: string, opts: RedisStoreOptions = {}): RedisStore {
  return new RedisStore(url, opts);
}

/** ioredis, imported when first used (also by the code cache's training run: FunctionModule.warm). */
export const loadIoredis = async () => cjsExports(await import('ioredis'));
