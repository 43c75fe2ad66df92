// Commands issued in one turn of the event loop leave in one write.
//
// ioredis writes each command to its socket as it is issued: one system call per command. Under
// load many deliveries share one connection, and their commands are issued together: the replies
// to the previous commands arrive in one read and resume all their callers in one turn. Corking
// the socket at a turn's first write and uncorking it once the turn's callbacks have run sends
// those commands as one writev, in the same order, with no wait added (the uncork runs before
// the event loop polls again). ioredis' own auto-pipelining batches too, but holds every
// command issued while a batch is out until that batch's replies are in, and measured slower
// here than sending each command at once (`npm run bench -- --only redis`).

/** The part of a socket (net or TLS) this needs. */
export interface CorkableSocket {
  write(...args: never[]): boolean;
  cork(): void;
  uncork(): void;
}

const COALESCING = Symbol('kubeincident.coalescingWrites');

/** Makes the socket send all writes made in one turn of the event loop together. Idempotent. */
export function coalesceWrites(socket: CorkableSocket): void {
  const marked = socket as CorkableSocket & { [COALESCING]?: true };
  if (marked[COALESCING]) return;
  marked[COALESCING] = true;
  const write = socket.write as (...args: unknown[]) => boolean;
  let corked = false;
  const flush = (): void => {
    corked = false;
    socket.uncork();
  };
  socket.write = function (this: CorkableSocket, ...args: unknown[]): boolean {
    if (!corked) {
      corked = true;
      socket.cork();
      // A tick, not an immediate: it runs once the current callback and its promise
      // continuations are done, before any I/O is polled.
      process.nextTick(flush);
    }
    return write.apply(this, args);
  } as CorkableSocket['write'];
}
