// A small keep-alive HTTP/1.1 client for one origin, used to POST events to K_SINK. Each request
// is one write (head and body together) on a pooled socket with Nagle off, and the response is
// framed by reading its head and skipping its body, without a ClientRequest/IncomingMessage
// pair per request: node:http's client costs ~130 µs of CPU per request on this path, this
// one ~25 µs. One request per connection at a time (no pipelining); `maxSockets` bounds how
// many are in flight, the rest wait in a queue. Plain http only: an https sink goes through
// node:https (lib/platform/runtime/sink.ts).
import { connect as netConnect, type Socket } from 'node:net';
import { type Http1Response, ResponseReader } from './http1-response.ts';

export type { Http1Response };

export interface Http1Client {
  /**
   * POSTs one body (a string is sent as UTF-8); resolves with the status and headers once the
   * whole response was read.
   */
  post(headers: Record<string, string>, body: string | Buffer): Promise<Http1Response>;
  /** Closes idle sockets (in-flight ones finish first). */
  close(): void;
}

export interface Http1Options {
  maxSockets?: number;
  timeoutMs?: number;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// What node:http accepts in a header value: no CR, LF or other control characters.
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
// Values passed INVALID_VALUE, so anything past ASCII is Latin-1, written as such.
const NON_ASCII = /[\x80-\xff]/;

interface Job {
  head: string;
  body: string | Buffer;
  resolve: (r: Http1Response) => void;
  reject: (e: Error) => void;
  /** A request that met a kept-alive socket the server had already closed goes once more. */
  retried: boolean;
}

/** One pooled socket and the request it carries, if any. */
class Connection {
  readonly socket: Socket;
  readonly reader = new ResponseReader();
  job: Job | undefined = undefined;
  timer: NodeJS.Timeout | undefined = undefined;
  /** Any byte of the current response has arrived: the request reached the server. */
  answered = false;
  /** The socket served a request before (a reset before any answer may just mean it idled out). */
  reused = false;
  timedOut = false;
  error: Error | undefined = undefined;

  constructor(socket: Socket) {
    this.socket = socket;
  }

  /** Writes the request, head and body in one write, and times it from there. */
  start(job: Job, timeoutMs: number): void {
    this.job = job;
    this.answered = false;
    this.reader.reset();
    this.socket.ref();
    // Timed from the write: time queued behind other requests does not count, or a large batch
    // would fail requests that were never slow, only late.
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.socket.destroy(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    this.socket.write(requestBytes(job));
  }

  fail(err: Error): void {
    this.error ??= err;
    this.socket.destroy(err);
  }

  /**
   * Whether the request can go once more after the connection closed: a kept-alive socket the
   * server had closed before any answer came, and only once.
   */
  mayRetry(job: Job): boolean {
    return this.reused && !this.answered && !this.timedOut && !job.retried;
  }
}

/** Serializes a request head, refusing header names or values that would break the framing. */
function requestHead(path: string, host: string, headers: Record<string, string>, length: number): string {
  let head = `POST ${path} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const name in headers) {
    const value = String(headers[name]);
    if (!TOKEN.test(name)) throw new TypeError(`invalid header name "${name.slice(0, 40)}"`);
    if (INVALID_VALUE.test(value)) throw new TypeError(`invalid character in header "${name}"`);
    const lower = name.toLowerCase();
    if (lower === 'content-length' || lower === 'host' || lower === 'connection') continue;
    head += `${name}: ${value}\r\n`;
  }
  return `${head}content-length: ${length}\r\n\r\n`;
}

/** The head (Latin-1) and body (UTF-8 when a string) as one write; a plain string when all ASCII. */
function requestBytes(job: Job): string | Buffer {
  if (typeof job.body !== 'string') return Buffer.concat([Buffer.from(job.head, 'latin1'), job.body]);
  if (NON_ASCII.test(job.head)) {
    return Buffer.concat([Buffer.from(job.head, 'latin1'), Buffer.from(job.body, 'utf8')]);
  }
  return job.head + job.body;
}

/**
 * The pool for one origin: idle sockets are reused (last in, first out), new ones opened up to
 * maxSockets, and requests past that wait in a queue for the next free socket.
 */
class Http1Pool implements Http1Client {
  private readonly hostname: string;
  private readonly port: number;
  private readonly path: string;
  private readonly host: string;
  private readonly maxSockets: number;
  private readonly timeoutMs: number;
  private readonly idle: Connection[] = [];
  private readonly queue: Job[] = [];
  private open = 0;
  private closed = false;

  constructor(url: URL, opts: Http1Options) {
    if (url.protocol !== 'http:') throw new TypeError(`unsupported protocol ${url.protocol}`);
    this.hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.port = Number(url.port) || 80;
    this.path = `${url.pathname || '/'}${url.search}`;
    this.host = url.host;
    this.maxSockets = opts.maxSockets ?? 64;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  post(headers: Record<string, string>, body: string | Buffer): Promise<Http1Response> {
    return new Promise<Http1Response>((resolve, reject) => {
      if (this.closed) return reject(new Error('client closed'));
      const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
      const head = requestHead(this.path, this.host, headers, length);
      this.dispatch({ head, body, resolve, reject, retried: false });
    });
  }

  close(): void {
    this.closed = true;
    for (const c of this.idle.splice(0)) c.socket.destroy();
  }

  /** An idle socket still worth using, else a new one, else the queue. */
  private dispatch(job: Job): void {
    const now = Date.now();
    for (let c = this.idle.pop(); c; c = this.idle.pop()) {
      if (c.reader.expiresAt > now && !c.socket.destroyed) {
        c.start(job, this.timeoutMs);
        return;
      }
      c.socket.destroy();
    }
    if (this.open < this.maxSockets) this.connect().start(job, this.timeoutMs);
    else this.queue.push(job);
  }

  private connect(): Connection {
    const socket = netConnect(this.port, this.hostname);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 1000);
    this.open++;
    const c = new Connection(socket);
    socket.on('data', (chunk: Buffer) => this.onData(c, chunk));
    socket.on('error', (err) => {
      c.error ??= err;
    });
    socket.on('end', () => socket.destroy());
    socket.on('close', () => this.onClose(c));
    return c;
  }

  private onData(c: Connection, chunk: Buffer): void {
    if (!c.job) {
      c.fail(new Error('data on an idle connection'));
      return;
    }
    c.answered = true;
    try {
      if (c.reader.push(chunk)) this.finish(c);
    } catch (err) {
      c.fail(err as Error);
    }
  }

  /** The response is complete: the socket takes the next queued request, idles, or closes. */
  private finish(c: Connection): void {
    const job = c.job as Job;
    const response = c.reader.response as Http1Response;
    clearTimeout(c.timer);
    c.job = undefined;
    c.reused = true;
    if (!c.reader.keepAlive || c.reader.hasLeftover() || this.closed) c.socket.destroy();
    else {
      const next = this.queue.shift();
      if (next) c.start(next, this.timeoutMs);
      else {
        c.socket.unref();
        this.idle.push(c);
      }
    }
    job.resolve(response);
  }

  /** Settles the request the socket carried (a response framed by the close is complete now). */
  private onClose(c: Connection): void {
    this.open--;
    clearTimeout(c.timer);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    const job = c.job;
    c.job = undefined;
    if (job) {
      const { reader } = c;
      if (reader.phase === 'close' && reader.response && !c.error) job.resolve(reader.response);
      else if (c.mayRetry(job)) {
        job.retried = true;
        this.dispatch(job);
      } else job.reject(c.error ?? new Error('connection closed before the response'));
    }
    // A queued request gets the socket slot this one freed.
    const next = this.queue.shift();
    if (next) this.dispatch(next);
  }
}

export function createHttp1Client(url: URL, opts: Http1Options = {}): Http1Client {
  return new Http1Pool(url, opts);
}
