// Slack's per-channel pace (~1 message/second, short bursts allowed), kept in the shared state
// store so every replica of dispatch-slack draws from the same bucket for a channel.
import { RateLimitedError } from '../errors.ts';
import type { StateStore } from '../store/store.ts';

export interface ChannelRate {
  /** Calls per second the channel sustains (Slack: about 1). */
  perSecond: number;
  /** Calls allowed back to back; the bucket refills over burst / perSecond seconds. */
  burst: number;
}

/** Under Slack's ~1/s with room for the burst: any minute averages at most 0.9 + 3/60 = 0.95. */
export const DEFAULT_CHANNEL_RATE: ChannelRate = { perSecond: 0.9, burst: 3 };

export interface ChannelBucket {
  /** Takes one call's worth for `channel`, or throws RateLimitedError with the wait (Retry-After). */
  take(channel: string): Promise<void>;
}

/**
 * A token bucket approximated by fixed windows of `burst` calls per `burst / perSecond`
 * seconds, counted with one atomic INCR per call (StateStore.increment, Cluster-safe, no
 * script): at most `burst` calls in any window, so the average over a run never exceeds
 * `perSecond` by more than one window's burst. A refused call is not counted against anyone.
 */
export function createChannelBucket(
  store: StateStore,
  rate: ChannelRate = DEFAULT_CHANNEL_RATE,
  now: () => number = Date.now,
): ChannelBucket {
  if (!(rate.perSecond > 0) || !Number.isInteger(rate.burst) || rate.burst < 1)
    throw new RangeError('channel rate needs perSecond > 0 and an integer burst >= 1');
  const windowMs = (rate.burst / rate.perSecond) * 1000;
  // The key only has to outlive its window; a second more covers clock skew between replicas.
  const ttlSeconds = Math.ceil(windowMs / 1000) + 1;
  return {
    async take(channel) {
      const t = now();
      const window = Math.floor(t / windowMs);
      const n = await store.increment(`ki:{bucket|${channel.replace(/[{}]/g, '_')}}:${window}`, ttlSeconds);
      if (n <= rate.burst) return;
      const waitMs = (window + 1) * windowMs - t;
      throw new ChannelBusyError(channel, Math.max(1, Math.ceil(waitMs / 1000)));
    },
  };
}

/** The channel's bucket is empty: retry after the next refill, never sleep in-process. */
export class ChannelBusyError extends RateLimitedError {
  readonly channel: string;
  constructor(channel: string, retryAfter: number) {
    super(`channel ${channel} at its Slack rate, retry after ${retryAfter}s`, { retryAfter });
    this.channel = channel;
  }
}
