// dispatch-slack: routes each issue to its destinations (Slack channels, or the terminal when
// no token is set) and keeps one thread per destination and fingerprint, with dedup and thread
// state in Redis. Replies with a notification.sent event listing every delivery.
import { createHash } from 'node:crypto';
import type { CloudEvent } from 'cloudevents';
import { createPreviewSink, type PreviewSink } from '../../lib/adapters/preview.ts';
import { loadWebApi, SlackDestination } from '../../lib/adapters/slack/destination.ts';
import { createStore, type StateStore } from '../../lib/adapters/store/index.ts';
import { loadIoredis } from '../../lib/adapters/store/redis.ts';
import { TerminalDestination } from '../../lib/adapters/terminal.ts';
import { type ConfigSource, openFunctionConfig } from '../../lib/domain/config/index.ts';
import { routeIssue } from '../../lib/domain/config/route.ts';
import type { DestinationConfig } from '../../lib/domain/config/schema.ts';
import type { Destination } from '../../lib/domain/destination.ts';
import { type ChannelBucket, canSummarize } from '../../lib/domain/destination.ts';
import { type NotificationSent, notificationSentEvent, parseIssueData } from '../../lib/domain/events.ts';
import { BadRequestError } from '../../lib/platform/errors.ts';
import { createLogger, type Logger } from '../../lib/platform/logger.ts';
import { type FunctionModule, type InvocationContext, retryLater } from '../../lib/platform/runtime/types.ts';
import { createChannelBucket } from '../../lib/stages/dispatch/channel-bucket.ts';
import { DEFAULT_LOCK_TTL_MS, dispatchIssue } from '../../lib/stages/dispatch/dispatcher.ts';
import { isLater } from '../../lib/stages/dispatch/outcome.ts';
import type { StormOptions } from '../../lib/stages/dispatch/storm.ts';
import { createStormFlusher, type StormFlusher } from '../../lib/stages/dispatch/storm-flusher.ts';
import { DispatchEnv, parseEnv } from '../../lib/stages/env.ts';
import { linkAlert } from '../../lib/stages/ingest/change-link.ts';

type SlackOrTerminal = Extract<DestinationConfig, { type: 'slack' | 'terminal' }>;

export function create(env: NodeJS.ProcessEnv = process.env): FunctionModule {
  let store: StateStore;
  let config: ConfigSource;
  let fallback: DestinationConfig;
  let stateTtlSeconds: number;
  let slackTimeoutMs: number;
  let bucket: ChannelBucket;
  let storm: StormOptions | undefined;
  let backlogMaxWaitMs: number;
  let flusher: StormFlusher | undefined;
  let log: Logger;
  let source = '/kubeincident/dispatch-slack';
  // One client per destination and channel; a changed token (config reload) makes a new one.
  const destinations = new Map<string, Destination>();
  let terminal: TerminalDestination | undefined;
  let preview: PreviewSink | undefined;

  function destinationFor(d: SlackOrTerminal, channel: string | undefined): Destination {
    if (d.type === 'terminal') {
      terminal ??= new TerminalDestination({ preview });
      return terminal;
    }
    const ch = channel ?? d.channel;
    const key = `${d.name}|${ch}|${createHash('sha256').update(d.token).digest('hex').slice(0, 12)}|${d.apiUrl ?? ''}`;
    let dest = destinations.get(key);
    if (!dest) {
      dest = new SlackDestination({
        token: d.token,
        channel: ch,
        apiUrl: d.apiUrl,
        timeoutMs: slackTimeoutMs,
        log,
        bucket,
      });
      destinations.set(key, dest);
    }
    return dest;
  }

  return {
    async init() {
      const c = parseEnv(DispatchEnv, env);
      log = createLogger({ name: 'dispatch-slack', level: c.LOG_LEVEL });
      stateTtlSeconds = c.THREAD_TTL_SECONDS;
      slackTimeoutMs = c.SLACK_TIMEOUT_MS;
      if (c.PREVIEW_URL) {
        preview = createPreviewSink({
          url: c.PREVIEW_URL,
          token: c.PREVIEW_TOKEN,
          onError: (err) => log.warn({ err }, 'preview page did not take a message (the terminal has it)'),
        });
      }
      if (c.CLUSTER_NAME) source = `/kubeincident/${encodeURIComponent(c.CLUSTER_NAME)}/dispatch-slack`;
      if (c.SLACK_BOT_TOKEN) {
        if (!c.SLACK_CHANNEL)
          throw new Error('SLACK_CHANNEL (a channel ID) is required with SLACK_BOT_TOKEN');
        fallback = { name: 'default', type: 'slack', token: c.SLACK_BOT_TOKEN, channel: c.SLACK_CHANNEL };
        if (c.SLACK_API_URL) fallback.apiUrl = c.SLACK_API_URL;
      } else {
        fallback = { name: 'default', type: 'terminal' };
      }
      config = await openFunctionConfig(c, env, log);
      if (fallback.type === 'terminal' && config.current().destinations.length === 0) {
        log.warn(
          'SLACK_BOT_TOKEN unset and no destinations configured: messages are rendered in the terminal',
        );
      }
      store = createStore({ redisUrl: c.REDIS_URL, log });
      bucket = createChannelBucket(store, { perSecond: c.SLACK_CHANNEL_RATE, burst: c.SLACK_CHANNEL_BURST });
      backlogMaxWaitMs = c.SLACK_BACKLOG_MAX_SECONDS * 1000;
      storm =
        c.STORM_THRESHOLD > 0
          ? {
              threshold: c.STORM_THRESHOLD,
              windowSeconds: c.STORM_WINDOW_SECONDS,
              groupBy: c.STORM_GROUP_BY.split(',')
                .map((l) => l.trim())
                .filter(Boolean),
              editIntervalMs: c.STORM_EDIT_INTERVAL_SECONDS * 1000,
              replyLines: c.STORM_REPLY_LINES,
            }
          : undefined;
      flusher = createStormFlusher({
        store,
        storm: () => storm,
        stateTtlSeconds,
        lockTtlMs: DEFAULT_LOCK_TTL_MS,
        log,
      });
    },
    async handle(ctx: InvocationContext, event: CloudEvent<unknown> | undefined) {
      if (!event) throw new BadRequestError('expected an issue CloudEvent');
      const cfg = config.current();
      // An alert that follows a tracked change says so (alert-ingest keeps no state to look it up).
      const issue = await linkAlert(parseIssueData(event.data), store, cfg.changeTracking);
      // Other destination types are other functions' (dispatch-pagerduty, ...: docs/destinations.md).
      const routed = routeIssue(issue, cfg, fallback).filter(
        (r): r is { destination: SlackOrTerminal; channel?: string } =>
          r.destination.type === 'slack' || r.destination.type === 'terminal',
      );
      // Sequential on purpose: each destination has its own thread; a failure or a deferral stops
      // here and the redelivery finds the earlier destinations already done (their state is
      // idempotent).
      const deliveries: NotificationSent['deliveries'] = [];
      for (const r of routed) {
        const destination = destinationFor(r.destination, r.channel);
        const result = await dispatchIssue(issue, {
          store,
          destination,
          stateTtlSeconds,
          storm,
          backlogMaxWaitMs,
          onStormPending: canSummarize(destination)
            ? (labels, inMs) => flusher?.schedule(destination, labels, inMs)
            : undefined,
          log: ctx.log,
        });
        if (isLater(result)) return retryLater(result.retryLater.afterMs, result.retryLater.reason);
        if (result.ref) {
          deliveries.push({
            destination: destination.id,
            channel: result.ref.channel,
            threadTs: result.ref.ts,
            action: result.action,
          });
        }
      }
      return notificationSentEvent(issue, deliveries, {
        source,
        idPart: 'dispatch',
        traceparent: ctx.traceparent,
      });
    },
    async shutdown() {
      await flusher?.close();
      config?.close();
      await store?.close();
    },
  };
}

const fn = create();
export const init = fn.init;
export const handle = fn.handle;
export const shutdown = fn.shutdown;
/** The code cache's training run loads the Slack client and ioredis, which a deployed instance loads. */
export const warm = async (): Promise<void> => {
  await Promise.all([loadWebApi(), loadIoredis()]);
};
