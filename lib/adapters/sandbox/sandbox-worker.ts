// The worker thread that runs workflow code (worker-sandbox.ts starts it): the engine instances
// live here, so a run that spins until its deadline holds this thread, never the function's
// main thread, which keeps answering its other requests. Host calls go back to the main thread.
import { parentPort } from 'node:worker_threads';
import { createEnginePool } from './engine.ts';
import { type HostCall, runInSandbox, type SandboxLimits } from './sandbox.ts';

export type ToWorker =
  | { type: 'run'; id: number; script: string; input: unknown; limits: SandboxLimits; calls: string[] }
  | { type: 'reply'; id: number; callId: number; ok: boolean; value?: unknown; message?: string };

export type FromWorker =
  | { type: 'call'; id: number; callId: number; name: string; args: unknown[] }
  | { type: 'log'; id: number; level: 'debug' | 'info' | 'warn' | 'error'; message: string; fields: unknown }
  | { type: 'done'; id: number; outcome: unknown };

const port = parentPort;
if (port) {
  const pool = createEnginePool();
  const waiting = new Map<string, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextCall = 0;
  const send = (m: FromWorker) => port.postMessage(m);
  port.on('message', (m: ToWorker) => {
    if (m.type === 'reply') {
      const key = `${m.id}:${m.callId}`;
      const w = waiting.get(key);
      waiting.delete(key);
      if (m.ok) w?.resolve(m.value);
      else w?.reject(new Error(m.message ?? 'host call failed'));
      return;
    }
    const calls: Record<string, HostCall> = {};
    for (const name of m.calls) {
      calls[name] = (args) =>
        new Promise((resolve, reject) => {
          const callId = nextCall++;
          waiting.set(`${m.id}:${callId}`, { resolve, reject });
          send({ type: 'call', id: m.id, callId, name, args });
        });
    }
    const host = {
      calls,
      log: (level: 'debug' | 'info' | 'warn' | 'error', message: string, fields: unknown) =>
        send({ type: 'log', id: m.id, level, message, fields }),
    };
    void runInSandbox(pool, m.script, m.input, host, m.limits).then((outcome) => {
      for (const key of [...waiting.keys()]) if (key.startsWith(`${m.id}:`)) waiting.delete(key);
      send({ type: 'done', id: m.id, outcome });
    });
  });
}
