import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { SlackDestination } from '../lib/adapters/slack/destination.ts';
import { COLORS } from '../lib/adapters/slack/render-root.ts';
import type { RootView } from '../lib/domain/destination.ts';
import type { Issue } from '../lib/domain/issue.ts';
import { DependencyError, RateLimitedError, UnavailableError } from '../lib/platform/errors.ts';
import { crashLoopIssue } from './support/crashloop-webhook.ts';
import { type SlackStandin, startSlackStandin } from './support/slack-standin.ts';

// A KubeContainerOOMKilled-style alert as Alertmanager 0.27 posts it.
function issueFixture(): Issue {
  const issue = crashLoopIssue({
    labels: {
      alertname: 'KubePodCrashLooping',
      container: 'api',
      namespace: 'shop',
      pod: 'checkout-7d9f8b6c5-x2x9q',
      severity: 'critical',
    },
    annotations: {
      description:
        'Pod shop/checkout-7d9f8b6c5-x2x9q (api) is in waiting state (reason: "CrashLoopBackOff").',
      summary: 'Pod is crash looping.',
    },
    generatorURL: 'http://prometheus.monitoring.svc:9090/graph?g0.expr=up',
  });
  issue.enrichments = [
    {
      source: 'enrich-pod',
      title: 'Container api',
      verdict: 'OOMKilled: limit 256Mi reached 3 times',
      blocks: [
        {
          type: 'table',
          headers: ['container', 'restarts', 'last exit'],
          rows: [['api', '5', '137 OOMKilled']],
        },
        // Too wide for a line of text: the reply's one Slack table block.
        {
          type: 'table',
          title: 'Recent events',
          headers: ['Type', 'Reason', 'Count', 'Message'],
          rows: [
            [
              'Warning',
              'OOMKilling',
              '3',
              'Memory cgroup out of memory: Killed process 4242 (api) <!channel> & co',
            ],
            [
              'Warning',
              'BackOff',
              '23',
              'Back-off restarting failed container api in pod checkout-7d9f8b6c5-x2x9q',
            ],
          ],
        },
        {
          type: 'file',
          filename: 'api-previous.log',
          title: 'Logs of api before the restart',
          contentType: 'text/plain',
          content: '2024-11-22T03:57:59Z allocating cache\n2024-11-22T03:58:01Z fatal: out of memory\n',
        },
        // Big enough to be cut in the reply, so its full text must arrive as a file.
        { type: 'markdown', text: `${'heap dump line <x> & y\n'.repeat(400)}END` },
      ],
    },
  ];
  return issue;
}

function view(issue: Issue, over: Partial<RootView> = {}): RootView {
  return { issue, status: 'firing', firingSince: issue.startsAt, firingCount: 1, verdicts: [], ...over };
}

async function setup(timeoutMs = 2000): Promise<{ slack: SlackStandin; dest: SlackDestination }> {
  const slack = await startSlackStandin();
  const dest = new SlackDestination({
    token: slack.token,
    channel: 'C0ALERTS',
    apiUrl: slack.url,
    timeoutMs,
  });
  return { slack, dest };
}

function colorOf(m: { attachments?: unknown[] } | undefined): string | undefined {
  return (m?.attachments?.[0] as { color?: string } | undefined)?.color;
}

/** Every message of every error in the cause chain, with its serialisation. */
function errorTexts(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 10; depth++) {
    if (e instanceof Error) parts.push(e.message, e.stack ?? '');
    try {
      parts.push(JSON.stringify(e));
    } catch {}
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join('\n');
}

test('slack destination: a root is posted, edited on resolution, and details, files and status go into its thread', async (t) => {
  const { slack, dest } = await setup();
  t.teardown(() => slack.close());
  const issue = issueFixture();
  t.is(dest.id, 'slack:C0ALERTS');

  const ref = await dest.postRoot(view(issue, { verdicts: ['OOMKilled: limit 256Mi reached 3 times'] }));
  t.is(ref.channel, 'C0ALERTS');
  t.regex(ref.ts, /^\d{10}\.\d{6}$/);
  const root = slack.messages.get('C0ALERTS')?.[0];
  t.is(root?.ts, ref.ts);
  t.is(colorOf(root), COLORS.HIGH);

  await dest.postDetails(ref, issue);
  await dest.uploadFiles(ref, issue);
  const resolved = { ...issue, status: 'resolved' as const, endsAt: '2024-11-22T04:12:07.123Z' };
  const resolvedView = view(resolved, { status: 'resolved', resolvedAt: resolved.endsAt });
  await dest.updateRoot(ref, resolvedView);
  await dest.postStatusReply(ref, resolvedView, 'resolved');

  t.is(root?.edits.length, 1);
  t.is(colorOf(root), COLORS.resolved);
  t.true(JSON.stringify(root?.attachments).includes('*RESOLVED* after 14m'));

  const replies = slack.replies('C0ALERTS', ref.ts);
  t.is(replies.length, 2);
  const [details, status] = replies;
  t.true(JSON.stringify(details?.attachments).includes('OOMKilled: limit 256Mi reached 3 times'));
  // The table went through the client and the stand-in's checks as Slack's table block, its
  // cells plain text as typed.
  const tables = ((details?.attachments ?? []) as Array<{ blocks: Array<{ type: string; rows?: unknown }> }>)
    .flatMap((a) => a.blocks)
    .filter((b) => b.type === 'table');
  t.is(tables.length, 1);
  t.deepEqual(
    ((tables[0]?.rows ?? []) as Array<Array<{ text: string }>>)[1]?.map((c) => c.text),
    ['Warning', 'OOMKilling', '3', 'Memory cgroup out of memory: Killed process 4242 (api) <!channel> & co'],
  );
  t.true(status?.text?.includes('Resolved after 14m'));
  for (const call of slack.calls.filter((c) => c.method === 'chat.postMessage')) {
    t.false('reply_broadcast' in call.params, 'never broadcast');
    t.false('link_names' in call.params);
    t.false('parse' in call.params);
  }

  const files = slack.files.filter((f) => f.completed);
  t.deepEqual(
    files.map((f) => [f.filename, f.channel, f.thread_ts]),
    [
      ['api-previous.log', 'C0ALERTS', ref.ts],
      ['Container api notes.txt', 'C0ALERTS', ref.ts],
    ],
  );
  t.is(files[0]?.content, issue.enrichments[0]?.blocks.find((b) => b.type === 'file')?.content);
  t.true(files[1]?.content?.endsWith('END'));
  t.is(files[0]?.title, 'Logs of api before the restart');
  // The bot token travels only in the Authorization header.
  t.true(slack.calls.every((c) => c.headers.authorization === `Bearer ${slack.token}`));
});

test('slack destination: a 429 becomes a RateLimitedError carrying Retry-After', async (t) => {
  const { slack, dest } = await setup();
  t.teardown(() => slack.close());
  slack.injectFault('chat.postMessage', { status: 429, retryAfter: 3 });
  const err = await t.throwsAsync(dest.postRoot(view(issueFixture())), { instanceOf: RateLimitedError });
  t.is(err?.retryAfter, 3);
  t.is(err?.status, 429);
  // Nothing was retried inside the client: the broker owns retries.
  t.is(slack.calls.filter((c) => c.method === 'chat.postMessage').length, 1);
});

test('slack destination: HTTP 500 and transient Slack errors become UnavailableError', async (t) => {
  const { slack, dest } = await setup();
  t.teardown(() => slack.close());
  slack.injectFault('chat.postMessage', { status: 500 });
  await t.throwsAsync(dest.postRoot(view(issueFixture())), { instanceOf: UnavailableError });
  slack.injectFault('chat.update', { error: 'internal_error' });
  const err = await t.throwsAsync(dest.updateRoot({ channel: 'C0ALERTS', ts: '1.1' }, view(issueFixture())), {
    instanceOf: UnavailableError,
  });
  t.true(err?.retryable);
});

test('slack destination: a request slower than the timeout becomes UnavailableError', async (t) => {
  const { slack, dest } = await setup(100);
  t.teardown(() => slack.close());
  slack.injectFault('chat.postMessage', { delayMs: 1500 });
  await t.throwsAsync(dest.postRoot(view(issueFixture())), { instanceOf: UnavailableError });
});

test('slack destination: a root whose answer timed out is marked maybe-applied and found again by its fingerprint', async (t) => {
  const { slack, dest } = await setup(200);
  t.teardown(() => slack.close());
  const since = Math.floor(Date.now() / 1000) - 60;
  const issue = issueFixture();
  slack.injectFault('chat.postMessage', { delayMs: 600 });
  const err = await t.throwsAsync(dest.postRoot(view(issue)), { instanceOf: UnavailableError });
  t.true(err?.maybeApplied, 'a timeout may have posted');
  await new Promise((r) => setTimeout(r, 700));
  const posted = slack.messages.get('C0ALERTS')?.[0];
  t.truthy(posted, 'the stand-in posted it after the client gave up');
  t.deepEqual(await dest.findRoot(issue.fingerprint, since), { channel: 'C0ALERTS', ts: posted?.ts });
  t.is(await dest.findRoot('another-fingerprint', since), undefined);
  t.is(
    await dest.findRoot(issue.fingerprint, Math.floor(Date.now() / 1000) + 5),
    undefined,
    'older than `since`',
  );
  // A reply carrying the same fingerprint is not a root.
  await dest.postDetails({ channel: 'C0ALERTS', ts: posted?.ts as string }, issue);
  const history = slack.calls.filter((c) => c.method === 'conversations.history');
  t.true(
    history.every((c) => c.params.include_all_metadata === 'true' || c.params.include_all_metadata === true),
  );
  slack.injectFault('conversations.history', { error: 'missing_scope' });
  await t.throwsAsync(dest.findRoot(issue.fingerprint, since), { instanceOf: DependencyError });
});

test('slack destination: a reply carries its thread step, and findReply finds it in its thread only', async (t) => {
  const { slack, dest } = await setup();
  t.teardown(() => slack.close());
  const since = Math.floor(Date.now() / 1000) - 60;
  const issue = issueFixture();
  const root = await dest.postRoot(view(issue));
  const other = await dest.postRoot(view({ ...issue, fingerprint: 'another-fingerprint' }));
  // A long thread: the tagged reply sits past the first page of conversations.replies.
  for (let i = 0; i < 205; i++) await dest.postStatusReply(root, view(issue), 'refired');
  await dest.postStatusReply(root, view(issue), 'resolved', { step: 'reply:resolved:T1' });
  await dest.postDetails(root, issue, { step: `details:${issue.id}` });

  const reply = slack.replies('C0ALERTS', root.ts).at(-2);
  t.deepEqual(reply?.metadata, {
    event_type: 'kubeincident_step',
    event_payload: { fingerprint: issue.fingerprint, step: 'reply:resolved:T1' },
  });
  t.true(await dest.findReply(root, issue.fingerprint, 'reply:resolved:T1', since));
  t.true(await dest.findReply(root, issue.fingerprint, `details:${issue.id}`, since));
  t.false(await dest.findReply(root, issue.fingerprint, 'reply:resolved:T2', since), 'another step');
  t.false(await dest.findReply(root, 'another-fingerprint', 'reply:resolved:T1', since), 'another alert');
  t.false(await dest.findReply(other, issue.fingerprint, 'reply:resolved:T1', since), 'another thread');
  t.false(
    await dest.findReply(root, issue.fingerprint, 'reply:resolved:T1', Math.floor(Date.now() / 1000) + 5),
    'older than `since`',
  );
  const calls = slack.calls.filter((c) => c.method === 'conversations.replies');
  t.true(
    calls.some((c) => c.params.cursor !== undefined),
    'read past the first page',
  );
  t.true(
    calls.every((c) => c.params.include_all_metadata === 'true' || c.params.include_all_metadata === true),
  );
  slack.injectFault('conversations.replies', { error: 'missing_scope' });
  await t.throwsAsync(dest.findReply(root, issue.fingerprint, 'reply:resolved:T1', since), {
    instanceOf: DependencyError,
  });
});

test('slack destination: unknown channel, update of a missing message and a bad token become DependencyError naming the Slack code', async (t) => {
  const slack = await startSlackStandin();
  t.teardown(() => slack.close());
  const wrongChannel = new SlackDestination({ token: slack.token, channel: 'C0NOWHERE', apiUrl: slack.url });
  const e1 = await t.throwsAsync(wrongChannel.postRoot(view(issueFixture())), {
    instanceOf: DependencyError,
  });
  t.regex(e1?.message ?? '', /channel_not_found/);
  t.false(e1?.retryable);

  const right = new SlackDestination({ token: slack.token, channel: 'C0ALERTS', apiUrl: slack.url });
  const e2 = await t.throwsAsync(
    right.updateRoot({ channel: 'C0ALERTS', ts: '1732242000.999900' }, view(issueFixture())),
    {
      instanceOf: DependencyError,
    },
  );
  t.regex(e2?.message ?? '', /message_not_found/);

  const secret = 'xoxb-9999-8888-wrongSECRETvalue';
  const badToken = new SlackDestination({ token: secret, channel: 'C0ALERTS', apiUrl: slack.url });
  const e3 = await t.throwsAsync(badToken.postRoot(view(issueFixture())), { instanceOf: DependencyError });
  t.regex(e3?.message ?? '', /invalid_auth/);
  for (const e of [e1, e2, e3]) {
    const text = errorTexts(e);
    t.false(text.includes(slack.token));
    t.false(text.includes(secret));
    t.false(text.includes('wrongSECRET'));
  }
});

test('slack destination: the token never appears in errors from an unreachable Slack', async (t) => {
  const slack = await startSlackStandin();
  const url = slack.url;
  await slack.close();
  const token = 'xoxb-1234-5678-unreachableSECRET';
  const dest = new SlackDestination({ token, channel: 'C0ALERTS', apiUrl: url, timeoutMs: 1000 });
  const err = await t.throwsAsync(dest.postRoot(view(issueFixture())), { instanceOf: UnavailableError });
  t.false(errorTexts(err).includes('unreachableSECRET'));
});

test('slack destination: an issue without enrichments or files posts no details and uploads nothing', async (t) => {
  const { slack, dest } = await setup();
  t.teardown(() => slack.close());
  const issue = { ...issueFixture(), enrichments: [] };
  const ref = await dest.postRoot(view(issue));
  await dest.postDetails(ref, issue);
  await dest.uploadFiles(ref, issue);
  t.deepEqual(
    slack.calls.map((c) => c.method),
    ['chat.postMessage'],
  );
});

test('slack destination: @slack/web-api is loaded on first use, not when the module is imported', async (t) => {
  // A fresh process: in this one the other tests have loaded the client already.
  const script = `
    import { createRequire } from 'node:module';
    const require = createRequire(import.meta.url);
    const loaded = () => Object.keys(require.cache).some((k) => k.includes('@slack/web-api'));
    const { SlackDestination } = await import('./lib/adapters/slack/destination.ts');
    new SlackDestination({ token: 'xoxb-0-0-lazy', channel: 'C0ALERTS' });
    const before = loaded();
    const { mapSlackError } = await import('./lib/adapters/slack/destination.ts');
    mapSlackError(new Error('x'), 'auth.test');
    console.log(JSON.stringify({ before, after: loaded() }));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    cwd: new URL('..', import.meta.url),
  });
  t.deepEqual(JSON.parse(stdout), { before: false, after: false });
});
