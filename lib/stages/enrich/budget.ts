// One time budget per enrichment: every Kubernetes call races it and is aborted when it runs out,
// so an enricher answers in time with what it has instead of waiting on a slow API server.
import { KubeApiError } from '../../domain/kube-errors.ts';

export interface Budget {
  readonly signal: AbortSignal;
  /** Runs one call under the budget; rejects with a KubeApiError (Timeout) once it is spent. */
  run<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T>;
  /** Releases the timer; call when the enrichment is done. */
  done(): void;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

export function startBudget(ms: number): Budget {
  const controller = new AbortController();
  const spent = new KubeApiError(0, 'Timeout', `time budget of ${formatMs(ms)} spent`);
  // Not unref'd: a call still pending must not let the process exit under it; done() clears it.
  const timer = setTimeout(() => controller.abort(spent), Math.max(0, ms));
  const expired = new Promise<never>((_, reject) => {
    controller.signal.addEventListener('abort', () => reject(spent), { once: true });
  });
  // The race below is what observes this rejection; without a handler an unused budget would warn.
  expired.catch(() => {});
  return {
    signal: controller.signal,
    run: (fn) =>
      controller.signal.aborted ? Promise.reject(spent) : Promise.race([fn(controller.signal), expired]),
    done: () => clearTimeout(timer),
  };
}

/** Settles a promise into a value or an error, so independent calls can fail independently. */
export async function attempt<T>(p: Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await p };
  } catch (error) {
    return { ok: false, error };
  }
}

function formatMs(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
