import { WebClient } from '@slack/web-api';
import test from 'ava';
import { startSlackStandin } from './support/slack-standin.ts';

const section = (n: number) => ({ type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(n) } });

async function client() {
  const slack = await startSlackStandin();
  const web = new WebClient(slack.token, {
    slackApiUrl: slack.url,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
  });
  return { slack, web };
}

/** The Slack error code a call fails with, or 'ok'. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return String((err as { data?: { error?: string } }).data?.error ?? (err as Error).message);
  }
}

test('slack stand-in: answers auth like Slack: not_authed without a token, invalid_auth with a wrong one', async (t) => {
  const slack = await startSlackStandin();
  t.teardown(() => slack.close());
  const none = await fetch(`${slack.url}auth.test`, { method: 'POST' });
  t.is(none.status, 200);
  t.deepEqual(await none.json(), { ok: false, error: 'not_authed' });
  const wrong = new WebClient('xoxb-0-0-wrong', { slackApiUrl: slack.url, retryConfig: { retries: 0 } });
  t.is(await outcome(wrong.auth.test()), 'invalid_auth');
  const right = new WebClient(slack.token, { slackApiUrl: slack.url });
  t.is(await outcome(right.auth.test()), 'ok');
});

test("slack stand-in: enforces Slack's message limits with Slack's error codes", async (t) => {
  const { slack, web } = await client();
  t.teardown(() => slack.close());
  const post = (extra: Record<string, unknown>) =>
    outcome(web.chat.postMessage({ channel: 'C0ALERTS', text: 'fallback', ...extra } as never));
  t.is(await post({ blocks: Array.from({ length: 50 }, () => section(10)) }), 'ok');
  t.is(await post({ blocks: Array.from({ length: 51 }, () => section(10)) }), 'invalid_blocks');
  t.is(
    await post({ blocks: [{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }] }),
    'invalid_blocks',
  );
  t.is(await post({ blocks: [section(3001)] }), 'invalid_blocks');
  t.is(await post({ blocks: [section(3000)] }), 'ok');
  const field = (n: number) => ({ type: 'mrkdwn', text: 'f'.repeat(n) });
  t.is(
    await post({ blocks: [{ type: 'section', fields: Array.from({ length: 11 }, () => field(5)) }] }),
    'invalid_blocks',
  );
  t.is(await post({ blocks: [{ type: 'section', fields: [field(2001)] }] }), 'invalid_blocks');
  t.is(await post({ attachments: [{ color: '#d62828', blocks: [section(3001)] }] }), 'invalid_blocks');
  t.is(await post({ blocks: Array.from({ length: 5 }, () => section(2900)) }), 'msg_blocks_too_long');
  t.is(await post({ text: 't'.repeat(40_001) }), 'msg_too_long');
  t.is(await outcome(web.chat.postMessage({ channel: 'C0OTHER', text: 'x' })), 'channel_not_found');
  t.is(
    await outcome(web.chat.update({ channel: 'C0ALERTS', ts: '1.000001', text: 'x' })),
    'message_not_found',
  );
  // Only the accepted posts were stored.
  t.is(slack.messages.get('C0ALERTS')?.length, 2);
});

const cell = (text: string) => ({ type: 'raw_text', text });
const tableOf = (rows: number, cells: number, text = 'x') => ({
  type: 'table',
  rows: Array.from({ length: rows }, () => Array.from({ length: cells }, () => cell(text))),
});

test("slack stand-in: refuses a message that breaks Slack's table block limits, with Slack's errors", async (t) => {
  const { slack, web } = await client();
  t.teardown(() => slack.close());
  /** The error code and, when Slack gives one, its detail line. */
  const post = async (extra: Record<string, unknown>) => {
    try {
      await web.chat.postMessage({ channel: 'C0ALERTS', text: 'fallback', ...extra } as never);
      return 'ok';
    } catch (err) {
      const data = (err as { data?: { error?: string; response_metadata?: { messages?: string[] } } }).data;
      return [data?.error, ...(data?.response_metadata?.messages ?? [])].join(' ');
    }
  };
  const inAttachment = (...blocks: unknown[]) => ({ attachments: [{ blocks }] });
  t.is(await post(inAttachment(tableOf(100, 2))), 'ok', '100 rows');
  t.is(await post(inAttachment(tableOf(2, 20))), 'ok', '20 cells a row');
  t.is(
    await post(
      inAttachment({ ...tableOf(2, 3), column_settings: [{ is_wrapped: true }, null, { align: 'right' }] }),
    ),
    'ok',
  );
  t.is(
    await post({ attachments: [{ blocks: [tableOf(1, 1)] }, { blocks: [tableOf(1, 1)] }] }),
    'invalid_attachments [ERROR] only_one_table_allowed',
  );
  t.is(
    await post(inAttachment(tableOf(1, 1), tableOf(1, 1))),
    'invalid_attachments [ERROR] only_one_table_allowed',
  );
  t.regex(
    await post({ blocks: [tableOf(2, 2)] }),
    /^invalid_blocks \[ERROR\] table blocks go in attachments/,
  );
  t.regex(await post(inAttachment(tableOf(101, 1))), /^invalid_blocks .*no more than 100 items/);
  t.regex(await post(inAttachment(tableOf(1, 21))), /^invalid_blocks .*no more than 20 items/);
  t.regex(await post(inAttachment(tableOf(2, 2, ''))), /^invalid_blocks .*rows\/0\/0/, 'an empty cell');
  t.regex(await post(inAttachment({ type: 'table', rows: [] })), /^invalid_blocks .*rows/);
  t.regex(
    await post(inAttachment({ ...tableOf(1, 2), column_settings: [{ align: 'middle' }] })),
    /^invalid_blocks .*column_settings\/0/,
  );
  t.regex(
    await post(inAttachment({ ...tableOf(1, 1), column_settings: Array.from({ length: 21 }, () => null) })),
    /^invalid_blocks .*column_settings/,
  );
  t.is(await post(inAttachment(tableOf(2, 2, 'y'.repeat(2500)))), 'ok', '10,000 characters of cells');
  t.regex(
    await post(inAttachment(tableOf(2, 2, 'y'.repeat(2501)))),
    /^invalid_blocks .*more than 10000 characters/,
  );
  // Only the accepted posts were stored.
  t.is(slack.messages.get('C0ALERTS')?.length, 4);
});

test('slack stand-in: accepts JSON bodies as Slack does, with increasing ts values', async (t) => {
  const slack = await startSlackStandin();
  t.teardown(() => slack.close());
  const post = async (text: string, threadTs?: string) => {
    const res = await fetch(`${slack.url}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${slack.token}`, 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ channel: 'C0ALERTS', text, ...(threadTs ? { thread_ts: threadTs } : {}) }),
    });
    return (await res.json()) as { ok: boolean; ts: string; message: { text: string; thread_ts?: string } };
  };
  const a = await post('root');
  const b = await post('reply', a.ts);
  t.true(a.ok && b.ok);
  t.true(Number(b.ts) > Number(a.ts));
  t.is(b.message.thread_ts, a.ts);
  t.deepEqual(
    slack.replies('C0ALERTS', a.ts).map((m) => m.text),
    ['reply'],
  );
});

test('slack stand-in: serves the filesUploadV2 flow of @slack/web-api 8 and shares the files into the thread', async (t) => {
  const { slack, web } = await client();
  t.teardown(() => slack.close());
  const root = await web.chat.postMessage({ channel: 'C0ALERTS', text: 'root' });
  await web.filesUploadV2({
    channel_id: 'C0ALERTS',
    thread_ts: root.ts as string,
    file_uploads: [
      { content: 'first log\n', filename: 'a.log', title: 'A' },
      { content: 'ünïcode log', filename: 'b.log', title: 'B' },
    ],
  });
  t.deepEqual(
    slack.calls.map((c) => c.method),
    [
      'chat.postMessage',
      'files.getUploadURLExternal',
      'files.getUploadURLExternal',
      'upload',
      'upload',
      'files.completeUploadExternal',
    ],
  );
  t.deepEqual(
    slack.files.map((f) => [f.filename, f.title, f.content, f.length, f.channel, f.thread_ts, f.completed]),
    [
      ['a.log', 'A', 'first log\n', 10, 'C0ALERTS', root.ts, true],
      ['b.log', 'B', 'ünïcode log', 13, 'C0ALERTS', root.ts, true],
    ],
  );
});

test('slack stand-in: injected faults answer 429 with Retry-After, 5xx, or a Slack error, for the next N calls', async (t) => {
  const { slack, web } = await client();
  t.teardown(() => slack.close());
  slack.injectFault('chat.postMessage', { status: 429, retryAfter: 7 }, 2);
  const raw = await fetch(`${slack.url}chat.postMessage`, { method: 'POST' });
  t.is(raw.status, 429);
  t.is(raw.headers.get('retry-after'), '7');
  t.deepEqual(await raw.json(), { ok: false, error: 'ratelimited' });
  const limited = await t.throwsAsync(web.chat.postMessage({ channel: 'C0ALERTS', text: 'x' }));
  t.is((limited as unknown as { retryAfter: number }).retryAfter, 7);
  t.is(await outcome(web.chat.postMessage({ channel: 'C0ALERTS', text: 'x' })), 'ok');
  slack.injectFault('*', { error: 'fatal_error' });
  t.is(await outcome(web.auth.test()), 'fatal_error');
  slack.injectFault('auth.test', { status: 503 });
  t.regex(await outcome(web.auth.test()), /statusCode = 503/);
});
