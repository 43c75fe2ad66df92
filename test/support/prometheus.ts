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
  const queryLog = join(dir, 'queries.log');
  try {
    await writeFile(join(dir, 'series.om'), openMetrics(series));
    await run('promtool', [
      'tsdb',
      'create-blocks-from',
      'openmetrics',
      join(dir, 'series.om'),
      join(dir, 'data'),
    ]);
    await writeFile(join(dir, 'prometheus.yml'), `global:\n  query_log_file: ${queryLog}\n`);
    // The port may be taken between freePort() and the bind: one more try on a new one.
    const server = await launch(dir, startTimeoutMs).catch(() => launch(dir, startTimeoutMs));
    return {
      url: server.url,
      async queryLog() {
        const text = await readFile(queryLog, 'utf8').catch(() => '');
        return text
          .split('\n')
          .filter(Boolean)
          .map((l) => (JSON.parse(l) as { params: { query: string } }).params.query);
      },
      async stop() {
        await server.kill();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Starts prometheus over `dir`'s data on a free port; resolves once /-/ready answers 200. */
async function launch(dir: string, startTimeoutMs: number): Promise<{ url: string; kill(): Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
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
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited during start: ${stderr}`);
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return { url, kill };
    if (Date.now() > deadline) {
      await kill();
      throw new Error(`prometheus not ready on ${url} within ${startTimeoutMs}ms: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
