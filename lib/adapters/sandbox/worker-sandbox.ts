// Workflow runs on a worker thread (sandbox-worker.ts): the main thread only forwards each run's
// host calls to their real implementations and its log lines, and abandons a run's pending calls
// when it ends. A worker that dies fails its runs (each an outcome, never a throw) and the next
// run starts a new one.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Sandbox, SandboxHost, SandboxLimits, SandboxOutcome } from './sandbox.ts';
import type { FromWorker, ToWorker } from './sandbox-worker.ts';

export const WORKER_FILE = 'sandbox-worker.cjs';
/** How long past a run's own deadline the worker may take to answer before it is replaced. */
const STUCK_MS = 5000;

/** The worker's script: beside a bundle's, else the source under the working directory. */
export function workerPath(): string {
  const beside = process.argv[1] ? join(dirname(process.argv[1]), WORKER_FILE) : undefined;
  if (beside && existsSync(beside)) return beside;
  return resolve('lib/adapters/sandbox/sandbox-worker.ts');
}

interface Pending {
  host: SandboxHost;
  abort: AbortController;
  done(outcome: SandboxOutcome): void;
}

export function createWorkerSandbox(file = workerPath()): Sandbox & { close(): Promise<void> } {
  let worker: Worker | undefined;
  let nextId = 0;
  const runs = new Map<number, Pending>();

  const fail = (message: string) => {
    for (const [id, p] of runs) {
      runs.delete(id);
      p.abort.abort();
      p.done({ ok: false, kind: 'error', message });
    }
  };
  const start = (): Worker => {
    const w = new Worker(file);
    w.unref();
    w.on('message', (m: FromWorker) => onMessage(w, m));
    w.on('error', (err) => fail(`sandbox worker failed: ${err.message}`));
    w.on('exit', (code) => {
      if (worker === w) worker = undefined;
      fail(`sandbox worker exited with ${code}`);
    });
    return w;
  };
  const onMessage = (w: Worker, m: FromWorker) => {
    const p = runs.get(m.id);
    if (!p) return;
    if (m.type === 'log') return p.host.log(m.level, m.message, m.fields);
    if (m.type === 'done') {
      runs.delete(m.id);
      p.abort.abort(new Error('the workflow run ended'));
      return p.done(m.outcome as SandboxOutcome);
    }
    const reply = (r: Omit<Extract<ToWorker, { type: 'reply' }>, 'type' | 'id' | 'callId'>) =>
      w.postMessage({ type: 'reply', id: m.id, callId: m.callId, ...r } satisfies ToWorker);
    const fn = Object.hasOwn(p.host.calls, m.name) ? p.host.calls[m.name] : undefined;
    if (!fn) return reply({ ok: false, message: `no host call named ${m.name}` });
    fn(m.args, p.abort.signal).then(
      (value) => reply({ ok: true, value: value ?? null }),
      (err: unknown) => reply({ ok: false, message: err instanceof Error ? err.message : String(err) }),
    );
  };

  return {
    run(script: string, input: unknown, host: SandboxHost, limits: SandboxLimits): Promise<SandboxOutcome> {
      worker ??= start();
      const id = nextId++;
      return new Promise((resolveRun) => {
        // The worker ends every run by its deadline; one that does not answer well past it is
        // stuck, and is replaced (its other runs fail with it).
        const stuck = setTimeout(() => {
          fail('sandbox worker did not answer');
          void this.close();
        }, limits.timeoutMs + STUCK_MS);
        const done = (o: SandboxOutcome) => {
          clearTimeout(stuck);
          resolveRun(o);
        };
        runs.set(id, { host, abort: new AbortController(), done });
        worker?.postMessage({
          type: 'run',
          id,
          script,
          input,
          limits,
          calls: Object.keys(host.calls),
        } satisfies ToWorker);
      });
    },
    async close() {
      const w = worker;
      worker = undefined;
      await w?.terminate();
    },
  };
}
