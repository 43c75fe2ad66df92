// The demo's Prometheus: the two HTTP API endpoints enrich-metrics' client uses
// (/api/v1/query and /api/v1/query_range, GET or form POST), answered in Prometheus' JSON shape
// from the recorded series (series.ts) by the PromQL subset in promql.ts. A query outside that
// subset answers an empty result, as Prometheus does for series it does not have.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Expr, evaluate, parse, type Sample, type StoredSeries, Unsupported } from './promql.ts';

export interface PrometheusStandin {
  url: string;
  /** Every query answered, in order (tests read them). */
  queries: string[];
  close(): Promise<void>;
}

/** Prometheus' own cap on the points of one query_range series. */
const MAX_POINTS = 11_000;

class BadData extends Error {}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function params(req: IncomingMessage, url: URL): Promise<URLSearchParams> {
  const p = new URLSearchParams(url.search);
  if (req.method === 'POST') {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    for (const [k, v] of new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) p.append(k, v);
  }
  return p;
}

function time(p: URLSearchParams, name: string, fallback?: number): number {
  const raw = p.get(name);
  if (raw === null && fallback !== undefined) return fallback;
  const n = raw === null ? Number.NaN : /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : Date.parse(raw) / 1000;
  if (!Number.isFinite(n))
    throw new BadData(`invalid parameter "${name}": cannot parse "${raw ?? ''}" to a valid timestamp`);
  return n;
}

/** The query parsed once, or undefined when it is outside the subset (an empty result then). */
function parsed(query: string): Expr | undefined {
  try {
    return parse(query);
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
}

/** The value at `t`: a scalar, or a vector (empty for a query outside the subset). */
function instant(expr: Expr | undefined, t: number, store: StoredSeries[]): Sample[] | number {
  if (!expr) return [];
  try {
    const v = evaluate(expr, t, store);
    return v.kind === 'scalar' ? v.value : v.samples;
  } catch (err) {
    if (err instanceof Unsupported) return [];
    throw err;
  }
}

const str = (v: number) =>
  Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v);

function queryAnswer(p: URLSearchParams, store: StoredSeries[]) {
  const t = time(p, 'time', Date.now() / 1000);
  const v = instant(parsed(p.get('query') ?? ''), t, store);
  if (typeof v === 'number') return { resultType: 'scalar', result: [t, str(v)] };
  return { resultType: 'vector', result: v.map((s) => ({ metric: s.labels, value: [t, str(s.value)] })) };
}

function rangeAnswer(p: URLSearchParams, store: StoredSeries[]) {
  const start = time(p, 'start');
  const end = time(p, 'end');
  const step = Number(p.get('step'));
  if (!(step > 0))
    throw new BadData(
      'invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer',
    );
  if (end < start) throw new BadData('invalid parameter "end": end timestamp must not be before start time');
  if ((end - start) / step > MAX_POINTS)
    throw new BadData(
      'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)',
    );
  const series = new Map<string, { metric: Record<string, string>; values: Array<[number, string]> }>();
  for (let t = start; t <= end; t += step) {
    const v = instant(parsed(p.get('query') ?? ''), t, store);
    const samples = typeof v === 'number' ? [{ labels: {}, value: v }] : v;
    for (const s of samples) {
      const key = JSON.stringify(Object.entries(s.labels).sort());
      const entry = series.get(key) ?? { metric: s.labels, values: [] };
      entry.values.push([t, str(s.value)]);
      series.set(key, entry);
    }
  }
  // Prometheus sorts a matrix by its label sets.
  const byLabels = (m: Record<string, string>) => JSON.stringify(Object.entries(m).sort());
  const result = [...series.values()].sort((a, b) => (byLabels(a.metric) < byLabels(b.metric) ? -1 : 1));
  return { resultType: 'matrix', result };
}

export async function startPrometheusStandin(
  store: StoredSeries[],
  opts: { port?: number; host?: string } = {},
): Promise<PrometheusStandin> {
  const queries: string[] = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://prometheus');
    const answer =
      url.pathname === '/api/v1/query'
        ? queryAnswer
        : url.pathname === '/api/v1/query_range'
          ? rangeAnswer
          : undefined;
    if (!answer) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      return void res.end('404 page not found\n');
    }
    if (req.method !== 'GET' && req.method !== 'POST') {
      res.writeHead(405, { 'content-type': 'text/plain; charset=utf-8' });
      return void res.end('Method Not Allowed\n');
    }
    try {
      const p = await params(req, url);
      const query = p.get('query');
      if (!query)
        throw new BadData('invalid parameter "query": 1:1: parse error: no expression found in input');
      queries.push(query);
      send(res, 200, { status: 'success', data: answer(p, store) });
    } catch (err) {
      // A query that cannot be evaluated answers as Prometheus' 422 does, never a crash.
      if (err instanceof BadData)
        send(res, 400, { status: 'error', errorType: 'bad_data', error: err.message });
      else send(res, 422, { status: 'error', errorType: 'execution', error: (err as Error).message });
    }
  });
  await new Promise<void>((done) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    queries,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
