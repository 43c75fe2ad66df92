// A bound on concurrent work: the local broker's delivery attempts per Trigger.

export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

/**
 * Runs at most `max` tasks at a time, the rest in the order they came. A finished task hands its
 * slot straight to the next waiting one, so a caller arriving meanwhile cannot take it too.
 */
export function limiter(max: number): Limiter {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (task) => {
    if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    else active++;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}
