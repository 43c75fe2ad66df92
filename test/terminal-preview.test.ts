// The terminal destination's preview feed carries the Block Kit the Slack destination sends: the
// same thread played through both — SlackDestination against the Slack stand-in, and the
// TerminalDestination with a preview sink against the real preview server — gives the same
// roots, edits, replies and files. A preview that is down costs a log line, never a message.
import { Writable } from 'node:stream';
import test from 'ava';
import { createPreviewSink, type PreviewMessage } from '../lib/adapters/preview.ts';
import { SlackDestination } from '../lib/adapters/slack/destination.ts';
import { TerminalDestination } from '../lib/adapters/terminal.ts';
import type { Destination, RootView } from '../lib/domain/destination.ts';
import type { Issue } from '../lib/domain/issue.ts';
import { parseEnv } from '../lib/platform/env.ts';
import { DispatchEnv } from '../lib/stages/env.ts';
import { startPreviewServer } from '../scripts/preview/server.ts';
import { makeIssue, oomEnrichment } from './support/issue-factory.ts';
import { captureLogs } from './support/logs.ts';
import { startSlackStandin } from './support/slack-standin.ts';

function issue(): Issue {
  const i = makeIssue({ title: 'Pod is crash looping <!channel> & <b>bold</b>' });
  i.enrichments = [oomEnrichment()];
  return i;
}
const firing = (i: Issue): RootView => ({
  issue: i,
  status: 'firing',
  firingSince: i.startsAt,
  firingCount: 1,
  verdicts: ['OOMKilled: limit 256Mi'],
});

/** A firing, its details and files, then the resolution: edit and status reply. */
async function playThread(dest: Destination, i: Issue): Promise<void> {
  const ref = await dest.postRoot(firing(i));
  await dest.postDetails(ref, i);
  await dest.uploadFiles(ref, i);
  const resolved = { ...i, status: 'resolved' as const, endsAt: '2026-03-01T10:14:00.000Z' };
  const view: RootView = { ...firing(resolved), status: 'resolved', resolvedAt: resolved.endsAt };
  await dest.updateRoot(ref, view);
  await dest.postStatusReply(ref, view, 'resolved');
}

const quiet = () =>
  new Writable({
    write(_c, _e, cb) {
      cb();
    },
  });

async function readFeed(url: string, count: number): Promise<PreviewMessage[]> {
  const ac = new AbortController();
  const res = await fetch(`${url}events`, { signal: ac.signal });
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let text = '';
  const data = () => text.split('\n').filter((l) => l.startsWith('data: '));
  while (data().length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString();
  }
  ac.abort();
  return data().map((l) => JSON.parse(l.slice(6)) as PreviewMessage);
}

test('terminal preview: the preview gets the Block Kit Slack gets, for roots, edits, replies and files', async (t) => {
  const logs = captureLogs('preview');
  const slack = await startSlackStandin({ channels: ['C0ALERTS'] });
  t.teardown(() => slack.close());
  const preview = await startPreviewServer({ port: 0, host: '127.0.0.1', log: logs.log });
  t.teardown(() => preview.close());
  const i = issue();
  await playThread(new SlackDestination({ token: slack.token, channel: 'C0ALERTS', apiUrl: slack.url }), i);
  const errors: unknown[] = [];
  const sink = createPreviewSink({
    url: preview.ingestUrl,
    token: preview.token,
    onError: (e) => errors.push(e),
  });
  await playThread(new TerminalDestination({ stream: quiet(), preview: sink }), i);
  t.deepEqual(errors, []);

  const [root] = slack.messages.get('C0ALERTS') ?? [];
  if (!root) return t.fail('no root in Slack');
  const replies = slack.replies('C0ALERTS', root.ts);
  const feed = await readFeed(preview.url, 4 + slack.files.length);
  const ops = feed.map((m) => m.op);
  t.deepEqual(ops, ['post', 'post', ...slack.files.map(() => 'file'), 'update', 'post']);
  const [pRoot, pDetails] = feed;
  const pUpdate = feed.at(-2);
  const pStatus = feed.at(-1);
  // The root as first posted, then as edited on resolution.
  t.deepEqual(pRoot?.op === 'post' && pRoot.message.attachments, root.edits[0]?.attachments);
  t.deepEqual(pUpdate?.op === 'update' && pUpdate.message.attachments, root.attachments);
  t.is(pUpdate?.ts, pRoot?.ts, 'the edit names the root it edits');
  // The replies, in the root's thread.
  t.deepEqual(pDetails?.op === 'post' && pDetails.message.attachments, replies[0]?.attachments);
  t.is(pDetails?.op === 'post' ? pDetails.threadTs : undefined, pRoot?.ts);
  t.deepEqual(pStatus?.op === 'post' && pStatus.message, {
    text: replies[1]?.text,
    blocks: replies[1]?.blocks,
  });
  // The files Slack got, with the same titles and content.
  const pFiles = feed.filter((m) => m.op === 'file');
  t.true(pFiles.length >= 1);
  t.deepEqual(
    pFiles.map((f) => [f.title, f.content]),
    slack.files.map((f) => [f.title, f.content]),
  );
});

test('terminal preview: a preview that is down is reported to onError; the terminal still prints and posting succeeds', async (t) => {
  const preview = await startPreviewServer({ port: 0, host: '127.0.0.1', log: captureLogs().log });
  const url = preview.ingestUrl;
  await preview.close();
  const errors: unknown[] = [];
  let out = '';
  const stream = new Writable({
    write(c, _e, cb) {
      out += c.toString();
      cb();
    },
  });
  const sink = createPreviewSink({ url, token: 'x', timeoutMs: 500, onError: (e) => errors.push(e) });
  const dest = new TerminalDestination({ stream, preview: sink });
  const ref = await dest.postRoot(firing(issue()));
  t.regex(ref.ts, /^\d+\.\d{6}$/);
  t.regex(out, /FIRING/);
  t.is(errors.length, 1);
  // A wrong token is refused (401) and reported the same way.
  const live = await startPreviewServer({ port: 0, host: '127.0.0.1', log: captureLogs().log });
  t.teardown(() => live.close());
  const wrong = createPreviewSink({
    url: live.ingestUrl,
    token: 'not-the-token',
    onError: (e) => errors.push(e),
  });
  await wrong.send({ op: 'post', ts: '1.000001', message: { text: 'x' } });
  t.regex(String((errors[1] as Error)?.message), /HTTP 401/);
});

test('terminal preview: PREVIEW_URL must be a URL; empty or unset means no preview', (t) => {
  t.throws(() => parseEnv(DispatchEnv, { PREVIEW_URL: 'not a url' }), {
    message: /PREVIEW_URL must be the preview server URL/,
  });
  t.is(parseEnv(DispatchEnv, { PREVIEW_URL: ' ' }).PREVIEW_URL, undefined);
  t.is(parseEnv(DispatchEnv, {}).PREVIEW_URL, undefined);
  const c = parseEnv(DispatchEnv, { PREVIEW_URL: 'http://127.0.0.1:8090/messages', PREVIEW_TOKEN: 'tok' });
  t.is(c.PREVIEW_URL, 'http://127.0.0.1:8090/messages');
  t.is(c.PREVIEW_TOKEN, 'tok');
});
