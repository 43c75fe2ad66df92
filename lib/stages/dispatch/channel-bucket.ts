// Slack's per-channel pace (~1 message/second, short bursts allowed), kept in the shared state
// store so every replica of dispatch-slack draws from the same bucket for a channel (the
// interfaces are the destination's, domain/destination.ts).

import type { ChannelBucket, ChannelRate } from '../../domain/destination.ts';
import type { StateStore } from '../../domain/state-store.ts';
import { RateLimitedError } from '../../platform/errors.ts';

/**
 * Under Slack's ~1/s with room for the burst: any second sees at most 3 calls, any minute at
 * most 3 + 0.9 x 60 = 57 (0.95/s).
 */
export const DEFAULT_CHANNEL_RATE: ChannelRate = { perSecond: 0.9, burst: 3 };

/**
 * A token bucket per channel, kept in the shared store as GCRA (StateStore.takeToken: one key,
 * one atomic step, Cluster-safe): `burst` calls back to back, then one every 1 / perSecond
 * seconds, for every replica together. A refused call takes nothing and is told how long
 * until a token is there.
 */
export function createChannelBucket(
  store: StateStore,
  rate: ChannelRate = DEFAULT_CHANNEL_RATE,
  now: () => number = Date.now,
): ChannelBucket {
  if (!(rate.perSecond > 0) || !Number.isInteger(rate.burst) || rate.burst < 1)
    throw new RangeError('channel rate needs perSecond > 0 and an integer burst >= 1');
  // Whole milliseconds, rounded up: never faster than asked.
  const intervalMs = Math.ceil(1000 / rate.perSecond);
  const request: ChannelBucket['request'] = (channel, opts = {}) => ({
    key: `ki:{bucket|${channel.replace(/[{}]/g, '_')}}:tat`,
    intervalMs,
    burst: rate.burst,
    nowMs: Math.floor(opts.nowMs ?? now()),
    ...(opts.count !== undefined && opts.count > 1 ? { count: Math.min(opts.count, rate.burst) } : {}),
    ...(opts.maxWaitMs ? { maxWaitMs: opts.maxWaitMs } : {}),
    refuse: (waitMs): ChannelBusyError =>
      new ChannelBusyError(channel, Math.max(1, Math.ceil(waitMs / 1000))),
  });
  return {
    request,
    async take(channel) {
      const req = request(channel);
      const waitMs = await store.takeToken(req);
      if (waitMs > 0) throw req.refuse(waitMs);
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
