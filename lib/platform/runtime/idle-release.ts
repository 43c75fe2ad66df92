// Gives memory back once a function goes idle. A function that has served its first event, or a
// burst, keeps what V8 grew to serve it: a young generation committed for the allocation rate
// of the burst and pages of the old one. V8 hands those back by itself only through its memory
// reducer, which starts after a mark-compact; a function that started and served its first
// events without one (dispatch-slack, sized to avoid it) keeps them for as long as it sits idle,
// which on a scale-to-zero cluster is most of its life.
//
// After `idleMs` with no event in flight, one full collection in V8's memory-reducing mode
// ("last-resort": it also shrinks the young generation and frees unused pages). It blocks for
// some milliseconds, so it runs only when events were handled since the last one, and at most
// once per `minGapMs`: a steady trickle of events costs one collection per gap, not one per event.

export interface IdleRelease {
  /** An event started: an armed release waits for the next idle spell. */
  busy(): void;
  /** Nothing is in flight any more: a release follows after the idle time, if one is due. */
  idle(): void;
  stop(): void;
}

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
  now(): number;
}

// Monotonic milliseconds from process.hrtime: the `performance` global would load all of
// perf_hooks (histograms, timerify, the event-loop monitors) at the first idle spell, ~0.3 MiB
// of idle RSS for a clock.
const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
  now: () => Number(process.hrtime.bigint()) / 1e6,
};

export interface IdleReleaseOptions {
  idleMs: number;
  minGapMs: number;
  release: () => void;
  /** Called after each release with how long it took. */
  released?: (ms: number) => void;
  timers?: Timers;
}

export function createIdleRelease(opts: IdleReleaseOptions): IdleRelease {
  const t = opts.timers ?? realTimers;
  let timer: unknown;
  let due = false;
  let last = Number.NEGATIVE_INFINITY;
  const disarm = () => {
    if (timer !== undefined) t.clear(timer);
    timer = undefined;
  };
  const run = () => {
    timer = undefined;
    due = false;
    const started = t.now();
    last = started;
    opts.release();
    opts.released?.(t.now() - started);
  };
  return {
    busy() {
      due = true;
      disarm();
    },
    idle() {
      disarm();
      if (!due) return;
      timer = t.set(run, Math.max(opts.idleMs, last + opts.minGapMs - t.now()));
    },
    stop: disarm,
  };
}

type Gc = (options?: { type?: string; execution?: string; flavor?: string }) => unknown;

/**
 * The release: V8's full collection in memory-reducing mode, through the `gc` function V8 gives
 * a context created while `--expose-gc` is set. The flag is set only for that moment, at the
 * first release, and not in NODE_OPTIONS: V8 checks the flags against the code cache Node ships
 * for its built-in modules, and with --expose-gc from the start that cache no longer matched,
 * so every built-in compiled from source (10-25 ms more to readiness in `npm run bench -- --only
 * cold`). node:v8 and node:vm load then too, not at start-up. A `gc` already exposed is used as is.
 */
export function gcRelease(): () => void {
  let gc = (globalThis as { gc?: Gc }).gc;
  return () => {
    if (typeof gc !== 'function') {
      const v8 = process.getBuiltinModule('node:v8');
      v8.setFlagsFromString('--expose-gc');
      try {
        gc = process.getBuiltinModule('node:vm').runInNewContext('gc') as Gc;
      } finally {
        v8.setFlagsFromString('--no-expose-gc');
      }
    }
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  };
}
