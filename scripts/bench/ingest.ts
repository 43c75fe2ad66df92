// alert-ingest throughput against a bare node:http server reading and answering the same
// requests, and what each process on the machine spent to get there.
//
// The load client is a raw-socket keep-alive HTTP/1.1 client in the bench process (~25 us of
// CPU per request). It replaced fetch(), which spent ~370 us per request: with the bare server
// that client, not the server, was the bottleneck (the bare server sat at ~25% of a CPU), so
// the baseline measured fetch and flattered every ratio against it.
//
// Steady state: each server takes the same load unmeasured for `warmSeconds` first. A throughput
// figure is the rate a running instance sustains; a fresh alert-ingest spends its first seconds
// with V8 still compiling its hot functions on another thread (scratch run: 2.5k, 3.6k, then
// 4.1k alerts/s over three 3 s windows), which the cold-start section measures on its own.
//
// Fairness: everything shares the machine's CPUs. The bare server needs only the client; an
// alert-ingest run also drives the sink, a bare node:http process answering 202 (one request
// per alert), which takes CPU an in-cluster broker would take on its own node. The CPU columns
// say what each process used, as a share of one CPU, so the sink's part is visible.
//
// The forwarder (baselines.ts) bounds what any implementation can reach here: it does what
// alert-ingest cannot avoid (read the webhook, one sink request per alert through the same client,
// answer once all were accepted) and nothing else. Its ratio to the bare server is the cost of
// the hop; alert-ingest's ratio to it is the cost of alert-ingest's own work.
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { deployedEnv, freePort, median, type Started, spawnServer, stop } from './procs.ts';

export interface IngestThroughput {
  batch: number;
  ingestAlertsPerSec: number;
  bareAlertsPerSec: number;
  ratio: number;
  /** The bare forwarder on the same load and sink. */
  forwarderAlertsPerSec: number;
  /** forwarder / bare server, the ceiling one sink request per alert leaves. */
  forwarderRatio: number;
  /** alert-ingest / forwarder, what alert-ingest's own work leaves of that ceiling. */
  ofForwarder: number;
  /** Share of one CPU used during the alert-ingest run, per process. */
  cpu: { ingest: number; sink: number; client: number };
  /** Share of one CPU used during the bare run, per process. */
  bareCpu: { bare: number; client: number };
  /** Share of one CPU used during the forwarder run, per process. */
  forwarderCpu: { forwarder: number; sink: number; client: number };
}

/** user + system CPU seconds a process has used so far (Linux /proc). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const ownCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/**
 * Keeps `concurrency` keep-alive connections busy, one request in flight on each, for `seconds`.
 * The request is serialized once and written in one write; responses are framed by
 * content-length or chunked encoding and counted by status. Returns 2xx answers per second.
 */
export async function rawLoad(
  port: number,
  request: { headers: Record<string, string>; body: string },
  opts: { seconds: number; concurrency: number },
): Promise<{ rps: number; errors: number }> {
  const body = Buffer.from(request.body);
  const head = `POST / HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n${Object.entries(request.headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}content-length: ${body.length}\r\n\r\n`;
  const wire = Buffer.concat([Buffer.from(head), body]);
  const started = process.hrtime.bigint();
  const end = Date.now() + opts.seconds * 1000;
  let done = 0;
  let errors = 0;

  // Bytes one whole response takes at the start of `b`, or 0 while it is incomplete.
  const responseLength = (b: Buffer): number => {
    const headEnd = b.indexOf('\r\n\r\n');
    if (headEnd < 0) return 0;
    const head = b.toString('latin1', 0, headEnd);
    const status = Number(head.slice(9, 12));
    let used = headEnd + 4;
    const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (cl) {
      used += Number(cl[1]);
      if (b.length < used) return 0;
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      for (;;) {
        const lineEnd = b.indexOf('\r\n', used);
        if (lineEnd < 0) return 0;
        const size = Number.parseInt(b.toString('latin1', used, lineEnd), 16);
        used = lineEnd + 2 + size + 2;
        if (b.length < used) return 0;
        if (size === 0) break;
      }
    }
    if (status >= 200 && status < 300) done++;
    else errors++;
    return used;
  };

  const connection = () =>
    new Promise<void>((resolve) => {
      let buf: Buffer = Buffer.alloc(0);
      let socket: Socket;
      const open = () => {
        socket = connect(port, '127.0.0.1');
        socket.setNoDelay(true);
        socket.write(wire);
        socket.on('data', (chunk: Buffer) => {
          buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
          for (let used = responseLength(buf); used > 0; used = responseLength(buf)) {
            buf = buf.subarray(used);
            if (Date.now() >= end) {
              socket.removeAllListeners('close');
              socket.on('close', () => resolve());
              socket.destroy();
              return;
            }
            socket.write(wire);
          }
        });
        socket.on('error', () => {});
        socket.on('close', () => {
          if (Date.now() >= end) return resolve();
          // A closed connection lost its request: count it and open another.
          errors++;
          buf = Buffer.alloc(0);
          open();
        });
      };
      open();
    });
  await Promise.all(Array.from({ length: opts.concurrency }, connection));
  return { rps: done / (Number(process.hrtime.bigint() - started) / 1e9), errors };
}

/**
 * For each batch size, alternates a bare server run, a forwarder run and an alert-ingest run
 * `rounds` times and reports the medians (alerts/s, the ratios of the same round, CPU shares).
 */
export async function benchIngestThroughput(opts: {
  bundle: string;
  bare: string;
  forwarder: string;
  cwd: string;
  sink: { url: string; pid: number | undefined };
  webhookOf: (batch: number) => string;
  seconds: number;
  /** Unmeasured load on each server before its measured run. */
  warmSeconds: number;
  rounds: number;
  concurrency?: number;
}): Promise<IngestThroughput[]> {
  const concurrency = opts.concurrency ?? 16;
  const rows: IngestThroughput[] = [];
  for (const batch of [1, 50]) {
    const request = { headers: { 'content-type': 'application/json' }, body: opts.webhookOf(batch) };
    const rounds: IngestThroughput[] = [];
    // Warms a started server with the load, then measures it: 2xx answers/s, and the share of
    // one CPU the server, the sink and this client used meanwhile. Stops the server; an error
    // answer fails the bench.
    const measure = async (name: string, s: Started) => {
      try {
        const warm = await rawLoad(s.port, request, { seconds: opts.warmSeconds, concurrency });
        const before = [cpuSeconds(s.child.pid), cpuSeconds(opts.sink.pid), ownCpuSeconds()] as const;
        const run = await rawLoad(s.port, request, { seconds: opts.seconds, concurrency });
        const share = (now: number, then: number) => (now - then) / opts.seconds;
        const cpu = {
          server: share(cpuSeconds(s.child.pid), before[0]),
          sink: share(cpuSeconds(opts.sink.pid), before[1]),
          client: share(ownCpuSeconds(), before[2]),
        };
        if (warm.errors || run.errors)
          throw new Error(`${name} answered ${warm.errors + run.errors} errors under load`);
        return { rps: run.rps, cpu };
      } finally {
        await stop(s.child);
      }
    };
    for (let r = 0; r < opts.rounds; r++) {
      const bareRun = await measure('the bare server', await spawnServer(opts.bare, {}, freePort(), '/'));
      const fwdRun = await measure(
        'the forwarder',
        await spawnServer(opts.forwarder, { K_SINK: opts.sink.url }, freePort(), '/'),
      );
      const run = await measure(
        'alert-ingest',
        await spawnServer(
          opts.bundle,
          { ...deployedEnv('alert-ingest'), K_SINK: opts.sink.url },
          freePort(),
          undefined,
          opts.cwd,
        ),
      );
      rounds.push({
        batch,
        ingestAlertsPerSec: run.rps * batch,
        bareAlertsPerSec: bareRun.rps * batch,
        ratio: run.rps / bareRun.rps,
        forwarderAlertsPerSec: fwdRun.rps * batch,
        forwarderRatio: fwdRun.rps / bareRun.rps,
        ofForwarder: run.rps / fwdRun.rps,
        cpu: { ingest: run.cpu.server, sink: run.cpu.sink, client: run.cpu.client },
        bareCpu: { bare: bareRun.cpu.server, client: bareRun.cpu.client },
        forwarderCpu: { forwarder: fwdRun.cpu.server, sink: fwdRun.cpu.sink, client: fwdRun.cpu.client },
      });
    }
    const med = (f: (t: IngestThroughput) => number) => median(rounds.map(f));
    rows.push({
      batch,
      ingestAlertsPerSec: med((t) => t.ingestAlertsPerSec),
      bareAlertsPerSec: med((t) => t.bareAlertsPerSec),
      ratio: med((t) => t.ratio),
      forwarderAlertsPerSec: med((t) => t.forwarderAlertsPerSec),
      forwarderRatio: med((t) => t.forwarderRatio),
      ofForwarder: med((t) => t.ofForwarder),
      cpu: {
        ingest: med((t) => t.cpu.ingest),
        sink: med((t) => t.cpu.sink),
        client: med((t) => t.cpu.client),
      },
      bareCpu: { bare: med((t) => t.bareCpu.bare), client: med((t) => t.bareCpu.client) },
      forwarderCpu: {
        forwarder: med((t) => t.forwarderCpu.forwarder),
        sink: med((t) => t.forwarderCpu.sink),
        client: med((t) => t.forwarderCpu.client),
      },
    });
  }
  return rows;
}
