// The `fetch` WebClient is given (its documented `fetch` option): node:http / node:https with a
// keep-alive Agent per protocol, instead of the global fetch. The global fetch is undici, and
// its first call loads undici, node:http2 and llhttp's WebAssembly, all before dispatch-slack's
// first Slack call can leave; node:https costs only the TLS that any Slack call needs. Its
// effect shows in `npm run bench`'s dispatch-slack cold start and idle RSS.
//
// WebClient sends a url-encoded string, or FormData for a file's bytes, and reads the status,
// two headers and the whole body; that is what this implements. Responses are read whole
// before they resolve, under the same AbortSignal (WebClient's timeout) as the request.
import type { Agent as HttpAgent, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { FetchFunction } from '@slack/web-api';

type FetchInit = NonNullable<Parameters<FetchFunction>[1]>;
type FetchResponse = Awaited<ReturnType<FetchFunction>>;

/** Slack answers in kilobytes; anything past this is not a Slack answer. */
export const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

class ResponseHeaders {
  readonly #raw: IncomingHttpHeaders;
  constructor(raw: IncomingHttpHeaders) {
    this.#raw = raw;
  }
  get(name: string): string | null {
    const v = this.#raw[name.toLowerCase()];
    if (v === undefined) return null;
    return Array.isArray(v) ? v.join(', ') : v;
  }
  *entries(): IterableIterator<[string, string]> {
    for (const [k, v] of Object.entries(this.#raw)) {
      if (v !== undefined) yield [k, Array.isArray(v) ? v.join(', ') : v];
    }
  }
}

class BufferedResponse implements FetchResponse {
  readonly status: number;
  readonly statusText: string;
  readonly url: string;
  readonly headers: ResponseHeaders;
  readonly #body: Buffer;
  constructor(res: IncomingMessage, url: string, body: Buffer) {
    this.status = res.statusCode ?? 0;
    this.statusText = res.statusMessage ?? '';
    this.url = url;
    this.headers = new ResponseHeaders(res.headers);
    this.#body = body;
  }
  get ok(): boolean {
    return this.status >= 200 && this.status <= 299;
  }
  async text(): Promise<string> {
    return this.#body.toString('utf8');
  }
  async json(): Promise<unknown> {
    return JSON.parse(this.#body.toString('utf8'));
  }
  async arrayBuffer(): Promise<ArrayBuffer> {
    const b = this.#body;
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
  }
}

const agents = new Map<string, HttpAgent>();

/** One keep-alive Agent per protocol. Like the global fetch, it honours HTTP(S)_PROXY and
 * NO_PROXY only when NODE_USE_ENV_PROXY=1. */
function agentFor(protocol: 'http:' | 'https:'): HttpAgent {
  let agent = agents.get(protocol);
  if (!agent) {
    const proxyEnv = process.env.NODE_USE_ENV_PROXY === '1' ? process.env : undefined;
    const { Agent } = process.getBuiltinModule(protocol === 'https:' ? 'node:https' : 'node:http');
    agent = new Agent({ keepAlive: true, ...(proxyEnv ? { proxyEnv } : {}) });
    agents.set(protocol, agent);
  }
  return agent;
}

/** The request body as bytes, with the content type a multipart body needs. */
async function encodeBody(
  body: FetchInit['body'],
): Promise<{ bytes: Buffer | undefined; contentType?: string }> {
  if (body === undefined) return { bytes: undefined };
  if (typeof body === 'string') return { bytes: Buffer.from(body, 'utf8') };
  // FormData (a file upload): the platform's own multipart encoder, with its boundary.
  const encoded = new Response(body);
  const contentType = encoded.headers.get('content-type') ?? undefined;
  return { bytes: Buffer.from(await encoded.arrayBuffer()), ...(contentType ? { contentType } : {}) };
}

export interface SlackFetchOptions {
  /** The Agent for a protocol; by default a shared keep-alive one (tests pass one with a CA). */
  agent?: (protocol: 'http:' | 'https:') => HttpAgent;
}

export function createSlackFetch(opts: SlackFetchOptions = {}): FetchFunction {
  const pickAgent = opts.agent ?? agentFor;
  return (input, init = {}) => send(new URL(input), init, pickAgent);
}

/** The fetch dispatch-slack's WebClients use. */
export const slackFetch: FetchFunction = createSlackFetch();

async function send(
  url: URL,
  init: FetchInit,
  pickAgent: (protocol: 'http:' | 'https:') => HttpAgent,
): Promise<FetchResponse> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TypeError(`unsupported protocol ${url.protocol}`);
  init.signal?.throwIfAborted();
  const { bytes, contentType } = await encodeBody(init.body);
  const headers: Record<string, string | number> = { ...init.headers };
  if (contentType) headers['content-type'] = contentType;
  if (bytes) headers['content-length'] = bytes.length;
  const { request } = process.getBuiltinModule(url.protocol === 'https:' ? 'node:https' : 'node:http');
  return new Promise<FetchResponse>((resolve, reject) => {
    const req = request(url, {
      method: init.method ?? 'GET',
      headers,
      agent: pickAgent(url.protocol as 'http:' | 'https:'),
      ...(init.signal ? { signal: init.signal } : {}),
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if (init.redirect === 'error' && status >= 300 && status <= 399 && res.headers.location) {
        res.resume();
        reject(new TypeError(`redirected (${status}) where redirects are refused`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let ended = false;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          req.destroy(new Error(`response larger than ${MAX_RESPONSE_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', reject);
      res.on('end', () => {
        ended = true;
        resolve(new BufferedResponse(res, url.href, Buffer.concat(chunks, size)));
      });
      res.on('close', () => {
        if (!ended) reject(new Error('connection closed before the response ended'));
      });
    });
    req.end(bytes);
  });
}
