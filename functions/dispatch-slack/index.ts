// dispatch-slack: one thread per issue fingerprint in Slack (or the terminal when no token is
// set), with dedup and thread state in Redis. Replies with a notification.sent event.
import { CloudEvent } from 'cloudevents';
import type { Destination } from '../../lib/destination.ts';
import { dispatchIssue } from '../../lib/dispatch/dispatcher.ts';
import { DispatchEnv, parseEnv } from '../../lib/env.ts';
import { BadRequestError } from '../../lib/errors.ts';
import { EventTypes, type NotificationSent, occurrenceId, parseIssueData } from '../../lib/events.ts';
import { createLogger } from '../../lib/logger.ts';
import type { FunctionModule, InvocationContext } from '../../lib/runtime/types.ts';
import { SlackDestination } from '../../lib/slack/destination.ts';
import { createStore, type StateStore } from '../../lib/store/index.ts';
import { TerminalDestination } from '../../lib/terminal.ts';

export function create(env: NodeJS.ProcessEnv = process.env): FunctionModule {
  let store: StateStore;
  let destination: Destination;
  let stateTtlSeconds: number;
  let source = '/kubeincident/dispatch-slack';
  return {
    init() {
      const c = parseEnv(DispatchEnv, env);
      const log = createLogger({ name: 'dispatch-slack', level: c.LOG_LEVEL });
      stateTtlSeconds = c.THREAD_TTL_SECONDS;
      if (c.CLUSTER_NAME) source = `/kubeincident/${encodeURIComponent(c.CLUSTER_NAME)}/dispatch-slack`;
      store = createStore({ redisUrl: c.REDIS_URL, log });
      if (c.SLACK_BOT_TOKEN) {
        if (!c.SLACK_CHANNEL)
          throw new Error('SLACK_CHANNEL (a channel ID) is required with SLACK_BOT_TOKEN');
        destination = new SlackDestination({
          token: c.SLACK_BOT_TOKEN,
          channel: c.SLACK_CHANNEL,
          apiUrl: c.SLACK_API_URL,
          timeoutMs: c.SLACK_TIMEOUT_MS,
          log,
        });
      } else {
        log.warn('SLACK_BOT_TOKEN unset: messages are rendered in the terminal');
        destination = new TerminalDestination();
      }
    },
    async handle(ctx: InvocationContext, event: CloudEvent<unknown> | undefined) {
      if (!event) throw new BadRequestError('expected an issue CloudEvent');
      const issue = parseIssueData(event.data);
      const result = await dispatchIssue(issue, { store, destination, stateTtlSeconds, log: ctx.log });
      if (!result.ref) return undefined;
      const data: NotificationSent = {
        issueId: issue.id,
        fingerprint: issue.fingerprint,
        destination: destination.id,
        channel: result.ref.channel,
        threadTs: result.ref.ts,
        action: result.action,
        status: issue.status,
      };
      return new CloudEvent<NotificationSent>({
        id: occurrenceId(issue.id, destination.id),
        type: EventTypes.notificationSent,
        source,
        subject: issue.fingerprint,
        datacontenttype: 'application/json',
        data,
        traceparent: ctx.traceparent,
        partitionkey: issue.fingerprint,
        // No Trigger of ours matches `done`; users subscribe their own functions to this type.
        nextstage: 'done',
      });
    },
    async shutdown() {
      await store?.close();
    },
  };
}

const fn = create();
export const init = fn.init;
export const handle = fn.handle;
export const shutdown = fn.shutdown;
