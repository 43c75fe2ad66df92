// A real Prometheus for tests and benchmarks (Debian's `prometheus` and `promtool`): the series a
// test writes as OpenMetrics are backfilled with `promtool tsdb create-blocks-from openmetrics`,
// then a server on a free port serves them. Every query it answers is in `queryLog()`.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './redis-server.ts';

const run = promisify(execFile);

export interface PrometheusServer {
  url: string;
  /** The queries Prometheus ran, in order (its query log). */
  queryLog(): Promise<string[]>;
  stop(): Promise<void>;
}

/** One sample line's worth: a metric name, labels and [unix seconds, value] points. */
export interface SeriesSpec {
  name: string;
  labels: Record<string, string>;
  points: Array<[number, number]>;
}

/** The series as OpenMetrics text: each family's lines together, `# EOF` last. */
export function openMetrics(series: readonly SeriesSpec[]): string {
  const families = new Map<string, SeriesSpec[]>();
  for (const s of series) families.set(s.name, [...(families.get(s.name) ?? []), s]);
  const lines: string[] = [];
  for (const [name, list] of families) {
    lines.push(`# TYPE ${name} gauge`);
    for (const s of list) {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(',');
      for (const [t, v] of s.points) lines.push(`${name}{${labels}} ${v} ${t}`);
    }
  }
  return `${lines.join('\n')}\n# EOF\n`;
}

export async function startPrometheus(
  series: readonly SeriesSpec[],
  startTimeoutMs = 30_000,
): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), 'prometheus-test-'));
  const data = join(dir, 'data');
  const queryLog = join(dir, 'queries.log');
  await writeFile(join(dir, 'series.om'), openMetrics(series));
  await run('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', join(dir, 'series.om'), data]);
  await writeFile(join(dir, 'prometheus.yml'), `global:\n  query_log_file: ${queryLog}\n`);
  const port = await freePort();
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${data}`,
      '--storage.tsdb.retention.time=30d',
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited during start: ${stderr}`);
    }
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready on ${url} within ${startTimeoutMs}ms: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    async queryLog() {
      const text = await readFile(queryLog, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { params: { query: string } }).params.query);
    },
    stop,
  };
}
