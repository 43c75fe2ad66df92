// Shows storm summaries as soon as they may change, from inside a running dispatch-slack
// instead of waiting for a deferred delivery's broker retry (whose exponential backoff grows to
// minutes). The deferred delivery stays the durable guarantee: if this process goes away, the
// broker still brings it back and it finishes the summary. What is due lives only in memory;
// the group's state and lock in the store keep replicas from doing the same work twice.
import type { Destination, SummaryDestination } from '../../domain/destination.ts';
import type { StateStore } from '../../domain/state-store.ts';
import type { Logger } from '../../platform/logger.ts';
import { groupKeys, type StormOptions } from './storm.ts';
import { flushGroup } from './storm-dispatch.ts';

export interface StormFlusherOptions {
  store: StateStore;
  storm: () => StormOptions | undefined;
  stateTtlSeconds: number;
  lockTtlMs: number;
  now?: () => Date;
  log?: Logger | undefined;
  /** A group that keeps failing is left to its deferred delivery after this long (default 10 min). */
  giveUpMs?: number;
}

type SummaryTarget = SummaryDestination & Pick<Destination, 'id'>;

interface Due {
  destination: SummaryTarget;
  labels: Record<string, string>;
  at: number;
  failures: number;
  /** Since when it has been waiting, or failing: the give-up clock. */
  since: number;
  /** Bumped by schedule(): news that arrived while a flush was running. */
  rev: number;
}

export interface StormFlusher {
  /** Something of this group is left to show, no sooner than `inMs` from now. */
  schedule(destination: SummaryTarget, labels: Record<string, string>, inMs: number): void;
  /** Groups waiting, for tests and metrics. */
  size(): number;
  /** Stops scheduling; resolves when a flush in progress has finished. */
  close(): Promise<void>;
}

export function createStormFlusher(opts: StormFlusherOptions): StormFlusher {
  const now = opts.now ?? (() => new Date());
  const giveUpMs = opts.giveUpMs ?? 600_000;
  const due = new Map<string, Due>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let closed = false;

  function arm(): void {
    if (closed || running) return;
    if (timer) clearTimeout(timer);
    timer = undefined;
    let next = Number.POSITIVE_INFINITY;
    for (const d of due.values()) next = Math.min(next, d.at);
    if (next === Number.POSITIVE_INFINITY) return;
    timer = setTimeout(
      () => {
        timer = undefined;
        running = tick().finally(() => {
          running = undefined;
          arm();
        });
      },
      Math.max(0, next - now().getTime()),
    );
    // A pending flush never keeps the process alive: the deferred delivery is the guarantee.
    timer.unref();
  }

  async function tick(): Promise<void> {
    const storm = opts.storm();
    const t = now().getTime();
    const ready = [...due.entries()].filter(([, d]) => d.at <= t).sort((a, b) => a[1].at - b[1].at);
    for (const [key, d] of ready) {
      if (closed) return;
      if (!storm) {
        due.delete(key);
        continue;
      }
      const rev = d.rev;
      try {
        const wait = await flushGroup(d.labels, {
          store: opts.store,
          destination: d.destination,
          storm,
          now,
          stateTtlSeconds: opts.stateTtlSeconds,
          lockTtlMs: opts.lockTtlMs,
          log: opts.log,
        });
        d.failures = 0;
        d.since = now().getTime();
        // An alert folded while this flush ran was scheduled meanwhile: keep its time too.
        const fresh = d.rev === rev;
        if (wait === undefined) {
          if (fresh) due.delete(key);
        } else {
          const next = now().getTime() + wait;
          d.at = fresh ? next : Math.min(d.at, next);
        }
      } catch (err) {
        d.failures += 1;
        if (now().getTime() - d.since > giveUpMs) {
          due.delete(key);
          opts.log?.warn(
            { err, labels: d.labels },
            'storm summary flush keeps failing: left to its delivery',
          );
        } else {
          d.at = now().getTime() + Math.min(60_000, 1000 * 2 ** d.failures);
          opts.log?.warn({ err, labels: d.labels }, 'storm summary flush failed: trying again');
        }
      }
    }
  }

  return {
    schedule(destination, labels, inMs) {
      if (closed) return;
      const key = groupKeys(destination.id, labels).data;
      const at = now().getTime() + Math.max(0, inMs);
      const d = due.get(key);
      if (d) {
        d.destination = destination;
        d.rev += 1;
        if (at < d.at) d.at = at;
      } else due.set(key, { destination, labels, at, failures: 0, since: now().getTime(), rev: 0 });
      arm();
    },
    size: () => due.size,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running;
      due.clear();
    },
  };
}
