// Frames one HTTP/1.x response as its bytes arrive on a connection of the sink's client
// (http1.ts): reads the head (status and headers), then skips the body by its content-length,
// its chunks, or up to the server closing the connection. A sink's answer body is never used,
// so it is never kept.

export interface Http1Response {
  status: number;
  /** Lower-cased header names; a repeated header keeps its last value. */
  headers: Record<string, string>;
}

const MAX_HEAD_BYTES = 64 * 1024;
// Sockets the server announced it keeps alive for N seconds are dropped a second before that.
const KEEP_ALIVE_MARGIN_MS = 1000;

/** head: reading the head; length/chunked: skipping a framed body; close: the body runs to the close. */
type Phase = 'head' | 'length' | 'chunked' | 'close';

export class ResponseReader {
  phase: Phase = 'head';
  /** The head once read. A response framed by the close is complete when the connection closes. */
  response: Http1Response | undefined = undefined;
  /** Whether the connection may carry another request after this response. */
  keepAlive = true;
  /** When the connection should no longer be reused (the server's Keep-Alive timeout, less a margin). */
  expiresAt = Number.POSITIVE_INFINITY;
  /** Bytes received and not yet consumed. */
  private buf: Buffer | undefined = undefined;
  /** Body bytes still to skip in the `length` phase. */
  private remaining = 0;

  /** Ready for the next response on the same connection. */
  reset(): void {
    this.phase = 'head';
    this.response = undefined;
    this.buf = undefined;
  }

  /** Bytes past the end of the response: the server answered more than it was asked. */
  hasLeftover(): boolean {
    return this.buf !== undefined && this.buf.length > 0;
  }

  /**
   * Takes the next bytes of the connection; true once the response is complete (its body
   * skipped). Throws on anything that is not a well-framed HTTP/1.x response.
   */
  push(chunk: Buffer): boolean {
    if (this.phase === 'close') return false;
    this.buf = this.buf?.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.phase === 'head') {
        if (!this.readHead()) return false;
      } else if (this.phase === 'length') {
        return this.skipLength();
      } else if (this.phase === 'chunked') {
        const step = this.skipChunk();
        if (step !== 'next') return step === 'done';
      } else return false;
    }
  }

  /** True when a head was read and the body's framing is known (parsing goes on). */
  private readHead(): boolean {
    const buf = this.buf as Buffer;
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) {
      if (buf.length > MAX_HEAD_BYTES) throw new Error('response head too large');
      return false;
    }
    const { status, http10, headers } = parseHead(buf.toString('latin1', 0, end));
    this.buf = buf.subarray(end + 4);
    if (status < 200) {
      if (status === 101) throw new Error('unexpected protocol switch');
      return true; // 100 Continue, 103 Early Hints: the real answer follows.
    }
    const connection = (headers.connection ?? '').toLowerCase();
    this.keepAlive = http10 ? connection.includes('keep-alive') : !connection.includes('close');
    const ka = /timeout=(\d+)/i.exec(headers['keep-alive'] ?? '');
    if (ka) this.expiresAt = Date.now() + Number(ka[1]) * 1000 - KEEP_ALIVE_MARGIN_MS;
    this.response = { status, headers };
    this.frame(status, headers);
    return this.phase !== 'close';
  }

  /** How the body ends (RFC 9112 §6.3): no body, chunked, content-length, or the close. */
  private frame(status: number, headers: Record<string, string>): void {
    const te = headers['transfer-encoding'];
    const cl = headers['content-length'];
    if (status === 204 || status === 304) {
      this.phase = 'length';
      this.remaining = 0;
    } else if (te !== undefined) {
      this.phase = /(^|,)\s*chunked\s*$/i.test(te) ? 'chunked' : 'close';
    } else if (cl !== undefined) {
      if (!/^\d+$/.test(cl)) throw new Error('invalid content-length in response');
      this.phase = 'length';
      this.remaining = Number(cl);
    } else {
      this.phase = 'close';
    }
    if (this.phase === 'close') this.keepAlive = false;
  }

  private skipLength(): boolean {
    const buf = this.buf as Buffer;
    const take = Math.min(this.remaining, buf.length);
    this.remaining -= take;
    this.buf = buf.subarray(take);
    return this.remaining === 0;
  }

  /** One chunk skipped ('next'), the last chunk and trailers read ('done'), or 'more' bytes needed. */
  private skipChunk(): 'next' | 'done' | 'more' {
    const buf = this.buf as Buffer;
    const lineEnd = buf.indexOf('\r\n');
    if (lineEnd < 0) return 'more';
    const size = Number.parseInt(buf.toString('latin1', 0, lineEnd), 16);
    if (!Number.isFinite(size) || size < 0) throw new Error('invalid chunk size in response');
    if (size > 0) {
      if (buf.length < lineEnd + 2 + size + 2) return 'more';
      this.buf = buf.subarray(lineEnd + 2 + size + 2);
      return 'next';
    }
    // The last chunk; trailer lines (usually none) end with an empty line.
    const rest = buf.subarray(lineEnd + 2);
    if (rest.length < 2) return 'more';
    if (rest[0] === 13 && rest[1] === 10) {
      this.buf = rest.subarray(2);
      return 'done';
    }
    const trailersEnd = rest.indexOf('\r\n\r\n');
    if (trailersEnd < 0) return 'more';
    this.buf = rest.subarray(trailersEnd + 4);
    return 'done';
  }
}

function parseHead(text: string): { status: number; http10: boolean; headers: Record<string, string> } {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] as string);
  if (!m) throw new Error('not an HTTP/1.x response');
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error('malformed response header');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(m[2]), http10: m[1] === '0', headers };
}
