// Commands issued in one turn of the event loop leave in a few writes instead of one each.
//
// ioredis writes each command to its socket as it is issued: one system call per command, and
// one read on the server for each. Under load many deliveries share one connection and issue
// their commands together (the replies to their last commands arrive in one read and resume
// them all in one turn). Corked, those commands go out in writes of up to `maxBatch`, in order,
// the last one once the turn's callbacks have run (a tick: before the event loop polls again,
// so nothing waits longer than the turn that issued it). The cap keeps Redis working while the
// rest of a turn's commands are still being issued: one write per turn made Node and Redis take
// turns, and gained nothing over a write per command on the Redis path bench. ioredis' own
// auto-pipelining has the same fault and worse (it holds every command issued while a batch is
// out until that batch's replies are in): slower than a write per command there.

/** The part of a socket (net or TLS) this needs. */
export interface CorkableSocket {
  write(...args: never[]): boolean;
  cork(): void;
  uncork(): void;
}

/** Commands per write: Redis starts on the first ones while the rest are issued. */
export const MAX_BATCH = 8;

const COALESCING = Symbol('kubeincident.coalescingWrites');

/** Makes the socket send the writes of one turn of the event loop together. Idempotent. */
export function coalesceWrites(socket: CorkableSocket, maxBatch = MAX_BATCH): void {
  const marked = socket as CorkableSocket & { [COALESCING]?: true };
  if (marked[COALESCING]) return;
  marked[COALESCING] = true;
  const write = socket.write as (...args: unknown[]) => boolean;
  // Writes held by the socket's cork; every cork is released exactly once.
  let held = 0;
  let flushing = false;
  const flush = (): void => {
    flushing = false;
    if (held === 0) return;
    held = 0;
    socket.uncork();
  };
  socket.write = function (this: CorkableSocket, ...args: unknown[]): boolean {
    if (held === 0) socket.cork();
    if (!flushing) {
      flushing = true;
      process.nextTick(flush);
    }
    try {
      return write.apply(this, args);
    } finally {
      if (++held >= maxBatch) {
        held = 0;
        socket.uncork();
      }
    }
  } as CorkableSocket['write'];
}
