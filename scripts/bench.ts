// `npm run bench`: every figure next to a baseline measured in the same run on this machine.
//   1. cold start per function bundle (spawn -> readiness, spawn -> first event handled) and
//      idle RSS, against a bare node:http server and the stock faas-js-runtime;
//   2. RSS after 10,000 events per function;
//   3. alert-ingest alerts/second (batches of 1 and 50, a real sink answering 202) against a
//      bare node:http server reading and answering the same requests;
//   4. the sections in scripts/bench/: the Redis path, pipeline latency, the storm, a burst of
//      unrelated alerts on one channel, and the enrichment, Event and Redis-memory figures; each
//      a list of rows with its own baseline.
// `npm run bench -- --json` prints one JSON document instead of the tables; `-- --only ingest`
// runs section 3 alone (alert-ingest throughput, scripts/bench/ingest.ts); `-- --only cold`
// runs section 1 alone (cold start and idle RSS), for repeated start-up measurements; `-- --only
// redis` runs the Redis path alone (scripts/bench/redis-path.ts), whose rate moves with the machine;
// `-- --only destinations` runs sections 1 and 2 for the dispatch functions alone (dispatch-slack and
// the incident destinations of docs/destinations.md, each against its service's stand-in over TLS).
// `-- --only storm`, `-- --only burst` and `-- --only webhook` (the 10,000-alert webhook,
// scripts/bench/big-webhook.ts) run those sections alone; `-- --only metrics` runs enrich-metrics'
// chart render times, cold start, idle and peak RSS (scripts/bench/metrics.ts); `-- --only rollout`
// the what-changed cost on a workload with 50 revisions and 2,000 pods (scripts/bench/rollout.ts);
// `-- --only workflows` the TypeScript workflows' sandbox (scripts/bench/workflows.ts); `-- --only changes`
// change tracking's cost per Deployment update (scripts/bench/changes.ts); `-- --only demo`
// the demo's Prometheus stand-in against Debian's Prometheus (scripts/bench/demo.ts).
// `-- --tiny` runs every section with a token load (test/bench-exits.test.ts: the bench stops all
// it started and exits); its figures mean nothing.
// Every section stops what it started in a `finally`, also when it throws; the process exits
// with status 1 when a section failed (its error is in its table), 0 otherwise.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DESTINATION_FUNCTIONS } from '../lib/platform/functions.ts';
import { writeBaselines } from './bench/baselines.ts';
import { benchBigWebhook } from './bench/big-webhook.ts';
import { benchChanges } from './bench/changes.ts';
import { benchDemoPrometheus } from './bench/demo.ts';
import { benchEnrichment } from './bench/enrich.ts';
import { benchEvents } from './bench/events.ts';
import { ceRequest, fnRequest, startFunctionPeers, startOnce, webhook } from './bench/functions.ts';
import { benchIngestThroughput } from './bench/ingest.ts';
import { benchMetrics } from './bench/metrics.ts';
import { benchBurst, benchLatency, benchStorm } from './bench/pipeline.ts';
import { freePort, median, msSince, rssMiB, spawnServer, stop } from './bench/procs.ts';
import { benchRedisMemory } from './bench/redis-memory.ts';
import { benchRedisPath } from './bench/redis-path.ts';
import { benchRollout } from './bench/rollout.ts';
import { benchWorkflows } from './bench/workflows.ts';
import { buildFunction, FUNCTIONS } from './build.ts';

const json = process.argv.includes('--json');
const tiny = process.argv.includes('--tiny');
const quick = tiny || process.argv.includes('--quick');
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
const REDIS_PATH = 'Redis path (dispatch decisions vs redis-benchmark)';
const STORM = 'Storm folded to Slack’s rate';
const BURST = 'Burst of unrelated alerts on one channel';
const BIG_WEBHOOK = '10,000-alert webhook';
const METRICS = 'enrich-metrics: charts, cold start and memory';
const ROLLOUT = 'What changed: 50 revisions, 2,000 pods';
const WORKFLOWS = 'TypeScript workflows in the sandbox';
const DEMO = "The demo's Prometheus stand-in";
const CHANGES = 'Change tracking: Deployment updates';
/** `--only` names for the sections measured by their own modules. */
const SECTION_ONLY: Record<string, string> = {
  redis: REDIS_PATH,
  storm: STORM,
  burst: BURST,
  webhook: BIG_WEBHOOK,
  metrics: METRICS,
  rollout: ROLLOUT,
  workflows: WORKFLOWS,
  demo: DEMO,
  changes: CHANGES,
};
// `--only destinations`: cold start and the load figures of the dispatch functions alone.
const destinationsOnly = only === 'destinations';
if (
  only !== undefined &&
  only !== 'cold' &&
  only !== 'ingest' &&
  !destinationsOnly &&
  !(only in SECTION_ONLY)
)
  throw new Error(
    `--only takes "cold", "ingest", "destinations", ${Object.keys(SECTION_ONLY)
      .map((k) => `"${k}"`)
      .join(', ')}, not ${only}`,
  );
const runCold = only === undefined || only === 'cold' || destinationsOnly;
const runUnderLoad = only === undefined || destinationsOnly;
const runIngest = only === undefined || only === 'ingest';
const runSection = (title: string) => only === undefined || SECTION_ONLY[only] === title;
/** The function bundles are measured in sections 1 to 3 and by the big webhook; the others run lib/ or the pipeline. */
const needBundles =
  only === undefined || only === 'cold' || only === 'ingest' || only === 'webhook' || destinationsOnly;
// A --tiny run (an exit check, test/bench-exits.test.ts) leaves out the four incident destination
// functions: their bundles and starts add half a minute and nothing the check looks at; their
// stand-ins still start and stop with the peers.
const MEASURED = destinationsOnly
  ? FUNCTIONS.filter((f) => f.startsWith('dispatch-'))
  : tiny
    ? FUNCTIONS.filter((f) => DESTINATION_FUNCTIONS[f] === undefined)
    : FUNCTIONS;
const RUNS = tiny ? 1 : quick ? 2 : 5;
const EVENTS = tiny ? 100 : quick ? 2000 : 10_000;
const LOAD_SECONDS = tiny ? 0.5 : quick ? 2 : 5;
const WARM_SECONDS = tiny ? 0.2 : quick ? 1 : 2;
const say = (s: string) => {
  if (!json) process.stderr.write(`${s}\n`);
};

const payload = JSON.parse(webhook);
const batchOf = (n: number) =>
  JSON.stringify({
    ...payload,
    alerts: Array.from({ length: n }, (_, i) => ({
      ...payload.alerts[0],
      labels: { ...payload.alerts[0].labels, pod: `checkout-7d9c8b6f5-${i}` },
      fingerprint: `f${String(i).padStart(15, '0')}`,
    })),
  });

/**
 * Sends `EVENTS` requests (16 in flight), timing them, and reads the RSS once the process has
 * settled: what the heap settings cost in speed shows next to what they save in memory.
 */
async function rssAfter(
  port: number,
  pid: number | undefined,
  request: () => RequestInit,
): Promise<{ rssMiB: number; perSecond: number }> {
  let left = EVENTS;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (left-- > 0) {
        const res = await fetch(`http://127.0.0.1:${port}/`, request());
        await res.arrayBuffer();
        if (res.status >= 300) throw new Error(`answered ${res.status} under load`);
      }
    }),
  );
  const perSecond = EVENTS / (msSince(started) / 1000);
  await new Promise((r) => setTimeout(r, 500));
  return { rssMiB: rssMiB(pid), perSecond };
}

interface ColdStart {
  name: string;
  readyMs: number;
  firstEventMs: number;
  rssMiB: number;
}

async function coldStart(
  name: string,
  file: string,
  env: NodeJS.ProcessEnv,
  request: (() => RequestInit) | undefined,
  readyPath?: string,
  cwd?: string,
): Promise<ColdStart> {
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await startOnce(name, file, env, request, readyPath, cwd));
  return {
    name,
    readyMs: median(runs.map((r) => r.readyMs)),
    firstEventMs: median(runs.map((r) => r.firstEventMs)),
    rssMiB: median(runs.map((r) => r.rssMiB)),
  };
}

const dir = await mkdtemp(join(tmpdir(), 'kubeincident-bench-'));
// What the run starts is stopped in the `finally` at the end, in reverse, also when a step throws:
// a redis-server, stand-in or child process left running would keep this process alive.
const stops: Array<() => Promise<unknown>> = [];
const failed: string[] = [];
try {
  say(`building bundles into ${dir} ...`);
  const bundles = new Map<string, string>();
  // The Redis path runs lib/ in this process and the pipeline sections `npm start`: no bundle.
  for (const fn of needBundles ? MEASURED : []) bundles.set(fn, await buildFunction(fn, dir));
  const base = await writeBaselines(dir);
  const { env: fnEnv, sink, sinkUrl } = await startFunctionPeers(dir, base.bare, stops);

  const notRun = (name: string): ColdStart => ({
    name,
    readyMs: Number.NaN,
    firstEventMs: Number.NaN,
    rssMiB: Number.NaN,
  });
  if (runCold) say(`cold start and memory (${RUNS} runs each, median) ...`);
  const bare = runCold
    ? await coldStart('bare node:http', base.bare, {}, undefined, '/')
    : notRun('bare node:http');
  const faas = runCold
    ? await coldStart('faas-js-runtime (no-op handle)', base.faas, {}, () => ceRequest('dev.bench.v1', {}))
    : notRun('faas-js-runtime (no-op handle)');
  const starts: ColdStart[] = [];
  for (const fn of runCold ? MEASURED : []) {
    // Run from the bundle's own directory, far from any node_modules: it must be self-contained.
    // The runs share one Redis, so the channel's rate bucket would answer 429 from the fourth
    // run on: the first event here measures start-up, not Slack's pace.
    const env = { ...fnEnv[fn], SLACK_CHANNEL_RATE: '1000000', SLACK_CHANNEL_BURST: '1000000' };
    starts.push(await coldStart(fn, bundles.get(fn) as string, env, () => fnRequest(fn), undefined, dir));
  }

  const afterEvents = new Map<string, number>();
  const eventRates = new Map<string, number>();
  if (runUnderLoad) {
    say(`RSS after ${EVENTS} events per function ...`);
    const barePort = freePort();
    const bareSrv = await spawnServer(base.bare, {}, barePort, '/');
    try {
      const after = await rssAfter(barePort, bareSrv.child.pid, () => fnRequest('alert-ingest'));
      afterEvents.set(bare.name, after.rssMiB);
      eventRates.set(bare.name, after.perSecond);
    } finally {
      await stop(bareSrv.child);
    }
  }
  for (const fn of runUnderLoad ? MEASURED : []) {
    const port = freePort();
    // Dispatch at full speed: Slack's pace and storm folding are measured in the storm section.
    const env = {
      ...fnEnv[fn],
      SLACK_CHANNEL_RATE: '1000000',
      SLACK_CHANNEL_BURST: '1000000',
      STORM_THRESHOLD: '0',
    };
    const s = await spawnServer(bundles.get(fn) as string, env, port, undefined, dir);
    try {
      let i = 0;
      const after = await rssAfter(port, s.child.pid, () => fnRequest(fn, i++));
      afterEvents.set(fn, after.rssMiB);
      eventRates.set(fn, after.perSecond);
    } finally {
      await stop(s.child);
    }
  }

  if (runIngest) say(`alert-ingest throughput (${LOAD_SECONDS} s per figure, 16 connections) ...`);
  const throughput = !runIngest
    ? []
    : await benchIngestThroughput({
        bundle: bundles.get('alert-ingest') as string,
        bare: base.bare,
        forwarder: base.forwarder,
        cwd: dir,
        sink: { url: sinkUrl, pid: sink.child.pid },
        webhookOf: batchOf,
        seconds: LOAD_SECONDS,
        warmSeconds: WARM_SECONDS,
        rounds: quick ? 1 : 3,
      });
  await stop(sink.child);

  // Sections measured by their own modules, each with its baseline in the same run.
  const sections: Array<
    [string, (o: { quick: boolean; tiny: boolean }) => Promise<Array<Record<string, string | number>>>]
  > = [
    [REDIS_PATH, benchRedisPath],
    ['End-to-end latency through the local pipeline', benchLatency],
    [STORM, benchStorm],
    [BURST, benchBurst],
    ['Enrichment', benchEnrichment],
    [ROLLOUT, benchRollout],
    ['Kubernetes Events', benchEvents],
    [CHANGES, benchChanges],
    ['Redis memory', benchRedisMemory],
    [
      METRICS,
      (o) =>
        benchMetrics({
          ...o,
          bundles: { metrics: bundles.get('enrich-metrics'), node: bundles.get('enrich-node') },
        }),
    ],
    [DEMO, benchDemoPrometheus],
    [
      BIG_WEBHOOK,
      ({ quick: q }) =>
        benchBigWebhook({
          bundle: bundles.get('alert-ingest') as string,
          forwarder: base.forwarder,
          countingSink: base.countingSink,
          cwd: dir,
          quick: q,
        }),
    ],
    [
      WORKFLOWS,
      ({ quick: q, tiny: t }) =>
        benchWorkflows({
          quick: q,
          tiny: t,
          dir,
          bundle: async (fn) => bundles.get(fn) ?? buildFunction(fn, dir),
        }),
    ],
  ];
  const extra: Record<string, Array<Record<string, string | number>>> = {};
  for (const [title, run] of sections.filter(([title]) => runSection(title))) {
    say(`${title} ...`);
    try {
      extra[title] = await run({ quick, tiny });
    } catch (err) {
      // One broken section must not hide the others' figures; the exit status says it failed.
      extra[title] = [{ error: String((err as Error)?.message ?? err).slice(0, 300) }];
      failed.push(title);
    }
  }

  const result = {
    machine: { node: process.version, cpus: (await import('node:os')).cpus().length, runs: RUNS },
    coldStart: {
      baseline: bare,
      faasJsRuntime: {
        ...faas,
        readyRatio: faas.readyMs / bare.readyMs,
        rssRatio: faas.rssMiB / bare.rssMiB,
      },
      functions: starts.map((s) => ({
        ...s,
        readyRatio: s.readyMs / bare.readyMs,
        firstEventRatio: s.firstEventMs / bare.firstEventMs,
        rssRatio: s.rssMiB / bare.rssMiB,
        rssAfterEventsMiB: afterEvents.get(s.name),
        rssAfterEventsRatio:
          (afterEvents.get(s.name) ?? Number.NaN) / (afterEvents.get(bare.name) ?? Number.NaN),
        eventsPerSecond: eventRates.get(s.name),
      })),
      events: EVENTS,
      bareRssAfterEventsMiB: afterEvents.get(bare.name),
      bareEventsPerSecond: eventRates.get(bare.name),
    },
    alertIngestThroughput: throughput,
    sections: extra,
  };
  if (json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    // A figure this run did not measure (`--only`) is left blank rather than printed as NaN.
    const f = (n: number, d = 0) => (Number.isNaN(n) ? '' : n.toFixed(d));
    const rows = [
      [
        'what',
        'ready ms',
        'x bare',
        'first event ms',
        'x bare',
        'idle RSS MiB',
        'x bare',
        `RSS after ${EVENTS} events MiB`,
        'x bare',
        'events/s, 16 in flight',
        'x bare',
      ],
      [
        bare.name,
        f(bare.readyMs),
        '1.00',
        f(bare.firstEventMs),
        '1.00',
        f(bare.rssMiB, 1),
        '1.00',
        f(afterEvents.get(bare.name) ?? Number.NaN, 1),
        afterEvents.has(bare.name) ? '1.00' : '',
        f(eventRates.get(bare.name) ?? Number.NaN),
        eventRates.has(bare.name) ? '1.00' : '',
      ],
      [
        faas.name,
        f(faas.readyMs),
        f(faas.readyMs / bare.readyMs, 2),
        f(faas.firstEventMs),
        f(faas.firstEventMs / bare.firstEventMs, 2),
        f(faas.rssMiB, 1),
        f(faas.rssMiB / bare.rssMiB, 2),
        '',
        '',
        '',
        '',
      ],
      ...starts.map((s) => [
        s.name,
        f(s.readyMs),
        f(s.readyMs / bare.readyMs, 2),
        f(s.firstEventMs),
        f(s.firstEventMs / bare.firstEventMs, 2),
        f(s.rssMiB, 1),
        f(s.rssMiB / bare.rssMiB, 2),
        f(afterEvents.get(s.name) ?? Number.NaN, 1),
        f((afterEvents.get(s.name) ?? Number.NaN) / (afterEvents.get(bare.name) ?? Number.NaN), 2),
        f(eventRates.get(s.name) ?? Number.NaN),
        f((eventRates.get(s.name) ?? Number.NaN) / (eventRates.get(bare.name) ?? Number.NaN), 2),
      ]),
    ];
    const pct = (share: number) => `${f(share * 100)}%`;
    const tp = [
      [
        'alerts per request',
        'alert-ingest alerts/s',
        'bare node:http alerts/s',
        'ratio',
        'forwarder alerts/s',
        'forwarder x bare',
        'alert-ingest x forwarder',
        'CPU: alert-ingest / sink / client',
        'CPU: forwarder / sink / client',
        'CPU: bare / client',
      ],
      ...throughput.map((t) => [
        String(t.batch),
        f(t.ingestAlertsPerSec),
        f(t.bareAlertsPerSec),
        f(t.ratio, 2),
        f(t.forwarderAlertsPerSec),
        f(t.forwarderRatio, 2),
        f(t.ofForwarder, 2),
        `${pct(t.cpu.ingest)} / ${pct(t.cpu.sink)} / ${pct(t.cpu.client)}`,
        `${pct(t.forwarderCpu.forwarder)} / ${pct(t.forwarderCpu.sink)} / ${pct(t.forwarderCpu.client)}`,
        `${pct(t.bareCpu.bare)} / ${pct(t.bareCpu.client)}`,
      ]),
    ];
    const table = (r: string[][]) => {
      const w = (r[0] as string[]).map((_, i) => Math.max(...r.map((row) => (row[i] ?? '').length)));
      const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(w[i] as number)).join(' | ')} |`;
      // Markdown: the header row, its separator, then the rows (pasted into docs/performance.md as is).
      const sep = `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`;
      return [line(r[0] as string[]), sep, ...r.slice(1).map(line)].join('\n');
    };
    console.log(`Node ${process.version}, ${result.machine.cpus} CPUs, median of ${RUNS} runs\n`);
    if (runCold) console.log(`${table(rows)}\n`);
    if (runIngest) {
      console.log(table(tp));
      console.log(
        `\n${quick ? 'One round' : 'Median of 3 rounds'} of ${LOAD_SECONDS} s per figure, each after ${WARM_SECONDS} s of the same load unmeasured (steady state: a fresh alert-ingest is still compiling its hot code), 16 keep-alive connections from a raw-socket load client in the bench process. Every process shares the ${result.machine.cpus} CPUs; alert-ingest also drives the sink, a bare node:http process answering 202 to each of its one-request-per-alert events. The forwarder is the least work that wire allows: node:http, JSON.parse, one request per alert to the same sink through alert-ingest's sink client, answered once all were accepted (no validation, mapping, CloudEvent attributes, logs or metrics). CPU columns: share of one CPU each process used during the run.`,
      );
    }
    for (const [title, rows] of Object.entries(extra)) {
      const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
      console.log(`\n${title}\n`);
      console.log(table([cols, ...rows.map((r) => cols.map((c) => String(r[c] ?? '')))]));
    }
  }
} finally {
  for (const stopIt of stops.reverse()) await stopIt().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}
if (failed.length > 0) process.stderr.write(`bench: sections that failed: ${failed.join(', ')}\n`);
// Everything above stopped what it started, so the process would end by itself; exiting here
// guards scripts and CI jobs against a handle some later change leaves open.
process.exit(failed.length > 0 ? 1 : 0);
