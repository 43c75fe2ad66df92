// The Prometheus HTTP API client: only /api/v1/query and /api/v1/query_range, so Prometheus,
// Thanos, Mimir and VictoriaMetrics all serve it. Credentials are read on each use (a bearer
// token file re-read when its mtime changes, so a rotated Secret is picked up), the configured
// label matchers go into every selector, and every failure is a typed PrometheusError.
import { readFileSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { keepAliveAgent } from '../k8s/rest.ts';
import { PrometheusError } from './errors.ts';

export interface PrometheusSettings {
  url: string;
  /** A file holding the bearer token (a mounted Secret); re-read when it changes. */
  bearerTokenFile?: string | undefined;
  basicAuth?:
    | { username: string; password?: string | undefined; passwordFile?: string | undefined }
    | undefined;
  /** Extra headers on every request, e.g. X-Scope-OrgID for Mimir or Cortex. */
  headers?: Record<string, string> | undefined;
  /** A PEM CA bundle file for an https URL. */
  caFile?: string | undefined;
  timeoutMs: number;
  /** Matchers added to every selector (`cluster="prod-eu"`). */
  matchers?: readonly string[] | undefined;
}

/** One series: its labels and [unix seconds, value] points. */
export interface Series {
  labels: Record<string, string>;
  points: Array<[number, number]>;
}

export interface RangeQuery {
  query: string;
  start: number;
  end: number;
  stepSeconds: number;
}

/** An answer's `data` as Prometheus sends it (what a custom workflow's ctx.prometheus gets). */
export interface PrometheusData {
  resultType: string;
  result: unknown;
}

export interface PrometheusClient {
  /** An instant query: one value per series. */
  query(query: string, time: number, signal?: AbortSignal): Promise<Series[]>;
  queryRange(q: RangeQuery, signal?: AbortSignal): Promise<Series[]>;
  /**
   * An instant query answered with Prometheus's own `data`, untouched; `time` is unix seconds
   * or RFC 3339, Prometheus's "now" when undefined.
   */
  instant(query: string, time: string | undefined, signal?: AbortSignal): Promise<PrometheusData>;
}

export function createPrometheusClient(s: PrometheusSettings): PrometheusClient {
  const base = s.url.replace(/\/+$/, '');
  const agent = keepAliveAgent(base, {
    ca: s.caFile ? readFileSync(s.caFile) : undefined,
    rejectUnauthorized: true,
  });
  const token = fileReader(s.bearerTokenFile);
  const password = fileReader(s.basicAuth?.passwordFile);
  const headers = (): Record<string, string> => {
    const h: Record<string, string> = { ...s.headers, 'content-type': 'application/x-www-form-urlencoded' };
    const t = token();
    if (t) h.authorization = `Bearer ${t}`;
    else if (s.basicAuth) {
      const pass = s.basicAuth.password ?? password() ?? '';
      h.authorization = `Basic ${Buffer.from(`${s.basicAuth.username}:${pass}`).toString('base64')}`;
    }
    return h;
  };
  const call = async (path: string, form: Record<string, string>, signal?: AbortSignal) => {
    const body = new URLSearchParams({
      ...form,
      query: await withMatchers(form.query ?? '', s.matchers ?? []),
    });
    const res = await post(`${base}${path}`, body.toString(), {
      headers: headers(),
      agent,
      timeoutMs: s.timeoutMs,
      signal,
    });
    return answerData(res.status, res.body);
  };
  return {
    query: async (query, time, signal) =>
      toSeries(await call('/api/v1/query', { query, time: String(time) }, signal)),
    queryRange: async (q, signal) =>
      toSeries(
        await call(
          '/api/v1/query_range',
          { query: q.query, start: String(q.start), end: String(q.end), step: String(q.stepSeconds) },
          signal,
        ),
      ),
    instant: async (query, time, signal) => {
      const data = await call('/api/v1/query', time === undefined ? { query } : { query, time }, signal);
      return { resultType: data?.resultType ?? 'vector', result: data?.result ?? [] };
    },
  };
}

/** The PromQL parser (its grammar tables) loads only where matchers are configured. */
async function withMatchers(query: string, matchers: readonly string[]): Promise<string> {
  if (matchers.length === 0) return query;
  const { injectMatchers } = await import('./matchers.ts');
  return injectMatchers(query, matchers);
}

/** A file's trimmed content, read again only when its modification time changes. */
function fileReader(path: string | undefined): () => string | undefined {
  if (!path) return () => undefined;
  let mtime = -1;
  let value: string | undefined;
  return () => {
    try {
      const m = statSync(path).mtimeMs;
      if (m !== mtime) {
        value = readFileSync(path, 'utf8').trim();
        mtime = m;
      }
    } catch (err) {
      throw new PrometheusError('unauthorized', `cannot read ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return value;
  };
}

interface Answer {
  status: number;
  body: string;
}

interface PostOptions {
  headers: Record<string, string>;
  agent: ReturnType<typeof keepAliveAgent>;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

function post(url: string, body: string, o: PostOptions): Promise<Answer> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const fail = (err: PrometheusError) => {
      req.destroy();
      reject(err);
    };
    const req = request(url, { method: 'POST', headers: o.headers, agent: o.agent }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER_BYTES) fail(new PrometheusError('query', 'answer larger than 16 MiB'));
        else chunks.push(c);
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', (err) => reject(new PrometheusError('down', err.message, { cause: err })));
    });
    req.setTimeout(o.timeoutMs, () => fail(new PrometheusError('timeout', `no answer in ${o.timeoutMs} ms`)));
    o.signal?.addEventListener(
      'abort',
      () => fail(new PrometheusError('timeout', 'the enrichment budget ran out')),
      {
        once: true,
      },
    );
    if (o.signal?.aborted) return fail(new PrometheusError('timeout', 'the enrichment budget ran out'));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof PrometheusError) return reject(err);
      reject(new PrometheusError('down', err.code ?? err.message, { cause: err }));
    });
    req.end(body);
  });
}

interface ApiAnswer {
  status?: string;
  error?: string;
  data?: {
    resultType?: string;
    result?: Array<{
      metric?: Record<string, string>;
      value?: [number, string];
      values?: Array<[number, string]>;
    }>;
  };
}

/** The answer's `data`, or the PrometheusError its status and body say. */
function answerData(status: number, body: string): ApiAnswer['data'] {
  if (status === 401 || status === 403)
    throw new PrometheusError('unauthorized', `HTTP ${status}`, { status });
  let json: ApiAnswer | undefined;
  try {
    json = JSON.parse(body) as ApiAnswer;
  } catch {
    json = undefined;
  }
  if (status >= 500 || status === 0)
    throw new PrometheusError('down', json?.error ?? `HTTP ${status}`, { status });
  if (status !== 200 || json?.status !== 'success') {
    throw new PrometheusError('query', json?.error ?? `HTTP ${status}`, { status });
  }
  return json.data;
}

function toSeries(data: ApiAnswer['data']): Series[] {
  // A scalar expression (`vector(1) > 0` is a vector; `1 + 1` is a scalar) answers one pair.
  if (data?.resultType === 'scalar') {
    const [t, v] = data.result as unknown as [number, string];
    return [{ labels: {}, points: [[Number(t), Number(v)]] }];
  }
  const result = data?.result ?? [];
  return result.map((r) => ({
    labels: r.metric ?? {},
    points: (r.values ?? (r.value ? [r.value] : [])).map(
      ([t, v]) => [Number(t), Number(v)] as [number, number],
    ),
  }));
}
