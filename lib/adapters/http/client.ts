// One HTTP call to an incident service (a webhook, PagerDuty, Teams, Jira) over node:http(s)
// with a keep-alive Agent (not the global fetch: its first call loads undici, as
// lib/adapters/slack/fetch.ts explains), and the one mapping of its answer to our errors:
// 429 -> RateLimitedError with the service's Retry-After, 5xx / 408 / network -> UnavailableError
// (the broker retries), any other 4xx -> DependencyError (retried, then dead-lettered: kept).
// Error messages name the service and the status, never the URL (a Teams URL carries its
// signature) nor a header.
import type { Agent as HttpAgent } from 'node:http';
import { DependencyError, RateLimitedError, UnavailableError } from '../../platform/errors.ts';

/** Answers of these APIs are small; anything past this is not one of their answers. */
const MAX_RESPONSE_BYTES = 1024 * 1024;
/** When a 429 says nothing of when to come back. */
export const DEFAULT_RETRY_AFTER_SECONDS = 30;
/** The longest Retry-After passed on (the Trigger's retryAfterMax caps it again). */
const MAX_RETRY_AFTER_SECONDS = 600;

export interface HttpCall {
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  headers?: Record<string, string>;
  body?: string | Buffer | FormData;
  timeoutMs: number;
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const agents = new Map<string, HttpAgent>();
function agentFor(protocol: 'http:' | 'https:'): HttpAgent {
  let agent = agents.get(protocol);
  if (!agent) {
    const { Agent } = process.getBuiltinModule(protocol === 'https:' ? 'node:https' : 'node:http');
    agent = new Agent({ keepAlive: true });
    agents.set(protocol, agent);
  }
  return agent;
}

async function encode(body: HttpCall['body']): Promise<{ bytes?: Buffer; contentType?: string }> {
  if (body === undefined) return {};
  if (typeof body === 'string') return { bytes: Buffer.from(body, 'utf8') };
  if (Buffer.isBuffer(body)) return { bytes: body };
  // Multipart: the platform's own encoder, with its boundary.
  const encoded = new Response(body);
  const contentType = encoded.headers.get('content-type') ?? undefined;
  return { bytes: Buffer.from(await encoded.arrayBuffer()), ...(contentType ? { contentType } : {}) };
}

/** Sends the call; rejects only for the network (no answer), never for a status. */
export async function send(call: HttpCall): Promise<HttpAnswer> {
  const url = new URL(call.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('unsupported protocol');
  const { bytes, contentType } = await encode(call.body);
  const headers: Record<string, string | number> = { ...call.headers };
  if (contentType) headers['content-type'] = contentType;
  if (bytes) headers['content-length'] = bytes.length;
  const { request } = process.getBuiltinModule(url.protocol === 'https:' ? 'node:https' : 'node:http');
  return new Promise<HttpAnswer>((resolve, reject) => {
    const req = request(url, {
      method: call.method,
      headers,
      agent: agentFor(url.protocol as 'http:' | 'https:'),
      signal: AbortSignal.timeout(call.timeoutMs),
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) req.destroy(new Error('response too large'));
        else chunks.push(chunk);
      });
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.end(bytes);
  });
}

/** Retry-After in whole seconds (delta-seconds or an HTTP date), capped; undefined when absent or unreadable. */
export function retryAfterOf(value: string | string[] | undefined, nowMs = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  const n = /^\d+$/.test(v.trim()) ? Number(v.trim()) : (Date.parse(v) - nowMs) / 1000;
  if (!Number.isFinite(n)) return undefined;
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, Math.ceil(n)));
}

/** A short, single-line excerpt of an error body for the log (these APIs put no secrets there). */
const excerpt = (body: string): string => body.replace(/\s+/g, ' ').trim().slice(0, 300);

/**
 * Sends the call and returns its 2xx answer, or throws the error the runtime answers with.
 * `service` names the call in messages (`pagerduty enqueue`).
 */
export async function call(service: string, c: HttpCall): Promise<HttpAnswer> {
  let answer: HttpAnswer;
  try {
    answer = await send(c);
  } catch (err) {
    const code = (err as { code?: string }).code;
    // Refused or unresolvable: the request never left. Anything else (timeout, reset) may have landed.
    const maybeApplied = code !== 'ECONNREFUSED' && code !== 'ENOTFOUND' && code !== 'EAI_AGAIN';
    throw new UnavailableError(`${service}: request failed (network or timeout)`, {
      cause: err,
      maybeApplied,
    });
  }
  const { status } = answer;
  if (status >= 200 && status < 300) return answer;
  const retryAfter = retryAfterOf(answer.headers['retry-after']);
  if (status === 429)
    throw new RateLimitedError(`${service}: rate limited`, {
      retryAfter: retryAfter ?? DEFAULT_RETRY_AFTER_SECONDS,
    });
  const detail = `${service}: HTTP ${status}${answer.body ? `: ${excerpt(answer.body)}` : ''}`;
  if (status >= 500 || status === 408)
    throw new UnavailableError(detail, { maybeApplied: true, ...(retryAfter ? { retryAfter } : {}) });
  throw new DependencyError(detail);
}
