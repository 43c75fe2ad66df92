// One isolated run of guest code in QuickJS: a fresh runtime and context per run (nothing
// survives between runs), a memory limit, a deadline enforced both inside the interpreter (the
// interrupt handler) and around awaited host calls, and a cap on what comes back. Only JSON
// crosses the boundary, as strings: no host object, function or prototype ever enters the guest,
// and what leaves it is parsed by the host's JSON.parse without `__proto__` keys.
import type {
  QuickJSContext,
  QuickJSDeferredPromise,
  QuickJSHandle,
  QuickJSRuntime,
} from 'quickjs-emscripten-core';
import { own } from '../../platform/own.ts';
import type { EnginePool } from './engine.ts';

export interface SandboxLimits {
  /** Wall-clock time for the whole run, host calls included. */
  timeoutMs: number;
  /** The engine instance's memory for this run (its linear memory's maximum past the engine's own). */
  memoryBytes: number;
  /** Most UTF-16 code units of the returned value's JSON. */
  resultBytes: number;
  /**
   * CPU time of the thread running the guest, from the run's start: what the guest itself spent,
   * which a busy machine does not inflate as it does wall-clock time. Exact only for a run with
   * no host calls (loading a file), as the thread then runs nothing else; unset: no such limit.
   */
  cpuTimeoutMs?: number | undefined;
}

/** An async capability the guest may call: JSON in, JSON out, abandoned when the run ends. */
export type HostCall = (args: unknown[], signal: AbortSignal) => Promise<unknown>;

export interface SandboxHost {
  calls: Readonly<Record<string, HostCall>>;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string, fields: unknown): void;
}

/** Where runs happen: in this thread (runInSandbox) or on a worker thread (worker-sandbox.ts). */
export interface Sandbox {
  run(script: string, input: unknown, host: SandboxHost, limits: SandboxLimits): Promise<SandboxOutcome>;
}

/** Runs on the calling thread: a spinning run holds it until its deadline (tests, the CLI, the bench). */
export function inProcessSandbox(engines: EnginePool): Sandbox {
  return { run: (script, input, host, limits) => runInSandbox(engines, script, input, host, limits) };
}

export type FailureKind = 'timeout' | 'memory' | 'error' | 'too-large';
export type SandboxOutcome = { ok: true; value: unknown } | { ok: false; kind: FailureKind; message: string };

/**
 * The guest's stack limit. QuickJS in WebAssembly runs on the host's own stack, so its limit
 * must stay well under V8's (~984 KiB): at 512 KiB a deep recursion overflowed V8 first and
 * left the engine unusable; at 256 KiB QuickJS stops it with its own "stack overflow".
 */
const GUEST_STACK_BYTES = 256 * 1024;

// The guest sees two functions and loses both before any of its code runs: `__hostcall(name,
// json)` returns a promise of a JSON string, `__hostlog(level, message, json)` logs.
const PRELUDE = `(() => {
  const call = globalThis.__hostcall, log = globalThis.__hostlog;
  delete globalThis.__hostcall; delete globalThis.__hostlog;
  const host = Object.freeze({
    call: async (name, ...args) => { const r = await call(name, JSON.stringify(args)); return JSON.parse(r); },
    log: (level, message, fields) => { log(String(level), String(message), JSON.stringify(fields === undefined ? null : fields)); },
  });
  Object.defineProperty(globalThis, '__host', { value: host });
  // No clock but what the host gives (ctx.now): a workflow's output depends on its input only.
  delete globalThis.Date;
})();`;

/** JSON.parse that drops `__proto__` keys: nothing a guest returns can reach a prototype. */
export function parseGuestJson(text: string): unknown {
  return JSON.parse(text, (key, value) => (key === '__proto__' ? undefined : value));
}

/**
 * Runs `script` (which must define a global function `__main(input)`), then `__main(input)` and
 * its promise to the end, within the limits. Never throws for anything the guest does.
 */
export async function runInSandbox(
  engines: EnginePool,
  script: string,
  input: unknown,
  host: SandboxHost,
  limits: SandboxLimits,
): Promise<SandboxOutcome> {
  const lease = await engines.acquire(limits.memoryBytes);
  let broken = false;
  const deadline = Date.now() + limits.timeoutMs;
  const cpu = cpuLimit(limits.cpuTimeoutMs);
  let rt: QuickJSRuntime;
  let vm: QuickJSContext;
  try {
    rt = lease.engine.newRuntime();
    // Kept although it counts allocations rather than bytes (engine.ts): a single allocation
    // larger than the limit still fails here first.
    rt.setMemoryLimit(limits.memoryBytes);
    rt.setMaxStackSize(GUEST_STACK_BYTES);
    rt.setInterruptHandler(() => Date.now() > deadline || cpu.over());
    vm = rt.newContext();
  } catch (err) {
    lease.release(true);
    return { ok: false, kind: 'error', message: `sandbox engine failed: ${(err as Error).message}` };
  }
  const run = new GuestRun(vm, host, lease.full, cpu);
  try {
    run.install();
    const boot = vm.evalCode(
      `${PRELUDE}\n${script}\n;__main(JSON.parse(${JSON.stringify(JSON.stringify(input ?? null))}))`,
      'workflow.js',
    );
    if (boot.error) return run.failure(boot.error, deadline);
    const result = await run.settle(rt, boot.value, deadline);
    if (!result.ok) return result;
    if (result.json.length > limits.resultBytes) {
      return {
        ok: false,
        kind: 'too-large',
        message: `returned ${result.json.length} characters of JSON, more than ${limits.resultBytes}`,
      };
    }
    // The engine's JSON.stringify always writes JSON; this only guards against a bug in it.
    let value: unknown;
    try {
      value = parseGuestJson(result.json);
    } catch {
      return { ok: false, kind: 'error', message: 'returned a value that is not JSON' };
    }
    return { ok: true, value };
  } catch (err) {
    // Only the engine throws here (the guest's errors are outcomes): a host stack overflow or
    // a WebAssembly trap. Its memory can no longer be trusted: the instance is dropped.
    broken = true;
    return { ok: false, kind: 'error', message: `sandbox engine failed: ${(err as Error).message}` };
  } finally {
    try {
      run.close();
      vm.dispose();
      rt.dispose();
    } catch {
      // A runtime that cannot be freed whole means a leak in this instance: never reuse it.
      broken = true;
      leaks++;
    }
    lease.release(broken);
  }
}

let leaks = 0;

interface CpuLimit {
  over(): boolean;
  message: string;
}

/** The thread's CPU time since now against `ms` (process.threadCpuUsage: this thread's own). */
function cpuLimit(ms: number | undefined): CpuLimit {
  if (ms === undefined) return { over: () => false, message: '' };
  const start = process.threadCpuUsage();
  return {
    over: () => {
      const used = process.threadCpuUsage(start);
      return used.user + used.system > ms * 1000;
    },
    message: `used more than ${ms} ms of CPU time`,
  };
}

/** Runs whose runtime could not be freed whole (a leaked handle): always 0 unless there is a bug. */
export function leakedRuns(): number {
  return leaks;
}

type Settled = { ok: true; json: string } | Extract<SandboxOutcome, { ok: false }>;

/** The host side of one run: its host functions, their pending promises, and the wait loop. */
class GuestRun {
  private readonly abort = new AbortController();
  private readonly pending = new Set<QuickJSDeferredPromise>();
  private readonly handles: QuickJSHandle[] = [];
  private wake: (() => void) | undefined;
  private jsonStringify: QuickJSHandle | undefined;
  private closed = false;

  private readonly vm: QuickJSContext;
  private readonly host: SandboxHost;
  private readonly memoryFull: () => boolean;
  private readonly cpu: CpuLimit;

  constructor(vm: QuickJSContext, host: SandboxHost, memoryFull: () => boolean, cpu: CpuLimit) {
    this.vm = vm;
    this.host = host;
    this.memoryFull = memoryFull;
    this.cpu = cpu;
  }

  install(): void {
    const { vm } = this;
    // The engine's own JSON.stringify, taken before any guest code runs: a workflow that replaces
    // JSON.stringify changes only what it sees itself.
    const json = vm.getProp(vm.global, 'JSON');
    this.jsonStringify = vm.getProp(json, 'stringify');
    json.dispose();
    this.handles.push(this.jsonStringify);
    const call = vm.newFunction('__hostcall', (nameH, argsH) =>
      this.call(vm.getString(nameH), vm.getString(argsH)),
    );
    const log = vm.newFunction('__hostlog', (levelH, msgH, fieldsH) => {
      const level = vm.getString(levelH);
      const lv = level === 'debug' || level === 'warn' || level === 'error' ? level : 'info';
      let fields: unknown = null;
      try {
        fields = parseGuestJson(vm.getString(fieldsH));
      } catch {
        // Fields that are not JSON are left out; the message still counts.
      }
      this.host.log(lv, vm.getString(msgH).slice(0, 2000), fields);
    });
    this.handles.push(call, log);
    vm.setProp(vm.global, '__hostcall', call);
    vm.setProp(vm.global, '__hostlog', log);
  }

  private call(name: string, argsJson: string): QuickJSHandle {
    const { vm } = this;
    const deferred = vm.newPromise();
    this.pending.add(deferred);
    const fn = own(this.host.calls, name);
    const work = (async () => {
      if (!fn) throw new Error(`no host call named ${name}`);
      const args = parseGuestJson(argsJson);
      return fn(Array.isArray(args) ? args : [], this.abort.signal);
    })();
    work
      .then(
        (value) => {
          if (this.closed) return;
          const s = vm.newString(JSON.stringify(value ?? null));
          deferred.resolve(s);
          s.dispose();
        },
        (err: unknown) => {
          if (this.closed) return;
          const e = vm.newError(err instanceof Error ? err.message : String(err));
          deferred.reject(e);
          e.dispose();
        },
      )
      .finally(() => {
        if (this.closed) return;
        this.pending.delete(deferred);
        deferred.dispose();
        this.wake?.();
      });
    return deferred.handle;
  }

  /** Runs the guest's jobs until its promise settles, waiting on host calls up to the deadline. */
  async settle(rt: QuickJSRuntime, promise: QuickJSHandle, deadline: number): Promise<Settled> {
    const { vm } = this;
    try {
      for (;;) {
        const jobs = rt.executePendingJobs();
        if (jobs.error) return this.failure(jobs.error, deadline);
        const state = vm.getPromiseState(promise);
        if (state.type === 'fulfilled') {
          if (state.notAPromise) return this.stringify(state.value, deadline);
          try {
            return this.stringify(state.value, deadline);
          } finally {
            state.value.dispose();
          }
        }
        if (state.type === 'rejected') return this.failure(state.error, deadline);
        const over = Date.now() > deadline || this.cpu.over();
        if (over || this.pending.size === 0) {
          // Pending with nothing left to wait for is a promise that can never settle.
          return over ? this.timeout() : { ok: false, kind: 'error', message: 'never settled its promise' };
        }
        const timedOut = await this.nextWake(deadline);
        if (timedOut) return this.timeout();
      }
    } finally {
      promise.dispose();
    }
  }

  /** The value as JSON, made inside the guest (a toJSON or getter that loops is interrupted too). */
  private stringify(value: QuickJSHandle, deadline: number): Settled {
    const { vm } = this;
    const fn = this.jsonStringify;
    if (!fn) return { ok: false, kind: 'error', message: 'sandbox not installed' };
    const r = vm.callFunction(fn, vm.undefined, value);
    if (r.error) return this.failure(r.error, deadline);
    const type = vm.typeof(r.value);
    const text = type === 'string' ? vm.getString(r.value) : 'null';
    r.value.dispose();
    return { ok: true, json: text };
  }

  private nextWake(deadline: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(true), Math.max(0, deadline - Date.now()) + 1);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve(false);
      };
    });
  }

  private timeout(): Settled & { ok: false } {
    return { ok: false, kind: 'timeout', message: this.cpu.over() ? this.cpu.message : 'timed out' };
  }

  /** A guest error (disposed here) as an outcome: interrupted, out of memory or thrown. */
  failure(error: QuickJSHandle, deadline: number): Settled & { ok: false } {
    let message: string;
    try {
      const dumped = this.vm.dump(error) as unknown;
      message =
        dumped && typeof dumped === 'object' && 'message' in dumped
          ? `${(dumped as { name?: unknown }).name ?? 'Error'}: ${String((dumped as { message: unknown }).message)}`
          : String(dumped);
    } catch {
      message = 'an error that could not be read';
    } finally {
      error.dispose();
    }
    if (/\binterrupted\b/.test(message) && (Date.now() > deadline || this.cpu.over())) return this.timeout();
    // Out of memory, QuickJS may fail to make even the error object and throw null instead.
    if (/out of memory/i.test(message) || this.memoryFull()) {
      return { ok: false, kind: 'memory', message: 'ran out of memory' };
    }
    if (/stack overflow/i.test(message)) return { ok: false, kind: 'memory', message: 'stack overflow' };
    return { ok: false, kind: 'error', message: message.slice(0, 500) };
  }

  /** Abandons host calls still running and frees every handle, so the runtime is freed whole. */
  close(): void {
    this.abort.abort(new Error('the workflow run ended'));
    for (const d of this.pending) if (d.alive) d.dispose();
    this.pending.clear();
    for (const h of this.handles) if (h.alive) h.dispose();
    this.closed = true;
  }
}
