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

export interface BucketWindow {
  /** The counter of the current window; a call may go when its INCR is at most `burst`. */
  key: string;
  ttlSeconds: number;
  burst: number;
  /** The error for a call refused in this window (Retry-After until the next one). */
  refuse(): ChannelBusyError;
}

export interface ChannelBucket {
  /** Takes one call's worth for `channel`, or throws RateLimitedError with the wait (Retry-After). */
  take(channel: string): Promise<void>;
  /** The current window, for a caller that increments it itself (StateStore.openThread). */
  window(channel: string): BucketWindow;
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
  const window = (channel: string): BucketWindow => {
    const t = now();
    const w = Math.floor(t / windowMs);
    return {
      key: `ki:{bucket|${channel.replace(/[{}]/g, '_')}}:${w}`,
      ttlSeconds,
      burst: rate.burst,
      refuse: () => new ChannelBusyError(channel, Math.max(1, Math.ceil(((w + 1) * windowMs - t) / 1000))),
    };
  };
  return {
    window,
    async take(channel) {
      const w = window(channel);
      const n = await store.increment(w.key, w.ttlSeconds);
      if (n > w.burst) throw w.refuse();
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
