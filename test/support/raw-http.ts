// Raw HTTP/1.1 over a socket, for requests fetch() refuses to send (odd request targets, bodies
// that outgrow their limit, chunks that never end): writes bytes as given and reads the answer.
import { connect } from 'node:net';

export interface RawAnswer {
  /** 0 when the connection closed (or was reset) before any status line arrived. */
  status: number;
  head: string;
  body: string;
  /** The connection was reset rather than closed after the answer. */
  reset: boolean;
}

/**
 * Writes `request` (one chunk, or several written in turn) and resolves with what came back
 * once the server closes the connection or `timeoutMs` passes.
 */
export function rawRequest(
  port: number,
  request: string | Buffer | Array<string | Buffer>,
  timeoutMs = 5000,
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let reset = false;
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') reset = true;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const head = end < 0 ? text : text.slice(0, end);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      resolve({ status: m ? Number(m[1]) : 0, head, body: end < 0 ? '' : text.slice(end + 4), reset });
    });
    const parts = Array.isArray(request) ? request : [request];
    for (const p of parts) {
      if (!socket.destroyed) socket.write(p);
    }
  });
}
