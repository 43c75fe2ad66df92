// Fault injection on the running pipeline: each scenario drives alerts through it, breaks one
// part, and checks what the stand-in Slack received: one root per alert, every firing and
// resolution reflected, none missing, none posted twice. Each scenario logs its report.
import test, { type ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import {
  type AlertSpec,
  CHANNEL,
  type FaultEnv,
  isResolvedReply,
  makeAlerts,
  type Report,
  sendWebhook,
  settle,
  startFaultEnv,
} from './support/faults.ts';
import { eventually } from './support/pipeline.ts';

async function scenario(
  t: ExecutionContext,
  name: string,
  env: NodeJS.ProcessEnv,
  run: (e: FaultEnv, alerts: AlertSpec[]) => Promise<void>,
  opts: { alerts?: number } = {},
): Promise<Report> {
  const e = await startFaultEnv(env);
  t.teardown(() => e.stop());
  const alerts = makeAlerts(name, opts.alerts ?? 6);
  try {
    await run(e, alerts);
  } catch (err) {
    t.log(e.pipeline.output().slice(-4000));
    throw err;
  }
  const report = await settle(e, alerts, true);
  t.log(
    `${name}: events in ${report.eventsIn}, messages out ${report.messagesOut}, lost ${report.lost.length}, duplicated ${report.duplicated.length}, unresolved ${report.unresolved.length}, dead-lettered ${report.deadLettered}`,
  );
  if (report.lost.length || report.duplicated.length || report.unresolved.length)
    t.log(e.pipeline.output().slice(-6000));
  t.deepEqual(report.lost, [], 'no alert missing');
  t.deepEqual(report.duplicated, [], 'no alert posted twice');
  t.deepEqual(report.unresolved, [], 'every resolution reflected');
  return report;
}

const fireThenResolve = async (e: FaultEnv, alerts: AlertSpec[]) => {
  await sendWebhook(e.pipeline.webhook, alerts, 'firing');
  await waitForRoots(e, alerts);
  await sendWebhook(e.pipeline.webhook, alerts, 'resolved');
};

/** A connection of the test's own to the scenario's Redis, closed with the test. */
async function adminOf(t: ExecutionContext, e: FaultEnv): Promise<Redis> {
  const admin = new Redis(e.redis.url, { lazyConnect: true });
  t.teardown(() => admin.quit().catch(() => undefined));
  await admin.connect();
  return admin;
}

/**
 * Redis past maxmemory (noeviction), as when it is full: every write refused with OOM until
 * maxmemory is set back to 0. The limit is 1 byte rather than just above the memory in use:
 * that margin could be freed again (an expiring key, a client's buffers) and let writes through.
 */
async function fillRedis(admin: Redis): Promise<void> {
  await admin.config('SET', 'maxmemory-policy', 'noeviction');
  await admin.config('SET', 'maxmemory', '1');
}

/** Waits until Slack has had no call for a second (details and files of earlier events done). */
async function quiet(e: FaultEnv): Promise<void> {
  await eventually('Slack quiet', async () => {
    const n = e.slack.calls.length;
    await new Promise((r) => setTimeout(r, 1000));
    return n === e.slack.calls.length ? true : undefined;
  });
}

/**
 * Slack holds the next three messages `send` posts while Redis fills up past maxmemory, so the
 * writes recording them are refused; then Redis takes writes again. Slack answers each held
 * post after 1.5 s, well inside the client's timeout (`HELD_POSTS_ENV`): were the hold as long
 * as the timeout, the client could give up first, and then no record would be tried at all.
 */
async function postsHeldWhileRedisFills(t: ExecutionContext, e: FaultEnv, send: () => Promise<unknown>) {
  const admin = await adminOf(t, e);
  const posts = () => e.slack.calls.filter((c) => c.method === 'chat.postMessage').length;
  const before = posts();
  e.slack.injectFault('chat.postMessage', { delayMs: 1500 }, 3);
  await send();
  await eventually('three posts in flight', () => (posts() >= before + 3 ? true : undefined));
  await fillRedis(admin);
  t.is(posts(), before + 3, 'nothing else was posted before Redis filled up');
  await new Promise((r) => setTimeout(r, 2500));
  t.true(
    e.pipeline.output().includes('OOM'),
    'a record after a post was refused for memory (else this scenario tests nothing)',
  );
  await admin.config('SET', 'maxmemory', '0');
}

/** The Slack client waits 5 s, so it hears the answers to the posts held for 1.5 s. */
const HELD_POSTS_ENV = { SLACK_TIMEOUT_MS: '5000' };

async function waitForRoots(e: FaultEnv, alerts: AlertSpec[]) {
  await eventually(
    'roots posted',
    () => {
      const roots = (e.slack.messages.get(CHANNEL) ?? []).filter((m) => !m.thread_ts);
      return alerts.every((a) => roots.some((m) => JSON.stringify(m.attachments).includes(a.marker)))
        ? true
        : undefined;
    },
    60_000,
  );
}

test.serial(
  'faults: every event delivered twice and resolutions before firings change nothing visible',
  async (t) => {
    await scenario(t, 'dup', {}, async (e, alerts) => {
      const [early, rest] = [alerts.slice(0, 2), alerts.slice(2)];
      // Reordered: two alerts resolve before their firing arrives.
      await sendWebhook(e.pipeline.webhook, early, 'resolved');
      await Promise.all([
        sendWebhook(e.pipeline.webhook, rest, 'firing'),
        sendWebhook(e.pipeline.webhook, rest, 'firing'),
      ]);
      await sendWebhook(e.pipeline.webhook, early, 'firing');
      await waitForRoots(e, alerts);
      await Promise.all([
        sendWebhook(e.pipeline.webhook, rest, 'resolved'),
        sendWebhook(e.pipeline.webhook, rest, 'resolved'),
      ]);
    });
  },
);

test.serial(
  'faults: a storm of Slack 429s with Retry-After delays messages but loses and doubles none',
  async (t) => {
    await scenario(t, 'rl', {}, async (e, alerts) => {
      e.slack.injectFault('chat.postMessage', { status: 429, retryAfter: 1 }, 6);
      e.slack.injectFault('chat.update', { status: 429, retryAfter: 1 }, 3);
      await fireThenResolve(e, alerts);
    });
  },
);

test.serial(
  'faults: Slack 5xx, transient ok:false errors and slow edits are retried through the broker',
  async (t) => {
    await scenario(t, 'sx', {}, async (e, alerts) => {
      e.slack.injectFault('chat.postMessage', { status: 503 }, 3);
      e.slack.injectFault('chat.postMessage', { error: 'internal_error' }, 2);
      e.slack.injectFault('chat.update', { delayMs: 2500 }, 2);
      await fireThenResolve(e, alerts);
    });
  },
);

test.serial(
  'faults: Slack posting a root but answering after the client gave up leaves one root, not two',
  async (t) => {
    await scenario(t, 'lost', {}, async (e, alerts) => {
      // Past SLACK_TIMEOUT_MS (1.5 s): the stand-in still posts, the answer finds no one.
      e.slack.injectFault('chat.postMessage', { delayMs: 2500 }, 3);
      await fireThenResolve(e, alerts);
    });
  },
);

test.serial(
  'faults: a file upload failing after the message was posted is retried without a second root',
  async (t) => {
    await scenario(t, 'up', {}, async (e, alerts) => {
      e.slack.injectFault('files.completeUploadExternal', { status: 500 }, 3);
      await fireThenResolve(e, alerts);
      await eventually('every crash log uploaded', () =>
        e.slack.files.filter((f) => f.completed && f.content?.includes('exiting with code 1')).length >=
        alerts.length
          ? true
          : undefined,
      );
      t.pass();
    });
  },
);

test.serial(
  'faults: Redis down for a while: deliveries fail with 503 and succeed once it is back',
  async (t) => {
    await scenario(t, 'rd', {}, async (e, alerts) => {
      await e.redis.stop();
      const sending = sendWebhook(e.pipeline.webhook, alerts, 'firing');
      await new Promise((r) => setTimeout(r, 1500));
      await e.redis.restart();
      await sending;
      await waitForRoots(e, alerts);
      await sendWebhook(e.pipeline.webhook, alerts, 'resolved');
    });
  },
);

test.serial(
  'faults: a slow Redis (clients paused) and a full Redis (maxmemory) only delay delivery',
  async (t) => {
    await scenario(t, 'rs', {}, async (e, alerts) => {
      const admin = await adminOf(t, e);
      await admin.call('CLIENT', 'PAUSE', '2000', 'ALL');
      await sendWebhook(e.pipeline.webhook, alerts.slice(0, 3), 'firing');
      await fillRedis(admin);
      await sendWebhook(e.pipeline.webhook, alerts.slice(3), 'firing');
      await new Promise((r) => setTimeout(r, 1500));
      await admin.config('SET', 'maxmemory', '0');
      await waitForRoots(e, alerts);
      await sendWebhook(e.pipeline.webhook, alerts, 'resolved');
    });
  },
);

test.serial(
  'faults: roots Slack took while Redis was full, so never recorded, are found by their redeliveries and not posted again',
  async (t) => {
    await scenario(t, 'oom', HELD_POSTS_ENV, async (e, alerts) => {
      // Slack holds the first three roots; Redis fills up meanwhile, so their records fail.
      await postsHeldWhileRedisFills(t, e, () =>
        sendWebhook(e.pipeline.webhook, alerts.slice(0, 3), 'firing'),
      );
      await sendWebhook(e.pipeline.webhook, alerts.slice(3), 'firing');
      await waitForRoots(e, alerts);
      await sendWebhook(e.pipeline.webhook, alerts, 'resolved');
    });
  },
);

test.serial(
  'faults: resolved replies Slack took while Redis was full, so never recorded, are found by their redeliveries and not posted again',
  async (t) => {
    await scenario(t, 'oomr', HELD_POSTS_ENV, async (e, alerts) => {
      await sendWebhook(e.pipeline.webhook, alerts, 'firing');
      await waitForRoots(e, alerts);
      await quiet(e);
      // Slack holds the first three resolved replies; Redis fills up meanwhile, so their
      // records fail (each resolution edits its root first, which is recorded).
      await postsHeldWhileRedisFills(t, e, () =>
        sendWebhook(e.pipeline.webhook, alerts.slice(0, 3), 'resolved'),
      );
      await sendWebhook(e.pipeline.webhook, alerts.slice(3), 'resolved');
      // Their redeliveries come once Redis takes writes again and a slow reply would have
      // landed: each looks in its thread first, or, were it blind, posts the reply again.
      const resolvedReplies = () =>
        (e.slack.messages.get(CHANNEL) ?? []).filter((m) => m.thread_ts && isResolvedReply(m)).length;
      await eventually(
        'the refused replies redelivered',
        () =>
          e.slack.calls.filter((c) => c.method === 'conversations.replies').length >= 3 ||
          resolvedReplies() > alerts.length
            ? true
            : undefined,
        60_000,
      );
    });
  },
);

test.serial(
  'faults: the Kubernetes API down, slow, or forbidding logs never holds a message back',
  async (t) => {
    const report = await scenario(t, 'k8', {}, async (e, alerts) => {
      e.kube.setFault(/\/log/, { status: 403 });
      e.kube.setFault(/\/events/, { delayMs: 3000 });
      await sendWebhook(e.pipeline.webhook, alerts.slice(0, 3), 'firing');
      await e.kube.close();
      await sendWebhook(e.pipeline.webhook, alerts.slice(3), 'firing');
      await waitForRoots(e, alerts);
      await sendWebhook(e.pipeline.webhook, alerts, 'resolved');
    });
    t.is(report.deadLettered, 0);
  },
);

test.serial(
  'faults: dispatch-slack killed (SIGKILL) mid-event is restarted and the event retried',
  async (t) => {
    await scenario(t, 'kl', {}, async (e, alerts) => {
      // Hold a file upload open, kill the function while it waits, and let the broker retry.
      e.slack.injectFault('files.completeUploadExternal', { delayMs: 4000 }, 1);
      const sending = sendWebhook(e.pipeline.webhook, alerts, 'firing');
      await eventually('an upload in flight', () =>
        e.slack.calls.some((c) => c.method === 'files.completeUploadExternal') ? true : undefined,
      );
      const before = await e.pipeline.pids();
      process.kill(before['dispatch-slack'] as number, 'SIGKILL');
      await sending;
      await eventually('dispatch-slack restarted', async () => {
        const now = await e.pipeline.pids();
        return now['dispatch-slack'] && now['dispatch-slack'] !== before['dispatch-slack'] ? true : undefined;
      });
      await waitForRoots(e, alerts);
      await sendWebhook(e.pipeline.webhook, alerts, 'resolved');
    });
  },
);

test.serial(
  'faults: the broker not answering makes the webhook fail with 5xx until it is back (Alertmanager retries)',
  async (t) => {
    await scenario(t, 'bk', {}, async (e, alerts) => {
      // Freezing the pipeline's main process freezes the broker ingress (the functions run on).
      e.pipeline.child.kill('SIGSTOP');
      const res = await fetch(e.pipeline.webhook, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ version: '4', status: 'firing', alerts: [] }),
      }).catch(() => undefined);
      t.truthy(res, 'alert-ingest itself still answers');
      const sending = sendWebhook(e.pipeline.webhook, alerts, 'firing');
      await new Promise((r) => setTimeout(r, 2500));
      e.pipeline.child.kill('SIGCONT');
      const retries = await sending;
      t.true(retries >= 1, 'the webhook was refused at least once, so Alertmanager would retry');
      await waitForRoots(e, alerts);
      await sendWebhook(e.pipeline.webhook, alerts, 'resolved');
    });
  },
);

test.serial(
  'faults: Redis state lost (restart without persistence): a resolution says it continues an earlier thread, nothing is dropped',
  async (t) => {
    const e = await startFaultEnv({});
    t.teardown(() => e.stop());
    // Alerts that started long ago, as a lost thread's alerts typically have.
    const alerts = makeAlerts('sl', 4).map((a) => ({
      ...a,
      startsAt: new Date(Date.now() - 60 * 60_000).toISOString(),
    }));
    await sendWebhook(e.pipeline.webhook, alerts, 'firing');
    await waitForRoots(e, alerts);
    const admin = new Redis(e.redis.url, { lazyConnect: true });
    t.teardown(() => admin.quit().catch(() => undefined));
    await admin.connect();
    await admin.flushall();
    await sendWebhook(e.pipeline.webhook, alerts, 'resolved');
    const roots = () => (e.slack.messages.get(CHANNEL) ?? []).filter((m) => !m.thread_ts);
    await eventually('a resolved root per alert', () =>
      alerts.every((a) =>
        roots().some(
          (m) =>
            JSON.stringify(m.attachments).includes(a.marker) &&
            /RESOLVED/.test(JSON.stringify(m.attachments)),
        ),
      )
        ? true
        : undefined,
    );
    for (const a of alerts) {
      const mine = roots().filter((m) => JSON.stringify(m.attachments).includes(a.marker));
      t.is(mine.length, 2, `${a.marker}: the original root and the continuation`);
      t.regex(
        JSON.stringify(mine[1]?.attachments),
        /Continues an earlier thread/,
        `${a.marker}: the second root says why it exists`,
      );
    }
    t.log(`state loss: events in ${alerts.length * 2}, roots ${roots().length}, each continuation marked`);
  },
);
