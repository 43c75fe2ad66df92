// A small keep-alive HTTP/1.1 client for one origin, used to POST events to K_SINK. Each request
// is one write (head and body together) on a pooled socket with Nagle off, and the response is
// framed by reading its head and skipping its body, without a ClientRequest/IncomingMessage
// pair per request: node:http's client costs ~130 µs of CPU per request on this path, this
// one ~25 µs. One request per connection at a time (no pipelining); `maxSockets` bounds how
// many are in flight, the rest wait in a queue. Plain http only: an https sink goes through
// node:https (lib/platform/runtime/sink.ts).
import { connect as netConnect, type Socket } from 'node:net';

export interface Http1Response {
  status: number;
  /** Lower-cased header names; a repeated header keeps its last value. */
  headers: Record<string, string>;
}

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
// Sockets the server announced it keeps alive for N seconds are dropped a second before that.
const KEEP_ALIVE_MARGIN_MS = 1000;

interface Job {
  head: string;
  body: string | Buffer;
  resolve: (r: Http1Response) => void;
  reject: (e: Error) => void;
  /** A request that met a kept-alive socket the server had already closed goes once more. */
  retried: boolean;
}

interface Conn {
  socket: Socket;
  job: Job | undefined;
  timer: NodeJS.Timeout | undefined;
  buf: Buffer | undefined;
  /** Any byte of the current response has arrived: the request reached the server. */
  answered: boolean;
  /** The socket served a request before (a reset before any answer may just mean it idled out). */
  reused: boolean;
  timedOut: boolean;
  expiresAt: number;
  // Response framing state.
  phase: 'head' | 'length' | 'chunked' | 'close';
  remaining: number;
  response: Http1Response | undefined;
  keepAlive: boolean;
  error: Error | undefined;
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

export function createHttp1Client(url: URL, opts: Http1Options = {}): Http1Client {
  if (url.protocol !== 'http:') throw new TypeError(`unsupported protocol ${url.protocol}`);
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = Number(url.port) || 80;
  const path = `${url.pathname || '/'}${url.search}`;
  const maxSockets = opts.maxSockets ?? 64;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const idle: Conn[] = [];
  const queue: Job[] = [];
  let open = 0;
  let closed = false;

  const connect = (): Conn => {
    const socket = netConnect(port, hostname);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 1000);
    open++;
    const c: Conn = {
      socket,
      job: undefined,
      timer: undefined,
      buf: undefined,
      answered: false,
      reused: false,
      timedOut: false,
      expiresAt: Number.POSITIVE_INFINITY,
      phase: 'head',
      remaining: 0,
      response: undefined,
      keepAlive: true,
      error: undefined,
    };
    socket.on('data', (chunk: Buffer) => onData(c, chunk));
    socket.on('error', (err) => {
      c.error ??= err;
    });
    socket.on('end', () => socket.destroy());
    socket.on('close', () => onClose(c));
    return c;
  };

  const start = (c: Conn, job: Job) => {
    c.job = job;
    c.answered = false;
    c.phase = 'head';
    c.response = undefined;
    c.buf = undefined;
    c.socket.ref();
    // Timed from the write: time queued behind other requests does not count, or a large batch
    // would fail requests that were never slow, only late.
    c.timer = setTimeout(() => {
      c.timedOut = true;
      c.socket.destroy(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    if (typeof job.body !== 'string') {
      c.socket.write(Buffer.concat([Buffer.from(job.head, 'latin1'), job.body]));
    } else if (NON_ASCII.test(job.head)) {
      c.socket.write(Buffer.concat([Buffer.from(job.head, 'latin1'), Buffer.from(job.body, 'utf8')]));
    } else {
      c.socket.write(job.head + job.body);
    }
  };

  const dispatch = (job: Job) => {
    const now = Date.now();
    for (let c = idle.pop(); c; c = idle.pop()) {
      if (c.expiresAt > now && !c.socket.destroyed) return start(c, job);
      c.socket.destroy();
    }
    if (open < maxSockets) return start(connect(), job);
    queue.push(job);
  };

  const nextJob = (): Job | undefined => queue.shift();

  const finish = (c: Conn) => {
    const job = c.job as Job;
    const response = c.response as Http1Response;
    clearTimeout(c.timer);
    c.job = undefined;
    c.reused = true;
    const leftover = c.buf !== undefined && c.buf.length > 0;
    c.buf = undefined;
    if (!c.keepAlive || leftover || closed) c.socket.destroy();
    else {
      const next = nextJob();
      if (next) start(c, next);
      else {
        c.socket.unref();
        idle.push(c);
      }
    }
    job.resolve(response);
  };

  const fail = (c: Conn, err: Error) => {
    c.error ??= err;
    c.socket.destroy(err);
  };

  const onClose = (c: Conn) => {
    open--;
    clearTimeout(c.timer);
    const i = idle.indexOf(c);
    if (i >= 0) idle.splice(i, 1);
    const job = c.job;
    c.job = undefined;
    if (job) {
      if (c.phase === 'close' && c.response && !c.error) job.resolve(c.response);
      else if (c.reused && !c.answered && !c.timedOut && !job.retried) {
        job.retried = true;
        dispatch(job);
      } else job.reject(c.error ?? new Error('connection closed before the response'));
    }
    // A queued request gets the socket slot this one freed.
    const next = nextJob();
    if (next) dispatch(next);
  };

  const onData = (c: Conn, chunk: Buffer) => {
    if (!c.job) return fail(c, new Error('data on an idle connection'));
    c.answered = true;
    if (c.phase === 'close') return;
    c.buf = c.buf?.length ? Buffer.concat([c.buf, chunk]) : chunk;
    try {
      parse(c);
    } catch (err) {
      fail(c, err as Error);
    }
  };

  /** Advances the response parser over what is buffered; finishes the job when complete. */
  const parse = (c: Conn) => {
    for (;;) {
      const buf = c.buf as Buffer;
      if (c.phase === 'head') {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buf.length > 64 * 1024) throw new Error('response head too large');
          return;
        }
        const lines = buf.toString('latin1', 0, end).split('\r\n');
        const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] as string);
        if (!m) throw new Error('not an HTTP/1.x response');
        const status = Number(m[2]);
        const headers: Record<string, string> = {};
        for (let i = 1; i < lines.length; i++) {
          const line = lines[i] as string;
          const colon = line.indexOf(':');
          if (colon <= 0) throw new Error('malformed response header');
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        c.buf = buf.subarray(end + 4);
        if (status < 200) {
          if (status === 101) throw new Error('unexpected protocol switch');
          continue; // 100 Continue, 103 Early Hints: the real answer follows.
        }
        const connection = (headers.connection ?? '').toLowerCase();
        c.keepAlive = m[1] === '1' ? !connection.includes('close') : connection.includes('keep-alive');
        const ka = /timeout=(\d+)/i.exec(headers['keep-alive'] ?? '');
        if (ka) c.expiresAt = Date.now() + Number(ka[1]) * 1000 - KEEP_ALIVE_MARGIN_MS;
        c.response = { status, headers };
        const te = headers['transfer-encoding'];
        const cl = headers['content-length'];
        if (status === 204 || status === 304) {
          c.phase = 'length';
          c.remaining = 0;
        } else if (te !== undefined) {
          if (!/(^|,)\s*chunked\s*$/i.test(te)) {
            c.phase = 'close';
            c.keepAlive = false;
            return;
          }
          c.phase = 'chunked';
        } else if (cl !== undefined) {
          if (!/^\d+$/.test(cl)) throw new Error('invalid content-length in response');
          c.phase = 'length';
          c.remaining = Number(cl);
        } else {
          // No framing: the body runs until the server closes the connection.
          c.phase = 'close';
          c.keepAlive = false;
          return;
        }
      } else if (c.phase === 'length') {
        const take = Math.min(c.remaining, buf.length);
        c.remaining -= take;
        c.buf = buf.subarray(take);
        if (c.remaining > 0) return;
        return finish(c);
      } else if (c.phase === 'chunked') {
        const lineEnd = buf.indexOf('\r\n');
        if (lineEnd < 0) return;
        const size = Number.parseInt(buf.toString('latin1', 0, lineEnd), 16);
        if (!Number.isFinite(size) || size < 0) throw new Error('invalid chunk size in response');
        if (size === 0) {
          // The last chunk; trailer lines (usually none) end with an empty line.
          const rest = buf.subarray(lineEnd + 2);
          if (rest.length < 2) return;
          if (rest[0] === 13 && rest[1] === 10) {
            c.buf = rest.subarray(2);
            return finish(c);
          }
          const trailersEnd = rest.indexOf('\r\n\r\n');
          if (trailersEnd < 0) return;
          c.buf = rest.subarray(trailersEnd + 4);
          return finish(c);
        }
        if (buf.length < lineEnd + 2 + size + 2) return;
        c.buf = buf.subarray(lineEnd + 2 + size + 2);
      } else return;
    }
  };

  const host = url.host;
  return {
    post(headers, body) {
      return new Promise<Http1Response>((resolve, reject) => {
        if (closed) return reject(new Error('client closed'));
        const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
        const head = requestHead(path, host, headers, length);
        dispatch({ head, body, resolve, reject, retried: false });
      });
    },
    close() {
      closed = true;
      for (const c of idle.splice(0)) c.socket.destroy();
    },
  };
}
