// The Redis path of dispatch: thread/dedup decisions per second through lib/dispatch against a
// real redis-server, next to redis-benchmark on the same server, and Redis round trips per
// alert counted by a wrapper around the store (every StateStore call is one round trip).
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { RedisStore } from '../../lib/adapters/store/redis.ts';
import type { Issue } from '../../lib/domain/issue.ts';
import { createChannelBucket } from '../../lib/stages/dispatch/channel-bucket.ts';
import { dispatchIssue } from '../../lib/stages/dispatch/dispatcher.ts';
import { makeIssue } from '../../test/support/issue-factory.ts';
import { RecordingDestination } from '../../test/support/recording-destination.ts';
import { startRedisServer } from '../../test/support/redis-server.ts';
import { countRoundTrips } from '../../test/support/round-trips.ts';
import { median, msSince } from './procs.ts';

/** Runs `fn` over `items` with `concurrency` in flight; returns items per second. */
async function rate<T>(items: T[], concurrency: number, fn: (item: T) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
  return items.length / (msSince(started) / 1000);
}

function redisBenchmark(port: number, requests: number): { set: number; get: number } {
  const out = execFileSync(
    'redis-benchmark',
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-t',
      'set,get',
      '-n',
      String(requests),
      '-c',
      '50',
      '-q',
      '--csv',
    ],
    { encoding: 'utf8' },
  );
  const rps = (name: string) => Number(new RegExp(`"${name}","([0-9.]+)"`).exec(out)?.[1] ?? Number.NaN);
  return { set: rps('SET'), get: rps('GET') };
}

/**
 * Runs the measurement in a process of its own, as dispatch-slack runs it: in the bench's own
 * process it would share a heap with the stand-ins and whatever earlier sections left there
 * (thousands of recorded Slack messages), and pay for it in every garbage collection.
 */
export async function benchRedisPath(opts: {
  quick: boolean;
  tiny?: boolean;
}): Promise<Array<Record<string, string | number>>> {
  const args = [
    import.meta.filename,
    '--child',
    ...(opts.quick ? ['--quick'] : []),
    ...(opts.tiny ? ['--tiny'] : []),
  ];
  const { stdout } = await promisify(execFile)(process.execPath, args, {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout) as Array<Record<string, string | number>>;
}

async function measure(opts: {
  quick: boolean;
  tiny: boolean;
}): Promise<Array<Record<string, string | number>>> {
  const alerts = opts.tiny ? 200 : opts.quick ? 2000 : 10_000;
  const redis = await startRedisServer();
  const raw = new RedisStore(redis.url);
  // An open connection would keep this child running, and the bench waiting for its answer.
  let admin: { disconnect(): void } | undefined;
  try {
    // Destinations that record instead of calling Slack: what is measured is the store path.
    const destination = new RecordingDestination('C0BENCH', { keepViews: false });
    // A bucket wide enough never to refuse: its one INCR per Slack call is part of the path.
    destination.bucket = createChannelBucket(raw, { perSecond: 1e6, burst: 1e6 });
    // Timed on the store itself; round trips are counted in a separate pass, so the counting
    // wrapper's own cost is not in the rates.
    const deps = { store: raw, destination };
    const fresh = (tag: string, n: number): Issue[] =>
      Array.from({ length: n }, (_, i) =>
        makeIssue({ fingerprint: `bench-${tag}-${i}`, labels: { alertname: `A${i}`, namespace: 'ns' } }),
      );
    // CPU each side spent per decision, summed over the rounds: what batching or any change on
    // the path saves shows here even when the machine's speed moves the rates between runs.
    const { Redis } = await import('ioredis');
    const client = new Redis(redis.url);
    admin = client;
    const redisCpu = async () => {
      const info = await client.info('cpu');
      const field = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? Number.NaN);
      return field('used_cpu_sys') + field('used_cpu_user');
    };
    const nodeCpu = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    };
    const spent = { new: { node: 0, redis: 0 }, dup: { node: 0, redis: 0 } };
    const timed = async (phase: 'new' | 'dup', issues: Issue[]) => {
      const r0 = await redisCpu();
      const n0 = nodeCpu();
      const r = await rate(issues, 50, (i) => dispatchIssue(i, deps));
      spent[phase].node += nodeCpu() - n0;
      spent[phase].redis += (await redisCpu()) - r0;
      return r;
    };
    // Three rounds, each with fresh alerts (new threads, then their duplicates); medians.
    const newRates: number[] = [];
    const dupRates: number[] = [];
    for (let round = 0; round < 3; round++) {
      const issues = fresh(String(round), alerts);
      newRates.push(await timed('new', issues));
      destination.calls.length = 0;
      // Alertmanager's repeats and HA duplicates: the common case under load.
      dupRates.push(await timed('dup', issues));
      if (destination.calls.length !== 0) throw new Error('a duplicate reached the destination');
    }
    const usPerDecision = (phase: 'new' | 'dup') =>
      `${Math.round((spent[phase].node / (3 * alerts)) * 1e6)} / ${Math.round((spent[phase].redis / (3 * alerts)) * 1e6)}`;
    const { store: counted, threads: countedThreads, count } = countRoundTrips(raw);
    const countedDestination = new RecordingDestination('C0BENCH', { keepViews: false });
    countedDestination.bucket = createChannelBucket(counted, { perSecond: 1e6, burst: 1e6 });
    const countedDeps = { store: counted, threads: countedThreads, destination: countedDestination };
    const sample = fresh('count', opts.tiny ? 100 : 1000);
    const before = count();
    await rate(sample, 50, (i) => dispatchIssue(i, countedDeps));
    const newTrips = (count() - before) / sample.length;
    const dupStart = count();
    await rate(sample, 50, (i) => dispatchIssue(i, countedDeps));
    const dupTrips = (count() - dupStart) / sample.length;
    const newRate = median(newRates);
    const dupRate = median(dupRates);
    const rb = redisBenchmark(redis.port, opts.tiny ? 2_000 : opts.quick ? 50_000 : 200_000);
    const perOp = (rb.set + rb.get) / 2;
    return [
      {
        what: 'duplicate alert (dedup decision)',
        'decisions/s': Math.round(dupRate),
        'round trips/alert': Number(dupTrips.toFixed(2)),
        'redis ops/s': Math.round(dupRate * dupTrips),
        'redis-benchmark ops/s': Math.round(perOp),
        'x redis-benchmark': Number(((dupRate * dupTrips) / perOp).toFixed(2)),
        // Whole decisions (each up to 2 round trips) against single operations: the strict view.
        'decisions x redis-benchmark': Number((dupRate / perOp).toFixed(2)),
        'CPU us/decision: node / redis-server': usPerDecision('dup'),
      },
      {
        what: 'new alert (lock+read+claim+token, then write+unlock)',
        'decisions/s': Math.round(newRate),
        'round trips/alert': Number(newTrips.toFixed(2)),
        'redis ops/s': Math.round(newRate * newTrips),
        'redis-benchmark ops/s': Math.round(perOp),
        'x redis-benchmark': Number(((newRate * newTrips) / perOp).toFixed(2)),
        // Whole decisions (each up to 2 round trips) against single operations: the strict view.
        'decisions x redis-benchmark': Number((newRate / perOp).toFixed(2)),
        'CPU us/decision: node / redis-server': usPerDecision('new'),
      },
    ];
  } finally {
    admin?.disconnect();
    await raw.close();
    await redis.stop();
  }
}

if (import.meta.main && process.argv.includes('--child'))
  process.stdout.write(
    JSON.stringify(
      await measure({ quick: process.argv.includes('--quick'), tiny: process.argv.includes('--tiny') }),
    ),
  );
